"""CVE-2024-21626 (runc "Leaky Vessels"): a host fd leaked into the container plus a cwd of /proc/self/fd/N
put the workload on the host filesystem.

hardrun's defences: close_range() leaves only 0-2 (plus explicitly preserved fds) to the workload, whatever
hardrun inherited; the working directory is resolved inside the root with RESOLVE_NO_MAGICLINKS, and /proc
paths are refused as workdirs outright.
"""
import os
import subprocess

import pytest

from secutil import HARDRUN, ROOTFS, UNPRIV_UID, run

LEAK_AT = (5, 7, 42, 200)
# bash opens them (directories and a file, not close-on-exec) and then executes hardrun, like a careless caller
LEAKER = ["bash", "-c", 'exec 5</ 7</etc/hostname 42</ 200</tmp && exec "$@"', "leaker"]


def launch_with_leaked_fds(args, user=None, rootfs=ROOTFS):
    cmd = LEAKER + [HARDRUN, "run", "--rootfs", rootfs] + args
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("init", [False, True])
def test_only_stdio_reaches_the_workload(as_user, init):
    p = launch_with_leaked_fds((["--init"] if init else []) + ["--", "secprobe", "fds"], user=as_user)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0", "1", "2"], p.stdout


def test_leaked_fds_are_really_there_without_hardrun():
    # the harness really leaks them (the test above could not fail otherwise)
    out = subprocess.run(LEAKER + ["ls", "/proc/self/fd"], capture_output=True, text=True).stdout.split()
    for fd in LEAK_AT:
        assert str(fd) in out, out


@pytest.mark.parametrize("workdir", ["/proc/self/fd/7", "/proc/1/cwd", "/proc/self/cwd/.."])
def test_proc_workdir_refused(as_user, workdir):
    p = launch_with_leaked_fds(["-w", workdir, "--", "sh", "-c", "echo RAN; pwd"], user=as_user)
    assert p.returncode == 125, p.stderr
    assert "RAN" not in p.stdout
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_symlink_in_rootfs_to_a_magic_link_refused(tmp_rootfs, as_user):
    # the rootfs (attacker-controlled) points a directory at /proc/self/fd/7: the workdir must not follow it
    os.symlink("/proc/self/fd/7", os.path.join(tmp_rootfs, "escape"))
    os.symlink("../proc/self/cwd", os.path.join(tmp_rootfs, "escape2"))
    for wd in ("/escape", "/escape2"):
        p = launch_with_leaked_fds(["-w", wd, "--", "sh", "-c", "echo RAN; ls"], user=as_user, rootfs=tmp_rootfs)
        assert p.returncode == 125, (wd, p.stdout, p.stderr)
        assert "RAN" not in p.stdout


def test_cwd_and_root_of_the_workload_are_the_sandbox(as_user):
    # nothing of the host is reachable through the workload's own cwd/root links
    p = run(["--", "sh", "-c", "ls /proc/self/cwd/ /proc/self/root/ | sort -u | tr '\\n' ' '"], user=as_user, check=0)
    names = set(p.stdout.split())
    assert "bin" in names and "proc" in names
    host_only = set(os.listdir("/")) - set(os.listdir(ROOTFS))
    assert not (names & host_only), names & host_only
