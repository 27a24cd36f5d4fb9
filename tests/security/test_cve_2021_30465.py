"""CVE-2021-30465 and CVE-2024-45310 (runc): a racing process swapped a directory with a symlink inside a volume
while runc set up a mount nested under that volume, so the mount (or the mkdir/creat of a missing mount point)
landed on a host path.

hardrun's defences: each mount target is opened component by component inside the rootfs with openat2
(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS), missing components are created with mkdirat relative to the fd of
their verified parent, and the mount is attached to the target's fd (move_mount), never to a path.

The test passes a host directory as a volume (-v VOL:/vol) and mounts a second volume or a tmpfs at
/vol/race_a/sub/tN, a path that runs through the swapped entry, while a swapper on the host exchanges
VOL/race_a (a real directory) and VOL/race_b (a symlink to a host directory, absolute or `..`-relative) with
renameat2(RENAME_EXCHANGE) for the whole loop of HARDRUN_RACE_LAUNCHES launches (default: 1000 as root with the
`..` link, 300 with the absolute one, 150 rootless). Every launch must either mount exactly at the planned place
inside the volume (seen from inside the sandbox) or be refused with the error naming the symlink; some of each
must happen (the race fired both ways); the swapper must still be running at the end and have swapped all along;
the host directory, the rootfs and the host's mount table stay untouched, and the volume holds nothing but the
mount points made in its real directory.
"""
import os
import re
import signal
import subprocess
import sys

import pytest

from secutil import HARDRUN, UNPRIV_UID, host_mounts, tree

# The swapper: exchanges A and B with renameat2(RENAME_EXCHANGE) until SIGTERM, counting the exchanges that
# succeeded; SIGUSR1 makes it print the counts so far ("SWAPS FAILED").
SWAPPER = r"""
import ctypes, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_renameat2, AT_FDCWD, RENAME_EXCHANGE = ctypes.c_long(316), ctypes.c_long(-100), ctypes.c_long(2)
a, b = (ctypes.c_char_p(p.encode()) for p in sys.argv[1:3])
state = {"report": False, "stop": False}
signal.signal(signal.SIGUSR1, lambda *_: state.update(report=True))
signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
swaps = failed = 0
print("ready", flush=True)
while not state["stop"]:
    if libc.syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
        swaps += 1
    else:
        failed += 1
    if state["report"]:
        state["report"] = False
        print(swaps, failed, flush=True)
print(swaps, failed, flush=True)
"""


def launches(as_user, link_kind):
    if "HARDRUN_RACE_LAUNCHES" in os.environ:
        return int(os.environ["HARDRUN_RACE_LAUNCHES"])
    if as_user is None:
        return 1000 if link_kind == "relative" else 300
    return 150


class Swapper:
    def __init__(self, a, b):
        self.p = subprocess.Popen([sys.executable, "-c", SWAPPER, a, b], stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def alive(self):
        return self.p.poll() is None

    def swaps(self):
        """Successful exchanges so far (None if the swapper is gone)."""
        if not self.alive():
            return None
        self.p.send_signal(signal.SIGUSR1)
        return int(self.p.stdout.readline().split()[0])

    def stop(self):
        if self.alive():
            self.p.terminate()
        self.p.communicate(timeout=30)


@pytest.mark.parametrize("link_kind", ["absolute", "relative"])
def test_symlink_swap_race_in_a_volume_never_reaches_the_host(tmp_rootfs, host_dir, as_user, link_kind):
    n = launches(as_user, link_kind)
    host = host_dir / "host"  # what the attacker wants the nested mounts to land on
    (host / "sub").mkdir(parents=True)
    (host / "sub" / "host-marker").write_text("host")
    src = host_dir / "src"  # the nested volume's source
    src.mkdir()
    (src / "marker").write_text("volume")
    vol = host_dir / "vol"  # the volume the swap happens in
    (vol / "race_a" / "sub").mkdir(parents=True)
    link = str(host) if link_kind == "absolute" else "../../../../../../../.." + str(host)
    os.symlink(link, vol / "race_b")
    os.makedirs(os.path.join(tmp_rootfs, "vol"), exist_ok=True)
    if as_user is not None:  # rootless: the invoker owns the volume it creates mount points in
        subprocess.run(["chown", "-R", "-h", f"{UNPRIV_UID}:{UNPRIV_UID}", str(vol)], check=True)
    before_host, before_src, before_rootfs = tree(host), tree(src), tree(tmp_rootfs)
    before_mounts = host_mounts()

    swapper = Swapper(str(vol / "race_a"), str(vol / "race_b"))
    ok = refused = 0
    failures, counts = [], []
    try:
        for i in range(n):
            if i % 2 == 0:
                nested = ["-v", f"{src}:/vol/race_a/sub/t{i}:ro"]
            else:
                nested = ["--tmpfs", f"/vol/race_a/sub/t{i}:size=1m,noexec"]
            # from inside: every mount whose mount point ends in /sub/tN, i.e. exactly one, in the volume (under
            # whichever name the swapper gave its real directory by now)
            script = f"awk '$5 ~ /\\/sub\\/t{i}$/ {{ print $5 }}' /proc/self/mountinfo"
            cmd = [HARDRUN, "run", "-q", "--rootfs", tmp_rootfs, "-v", f"{vol}:/vol"] + nested + ["--", "sh", "-c", script]
            if as_user is not None:
                cmd = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups"] + cmd
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if p.returncode == 0 and p.stdout.split() in ([f"/vol/race_a/sub/t{i}"], [f"/vol/race_b/sub/t{i}"]):
                ok += 1
            elif p.returncode == 125 and "is a symlink; refusing to follow it" in p.stderr:
                refused += 1
            else:
                failures.append((i, p.returncode, p.stdout, p.stderr))
            if i in (0, n // 2):
                counts.append(swapper.swaps())
            if tree(host) != before_host:
                break  # something was created on the host: stop right here
        alive_at_end = swapper.alive()
        counts.append(swapper.swaps())
    finally:
        swapper.stop()
    print(f"race {link_kind}: {ok} mounted inside the volume, {refused} refused; swaps after the first launch, "
          f"half-way and at the end: {counts}")
    assert tree(host) == before_host, "a mount point was created outside the volume, on the host"
    assert tree(src) == before_src, "the nested volume's source changed"
    assert tree(tmp_rootfs) == before_rootfs, "something was created in the rootfs"
    assert host_mounts() == before_mounts, "the host's mount table changed"
    assert not failures, failures[:3]
    assert ok + refused == n
    # the volume holds only its two entries and the mount points made below the real directory
    stray = [e for e in tree(vol) if not re.fullmatch(r"race_[ab](/sub(/t\d+)?)?", e)]
    assert not stray, stray
    # the race fired: the swapper ran for the whole loop, and launches met both states
    assert alive_at_end, "the swapper died during the loop"
    assert None not in counts and counts[0] < counts[1] < counts[2], counts
    assert counts[2] >= n, f"only {counts[2]} swaps in {n} launches"
    assert refused > 0, "no launch ever met the symlink: the race never fired"
    assert ok > 0, "no launch ever mounted: the race proves nothing"
