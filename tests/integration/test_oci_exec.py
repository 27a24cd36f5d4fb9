"""`hardrun exec` (runc exec): a process started in a running container gets exactly the container's hardening.
Every check is made from inside the exec'ed process (/proc/self/status, its namespaces and cgroup) and compared
with the container's own process as the kernel shows it from the host, or tries the forbidden thing.
"""
import json
import os
import socket
import time

import pytest

from conftest import console_master, one_line_error, read_pty, reap, status_fields, wait_for
from test_oci import env  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="the OCI runtime tests run as root"),
              pytest.mark.usefixtures("oci_subreaper")]

NAMESPACES = ["mnt", "pid", "net", "ipc", "uts", "cgroup"]
PROBE = ("for n in " + " ".join(NAMESPACES) + "; do echo ns.$n=$(readlink /proc/self/ns/$n); done; "
         "echo cgroup=$(cat /proc/self/cgroup | grep ^0::); cat /proc/self/status")


def running(env, cid="c1"):
    """A started container whose process sleeps; returns its host pid."""
    b, rt = env
    b.args("sleep", "1000")
    rt.ok("create", "--bundle", b.dir, cid)
    rt.ok("start", cid)
    pid = rt.state(cid)["pid"]
    wait_for(lambda: open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep"), "the workload to run")
    return pid


def probe_output(stdout):
    out = status_fields(stdout)
    for line in stdout.splitlines():
        if line.startswith("ns.") or line.startswith("cgroup="):
            k, v = line.split("=", 1)
            out[k] = v
    return out


def host_view(pid):
    """What the kernel shows of a process from the host: its status and namespaces."""
    v = status_fields(open(f"/proc/{pid}/status").read())
    for n in NAMESPACES:
        v["ns." + n] = os.readlink(f"/proc/{pid}/ns/{n}")
    cg = [line for line in open(f"/proc/{pid}/cgroup").read().splitlines() if line.startswith("0::")]
    v["cgroup"] = cg[0] if cg else ""
    return v


def test_exec_gets_the_containers_hardening_and_namespaces(env):
    b, rt = env
    pid = running(env)
    container = host_view(pid)
    p = rt("exec", "c1", "sh", "-c", PROBE)
    assert p.returncode == 0, p.stderr
    inside = probe_output(p.stdout)
    for k in ["Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp", "Groups"]:
        assert inside[k] == container[k], (k, inside[k], container[k])
    assert inside["Uid"].split()[0] == "10001" and inside["CapEff"] == "0000000000000000"
    assert inside["NoNewPrivs"] == "1" and inside["Seccomp"] == "2"
    for n in NAMESPACES:
        assert inside["ns." + n] == container["ns." + n], n
    assert inside["cgroup"] == container["cgroup"]
    assert p.stderr == ""  # nothing was weakened: no warning


def test_exec_cannot_do_what_the_container_cannot(env):
    b, rt = env
    running(env)
    p = rt("exec", "c1", "sh", "-c", "touch /new-file; echo touch=$?; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                                    "unshare -U true; echo unshare=$?; exit 7")
    assert p.returncode == 7, p.stderr  # the process's own status is exec's
    assert "touch=1" in p.stdout and "Read-only file system" in p.stderr  # the container's read-only root
    assert "unshare=0" not in p.stdout  # seccomp/capabilities refuse a new user namespace
    assert "sleep 1000" in p.stdout  # pid 1 of its pid namespace is the container's process
    assert not os.path.exists(os.path.join(b.rootfs, "new-file"))


def test_exec_flags_override_the_process_and_weakening_is_logged(env):
    b, rt = env
    running(env)
    p = rt("exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "0", "--cap", "CAP_NET_RAW", "c1",
           "sh", "-c", "echo foo=$FOO; pwd; cat /proc/self/status")
    assert p.returncode == 0, p.stderr
    s = status_fields(p.stdout)
    assert "foo=bar" in p.stdout and "\n/tmp\n" in p.stdout
    assert s["Uid"].split()[0] == "0"
    assert int(s["CapEff"], 16) == 1 << 13  # CAP_NET_RAW and nothing else
    assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2"
    warnings = p.stderr.strip().splitlines()
    assert any("CAP_NET_RAW" in w and "more than the container" in w for w in warnings), p.stderr
    assert any("uid 0" in w for w in warnings), p.stderr


def test_exec_process_json_and_its_conflicts(env, tmp_path):
    b, rt = env
    running(env)
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"args": ["/bin/id", "-u"], "cwd": "/", "user": {"uid": 10002, "gid": 10002},
                                "env": ["PATH=/bin"]}))
    p = rt("exec", "--process", str(proc), "c1")
    assert p.returncode == 0 and p.stdout.strip() == "10002", p.stderr
    assert p.stderr == ""  # another uid, but nothing more than the container's process holds
    # an ambient capability (not in the effective set of process.json): more than the container's process holds
    caps = ["CAP_NET_RAW"]
    proc.write_text(json.dumps({"args": ["cat", "/proc/self/status"], "cwd": "/", "user": {"uid": 10001, "gid": 10001},
                                "env": ["PATH=/bin"], "capabilities": {"bounding": caps, "permitted": caps,
                                                                       "inheritable": caps, "ambient": caps}}))
    p = rt("exec", "--process", str(proc), "c1")
    assert p.returncode == 0, p.stderr
    assert int(status_fields(p.stdout)["CapAmb"], 16) == 1 << 13  # the kernel shows it held
    assert "CAP_NET_RAW" in p.stderr and "more than the container" in p.stderr, p.stderr
    one_line_error(rt("exec", "--process", str(proc), "c1", "/bin/true"), "the command", "--process")
    one_line_error(rt("exec", "--process", str(proc), "--cwd", "/tmp", "c1"), "--cwd", "--process")


def test_exec_tty_beside_process_json_gets_a_pty(env, tmp_path):
    """conmon's exec for `podman exec -t`: `exec --tty --console-socket S --process F` with "terminal": true in
    F (runc and crun take --tty there); the pty master goes to the socket and its slave is the process's tty.
    --tty against an explicit "terminal": false is refused, never settled silently either way."""
    b, rt = env
    running(env)
    sock_path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    proc = tmp_path / "process.json"
    process = {"args": ["sh", "-c", "tty; id -u; echo done"], "cwd": "/", "terminal": True,
               "user": {"uid": 10001, "gid": 10001}, "env": ["PATH=/bin:/usr/bin"]}
    proc.write_text(json.dumps(process))
    pid_file = tmp_path / "exec.pid"
    try:
        rt.ok("exec", "--tty", "--console-socket", sock_path, "--process", str(proc), "-d", "--pid-file",
              str(pid_file), "c1")
        master = console_master(srv)
        text = read_pty(master, stop=b"done").decode().replace("\r", "")
        os.close(master)
        assert any(l.startswith("/dev/pts/") for l in text.splitlines()), text
        assert "10001" in text.splitlines(), text
    finally:
        srv.close()
        reap()
    process["terminal"] = False
    proc.write_text(json.dumps(process))
    one_line_error(rt("exec", "--tty", "--console-socket", sock_path, "--process", str(proc), "c1"), "--tty",
                   "terminal")


def test_exec_detached_with_pid_file(env, tmp_path):
    b, rt = env
    pid = running(env)
    pid_file = tmp_path / "exec.pid"
    rt.ok("exec", "-d", "--pid-file", str(pid_file), "c1", "sleep", "999")
    epid = int(pid_file.read_text())
    try:
        wait_for(lambda: open(f"/proc/{epid}/cmdline", "rb").read().startswith(b"sleep"), "the exec'ed process")
        v, container = host_view(epid), host_view(pid)
        for k in ["Uid", "CapEff", "NoNewPrivs", "Seccomp", "ns.pid", "ns.mnt", "cgroup"]:
            assert v[k] == container[k], k
    finally:
        os.kill(epid, 9)
        wait_for(lambda: not os.path.exists(f"/proc/{epid}") or "Z" in open(f"/proc/{epid}/stat").read().split()[2],
                 "the exec'ed process to end")
        reap()


def test_exec_in_a_stopped_or_missing_container_says_so(env):
    b, rt = env
    b.args("true")
    rt.ok("create", "--bundle", b.dir, "c1")
    rt.ok("start", "c1")
    wait_for(lambda: rt.state("c1")["status"] == "stopped", "the container to stop")
    one_line_error(rt("exec", "c1", "true"), "container not running")
    one_line_error(rt("exec", "nope", "true"), "nope", "does not exist")
    one_line_error(rt("exec", "--process-label", "system_u:system_r:container_t:s0", "c1", "true"), "--process-label",
                   "SELinux")
