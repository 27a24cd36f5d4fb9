"""Shared fixtures for the integration tests: they launch the real hardrun binary on the busybox rootfs.

Environment (set by scripts/test): HARDRUN (the binary), HARDRUN_ROOTFS (the demo rootfs),
HARDRUN_HELPERS (static helper programs, also copied into the rootfs at /usr/local/bin),
HARDRUN_SOURCE (the source tree). Tests that need root skip themselves otherwise.
"""
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import termios
import time
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HARDRUN = os.environ.get("HARDRUN", os.path.join(ROOT, "build", "hardrun"))
ROOTFS = os.environ.get("HARDRUN_ROOTFS", os.path.join(ROOT, "build", "rootfs"))
HELPERS = os.environ.get("HARDRUN_HELPERS", os.path.join(ROOT, "build", "helpers"))
UNPRIV_UID = int(os.environ.get("HARDRUN_TEST_UID", "1000"))


SANITIZED = bool(os.environ.get("HARDRUN_SANITIZED"))  # tests/sanitize.sh: hardrun is an ASan+UBSan build


def env_without_leak_check():
    """The environment for a hardrun the test runs under ptrace or at the invoker's process limit: LeakSanitizer
    stops the world with a tracer thread, which neither allows. Everything else (ASan, UBSan) stays on."""
    env = dict(os.environ)
    if SANITIZED:
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def run_command(args, *, rootfs=None, user=None):
    """The argv of `hardrun run --rootfs ROOTFS [args]`, through setpriv when user is an unprivileged uid."""
    cmd = [HARDRUN, "run", "--rootfs", rootfs or ROOTFS] + list(args)
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    return cmd


def pty_session(slave_fd):
    """A preexec_fn that makes the pty slave the child's controlling terminal in a new session."""
    def controlling_tty():
        os.setsid()
        fcntl.ioctl(slave_fd, termios.TIOCSCTTY, 0)
    return controlling_tty


def run(args, *, rootfs=None, user=None, timeout=30, input=None, env=None, check=None):
    """Runs `hardrun run [args]`; args is the list after 'run' and must include '--' and the command.
    user: None = as the invoking user (root in CI); an int = as that unprivileged uid (rootless mode)."""
    cmd = run_command(args, rootfs=rootfs, user=user)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input, env=env)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}, stderr: {p.stderr}\nstdout: {p.stdout}"
    return p


def hardrun(*args, timeout=30, input=None, env=None):
    """Runs the hardrun binary with arbitrary arguments."""
    return subprocess.run([HARDRUN] + list(args), capture_output=True, text=True, timeout=timeout,
                          input=input, env=env)


def console_master(server):
    """Accepts the runtime's connection on a listening --console-socket and returns the fd it sent (SCM_RIGHTS),
    checked to be a terminal: the pty master."""
    import socket
    conn, _ = server.accept()
    with conn:
        _, fds, _, _ = socket.recv_fds(conn, 64, 1)
    assert len(fds) == 1 and os.isatty(fds[0]), fds
    return fds[0]


def read_pty(master, stop=None, idle=None):
    """What a pty master yields until the other side hangs up (EOF, or EIO once every slave fd is closed).
    stop: also return once these bytes were seen; idle: also return after this many seconds without data."""
    import select
    out = b""
    while stop is None or stop not in out:
        if idle is not None and not select.select([master], [], [], idle)[0]:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def vsock_available():
    """This kernel has AF_VSOCK (the vsock probes can be shown to fail only where it does)."""
    import socket
    try:
        socket.socket(40, socket.SOCK_STREAM).close()
        return True
    except OSError:
        return False


def status_fields(text):
    """Parses /proc/PID/status text into a dict."""
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def cgroup2_mount():
    """Where this mount namespace has the cgroup v2 hierarchy, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                return fields[4]
    return None


def mountinfo():
    with open("/proc/self/mountinfo") as f:
        return f.read()


@pytest.fixture
def shared_dir():
    """A host directory both root and the rootless test uid can write (pytest's tmp_path is under a 0700 dir)."""
    d = tempfile.mkdtemp(prefix="hardrun-test-")
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=["root", "rootless"])
def as_user(request):
    """Runs a test twice: as root (the invoker) and as an unprivileged uid (rootless, user namespace)."""
    if request.param == "rootless":
        return UNPRIV_UID
    return None


@pytest.fixture
def tmp_rootfs():
    """A private copy of the demo rootfs a test may alter (symlinks, missing files); reachable by the
    unprivileged test uid too."""
    base = tempfile.mkdtemp(prefix="hardrun-test-")
    os.chmod(base, 0o755)
    dst = os.path.join(base, "rootfs")
    subprocess.run(["cp", "-a", ROOTFS, dst], check=True)
    yield dst
    shutil.rmtree(base, ignore_errors=True)


# --- OCI bundles and runtime commands (test_oci.py, tests/security) ------------------------------------

class Bundle:
    """A bundle directory: rootfs/ (a copy of the demo rootfs) and config.json from `hardrun spec`."""

    def __init__(self, base, rootless=False, user=None):
        self.dir = os.path.join(base, "bundle")
        os.makedirs(self.dir)
        subprocess.run(["cp", "-a", ROOTFS, os.path.join(self.dir, "rootfs")], check=True)
        args = [HARDRUN, "spec", "--bundle", self.dir] + (["--rootless"] if rootless else [])
        if user is not None:
            os.chmod(base, 0o755)
            os.chown(self.dir, user, user)
            args = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + args
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        self.config = json.load(open(self.path))

    @property
    def path(self):
        return os.path.join(self.dir, "config.json")

    @property
    def rootfs(self):
        return os.path.join(self.dir, "rootfs")

    def save(self):
        with open(self.path, "w") as f:
            json.dump(self.config, f, indent=2)

    def args(self, *argv):
        self.config["process"]["args"] = list(argv)
        self.save()


def run_files(cmd, timeout=30, **kw):
    """subprocess.run with stdout/stderr in files, not pipes: a created container keeps the stdio it was
    created with (as with runc), so a pipe would never see EOF."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout, **kw)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, p.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def one_line_error(p, *needles):
    """A failed command: exit 125 and exactly one line on stderr containing every needle."""
    assert p.returncode == 125, f"exit {p.returncode}: {p.stderr}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def runtime(root, *args, timeout=60, user=None):
    """hardrun as an OCI runtime with a private --root (stdout/stderr through files, see run_files)."""
    cmd = [HARDRUN, "--root", str(root)] + list(args)
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    return run_files(cmd, timeout=timeout)


class OciRuntime:
    """hardrun as an OCI runtime with a private --root (and, given log, --log in JSON as engines ask)."""

    def __init__(self, root, log=None):
        self.root = root
        self.log = log

    def __call__(self, *args, timeout=30, user=None, stdin=None):
        cmd = [HARDRUN, "--root", self.root]
        if self.log:
            cmd += ["--log", self.log, "--log-format", "json"]
        cmd += list(args)
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
        if stdin is not None:
            return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
        return run_files(cmd, timeout=timeout)

    def ok(self, *args, **kw):
        p = self(*args, **kw)
        assert p.returncode == 0, f"{args}: exit {p.returncode}: {p.stderr}"
        return p

    def state(self, cid):
        return json.loads(self.ok("state", cid).stdout)

    def ids(self):
        return [c["id"] for c in json.loads(self.ok("list", "--format", "json").stdout)]


def wait_for(cond, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def reap():
    """Collects the containers that ended while re-parented to us (see oci_subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture(scope="module")
def oci_subreaper():
    """`create` exits and leaves its container process behind, as runc does: an engine's monitor (conmon, the
    containerd shim) is a child subreaper and reaps it. Here pytest plays that part for the module, so no
    zombie of a test container outlives it (this machine's PID 1 does not reap orphans promptly)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    reap()


def clone3_allowing_profile(tmp_path):
    """hardrun's default profile with its clone3 ENOSYS rule turned into an allow (the old "add clone3" advice)."""
    with open(os.path.join(ROOT, "profiles", "seccomp", "default.json")) as f:
        profile = json.load(f)
    turned = 0
    for rule in profile["syscalls"]:
        if rule["names"] == ["clone3"] and rule["action"] == "SCMP_ACT_ERRNO":
            rule.update(action="SCMP_ACT_ALLOW")
            rule.pop("errnoRet")
            turned += 1
    assert turned, "the default profile refuses clone3 with ENOSYS"
    path = tmp_path / "clone3.json"
    path.write_text(json.dumps(profile))
    return path, profile
