"""Faults: hardrun killed at random moments, and resources running out. Every case ends in a clear one-line
error or a clean workload failure: never a hang, a partial sandbox, or something left behind on the host.

HARDRUN_FAULT_LAUNCHES sets the number of kill -9 rounds (default 500 as root, 100 rootless). The tests that need
a read-only filesystem make it in a private mount namespace (unshare -m): the host never sees those mounts.
"""
import json
import os
import random
import resource
import signal
import subprocess
import time

import pytest

from conftest import HARDRUN, HELPERS, ROOTFS, SANITIZED, UNPRIV_UID, env_without_leak_check, mountinfo, run

MARK = "86317"  # the workload is `sleep 86317`: a number nothing else on the host sleeps for


def hardrun_cmd(args, user=None, rootfs=None):
    cmd = [HARDRUN, "run", "--rootfs", rootfs or ROOTFS] + args
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    return cmd


def ours():
    """Processes left by these tests: our workload's `sleep 86317`, or anything running our hardrun binary."""
    found = []
    binary = os.path.realpath(HARDRUN)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            exe = os.readlink(f"/proc/{pid}/exe") if os.path.exists(f"/proc/{pid}/exe") else ""
        except OSError:
            continue
        if (len(cmdline) > 1 and cmdline[0].endswith(b"sleep") and cmdline[1] == MARK.encode()) or exe == binary:
            if int(pid) != os.getpid():
                found.append((int(pid), cmdline))
    return found


def wait_until_gone(limit=30.0):
    """Processes die asynchronously (SIGKILL delivery, reaping by init): poll; the limit only guards a hang."""
    deadline = time.monotonic() + limit
    left = ours()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = ours()
    return left


def cgroup_entries():
    out = set()
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            for dirpath, dirnames, _ in os.walk(root):
                for d in dirnames:
                    if "hardrun" in d:
                        out.add(os.path.join(dirpath, d))
                if dirpath.count("/") > 6:
                    dirnames[:] = []
        except OSError:
            pass
    return out


def state_entries():
    try:
        return set(os.listdir("/run/hardrun"))
    except OSError:
        return set()


def mount_points():
    return sorted(line.split()[4] for line in mountinfo().splitlines())


def cgroup_variant():
    """Launches with a cgroup of their own where this host can limit pids (cgroup v2 with the controller)."""
    p = run(["-q", "--pids-limit", "64", "--", "true"])
    return [["--pids-limit", "64"]] if p.returncode == 0 else []


def kill_rounds(as_user):
    if "HARDRUN_FAULT_LAUNCHES" in os.environ:
        return int(os.environ["HARDRUN_FAULT_LAUNCHES"])
    return 500 if as_user is None else 100


def test_kill9_at_random_moments_leaves_nothing(as_user):
    assert wait_until_gone() == [], "leftovers from an earlier run"
    rng = random.Random(9)
    before = (mount_points(), cgroup_entries(), state_entries())
    variants = [[], ["--init"], ["--tmpfs", "/work:size=1m"], ["--secret", "/etc/hostname:h"]] + cgroup_variant()
    started = 0
    for i in range(kill_rounds(as_user)):
        args = variants[i % len(variants)] + ["--", "sleep", MARK]
        p = subprocess.Popen(hardrun_cmd(args, as_user), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(rng.uniform(0, 0.04))  # anywhere from before clone to long after exec
        finally:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        started += 1
    left = wait_until_gone()
    assert left == [], f"{len(left)} processes survived hardrun's SIGKILL: {left[:5]}"
    assert mount_points() == before[0], "host mounts changed"
    assert cgroup_entries() == before[1], "cgroups left behind"
    assert state_entries() == before[2], "state left behind"
    assert started == kill_rounds(as_user)


def test_kill9_after_exec_kills_the_whole_sandbox(as_user):
    # a workload with children (and an orphaned grandchild) dies with hardrun, whatever it does with signals
    script = (f"trap '' TERM HUP INT; (sleep {MARK} &); sleep {MARK} & "
              "until [ \"$(pidof sleep | wc -w)\" -ge 2 ]; do :; done; echo up; wait")
    p = subprocess.Popen(hardrun_cmd(["--", "sh", "-c", script], as_user), stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    try:
        assert p.stdout.readline().strip() == "up"
        assert len([x for x in ours() if x[1][0].endswith(b"sleep")]) == 2
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert wait_until_gone() == []


def one_line_error(p):
    return p.returncode == 125 and len(p.stderr.strip().splitlines()) >= 1 and p.stderr.strip().splitlines()[-1].startswith("hardrun: ")


def test_tmpfs_full_reaches_the_workload_as_enospc(as_user):
    p = run(["--tmpfs", "/tmp:size=1m,noexec", "--", "sh", "-c",
             "secprobe fill /tmp/f; dd if=/dev/zero of=/tmp/g bs=64k count=100 2>&1 | grep -c 'No space'; echo after"],
            user=as_user)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines == ["ENOSPC", "1", "after"], p.stdout


def test_fd_limit_in_the_workload(as_user):
    p = run(["--ulimit", "nofile=64:64", "--", "secprobe", "nofile"], user=as_user, check=0)
    count, err = p.stdout.split()
    assert err == "EMFILE" and int(count) == 61, p.stdout  # 64 minus stdin, stdout, stderr


@pytest.mark.parametrize("limit", [3, 4, 5, 6, 8, 10, 12, 16])
def test_hardrun_with_few_fds_fails_cleanly_or_works(as_user, limit):
    if SANITIZED and limit in (4, 5):
        # UBSan's vptr check probes memory through a pipe of its own: with 1-2 spare fds that pipe fails and
        # it reports a bogus "invalid vptr". The normal tier runs these limits against the real binary.
        pytest.skip("the sanitizer runtime needs spare fds of its own at this limit")

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    p = subprocess.run(hardrun_cmd(["--", "sh", "-c", "echo RAN"], as_user), capture_output=True, text=True,
                       timeout=60, preexec_fn=low_nofile)
    if p.returncode == 0:
        assert p.stdout == "RAN\n"
    else:
        assert p.returncode in (125, 127) and "RAN" not in p.stdout, (p.returncode, p.stderr)
        assert p.stderr.strip(), "a failure must say why"
    assert wait_until_gone() == []


def test_pid_limit_in_the_workload():
    # RLIMIT_NPROC counts every process of the uid on the host: a uid nothing else uses
    p = run(["--user", "23456", "-q", "--ulimit", "nproc=4:4", "--", "secprobe", "forks", "10"], check=0)
    count, err = p.stdout.split()
    assert err == "EAGAIN" and int(count) == 3, p.stdout


def processes_of(uid):
    n = 0
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == uid:
                n += 1
        except OSError:
            pass
    return n


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the test as another uid")
def test_pid_limit_reached_by_the_invoker():
    # an invoker at its process limit: hardrun itself may run, but its clone fails; it says so, nothing is left
    limit = processes_of(UNPRIV_UID) + 1  # room for hardrun itself, none for its child

    def at_the_limit():
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))

    cmd = ["setpriv", f"--reuid={UNPRIV_UID}", f"--regid={UNPRIV_UID}", "--clear-groups", HARDRUN, "run",
           "--rootfs", ROOTFS, "--", "sh", "-c", "echo RAN"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, preexec_fn=at_the_limit,
                       env=env_without_leak_check())
    assert p.returncode == 125 and "RAN" not in p.stdout, (p.returncode, p.stderr)
    assert "Resource temporarily unavailable" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert wait_until_gone() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make the read-only mount (in a private namespace)")
def test_rootfs_on_a_read_only_filesystem(as_user, tmp_rootfs):
    # the read-only bind lives in a private mount namespace (unshare -m): the host never sees it. hardrun never
    # writes to a --rootfs image, so an image on a read-only filesystem runs as any other: a mount point it lacks,
    # a secret and --read-write all live in the rootfs layer (a tmpfs). Only --read-write=image, which writes into
    # the directory on purpose, meets the read-only filesystem, and says so.
    ro = tmp_rootfs + "-ro"
    os.mkdir(ro)
    os.chmod(ro, 0o755)
    secrets_dir = os.path.join(tmp_rootfs, "run", "secrets")
    if os.path.isdir(secrets_dir):
        os.rmdir(secrets_dir)  # the image has no /run/secrets mount point
    inner = hardrun_cmd(["--read-write", "-q", "-u", "0", "--", "sh", "-c", "echo RAN; mkdir /root/x 2>/dev/null && echo wrote; exit 0"], as_user,
                        rootfs=ro)
    inner_missing = hardrun_cmd(["--tmpfs", "/not-in-image", "--", "sh", "-c", "echo RAN"], as_user, rootfs=ro)
    inner_secret = hardrun_cmd(["--secret", "/etc/hostname", "--", "sh", "-c", "echo RAN"], as_user, rootfs=ro)
    inner_image = hardrun_cmd(["--read-write=image", "-q", "--tmpfs", "/not-in-image", "--", "sh", "-c", "echo RAN"],
                              as_user, rootfs=ro)
    quote = lambda argv: " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)  # noqa: E731
    script = (f"mount --bind '{tmp_rootfs}' '{ro}' && mount -o remount,bind,ro '{ro}' && "
              f"{quote(inner)}; echo rc=$?; {quote(inner_missing)}; echo rc=$?; {quote(inner_secret)}; echo rc=$?; "
              f"{quote(inner_image)}; echo rc=$?")
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True,
                       text=True, timeout=120)
    out = p.stdout.splitlines()
    if as_user is None:
        assert out[:3] == ["RAN", "wrote", "rc=0"], p.stdout + p.stderr
        out = out[3:]
    else:  # rootless: /root belongs to the host's root, whom the user namespace does not map
        assert out[:2] == ["RAN", "rc=0"], p.stdout + p.stderr
        out = out[2:]
    assert out[:4] == ["RAN", "rc=0", "RAN", "rc=0"], p.stdout + p.stderr
    # --read-write=image: a mount point the image lacks cannot be created: one clear error naming the read-only filesystem
    assert out[4:] == ["rc=125"], p.stdout + p.stderr
    assert "read-only filesystem" in p.stderr or "Read-only file system" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not os.path.ismount(ro)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a private mount namespace over /run/hardrun)")
def test_run_hardrun_not_writable(tmp_rootfs):
    # /run/hardrun (OCI state, filter cache) on a read-only filesystem, in a private mount namespace so the host
    # never sees it: `run` does not need it; `create` fails with one line and leaves no process behind
    bundle = os.path.dirname(tmp_rootfs)
    spec = subprocess.run([HARDRUN, "spec", "--bundle", bundle], capture_output=True, text=True)
    assert spec.returncode == 0, spec.stderr
    config = os.path.join(bundle, "config.json")
    with open(config) as f:
        doc = json.load(f)
    doc["root"]["path"] = tmp_rootfs
    doc["process"]["terminal"] = False
    doc["process"]["args"] = ["sleep", MARK]
    with open(config, "w") as f:
        json.dump(doc, f)
    script = ("mkdir -p /run/hardrun && mount -t tmpfs -o ro,size=64k,mode=0700 tmpfs /run/hardrun && "
              f"'{HARDRUN}' run --rootfs '{tmp_rootfs}' -q -- sh -c 'echo RAN'; echo rc=$?; "
              f"'{HARDRUN}' create --bundle '{bundle}' ro-state-test; echo rc=$?")
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True,
                       text=True, timeout=120)
    assert p.stdout.splitlines() == ["RAN", "rc=0", "rc=125"], p.stdout + p.stderr
    errors = [l for l in p.stderr.splitlines() if l.startswith("hardrun:")]
    assert len(errors) == 1 and "/run/hardrun" in errors[0] and "Read-only file system" in errors[0], p.stderr
    assert wait_until_gone() == []
