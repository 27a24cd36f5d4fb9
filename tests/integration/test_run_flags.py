"""docker's everyday flags on `hardrun run --rootfs` (issue 16 item 4): each one works or is refused with one line
that names the alternative, never accepted and ignored. -d/--name/--pid-file/--preserve-fds/--keep make the run a
container under --root, so `hardrun ps/kill/state/delete NAME` find it; --env-file, --group-add and --sysctl reach
the workload, as it sees them from inside."""
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import HARDRUN, ROOTFS, UNPRIV_UID, OciRuntime, one_line_error, reap, run, wait_for


@pytest.fixture
def rt(tmp_path, oci_subreaper):
    r = OciRuntime(str(tmp_path / "state"))
    yield r
    for cid in r.ids() if os.path.isdir(r.root) else []:  # only the containers this test made, under its own --root
        r("delete", "--force", cid)
    reap()


def rootfs_run(rt, *args, timeout=30, **kw):
    # through pipes on purpose: `name=$(hardrun run -d ...)` must return, so nothing of a detached container may
    # hold them
    return subprocess.run([HARDRUN, "--root", rt.root, "run", "--rootfs", ROOTFS] + list(args),
                          capture_output=True, text=True, timeout=timeout, **kw)


def status_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


def test_detached_run_is_a_container_that_ps_kill_and_delete_find(rt, tmp_path):
    pidfile = tmp_path / "pid"
    p = rootfs_run(rt, "-d", "--name", "web1", "--pid-file", str(pidfile), "--",
                   "sh", "-c", "echo to-stdout; echo to-stderr >&2; read x; exec sleep 60")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "web1"  # like docker run -d: what to pass to the other verbs
    st = rt.state("web1")
    assert st["status"] == "running" and st["bundle"] == ""
    pid = int(pidfile.read_text())
    assert pid == st["pid"]
    # the detached workload is hardened like a foreground one: seen from the host, in its /proc
    s = status_of(pid)
    assert s["Uid"].split()[0] == "10001" and s["NoNewPrivs"].strip() == "1" and s["Seccomp"].strip() == "2", s
    assert s["CapEff"].strip() == "0000000000000000"
    assert str(pid) in rt.ok("ps", "web1").stdout
    assert rt.ids() == ["web1"]
    # its stdin is /dev/null (read returned at once, so sleep runs), its output is kept for `hardrun logs`
    wait_for(lambda: "sleep" in open(f"/proc/{pid}/cmdline").read(), "the workload to exec sleep")
    assert rt.ok("logs", "web1").stdout.splitlines() == ["to-stdout", "to-stderr"]
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    # exec needs a bundle's config.json: refused by name, not a confusing "older hardrun"
    one_line_error(rt("exec", "web1", "true"), "was started with hardrun run --rootfs")
    rt.ok("kill", "web1", "KILL")
    wait_for(lambda: rt.state("web1")["status"] == "stopped", "web1 to stop")
    rt.ok("delete", "web1")
    assert rt.ids() == []
    one_line_error(rt("logs", "web1"), "web1")


def test_detached_run_without_a_name_prints_the_one_it_made(rt):
    p = rootfs_run(rt, "-d", "--", "sleep", "60")
    assert p.returncode == 0, p.stderr
    name = p.stdout.strip()
    assert name.startswith("hardrun-") and rt.ids() == [name]
    rt.ok("delete", "--force", name)
    assert rt.ids() == []


def test_foreground_run_with_a_name_is_listed_while_it_runs_and_removed_after(rt, tmp_path):
    proc = subprocess.Popen([HARDRUN, "--root", rt.root, "run", "--rootfs", ROOTFS, "--name", "fg1", "--",
                             "sh", "-c", "echo up; read x; exit 7"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        assert rt.state("fg1")["status"] == "running"
        # a second container by the same name is refused
        one_line_error(rootfs_run(rt, "--name", "fg1", "--", "true"), "fg1", "already in use")
        out, err = proc.communicate("go\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 7, err
    assert rt.ids() == []
    # --keep: the state stays, stopped, until delete
    p = rootfs_run(rt, "--name", "kept", "--keep", "--", "true")
    assert p.returncode == 0, p.stderr
    assert rt.state("kept")["status"] == "stopped"
    rt.ok("delete", "kept")


def test_preserve_fds_and_pid_file_in_the_foreground(rt, tmp_path):
    data = tmp_path / "data"
    data.write_text("through fd 3\n")
    pidfile = tmp_path / "pid"
    cmd = [HARDRUN, "--root", rt.root, "run", "--rootfs", ROOTFS, "--preserve-fds", "1", "--pid-file", str(pidfile),
           "--", "sh", "-c", "cat <&3"]
    # fd 3 of hardrun is the file (sh opens it, then execs hardrun)
    p = subprocess.run(["sh", "-c", 'exec 3<"$0"; exec "$@"', str(data)] + cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "through fd 3\n", p.stdout
    assert int(pidfile.read_text()) > 1
    # without --preserve-fds fd 3 does not reach the workload
    p = subprocess.run(["sh", "-c", 'exec 3<"$0"; exec "$@"', str(data), HARDRUN, "run", "--rootfs", ROOTFS, "--",
                        "sh", "-c", "cat <&3"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and p.stdout == "" and "Bad file descriptor" in p.stderr, p.stdout + p.stderr


@pytest.mark.parametrize("flags,needles", [
    (["-t", "-d"], ["--tty", "-d", "hardrun logs NAME"]),
    (["-t", "--name", "x"], ["--tty", "--name"]),
    (["--rm", "-d"], ["--rm", "hardrun delete NAME"]),
    (["--rm", "--keep"], ["--rm", "--keep"]),
    (["--console-socket", "/nonexistent.sock"], ["--console-socket", "--bundle"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("-") else None)
def test_refused_flags_name_the_alternative(rt, flags, needles):
    p = rootfs_run(rt, *flags, "--", "true")
    assert p.returncode == 125
    one_line_error(p, *needles)
    assert not os.path.isdir(rt.root) or rt.ids() == []  # no state was left (none made, or none kept)


def _tty_run(args, script, feed=b"", rows=33, cols=111, resize=None, timeout=15):
    """Runs hardrun run -t with a pty of the test's own as its terminal; returns (output, exit code, the terminal's
    attributes before and after)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([HARDRUN, "run", "-t", *args, "--rootfs", ROOTFS, "--", "sh", "-c", script],
                         stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    out, fed, deadline = b"", False, time.time() + timeout
    try:
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    d = os.read(master, 4096)
                except OSError:
                    break
                out += d
                if b"ready" in out and not fed:
                    fed = True
                    if resize:
                        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", resize[0], resize[1], 0, 0))
                        p.send_signal(signal.SIGWINCH)
                        time.sleep(0.3)
                    os.write(master, feed)
            elif p.poll() is not None:
                break
        rc = p.wait(timeout=10)
        after = termios.tcgetattr(slave)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
        os.close(slave)
    return out.decode(errors="replace"), rc, before, after


def test_tty_gives_the_workload_a_pty_of_its_own():
    # issue 16: -t is a real pty, like docker run -t: in the sandbox's own devpts, the invoker's window size, input
    # relayed through it, the exit status passed on, and the invoker's terminal put back as it was
    out, rc, before, after = _tty_run([], "tty; stty size; ls -l /proc/self/fd/1; echo ready; read x; echo got:$x; exit 7",
                                      feed=b"hello\r")
    lines = out.replace("\r", "").splitlines()
    assert lines[0] == "/dev/pts/0", out
    assert lines[1] == "33 111", out
    assert lines[2].endswith("/proc/self/fd/1 -> /dev/pts/0"), out
    assert "got:hello" in lines, out
    assert rc == 7, out
    assert after == before  # raw mode was only for the run
    # the sandbox's pty is its own: the host's /dev/pts is not there
    out, rc, _, _ = _tty_run([], "ls /dev/pts | tr '\\n' ' '; echo; echo ready")
    assert out.replace("\r", "").splitlines()[0].split() == ["0", "ptmx"], out


def test_tty_resizes_with_the_invokers_terminal():
    # SIGWINCH to hardrun becomes the pty's new size; the kernel then signals the workload's foreground group
    out, rc, _, _ = _tty_run([], "trap 'stty size' WINCH; echo ready; read x; echo done", feed=b"x\r",
                             resize=(40, 120))
    assert "40 120" in out.replace("\r", "").splitlines(), out
    assert rc == 0


def test_tty_without_a_terminal_still_relays():
    # stdin a pipe (a CI job): the workload still has its pty, and its output comes back
    p = subprocess.run([HARDRUN, "run", "-t", "--rootfs", ROOTFS, "--", "sh", "-c", "tty; exit 3"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 3, p.stderr
    assert p.stdout.replace(b"\r", b"") == b"/dev/pts/0\n", p.stdout


def test_rm_and_i_are_honoured():
    # -i: the workload's stdin is hardrun's (always); --rm: nothing is kept (always, without --keep)
    p = run(["-i", "--rm", "--", "sh", "-c", "read x; echo got $x"], input="hello\n")
    assert p.returncode == 0 and p.stdout.strip() == "got hello", p.stderr


def test_env_file_like_docker(tmp_path):
    f = tmp_path / "app.env"
    f.write_text("# a comment\n\nA=1\n  B=two words\nC='quoted'\nFROM_HOST\nUNSET_ONE\nA_OVERRIDDEN=file\n")
    env = dict(os.environ, FROM_HOST="host value")
    env.pop("UNSET_ONE", None)
    p = run(["--env-file", str(f), "-e", "A_OVERRIDDEN=flag", "--", "env"], env=env)
    assert p.returncode == 0, p.stderr
    got = dict(l.split("=", 1) for l in p.stdout.splitlines())
    assert got["A"] == "1" and got["B"] == "two words" and got["C"] == "'quoted'"  # verbatim, as docker
    assert got["FROM_HOST"] == "host value" and "UNSET_ONE" not in got
    assert got["A_OVERRIDDEN"] == "flag"  # --env wins over --env-file
    f.write_text("GOOD=1\n9BAD=2\n")
    one_line_error(run(["--env-file", str(f), "--", "true"]), f"{f}:2", "9BAD")
    one_line_error(run(["--env-file", str(tmp_path / "missing"), "--", "true"]), "--env-file", "missing")


def test_group_add_by_number_and_by_the_images_name(tmp_rootfs):
    with open(os.path.join(tmp_rootfs, "etc", "group"), "a") as f:
        f.write("ssl-cert:x:109:postgres\n")
    p = run(["--group-add", "109", "--group-add", "4242", "--", "grep", "Groups", "/proc/self/status"], rootfs=tmp_rootfs)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[1:] == ["109", "4242"], p.stdout
    p = run(["--group-add", "ssl-cert", "--", "grep", "Groups", "/proc/self/status"], rootfs=tmp_rootfs)
    assert p.stdout.split()[1:] == ["109"], p.stdout + p.stderr
    one_line_error(run(["--group-add", "no-such-group", "--", "true"], rootfs=tmp_rootfs), "--group-add", "no-such-group")
    # gid 0 is allowed but visible
    p = run(["--group-add", "0", "--", "true"], rootfs=tmp_rootfs)
    assert p.returncode == 0 and "supplementary group 0 (root)" in p.stderr, p.stderr


def test_group_add_reads_the_images_group_file_inside_the_image(tmp_rootfs, tmp_path):
    # a hostile image's /etc/group symlink to a host file is resolved inside the image, never on the host
    host = tmp_path / "host-group"
    host.write_text("hostonly:x:777:\n")
    os.remove(os.path.join(tmp_rootfs, "etc", "group"))
    os.symlink(str(host), os.path.join(tmp_rootfs, "etc", "group"))
    one_line_error(run(["--group-add", "hostonly", "--", "true"], rootfs=tmp_rootfs), "--group-add", "hostonly")


def test_group_add_rootless_is_refused_for_an_unmapped_gid():
    one_line_error(run(["--group-add", "4242", "--", "true"], user=UNPRIV_UID), "--group-add", "run hardrun as root")


@pytest.mark.parametrize("user", [None, UNPRIV_UID], ids=["root", "rootless"])
def test_sysctl_and_low_ports_in_its_own_network_namespace(user):
    script = ("cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/tcp_keepalive_time; "
              "nc -l -p 80 & sleep 0.3; cat /proc/net/tcp /proc/net/tcp6 | grep -c ':0050 0*:0000 0A'; kill %1")
    def host(name):
        with open("/proc/sys/net/ipv4/" + name) as f:
            return f.read().strip()
    before = host("tcp_keepalive_time"), host("ip_unprivileged_port_start")
    value = "601" if before[0] == "600" else "600"
    p = run(["--sysctl", f"net.ipv4.tcp_keepalive_time={value}", "--", "sh", "-c", script], user=user)
    assert p.returncode in (0, 143), p.stderr
    lines = p.stdout.split()
    assert lines[:2] == ["0", value], p.stdout + p.stderr
    assert lines[2] == "1", p.stdout + p.stderr  # uid 10001 listens on :80 without CAP_NET_BIND_SERVICE
    assert (host("tcp_keepalive_time"), host("ip_unprivileged_port_start")) == before  # the host's are untouched


def test_sysctl_refusals():
    one_line_error(run(["--sysctl", "kernel.panic=1", "--", "true"]), "--sysctl", "not a namespaced sysctl")
    one_line_error(run(["--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "--", "true"]), "--sysctl",
                   "--network host")
    one_line_error(run(["--sysctl", "novalue", "--", "true"]), "--sysctl", "NAME=VALUE")
    # with the host's network the low-port default is not applied (it would change the host)
    p = run(["--network", "host", "--", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"])
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        assert p.stdout.strip() == f.read().strip()
