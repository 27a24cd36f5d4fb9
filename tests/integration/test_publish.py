"""-p/--publish: pasta forwards a port of the host's loopback into the sandbox's own network namespace, inbound
only, as root and rootless. A server inside (the netecho helper) answers a client on the host over tcp and udp;
the workload still reaches nothing outside; a bad spec, a busy host port and a missing pasta each fail with
exit 125 and one line; pasta is gone by its PID when the workload ends, also when it is killed."""
import os
import select
import signal
import socket
import subprocess
import time

import pytest

from conftest import HARDRUN, ROOTFS, hardrun, run, run_command

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/pasta"), reason="pasta (Debian's passt) is not installed")


def free_port(udp=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(args, user=None):
    """hardrun run ARGS in the background; its stdout is the workload's."""
    return subprocess.Popen(run_command(args, user=user), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_line(p, want, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if select.select([p.stdout], [], [], max(0, end - time.monotonic()))[0]:
            line = p.stdout.readline()
            if not line:
                break
            if want in line:
                return
    p.kill()
    _, err = p.communicate()
    pytest.fail(f"the workload never printed {want!r}; stderr: {err}")


def children(pid):
    """The PIDs whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def pasta_of(hardrun_pid):
    """(pid, start time) of the pasta hardrun started: its child running /usr/bin/pasta or passt."""
    for c in children(hardrun_pid):
        try:
            exe = os.readlink(f"/proc/{c}/exe")
        except OSError:
            continue
        if os.path.basename(exe).startswith(("pasta", "passt")):
            with open(f"/proc/{c}/stat") as f:
                return c, f.read().rsplit(")", 1)[1].split()[19]
    return None


def alive(proc):
    """The same process (pid and start time) still exists (and is not a zombie)."""
    pid, started = proc
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == started and fields[0] != "Z"


def host_address():
    """This host's own non-loopback address (the source of its default route), or None."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
        addr = s.getsockname()[0]
        s.close()
        return None if addr.startswith("127.") else addr
    except OSError:
        return None


def test_tcp_both_ways(as_user):
    port = free_port()
    p = start([f"-p", f"{port}:80", "--", "netecho", "tcp", "80", "2"], user=as_user)
    wait_line(p, "listening")
    for word in ("hello", "second"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(word.encode() + b"\n")
            c.settimeout(5)
            assert c.makefile("rb").readline() == f"echo:{word}\n".encode()
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err


def test_udp_both_ways(as_user):
    port = free_port(udp=True)
    p = start(["-p", f"127.0.0.1:{port}:{port}/udp", "--", "netecho", "udp", str(port), "20"], user=as_user)
    wait_line(p, "listening")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        for word in (b"dgram-one", b"dgram-two"):
            # a UDP client retries, as a real one does: on a loaded host Debian 12's pasta may drop the answer to
            # the first datagram of a flow (seen only under load; every answer that comes must be the right one)
            for attempt in range(5):
                s.sendto(word, ("127.0.0.1", port))
                try:
                    data, _ = s.recvfrom(100)
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail(f"no answer to {word!r} in 5 tries")
            assert data == b"echo:" + word
    finally:
        p.kill()
        p.communicate()


def test_unreachable_without_publish(as_user):
    port = free_port()
    p = start(["--", "netecho", "tcp", str(port)], user=as_user)
    wait_line(p, "listening")
    try:
        assert pasta_of(p.pid) is None
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
    finally:
        p.kill()
        p.communicate()


def test_workload_reaches_nothing_outside(as_user):
    """Inbound only: the host's loopback services and its own address stay out of reach from inside."""
    port, served = free_port(), free_port()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", served))
    server.listen(8)
    try:
        targets = [("127.0.0.1", served)] + ([(host_address(), served)] if host_address() else [])
        script = "; ".join(f"netecho connect {ip} {p}" for ip, p in targets)
        # the control: the same connections from the host's network namespace do connect
        control = run(["--network", "host", "-q", "--", "sh", "-c", script], user=as_user)
        assert control.stdout.count("connected") == len(targets), control.stdout + control.stderr
        inside = run(["-p", f"{port}:80", "--", "sh", "-c", script + "; ip -o addr; ip route"], user=as_user)
        assert "connected" not in inside.stdout, inside.stdout
        assert inside.stdout.count("error:") == len(targets), inside.stdout + inside.stderr
        assert "Network is unreachable" in inside.stdout or len(targets) == 1
        # pasta's tap is there, down, without an address; no route at all
        assert "pasta0" not in " ".join(l for l in inside.stdout.splitlines() if " inet" in l)
        assert "default" not in inside.stdout
    finally:
        server.close()


def test_bad_spec_one_line():
    for spec, needle in (("8080-8090:80-90", "port ranges are not supported"),
                         ("0.0.0.0:8080:80", "loopback only"),
                         ("80", "give HOSTPORT:PORT")):
        p = run(["-p", spec, "--", "true"])
        assert p.returncode == 125, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "--publish" in lines[0] and needle in lines[0], p.stderr


def test_network_host_with_publish_is_refused():
    p = run(["--network", "host", "-p", "8080:80", "--", "true"])
    assert p.returncode == 125
    assert p.stderr.strip().splitlines() == [
        "hardrun: --publish: cannot be combined with --network host: the workload already binds the host's ports "
        "itself (drop -p, or drop --network host)"], p.stderr


def test_busy_host_port_one_line(as_user):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        p = run(["-p", f"{port}:80", "--", "echo", "ran"], user=as_user)
    finally:
        busy.close()
    assert p.returncode == 125, p.stdout + p.stderr
    assert "ran" not in p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"hardrun: network: -p 127.0.0.1:{port}->80/tcp: ")
    assert "Address already in use" in lines[0]


def test_pasta_absent_names_the_package():
    p = run(["-p", f"{free_port()}:80", "--", "echo", "ran"], env={"PATH": "/nonexistent"})
    assert p.returncode == 125
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hardrun: network: -p ") and "apt-get install passt" in lines[0], p.stderr
    assert "ran" not in p.stdout


def started_with_pasta(script, as_user):
    """hardrun with -p running `script` (which prints "up" first), and its pasta, alive."""
    p = start(["-p", f"{free_port()}:80", "--", "sh", "-c", "echo up; " + script], user=as_user)
    wait_line(p, "up")
    pasta = pasta_of(p.pid)
    assert pasta and alive(pasta)
    return p, pasta


def test_pasta_ends_with_the_workload(as_user):
    p, pasta = started_with_pasta("read line; exit 7", as_user)
    p.stdin.close()  # the workload reads EOF and exits 7
    p.wait(timeout=10)
    assert p.returncode == 7  # the workload's status passes through
    assert not alive(pasta)


def test_pasta_ends_when_the_workload_is_killed(as_user):
    p, pasta = started_with_pasta("exec sleep 60", as_user)
    workload = [c for c in children(p.pid) if c != pasta[0]]
    assert len(workload) == 1
    os.kill(workload[0], signal.SIGKILL)
    p.wait(timeout=10)
    assert p.returncode == 137
    assert not alive(pasta)


def test_pasta_ends_when_hardrun_is_killed(as_user):
    p, pasta = started_with_pasta("exec sleep 60", as_user)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    end = time.monotonic() + 5
    while alive(pasta) and time.monotonic() < end:
        time.sleep(0.05)
    assert not alive(pasta)


def test_check_and_lint_report_the_published_ports():
    port = free_port()
    p = hardrun("check", "--rootfs", ROOTFS, "-p", f"{port}:80", "--", "true")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"127.0.0.1:{port}->80/tcp" in p.stdout
    p = hardrun("lint", "--flags", "--", "--memory", "256m", "--pids-limit", "64", "-p", "8080:80")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "net.publish" in p.stdout and "127.0.0.1:8080->80/tcp" in p.stdout
    p = hardrun("lint", "--flags", "--", "-p", "8080-8081:80")
    assert p.returncode != 0 and "port ranges are not supported" in p.stdout + p.stderr


def test_publish_without_a_foreground_supervisor_is_refused(tmp_path):
    """-d/--name and --bundle have no supervisor that would end pasta with the workload: refused, not ignored."""
    for extra in (["--name", "publish-test"], ["-d"]):
        p = run(extra + ["-p", "8080:80", "--", "echo", "ran"])
        assert p.returncode == 125, p.stdout + p.stderr
        assert "ran" not in p.stdout
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hardrun: --publish: cannot be combined with --name, -d"), p.stderr
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    assert hardrun("spec", "--bundle", str(bundle)).returncode == 0
    os.symlink(ROOTFS, bundle / "rootfs")
    p = hardrun("run", "--bundle", str(bundle), "-p", "8080:80")
    assert p.returncode == 125
    assert p.stderr.strip().splitlines() == [
        "hardrun: --publish: cannot be combined with --bundle; run the bundle's rootfs with --rootfs DIR -p ..."], p.stderr
