"""Helpers of the real-images tier (tests/images): the Debian rootfs scripts/mkimage builds, a service run under
`hardrun run` in the background and stopped with SIGTERM to hardrun's supervisor, snapshots of the image tree,
free ports, and clients on the host.

Environment, as for tests/integration (scripts/test sets it): HARDRUN (the binary), HARDRUN_BUILD (the build
directory, whose images/services/rootfs scripts/mkimage made), HARDRUN_SOURCE (the source tree); HARDRUN_IMAGE
overrides the image's path. The image is never written by a test: every test compares a snapshot of the whole
tree taken before the service started with one taken after it stopped.
"""
import importlib.util
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("HARDRUN_SOURCE", os.path.dirname(os.path.dirname(HERE)))
BUILD = os.environ.get("HARDRUN_BUILD", os.path.join(SOURCE, "build"))
DATA = os.path.join(HERE, "data")

# tests/integration's conftest, loaded under its own name (a second module called conftest would clash)
_spec = importlib.util.spec_from_file_location(
    "hardrun_integration_conftest", os.path.join(SOURCE, "tests", "integration", "conftest.py"))
integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integration)
HARDRUN = integration.HARDRUN
UNPRIV_UID = integration.UNPRIV_UID
wait_for = integration.wait_for
run_command = integration.run_command

IMAGE = os.environ.get("HARDRUN_IMAGE", os.path.join(BUILD, "images", "services", "rootfs"))

# generous: 2 cores, maybe loaded (postgres' start writes WAL, node starts slowly under load)
START_TIMEOUT = 90
STOP_TIMEOUT = 60


def image_ids(name):
    """(uid, gid) of a user of the image, read from the image's own /etc/passwd."""
    with open(os.path.join(IMAGE, "etc", "passwd")) as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if fields[0] == name:
                return int(fields[2]), int(fields[3])
    raise AssertionError(f"no user {name} in {IMAGE}/etc/passwd")


def snapshot(root):
    """Every entry under root (root itself included) as path -> (type, mode, uid, gid, size, mtime_ns, link
    target), read with lstat (never following a link). Directories' mtimes catch an entry created and removed."""
    out = {}

    def entry(path):
        st = os.lstat(path)
        link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
        out[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                                            st.st_gid, st.st_size, st.st_mtime_ns, link)

    entry(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            entry(os.path.join(dirpath, name))
    return out


def assert_unchanged(before, after):
    """The two snapshots are equal; otherwise the message names what was added, removed and changed."""
    if before == after:
        return
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    lines = [f"the image changed: {len(added)} added, {len(removed)} removed, {len(changed)} changed"]
    lines += [f"  added   {p} {after[p]}" for p in added[:20]]
    lines += [f"  removed {p} {before[p]}" for p in removed[:20]]
    lines += [f"  changed {p} {before[p]} -> {after[p]}" for p in changed[:20]]
    raise AssertionError("\n".join(lines))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_socket():
    """A listening TCP socket on 127.0.0.1 at a free port, as a .socket unit would make it."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


class Service:
    """One `hardrun run` in the background, its output in a file. stop() sends SIGTERM to hardrun (the
    supervisor, which forwards it to the workload) and returns hardrun's exit status."""

    def __init__(self, args, *, user=None, pass_fds=(), listen_fd=None, tmpdir, rootfs=None):
        self.cmd = run_command(args, rootfs=rootfs or IMAGE, user=user)
        fd, self.log_path = tempfile.mkstemp(prefix="service-", suffix=".log", dir=tmpdir)
        self.log = os.fdopen(fd, "wb")
        preexec = None
        if listen_fd is not None:
            # socket activation as systemd does it: the socket as fd 3 (dup2 in the child, kept open by
            # pass_fds), LISTEN_FDS=1 and LISTEN_PID naming the process that then execs hardrun (the shell's
            # own pid survives its exec, and setpriv's)
            self.cmd = ["sh", "-c", 'LISTEN_FDS=1 LISTEN_PID=$$ LISTEN_FDNAMES=http exec "$@"', "sh"] + self.cmd
            pass_fds = tuple(pass_fds) + (3,)

            def preexec():
                os.dup2(listen_fd, 3)
                os.set_inheritable(3, True)  # dup2 onto itself would keep FD_CLOEXEC
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, pass_fds=pass_fds, preexec_fn=preexec)
        self.returncode = None

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def running(self):
        return self.proc.poll() is None

    def wait_until(self, cond, what, timeout=START_TIMEOUT):
        """Waits for cond(); fails early, with the service's output, if hardrun exited meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            if not self.running():
                raise AssertionError(f"hardrun exited ({self.proc.returncode}) before {what}:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{self.output()}")

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals hardrun's supervisor by its pid and waits for it; the exit status."""
        if self.running():
            os.kill(self.proc.pid, sig)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"hardrun did not exit within {timeout} s of {sig.name}:\n{self.output()}")
        return self.returncode

    def stopped_cleanly(self, *shutdown):
        """SIGTERM to hardrun: it exits 0 and the service printed each of its own shutdown lines (a string to
        find, or a compiled regular expression to search for)."""
        rc = self.stop()
        out = self.output()
        assert rc == 0, f"exit {rc}:\n{out}"
        for line in shutdown:
            assert (line.search(out) if isinstance(line, re.Pattern) else line in out), (line, out)

    def kill(self):
        """SIGKILL to hardrun, by pid: the workload dies with it (PDEATHSIG, its pid namespace)."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)
        self.log.close()


def restore(root, before, after):
    """Undoes what a launch left in the image, so that the next test starts from the image scripts/mkimage built:
    the empty directories and files hardrun created (missing mount points, issue 16 item 1) are removed and the
    mtimes of the directories they were made in are put back. Anything else (a file's content or mode, a
    removed entry) cannot be undone here: the message says to rebuild the image."""
    added = sorted(set(after) - set(before), key=lambda p: -p.count("/"))
    for path in added:
        full = os.path.join(root, path)
        kind, size = after[path][0], after[path][4]
        if kind == stat.S_IFDIR and not os.listdir(full):
            os.rmdir(full)
        elif kind == stat.S_IFREG and size == 0:
            os.unlink(full)
    now = snapshot(root)
    for path in set(before) & set(now):
        if before[path] != now[path] and before[path][0] == stat.S_IFDIR == now[path][0] \
                and before[path][:5] == now[path][:5]:
            mtime = before[path][5]
            os.utime(os.path.join(root, path), ns=(mtime, mtime), follow_symlinks=False)
    left = snapshot(root)
    if left != before:
        raise AssertionError("the image changed in a way the test cannot undo; rebuild it with scripts/mkimage "
                             "--force")


class ImageSnapshot:
    """The image tree as it was before the test; check() asserts that it still is. Called in the test's body
    (after the service stopped), not in a fixture's teardown, so that a change is the test's failure (or its
    expected failure, issue 16 item 1). The fixture's teardown then puts back what it can (restore), so that one
    test's leftovers cannot change what the next one sees."""

    def __init__(self):
        self.before = snapshot(IMAGE)

    def check(self):
        assert_unchanged(self.before, snapshot(IMAGE))


@pytest.fixture
def image_snapshot():
    snap = ImageSnapshot()
    yield snap
    after = snapshot(IMAGE)
    if after != snap.before:
        restore(IMAGE, snap.before, after)


@pytest.fixture
def workdir():
    """A host directory for a test's volumes and logs, reachable by every uid (the workload's uid and the
    rootless test uid), with a copy of tests/images/data in data/; removed afterwards."""
    d = tempfile.mkdtemp(prefix="hardrun-images-")
    os.chmod(d, 0o755)
    # tests/images/data, where every workload uid can read it (the source tree may sit under a private dir)
    shutil.copytree(DATA, os.path.join(d, "data"))
    subprocess.run(["chmod", "-R", "a+rX", os.path.join(d, "data")], check=True)
    yield d
    subprocess.run(["rm", "-rf", "--one-file-system", d], check=False)


@pytest.fixture
def service(workdir):
    """A factory of Services; every one still running at the end is killed by pid."""
    started = []

    def start(args, **kw):
        s = Service(args, tmpdir=workdir, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def shared_dir(workdir, name, uid=None, gid=None, mode=0o755):
    """A directory under workdir for a volume, owned by uid:gid (the workload's ids) when given."""
    d = os.path.join(workdir, name)
    os.mkdir(d)
    os.chmod(d, mode)
    if uid is not None:
        os.chown(d, uid, gid if gid is not None else uid)
    return d


def children(pid):
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return out


def workload_status(service):
    """The workload's /proc status fields and its root mount's options, read from the host: the workload is
    the supervisor's child (the supervisor is the pid we started: setpriv and the socket-activation shell exec)."""
    def comm(pid):
        try:
            with open(f"/proc/{pid}/comm") as f:
                return f.read().strip()
        except FileNotFoundError:
            return ""
    # with -p the supervisor has pasta as a second child (it forwards the published ports): not the workload
    kids = [k for k in children(service.proc.pid) if not comm(k).startswith(("pasta", "passt"))]
    assert len(kids) == 1, f"hardrun {service.proc.pid} has children {[(k, comm(k)) for k in kids]}"
    pid = kids[0]
    with open(f"/proc/{pid}/status") as f:
        fields = integration.status_fields(f.read())
    root_opts = None
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == "/":
                root_opts = parts[5].split(",")  # the last mount at / is the one the workload sees
    fields["root mount"] = root_opts
    return fields


CAPS = {"net_bind_service": 10, "chown": 0, "dac_override": 1, "fowner": 3, "setuid": 7, "setgid": 6}


def assert_hardened(service, uid, caps=()):
    """The running workload is hardened as issue 16's 'done when' says: its uid (not 0 unless the image needs
    its own service uid, given here), exactly the capabilities listed (names from CAPS), no_new_privs, the
    seccomp filter, and a read-only root."""
    st = workload_status(service)
    real, eff, saved, fs = (int(x) for x in st["Uid"].split())
    assert real == eff == saved == uid, st["Uid"]
    assert uid != 0
    want = 0
    for c in caps:
        want |= 1 << CAPS[c]
    for field in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
        assert int(st[field], 16) == want, f"{field} {st[field]}, expected {want:016x} ({caps})"
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    assert "ro" in st["root mount"], st["root mount"]


def http_get(url=None, *, unix=None, path="/", timeout=10):
    """(status, body) of a GET, over TCP (url http://127.0.0.1:PORT) or a unix socket (unix=PATH)."""
    import http.client
    if unix is not None:
        class UnixHTTPConnection(http.client.HTTPConnection):
            def connect(self):
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(unix)
        conn = UnixHTTPConnection("localhost", timeout=timeout)
    else:
        host, port = url.split("//", 1)[1].rstrip("/").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def answers(fn):
    """A condition for wait_until: fn() succeeds without an OSError (refused, reset, not there yet)."""
    def cond():
        try:
            fn()
            return True
        except (OSError, subprocess.SubprocessError, AssertionError):
            return False
    return cond


def host_tool(name):
    """The host's client program (psql, redis-cli); scripts/lib.sh's TEST_PACKAGES installs it."""
    import shutil
    path = shutil.which(name)
    assert path, f"{name} is not installed on the host (scripts/setup --test installs it)"
    return path

