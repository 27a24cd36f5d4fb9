"""CVE-2019-5736 (runc): the container overwrote the host's runc binary through /proc/PID/exe.

hardrun's defences: the privileged supervisor and the child are non-dumpable until execve (so no process can
open /proc/<hardrun>/exe, even O_PATH to reopen it for writing later), and hardrun never re-executes itself.
"""
import os
import re
import subprocess
import time

import pytest

from secutil import HARDRUN, IS_ROOT, ROOTFS, env_without_leak_check, probe, run


def exe_lines(out):
    lines = {}
    for line in out.splitlines():
        m = re.match(r"pid (\d+): open-wronly=(\S+) opath=(\S+) reopen-wronly=(\S+) readlink=(\S+)", line)
        if m:
            lines[int(m.group(1))] = m.groups()[1:]
    return lines


def test_no_visible_exe_can_be_opened_for_writing(as_user):
    # with --init, hardrun's reaper is PID 1 inside: the probe must really try a hardrun process's exe (without
    # --init no other process is visible and "writable 0" would hold vacuously)
    p = probe("exe-write", flags=["--init"], user=as_user, check=0)
    lines = exe_lines(p.stdout)
    assert 1 in lines, p.stdout  # the reaper was tried
    for pid, (open_wr, opath, reopen, readlink) in lines.items():
        assert open_wr != "ok" and reopen != "ok", (pid, p.stdout)
    assert re.search(r"^seen [1-9]\d* writable 0$", p.stdout, re.M), p.stdout


def test_init_reaper_exe_cannot_even_be_opened_o_path(as_user):
    # with --init, PID 1 is hardrun's own image: it must be non-dumpable, so an attacker cannot hold an O_PATH
    # fd to the hardrun binary and reopen it for writing once hardrun has exited
    p = run(["--init", "--", "secprobe", "exe-write"], user=as_user, check=0)
    lines = exe_lines(p.stdout)
    assert 1 in lines, p.stdout
    open_wr, opath, reopen, readlink = lines[1]
    assert open_wr != "ok" and opath != "ok" and readlink in ("EACCES", "EPERM"), p.stdout
    assert "writable 0" in p.stdout


NO_PTRACE = ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-all"]


@pytest.mark.skipif(not IS_ROOT, reason="needs root")
def test_privileged_supervisor_is_not_dumpable():
    # A root process without CAP_SYS_PTRACE may read /proc/PID/exe of another root process holding the same
    # capabilities only while that one is dumpable. Both run without CAP_SYS_PTRACE so only dumpability decides.
    proc = subprocess.Popen(NO_PTRACE + [HARDRUN, "run", "--rootfs", ROOTFS, "--", "sh", "-c", "echo ready; read x"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    other = subprocess.Popen(NO_PTRACE + ["sleep", "60"])
    try:
        assert proc.stdout.readline().strip() == "ready"
        check = subprocess.run(NO_PTRACE + ["readlink", "-v", f"/proc/{proc.pid}/exe"], capture_output=True, text=True)
        assert check.returncode != 0 and "Permission denied" in check.stderr, check
        # the same probe reads an ordinary (dumpable) process of the same credentials: the check can fail
        ok = subprocess.run(NO_PTRACE + ["readlink", "-v", f"/proc/{other.pid}/exe"], capture_output=True, text=True)
        assert ok.returncode == 0, ok
    finally:
        other.kill()
        other.wait()
        proc.stdin.write("x\n")
        proc.stdin.close()
        proc.wait(timeout=30)


def test_source_never_reexecutes_hardrun():
    # a static guard: nothing in the launcher executes a file descriptor (a memfd copy of hardrun, runc's fix)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "launcher")
    for name in sorted(os.listdir(src)):
        if name.endswith(".cpp"):
            text = open(os.path.join(src, name)).read()
            assert not re.search(r"\b(fexecve|execveat)\s*\(", text), f"{name} executes a file descriptor"


@pytest.mark.skipif(not IS_ROOT, reason="strace needs root here")
def test_hardrun_never_reexecutes_itself(host_dir):
    # every execve hardrun makes, followed into the sandbox: only the workload's, never hardrun's binary
    trace = host_dir / "trace"
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve,execveat", "-o", str(trace), HARDRUN, "run",
                        "--rootfs", ROOTFS, "--init", "--", "true"], capture_output=True, text=True, timeout=60,
                       env=env_without_leak_check())
    assert p.returncode == 0, p.stderr
    # successful execs only (execvpe tries each PATH entry)
    calls = [l for l in trace.read_text().splitlines() if "execve" in l and l.rstrip().endswith("= 0")]
    assert len(calls) == 2, calls  # hardrun itself, then the workload
    assert os.path.realpath(HARDRUN) in calls[0] or HARDRUN in calls[0]
    assert '"true"' in calls[1] and HARDRUN not in calls[1], calls


def test_workload_exe_is_the_workload_not_hardrun(as_user):
    # the sandbox's PID 1 is the workload itself (no hardrun image left inside without --init)
    p = run(["--", "readlink", "/proc/1/exe"], user=as_user, check=0)
    assert p.stdout.strip() == "/bin/busybox"
