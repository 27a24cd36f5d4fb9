"""hardrun under systemd: the notify protocol (Type=notify), socket activation (LISTEN_FDS), stop signals and
journal priorities.

This machine's PID 1 is not systemd, so systemd itself is replaced by what it does at the protocol level: a
unix datagram socket in the test plays systemd's NOTIFY_SOCKET (and reads the sender's credentials, as systemd
does for NotifyAccess=), and systemd-socket-activate (systemd's own tool) or a shell passes listening sockets
the way a .socket unit does. Everything is asserted from inside the sandbox with static helpers
(tests/helpers/sd_notify_send.c, sd_listen.c) or from the credentials of what systemd would receive.
A real systemd manager is exercised in test_systemd_real.py.
"""
import fcntl
import glob
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import HARDRUN, ROOTFS, UNPRIV_UID, hardrun

NOTIFY_INSIDE = "/dev/.hardrun-notify"


class Listener:
    """A fake systemd notify socket: receives datagrams with the sender's pid/uid (SO_PASSCRED)."""

    def __init__(self, sock, address):
        self.sock = sock
        self.address = address  # what NOTIFY_SOCKET is set to

    def recv(self, timeout=30):
        """The next message as (text, pid, uid); the timeout only guards against a hang."""
        self.sock.settimeout(timeout)
        data, anc, _, _ = self.sock.recvmsg(8192, socket.CMSG_SPACE(12))
        pid = uid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("iII", payload[:12])
        return data.decode(), pid, uid

    def pending(self):
        """Every message already queued (non-blocking)."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(self.sock.recv(8192).decode())
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        return out


@pytest.fixture
def notify_socket():
    """A notify socket file any uid may send to (like systemd's /run/systemd/notify)."""
    d = tempfile.mkdtemp(prefix="hardrun-sdtest-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o777)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    yield Listener(s, path)
    s.close()
    shutil.rmtree(d)


@pytest.fixture
def abstract_notify_socket():
    name = "hardrun-sdtest-" + uuid.uuid4().hex[:12]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    yield Listener(s, "@" + name)
    s.close()


def env_with(**kw):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "JOURNAL_STREAM")}
    env.update(kw)
    return env


def prefix(user):
    if user is None:
        return []
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]


def start(flags, script, *, user=None, env=None, stdin=None, pass_fds=()):
    cmd = prefix(user) + [HARDRUN, "run", "--rootfs", ROOTFS] + list(flags) + ["--", "sh", "-c", script]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, text=True, env=env,
                            pass_fds=pass_fds)


def finish(p, input=None, timeout=60):
    out, err = p.communicate(input=input, timeout=timeout)
    return p.returncode, out, err


def relay_dirs():
    return set(glob.glob("/tmp/hardrun-notify-*") + glob.glob("/run/hardrun-notify-*"))


# --- notify: the workload speaks the protocol ---------------------------------------------------------

def test_workload_notifies_through_the_bind_mounted_socket(as_user, notify_socket):
    script = ("echo sock=$NOTIFY_SOCKET; grep ' /dev/.hardrun-notify ' /proc/self/mountinfo; "
              "sd_notify_send READY=1 STATUS=serving WATCHDOG=1")
    p = start([], script, user=as_user, env=env_with(NOTIFY_SOCKET=notify_socket.address))
    rc, out, err = finish(p)
    assert rc == 0, err
    assert f"sock={NOTIFY_INSIDE}" in out
    mount_line = [l for l in out.splitlines() if f" {NOTIFY_INSIDE} " in l][0]
    assert " ro," in mount_line or " ro " in mount_line, mount_line  # read-only bind, socket still usable
    text, pid, uid = notify_socket.recv()
    assert text == "READY=1\nSTATUS=serving\nWATCHDOG=1\n"
    # systemd sees the workload itself as the sender (hence NotifyAccess=all in the units), not hardrun
    assert pid != p.pid
    assert uid == (10001 if as_user is None else UNPRIV_UID)


def test_hardrun_mode_sends_ready_once_the_workload_runs(as_user, notify_socket):
    p = start(["--sd-notify=hardrun"], "echo sock=[$NOTIFY_SOCKET]; read line; echo got $line", user=as_user,
              env=env_with(NOTIFY_SOCKET=notify_socket.address), stdin=subprocess.PIPE)
    try:
        # READY=1 arrives while the workload is blocked reading stdin: it was sent after the exec
        text, pid, _ = notify_socket.recv()
    finally:
        rc, out, err = finish(p, input="go\n")
    assert text.startswith("READY=1\n")
    assert pid == p.pid if as_user is None else pid is not None
    assert rc == 0, err
    assert "sock=[]" in out  # the workload is not told about the socket
    assert "got go" in out


def start_with_watchdog(flags, script, *, usec, watchdog_pid="$$", user=None, env=None, stdin=None):
    """hardrun under WatchdogSec=: systemd sets WATCHDOG_USEC and WATCHDOG_PID (hardrun's pid) for the main
    process; a shell exports them with its own pid and execs hardrun, which keeps that pid."""
    script_env = f'export WATCHDOG_PID={watchdog_pid} WATCHDOG_USEC={usec}; exec "$@"'
    cmd = prefix(user) + ["bash", "-c", script_env, "bash", HARDRUN, "run", "--rootfs", ROOTFS] + list(flags) + \
        ["--", "sh", "-c", script]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, text=True, env=env)


@pytest.mark.parametrize("init", [False, True], ids=["pid1", "init"])
def test_watchdog_reaches_the_workload_with_its_own_pid(as_user, notify_socket, init):
    # sd_watchdog_enabled(3) in the workload only says yes when WATCHDOG_PID is its own pid
    script = "echo pid=$$ wpid=$WATCHDOG_PID usec=$WATCHDOG_USEC; sd_notify_send WATCHDOG=1"
    p = start_with_watchdog(["--init"] if init else [], script, usec=3000000, user=as_user,
                            env=env_with(NOTIFY_SOCKET=notify_socket.address))
    rc, out, err = finish(p)
    assert rc == 0, err
    pid = 2 if init else 1
    assert f"pid={pid} wpid={pid} usec=3000000" in out, (out, err)
    text, sender, _ = notify_socket.recv()
    assert text == "WATCHDOG=1\n"
    assert sender != p.pid  # the workload pings, not hardrun


def test_watchdog_for_another_process_is_not_passed(notify_socket):
    # WATCHDOG_PID names the shell's parent, not hardrun: the watchdog is not hardrun's to hand on
    p = start_with_watchdog([], "echo wpid=[$WATCHDOG_PID] usec=[$WATCHDOG_USEC]", usec=3000000, watchdog_pid="$PPID",
                            env=env_with(NOTIFY_SOCKET=notify_socket.address))
    rc, out, err = finish(p)
    assert rc == 0, err
    assert "wpid=[] usec=[]" in out


def test_hardrun_mode_pings_the_watchdog_while_the_workload_runs(as_user, notify_socket):
    # the workload does not speak the protocol: hardrun sends WATCHDOG=1 every half WatchdogSec= until it ends
    p = start_with_watchdog(["--sd-notify=hardrun"], "echo usec=[$WATCHDOG_USEC] sock=[$NOTIFY_SOCKET]; read line",
                            usec=200000, user=as_user, env=env_with(NOTIFY_SOCKET=notify_socket.address),
                            stdin=subprocess.PIPE)
    try:
        texts = []
        while texts.count("WATCHDOG=1") < 3 and len(texts) < 20:  # several pings while the workload blocks on stdin
            text, sender, _ = notify_socket.recv()
            texts.append(text.strip())
            if as_user is None:
                assert sender == p.pid  # from hardrun itself (NotifyAccess=main is enough)
    finally:
        rc, out, err = finish(p, input="go\n")
    assert texts[0].startswith("READY=1\n"), texts
    assert texts[1:] == ["WATCHDOG=1"] * 3, texts
    assert rc == 0, err
    assert "usec=[] sock=[]" in out  # the workload is told nothing


def test_malformed_watchdog_usec_is_one_clear_line(notify_socket):
    p = start_with_watchdog([], "true", usec="99999999999999999999999", env=env_with(NOTIFY_SOCKET=notify_socket.address))
    rc, out, err = finish(p)
    assert rc == 125
    assert err.strip().splitlines() == [
        "hardrun: WATCHDOG_USEC: '99999999999999999999999' is not a number of microseconds (1..18446744073709551615)"]


def test_hardrun_mode_sends_nothing_when_the_workload_cannot_start(notify_socket):
    cmd = [HARDRUN, "run", "--rootfs", ROOTFS, "--sd-notify=hardrun", "--", "/no/such/program"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env_with(NOTIFY_SOCKET=notify_socket.address),
                       timeout=60)
    assert p.returncode == 127, p.stderr
    assert notify_socket.pending() == []


def test_ignore_mode_keeps_the_socket_out(notify_socket):
    p = start(["--sd-notify=ignore"], "echo sock=[$NOTIFY_SOCKET]; test -S /dev/.hardrun-notify || echo no-socket; "
              "sd_notify_send READY=1; echo send=$?", env=env_with(NOTIFY_SOCKET=notify_socket.address))
    rc, out, err = finish(p)
    assert rc == 0, err
    assert "sock=[]" in out
    assert "no-socket" in out
    assert "send=2" in out  # the helper found no NOTIFY_SOCKET
    assert notify_socket.pending() == []


def test_no_notify_socket_no_mount():
    p = start([], "test -S /dev/.hardrun-notify || echo no-socket; echo sock=[$NOTIFY_SOCKET]; "
              "grep -c hardrun-notify /proc/self/mountinfo", env=env_with())
    rc, out, err = finish(p)
    assert out.split() == ["no-socket", "sock=[]", "0"], (out, err)


def test_abstract_socket_is_relayed_by_hardrun(as_user, abstract_notify_socket):
    before = relay_dirs()
    p = start([], "echo sock=$NOTIFY_SOCKET; sd_notify_send READY=1 MAINPID=1 STATUS=relayed",
              user=as_user, env=env_with(NOTIFY_SOCKET=abstract_notify_socket.address))
    text, pid, _ = abstract_notify_socket.recv()
    rc, out, err = finish(p)
    assert rc == 0, err
    assert f"sock={NOTIFY_INSIDE}" in out
    # relayed by hardrun (the unit's main pid); MAINPID= from inside names a sandbox pid and is dropped
    assert text == "READY=1\nSTATUS=relayed\n"
    assert pid == p.pid if as_user is None else pid is not None
    assert relay_dirs() == before  # the relay's socket and directory are removed


def test_abstract_socket_is_relayed_with_host_network_too(abstract_notify_socket):
    # the host's network namespace would reach the name, but Landlock's abstract-socket scoping would not
    p = start(["--network=host"], "echo sock=$NOTIFY_SOCKET; sd_notify_send READY=1",
              env=env_with(NOTIFY_SOCKET=abstract_notify_socket.address))
    text, pid, _ = abstract_notify_socket.recv()
    rc, out, err = finish(p)
    assert rc == 0, err
    assert f"sock={NOTIFY_INSIDE}" in out
    assert text == "READY=1\n"
    assert pid == p.pid


@pytest.mark.parametrize("value,needle", [("vsock:2:1234", "NOTIFY_SOCKET"), ("/etc/passwd", "not a unix socket"),
                                          ("/nonexistent/notify", "No such file")])
def test_unusable_notify_socket_fails_closed(value, needle):
    p = start([], "echo ran", env=env_with(NOTIFY_SOCKET=value))
    rc, out, err = finish(p)
    assert rc == 125
    assert "ran" not in out
    assert needle in err
    assert len(err.strip().splitlines()) == 1, err
    # the same environment runs when the socket is ignored on purpose
    p = start(["--sd-notify=ignore"], "echo ran", env=env_with(NOTIFY_SOCKET=value))
    rc, out, err = finish(p)
    assert rc == 0 and "ran" in out, err


# --- socket activation ---------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect_when_listening(port, proc, limit=30):
    deadline = time.monotonic() + limit
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=limit)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_socket_activation_with_systemd_socket_activate(as_user):
    if not shutil.which("systemd-socket-activate"):
        pytest.skip("systemd-socket-activate is not installed")
    port = free_port()
    cmd = prefix(as_user) + ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "--fdname=web",
                             HARDRUN, "run", "--rootfs", ROOTFS, "--", "sd_listen", "accept"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_with())
    try:
        c = connect_when_listening(port, p)
        reply = c.makefile().readline()
        c.close()
    finally:
        rc, out, err = finish(p)
    # the workload accepted on its fd 3 inside a new network namespace: the connection came through the fd
    assert reply == "hello from pid 1\n", (out, err)
    assert rc == 0, err
    assert "pid=1 listen_pid=1 listen_fds=1 names=web" in out
    assert "open=0,1,2,3\n" in out
    assert "fd3=listening" in out


@pytest.fixture
def listening_fd():
    """A listening TCP socket as a high fd number (so a shell's 3<&N cannot clobber it), closed afterwards."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    hi = fcntl.fcntl(lsock.fileno(), fcntl.F_DUPFD, 60)
    yield hi
    os.close(hi)
    lsock.close()


def test_socket_activation_passes_only_the_listen_fds_renumbered(as_user):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    a, b = socket.socketpair()
    leak_r, leak_w = os.pipe()
    # high numbers, so the shell's 3<&N 4<&M cannot clobber one with the other
    hi = [fcntl.fcntl(fd, fcntl.F_DUPFD, 60 + i) for i, fd in enumerate((lsock.fileno(), a.fileno(), leak_r))]
    try:
        script = ('export LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=tcp:unix; '
                  f'exec "$@" 3<&{hi[0]} 4<&{hi[1]}')
        cmd = prefix(as_user) + ["bash", "-c", script, "bash", HARDRUN, "run", "--init", "--rootfs", ROOTFS, "--",
                                 "sd_listen"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env_with(), pass_fds=hi, timeout=60)
    finally:
        for fd in hi + [leak_r, leak_w]:
            os.close(fd)
        lsock.close(), a.close(), b.close()
    assert p.returncode == 0, p.stdout + p.stderr
    # with --init the workload is pid 2 and LISTEN_PID says so; fds 60..62 hardrun also had did not leak
    assert "pid=2 listen_pid=2 listen_fds=2 names=tcp:unix" in p.stdout
    assert "open=0,1,2,3,4\n" in p.stdout
    assert "fd3=listening" in p.stdout and "fd4=socket" in p.stdout


def test_listen_fds_for_another_process_are_not_passed(listening_fd):
    hi = listening_fd
    # LISTEN_PID names the shell's parent, not hardrun: sd_listen_fds(3) semantics say ignore them
    script = f'export LISTEN_PID=$PPID LISTEN_FDS=1; exec "$@" 3<&{hi}'
    cmd = ["bash", "-c", script, "bash", HARDRUN, "run", "--rootfs", ROOTFS, "--", "sd_listen"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env_with(), pass_fds=[hi], timeout=60)
    assert p.returncode == 3  # sd_listen: not activated
    assert "listen_pid=- listen_fds=-" in p.stdout
    assert "open=0,1,2\n" in p.stdout


def test_listen_fds_that_are_not_open_fail_closed():
    script = 'export LISTEN_PID=$$ LISTEN_FDS=2; exec "$@" 3</dev/null 4<&-'
    cmd = ["bash", "-c", script, "bash", HARDRUN, "run", "--rootfs", ROOTFS, "--", "echo", "ran"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env_with(), timeout=60)
    assert p.returncode == 125
    assert "ran" not in p.stdout
    assert "fd 4" in p.stderr and "LISTEN_FDS=2" in p.stderr


# --- OCI bundles (hardrun run --bundle, the template unit hardrun@.service) ------------------------------

def make_bundle(tmp_path, args):
    d = tmp_path / "bundle"
    d.mkdir()
    os.chmod(tmp_path, 0o755)
    subprocess.run([HARDRUN, "spec", "--bundle", str(d)], check=True, capture_output=True)
    with open(d / "config.json") as f:
        config = json.load(f)
    config["process"]["args"] = args
    config["root"]["path"] = ROOTFS
    with open(d / "config.json", "w") as f:
        json.dump(config, f)
    return str(d)


def test_bundle_workload_notifies(notify_socket, tmp_path):
    bundle = make_bundle(tmp_path, ["sh", "-c", "echo sock=$NOTIFY_SOCKET; sd_notify_send READY=1 STATUS=bundle"])
    p = subprocess.run([HARDRUN, "run", "--bundle", bundle], capture_output=True, text=True, timeout=60,
                       env=env_with(NOTIFY_SOCKET=notify_socket.address))
    assert p.returncode == 0, p.stderr
    assert f"sock={NOTIFY_INSIDE}" in p.stdout
    assert notify_socket.recv()[0] == "READY=1\nSTATUS=bundle\n"


def test_bundle_hardrun_sends_ready(notify_socket, tmp_path):
    bundle = make_bundle(tmp_path, ["sh", "-c", "echo sock=[$NOTIFY_SOCKET]; read line"])
    p = subprocess.Popen([HARDRUN, "run", "--sd-notify=hardrun", "--bundle", bundle], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env_with(NOTIFY_SOCKET=notify_socket.address))
    try:
        text, pid, _ = notify_socket.recv()
    finally:
        rc, out, err = finish(p, input="\n")
    assert text.startswith("READY=1\n") and pid == p.pid
    assert rc == 0, err
    assert "sock=[]" in out


def test_bundle_socket_activation(tmp_path, listening_fd):
    bundle = make_bundle(tmp_path, ["sd_listen"])
    hi = listening_fd
    script = f'export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=web; exec "$@" 3<&{hi}'
    p = subprocess.run(["bash", "-c", script, "bash", HARDRUN, "run", "--bundle", bundle], capture_output=True,
                       text=True, env=env_with(), pass_fds=[hi], timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "pid=1 listen_pid=1 listen_fds=1 names=web" in p.stdout
    assert "open=0,1,2,3\n" in p.stdout and "fd3=listening" in p.stdout


# --- stop and logs ----------------------------------------------------------------------------------

def test_stop_reaches_the_workload_like_killmode_mixed(as_user, notify_socket):
    # systemctl stop with KillMode=mixed sends SIGTERM to the main process (hardrun) only
    script = ("trap 'echo cleaning up; sd_notify_send STOPPING=1; exit 0' TERM; "
              "sd_notify_send READY=1; while :; do sleep 1; done")
    p = start([], script, user=as_user, env=env_with(NOTIFY_SOCKET=notify_socket.address))
    try:
        text, _, _ = notify_socket.recv()
        assert text == "READY=1\n"
        p.send_signal(signal.SIGTERM)
    finally:
        rc, out, err = finish(p)
    assert rc == 0, err  # the workload's own clean exit, as systemd's SuccessExitStatus expects
    assert "cleaning up" in out
    assert notify_socket.recv()[0] == "STOPPING=1\n"


def journal_run(args, matching=True):
    r, w = os.pipe()
    st = os.fstat(w)
    ino = st.st_ino if matching else st.st_ino + 1
    p = subprocess.run([HARDRUN] + args, stdout=subprocess.PIPE, stderr=w, text=True,
                       env=env_with(JOURNAL_STREAM=f"{st.st_dev}:{ino}"), timeout=60)
    os.close(w)
    with os.fdopen(r) as f:
        return p.returncode, f.read()


def test_journal_gets_syslog_priorities():
    rc, err = journal_run(["run", "--rootfs", "/nonexistent", "--", "true"])
    assert rc == 125
    assert err.startswith("<3>hardrun: "), err  # journalctl -p err finds it
    rc, err = journal_run(["run", "--rootfs", ROOTFS, "--read-write", "--", "true"])
    assert rc == 0
    assert "<4>hardrun: warning: filesystem: the root filesystem is writable" in err
    # JOURNAL_STREAM naming another file (a pipe inherited from elsewhere): plain lines
    rc, err = journal_run(["run", "--rootfs", "/nonexistent", "--", "true"], matching=False)
    assert err.startswith("hardrun: "), err
