"""The workload leaves the invoker's terminal changed (issue 12, item 11c).

The workload shares the invoker's terminal (fds 0-2 on the tty) and can change its settings with tcsetattr
(stty -echo, raw mode) even without it being its controlling terminal; the shell that started hardrun then has
no echo, or no line editing, after the sandbox is gone.

hardrun's defence: when stdin, stdout or stderr is a terminal, `hardrun run` saves its termios before the launch
and restores them after the workload exited, was killed or the launch failed (launcher/layers/console.cpp
TerminalGuard, used by cmd_run.cpp).

The check is the terminal's own settings, read with tcgetattr on the pty, before and after.
"""
import os
import signal
import subprocess
import termios
import time

import pytest

from secutil import pty_session, read_pty, run_command


def on_pty(args, user=None, kill_after=None, stdin_pipe=False):
    """Runs hardrun with a fresh pty as its controlling terminal; returns (rc, output, termios before, after)."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    cmd = run_command(args, user=user)
    controlling_tty = pty_session(slave)
    try:
        before = termios.tcgetattr(slave)
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_pipe else slave, stdout=slave, stderr=slave,
                             preexec_fn=controlling_tty)
        out = b""
        if kill_after is not None:
            out += read_pty(master, stop=b"changed", idle=20)
            kill_after(p)
        try:
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:  # never leave the test's own processes behind
                for pid in descendants(p.pid):
                    os.kill(pid, signal.SIGKILL)
                p.kill()
                p.wait()
        out += read_pty(master, idle=0.2)
        after = termios.tcgetattr(slave)
        return rc, out.decode(errors="replace"), before, after
    finally:
        os.close(master)
        os.close(slave)


def parent_of(pid):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2:].split()[1])


def is_descendant(pid, ancestor):
    while pid and pid > 1:
        if pid == ancestor:
            return True
        pid = parent_of(pid)
    return False


def descendants(ancestor):
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != ancestor and is_descendant(int(p), ancestor)]


def flags_of(attr):
    iflag, oflag, cflag, lflag = attr[:4]
    return iflag, oflag, cflag, lflag


def test_stty_in_the_workload_does_not_persist(as_user):
    rc, out, before, after = on_pty(["--", "sh", "-c", "stty raw -echo -icanon; stty -a"], user=as_user)
    assert rc == 0, out
    assert "-echo" in out  # the workload did change the terminal
    assert after[3] & termios.ECHO and after[3] & termios.ICANON
    assert flags_of(after) == flags_of(before)
    assert after[6] == before[6]  # control characters


def test_settings_come_back_when_only_stdout_is_the_terminal(as_user):
    rc, out, before, after = on_pty(["--", "sh", "-c", "stty -echo <&1 && echo changed"], user=as_user,
                                    stdin_pipe=True)
    assert rc == 0, out
    assert "changed" in out
    assert flags_of(after) == flags_of(before)


@pytest.mark.parametrize("how", ["SIGTERM to hardrun", "SIGKILL to the workload"])
def test_settings_come_back_after_the_workload_is_killed(as_user, how):
    def kill(p):
        if how.startswith("SIGTERM"):
            p.send_signal(signal.SIGTERM)
            return
        # the workload: the sleep whose parent chain leads to hardrun
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
                except OSError:
                    continue
                if cmdline == b"sleep\x00987\x00" and is_descendant(int(pid), p.pid):
                    os.kill(int(pid), signal.SIGKILL)
                    return
            time.sleep(0.05)
        raise AssertionError("the workload's sleep was not found")

    # --init: the workload is not PID 1 of its namespace, which would ignore the forwarded SIGTERM
    rc, out, before, after = on_pty(["--init", "--", "sh", "-c", "stty raw -echo; echo changed; exec sleep 987"],
                                    user=as_user, kill_after=kill)
    assert rc != 0, out
    assert flags_of(after) == flags_of(before)


def test_a_failed_launch_leaves_the_terminal_as_it_was():
    rc, out, before, after = on_pty(["--", "/no/such/program"])
    assert rc in (125, 126, 127), out
    assert flags_of(after) == flags_of(before)
