"""Landlock, proven from inside: filesystem rules follow the mount plan, TCP ports follow --allow-bind/
--allow-connect, abstract unix sockets outside the sandbox are out of reach, and asking for Landlock where it
cannot apply stops the launch. Each denial is shown to be Landlock's by the same probe succeeding with
--landlock=off (DAC and mount flags would allow it)."""
import os
import socket
import subprocess
import uuid

import pytest

from secutil import HARDRUN, ROOTFS, probe, run, sh


def landlock_abi():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    v = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return v if v > 0 else 0


ABI = landlock_abi()
pytestmark = pytest.mark.skipif(ABI < 1, reason="this kernel has no Landlock")
OFF = ["--landlock", "off", "-q"]


def out(p):
    return p.stdout.strip()


@pytest.mark.parametrize("args", [["/dev/evil", "creat"], ["/proc/self/comm", "w"], ["/proc/self/attr/current", "w"]])
def test_writes_dac_allows_are_denied(as_user, args):
    # uid 0 without capabilities owns /dev (a tmpfs hardrun made) and its own /proc/self files
    assert out(probe("open", *args, flags=["--user", "0", "-q"], user=as_user)) == "EACCES"
    assert out(probe("open", *args, flags=["--user", "0"] + OFF, user=as_user)) in ("ok", "EINVAL")


def test_rw_volume_and_tmpfs_are_writable(host_dir, as_user):
    vol = host_dir / "vol"
    vol.mkdir()
    os.chmod(vol, 0o777)
    p = sh("secprobe open /data/new creat; secprobe mkdir /data/dir; secprobe open /tmp/x creat; "
           "secprobe open /dev/shm/x creat; echo > /dev/null && echo null-ok",
           "-v", f"{vol}:/data", user=as_user, check=0)
    assert p.stdout.split() == ["ok", "ok", "ok", "ok", "null-ok"], p.stdout
    assert (vol / "new").exists()


def test_ro_volume_and_noexec_paths(host_dir, as_user):
    vol = host_dir / "ro"
    vol.mkdir()
    tool = vol / "tool"
    tool.write_text("#!/bin/sh\necho tool-ran\n")
    os.chmod(tool, 0o755)
    p = sh("secprobe open /ro/new creat; /ro/tool; cp /bin/busybox /tmp/bb && /tmp/bb true; echo rc=$?",
           "-v", f"{vol}:/ro:ro,noexec", user=as_user, check=0)
    lines = p.stdout.split()
    assert lines[0] in ("EROFS", "EACCES")
    assert "tool-ran" not in p.stdout
    assert lines[-1] == "rc=126"


def test_read_write_root_follows_the_plan_but_dev_and_proc_stay_closed(as_user):
    # --read-write makes the root writable (the plan says so: Landlock follows it); hardrun's /dev and /proc
    # stay closed even to uid 0, which owns them
    name = f"home/app/landlock-rw-{uuid.uuid4().hex}"  # the shared rootfs: a fresh name, removed afterwards
    try:
        p = sh(f"secprobe open /{name} creat", "--read-write", "-q", user=as_user, check=0)
        if as_user is None:  # as root; rootless, the host owns the rootfs files and DAC refuses anyway
            assert out(p) == "ok", p.stdout
    finally:
        if os.path.lexists(os.path.join(ROOTFS, name)):
            os.unlink(os.path.join(ROOTFS, name))
    p = sh("secprobe open /dev/evil creat; secprobe open /proc/self/comm w", "--read-write", "--user", "0", "-q",
           user=as_user, check=0)
    assert p.stdout.split() == ["EACCES", "EACCES"], p.stdout


def test_execute_and_read_on_the_root(as_user):
    p = sh("ls / >/dev/null && cat /etc/passwd >/dev/null && busybox true && echo fine", user=as_user, check=0)
    assert out(p) == "fine"


def test_stdout_file_can_be_reopened(host_dir, as_user):
    # /dev/stdout is /proc/self/fd/1: a host file outside the sandbox's tree, allowed as the workload's own stdout
    target = host_dir / "out.txt"
    target.write_text("")
    os.chown(target, 10001 if as_user is None else as_user, -1)  # the workload's uid on the host
    args = [HARDRUN, "run", "--rootfs", ROOTFS, "--", "sh", "-c", "echo via-dev-stdout >> /dev/stdout"]
    if as_user is not None:
        args = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups"] + args
    with open(target, "a") as f:
        rc = subprocess.run(args, stdout=f, stderr=subprocess.PIPE, timeout=30).returncode
    assert rc == 0
    assert target.read_text() == "via-dev-stdout\n"


@pytest.mark.skipif(ABI < 4, reason="TCP rules need Landlock ABI 4")
def test_connect_only_to_allowed_ports(as_user):
    script = ("secprobe listen 8080 >/dev/null & secprobe listen 9090 >/dev/null & sleep 0.3; "
              "secprobe connect 8080; secprobe connect 9090; secprobe connect 7070")
    p = sh(script, "--allow-connect", "8080", user=as_user, check=0)
    assert p.stdout.split() == ["ok", "EACCES", "EACCES"], p.stdout
    # without Landlock the same connects reach the listener (9090) or find nothing there (7070)
    p = sh(script, *OFF, user=as_user, check=0)
    assert p.stdout.split() == ["ok", "ok", "ECONNREFUSED"], p.stdout


@pytest.mark.skipif(ABI < 4, reason="TCP rules need Landlock ABI 4")
def test_bind_only_to_allowed_ports(as_user):
    p = sh("secprobe bind 8080; secprobe bind 9090", "--allow-bind", "8080", user=as_user, check=0)
    assert p.stdout.split() == ["ok", "EACCES"], p.stdout
    p = sh("secprobe bind 8080; secprobe bind 9090", user=as_user, check=0)
    assert p.stdout.split() == ["ok", "ok"], p.stdout  # no --allow-bind: binding is not restricted


@pytest.mark.skipif(ABI < 6, reason="scoping needs Landlock ABI 6")
def test_abstract_unix_sockets_outside_are_unreachable(as_user):
    name = f"hardrun-test-{uuid.uuid4().hex[:12]}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("\0" + name)
    srv.listen(8)
    try:
        p = probe("unix-connect", name, flags=["--network", "host", "-q"], user=as_user)
        assert out(p) == "EPERM", p.stdout + p.stderr
        p = probe("unix-connect", name, flags=["--network", "host"] + OFF, user=as_user)
        assert out(p) == "ok", p.stdout + p.stderr
    finally:
        srv.close()


def test_asked_for_and_impossible_fails_closed(as_user):
    # no_new_privs off and no CAP_SYS_ADMIN: Landlock cannot be enforced; --landlock=on stops the launch
    nnp_off = ["--security-opt", "no-new-privileges=false", "--security-opt", "seccomp=unconfined"]
    p = run(["--landlock", "on"] + nnp_off + ["--", "sh", "-c", "echo RAN"], user=as_user)
    assert p.returncode == 125 and "RAN" not in p.stdout, p.stderr
    assert "landlock" in p.stderr.lower()
    # Auto (the default) runs, and says Landlock was skipped
    p = run(nnp_off + ["--", "sh", "-c", "echo RAN"], user=as_user)
    assert p.returncode == 0 and "RAN" in p.stdout, p.stderr
    assert "landlock: skipped" in p.stderr
    # ports asked for cannot be enforced either: an error, never a silent skip
    p = run(nnp_off + ["--allow-connect", "443", "--", "sh", "-c", "echo RAN"], user=as_user)
    assert p.returncode == 125 and "RAN" not in p.stdout, p.stderr


def test_off_is_warned_and_ports_need_landlock():
    p = run(["--landlock", "off", "--", "true"])
    assert p.returncode == 0 and "landlock: turned off" in p.stderr
    p = run(["--landlock", "off", "--allow-bind", "80", "--", "true"])
    assert p.returncode == 125 and "--allow-bind" in p.stderr


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1", ""])
def test_bad_ports_are_usage_errors(port):
    p = run(["--allow-connect", port, "--", "true"])
    assert p.returncode == 125 and "TCP port" in p.stderr, p.stderr


def test_verbose_shows_landlock():
    p = run(["--verbose", "--allow-connect", "443", "--", "true"], check=0)
    line = [l for l in p.stderr.splitlines() if "landlock:" in l]
    assert line and f"ABI {ABI}" in line[0] and "443" in line[0], p.stderr
