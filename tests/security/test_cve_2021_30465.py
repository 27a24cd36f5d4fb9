"""CVE-2021-30465 and CVE-2024-45310 (runc): a racing process swapped a directory of the rootfs with a symlink
while runc set the mounts up, so a mount (or a mkdir/creat of a missing mount point) landed on a host path.

hardrun's defences: each mount target is opened component by component inside the rootfs with openat2
(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS), missing components are created with mkdirat relative to the fd of
their verified parent, and the mount is attached to the target's fd (move_mount), never to a path.

The test races `renameat2(RENAME_EXCHANGE)` of a real directory and a symlink to a host directory (absolute
and `..`-relative) against HARDRUN_RACE_LAUNCHES launches (default: 1000 as root with the `..` link, 300 with
the absolute one, 150 rootless). Every launch
must either mount exactly inside the sandbox or fail closed, and the host directory must stay untouched.
"""
import os
import subprocess

import pytest

from secutil import HARDRUN, SECPROBE, UNPRIV_UID, host_mounts, tree


def launches(as_user, link_kind):
    if "HARDRUN_RACE_LAUNCHES" in os.environ:
        return int(os.environ["HARDRUN_RACE_LAUNCHES"])
    if as_user is None:
        return 1000 if link_kind == "relative" else 300
    return 150


@pytest.mark.parametrize("link_kind", ["absolute", "relative"])
def test_symlink_swap_race_never_reaches_the_host(tmp_rootfs, host_dir, as_user, link_kind):
    host = host_dir / "host"
    (host / "sub").mkdir(parents=True)
    (host / "sub" / "host-marker").write_text("host")
    src = host_dir / "volume"
    src.mkdir()
    (src / "marker").write_text("volume")
    os.makedirs(os.path.join(tmp_rootfs, "race_a", "sub"))
    link = str(host) if link_kind == "absolute" else "../../../../../../../.." + str(host)
    os.symlink(link, os.path.join(tmp_rootfs, "race_b"))
    if as_user is not None:  # rootless: the invoker owns the rootfs it may create mount points in
        subprocess.run(["chown", "-R", f"{UNPRIV_UID}:{UNPRIV_UID}", tmp_rootfs], check=True)
    before_host = tree(host)
    before_mounts = host_mounts()
    racer = subprocess.Popen([SECPROBE, "swap", os.path.join(tmp_rootfs, "race_a"), os.path.join(tmp_rootfs, "race_b")])
    ok = refused = 0
    failures = []
    try:
        for i in range(launches(as_user, link_kind)):
            if i % 2 == 0:
                mount = ["-v", f"{src}:/race_a/sub/t{i}:ro"]
            else:
                mount = ["--tmpfs", f"/race_a/sub/t{i}:size=1m,noexec"]
            # from inside: exactly one mount at the planned place (whichever name the racer gave the directory now)
            script = f"grep -c ' /race_[ab]/sub/t{i} ' /proc/self/mountinfo"
            cmd = [HARDRUN, "run", "--rootfs", tmp_rootfs] + mount + ["--", "sh", "-c", script]
            if as_user is not None:
                cmd = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups"] + cmd
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if p.returncode == 0 and p.stdout.strip() == "1":
                ok += 1
            elif p.returncode == 125 and ("symlink" in p.stderr or "ELOOP" in p.stderr):
                refused += 1
            else:
                failures.append((i, p.returncode, p.stdout, p.stderr))
            if tree(host) != before_host:
                break  # something was created on the host: stop right here
    finally:
        racer.kill()
        racer.wait()
    print(f"race {link_kind}: {ok} mounted inside, {refused} refused")
    assert tree(host) == before_host, "a mount point was created outside the rootfs"
    assert not failures, failures[:3]
    assert host_mounts() == before_mounts
    assert ok + refused == launches(as_user, link_kind)
