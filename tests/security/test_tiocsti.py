"""TIOCSTI: a sandboxed process pushing characters into the input queue of the terminal it inherited, so the
shell that started hardrun executes them after the sandbox exits (bubblewrap CVE-2017-5226, runc/crun
consoles, firejail).

hardrun's defence: the child calls setsid() before anything else, so the terminal is no longer its
controlling terminal and TIOCSTI needs CAP_SYS_ADMIN, which it does not have.
"""
import os
import subprocess
import termios

import pytest

from secutil import UNPRIV_UID, pty_session, read_pty, run_command


def legacy_tiocsti():
    try:
        return open("/proc/sys/dev/tty/legacy_tiocsti").read().strip() == "1"
    except OSError:
        return True  # kernels before 6.2 always allow it


def launch_on_pty(args, user=None):
    """Runs hardrun with a fresh pty as its controlling terminal (as in an interactive shell); returns
    (returncode, output, injected bytes waiting in the terminal's input queue)."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    cmd = run_command(args, user=user)
    controlling_tty = pty_session(0)  # fd 0 of the child is the slave
    try:
        p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_tty)
        rc = p.wait(timeout=60)
        out = read_pty(master, idle=0.2)
        # what the sandbox pushed would now be waiting to be read by the shell on the slave side
        os.set_blocking(slave, False)
        attr = termios.tcgetattr(slave)
        attr[3] &= ~termios.ICANON  # read what is queued without waiting for a newline
        termios.tcsetattr(slave, termios.TCSANOW, attr)
        try:
            injected = os.read(slave, 4096)
        except BlockingIOError:
            injected = b""
        return rc, out.decode(errors="replace"), injected
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.skipif(not legacy_tiocsti(), reason="dev.tty.legacy_tiocsti=0: the kernel refuses TIOCSTI for everyone")
def test_tiocsti_cannot_inject_into_the_parent_terminal(as_user):
    rc, out, injected = launch_on_pty(["--", "secprobe", "tiocsti", "id > /tmp/pwned\n"], user=as_user)
    assert rc == 0, out
    assert "EPERM" in out or "EIO" in out, out
    assert injected == b"", injected


def test_the_same_ioctl_works_without_the_sandbox():
    # the probe and the pty harness can detect an injection (as a plain process on its controlling terminal)
    if not legacy_tiocsti():
        pytest.skip("dev.tty.legacy_tiocsti=0")
    master, slave = os.openpty()
    try:
        secprobe = os.path.join(os.environ.get("HARDRUN_HELPERS", ""), "secprobe")
        if not os.path.exists(secprobe):
            pytest.skip("no secprobe helper on the host")

        controlling_tty = pty_session(0)
        attr = termios.tcgetattr(slave)
        attr[3] &= ~termios.ICANON
        termios.tcsetattr(slave, termios.TCSANOW, attr)
        cmd = [secprobe, "tiocsti", "abc"]
        if os.geteuid() == 0:  # as root without CAP_SYS_ADMIN: only the controlling-terminal rule lets it through
            cmd = ["setpriv", f"--reuid={UNPRIV_UID}", f"--regid={UNPRIV_UID}", "--clear-groups"] + cmd
        subprocess.run(cmd, stdin=slave, stdout=subprocess.PIPE, preexec_fn=controlling_tty, timeout=30, check=True)
        os.set_blocking(slave, False)
        assert os.read(slave, 100) == b"abc"
    finally:
        os.close(master)
        os.close(slave)


def test_workload_leads_its_own_session_without_a_controlling_terminal(as_user):
    rc, out, _ = launch_on_pty(["--", "secprobe", "session"], user=as_user)
    assert rc == 0, out
    assert "leader=1 ctty=ENXIO" in out, out
