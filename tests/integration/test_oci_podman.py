"""A real engine drives hardrun: Debian's podman (with conmon) uses the built hardrun binary as its OCI runtime.

podman is configured entirely through files in a private directory (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF,
CONTAINERS_REGISTRIES_CONF): vfs storage, run and tmp dirs, the cgroupfs manager, a file events logger and
file locks, all under that directory; nothing is written to /etc. Facts of this host the configuration
follows:
- root lacks CAP_SYS_RESOURCE, so podman's default ulimits (nofile 1048576) cannot be set: the tests use
  default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"];
- cgroup v2 here is the hybrid "unified" hierarchy without controllers, so podman's default pids_limit (2048)
  asks for a limit hardrun cannot enforce: one test proves hardrun refuses it with a clear message, the others
  set pids_limit = 0;
- with the cgroupfs manager podman would move conmon into cgroup v1 hierarchies of the machine
  (/sys/fs/cgroup/*/libpod_parent/conmon); INVOCATION_ID in the environment (as under a systemd service) makes
  it leave conmon where it is. hardrun itself only creates a cgroup v2 directory for the device rules podman
  asks for, and removes it on delete.
"""
import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import HARDRUN, ROOTFS, read_pty, status_fields

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="podman tests run as root"),
    pytest.mark.skipif(not shutil.which("podman") or not (shutil.which("conmon") or os.path.exists("/usr/libexec/podman/conmon")),
                       reason="podman and conmon are not installed (apt-get install podman)"),
]

CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
{pids}log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{base}/events.log"
tmp_dir = "{base}/libpod"
static_dir = "{base}/storage/libpod"
volume_path = "{base}/storage/volumes"
image_copy_tmp_dir = "{base}/tmp"
lock_type = "file"

[network]
network_config_dir = "{base}/net"
"""

STORAGE = """[storage]
driver = "vfs"
runroot = "{base}/run"
graphroot = "{base}/storage"
"""

WATCHED = ["/etc/containers", "/etc/cni", "/etc/subuid", "/etc/subgid"]


def snapshot():
    """Every path (and its mtime) under the /etc locations podman could write to."""
    out = {}
    for top in WATCHED:
        if os.path.isfile(top):
            out[top] = os.stat(top).st_mtime_ns
        for d, dirs, files in os.walk(top):
            for n in dirs + files:
                p = os.path.join(d, n)
                out[p] = os.lstat(p).st_mtime_ns
    return out


class Podman:
    def __init__(self, base):
        self.base = base
        for d in ("tmp", "net", "libpod"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        # hardrun keeps its state in its default --root (/run/hardrun): podman's cleanup process (conmon's exit
        # command, which deletes a --rm container) does not pass --runtime-flag on, so a private root would leak
        self.cmd = ["podman", "--runtime", HARDRUN]
        for name, pids in (("containers.conf", "pids_limit = 0\n"), ("containers-default-pids.conf", "")):
            with open(os.path.join(base, name), "w") as f:
                f.write(CONF.format(base=base, pids=pids))
        with open(os.path.join(base, "storage.conf"), "w") as f:
            f.write(STORAGE.format(base=base))
        with open(os.path.join(base, "registries.conf"), "w") as f:
            f.write("unqualified-search-registries = []\n")
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": base,
            "TMPDIR": os.path.join(base, "tmp"),
            "CONTAINERS_CONF": os.path.join(base, "containers.conf"),
            "CONTAINERS_STORAGE_CONF": os.path.join(base, "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": os.path.join(base, "registries.conf"),
            "INVOCATION_ID": "hardrun-oci-tests",  # podman leaves conmon's cgroups alone (see above)
        }

    def __call__(self, *args, conf=None, timeout=120, stdin=subprocess.DEVNULL):
        env = dict(self.env)
        if conf:
            env["CONTAINERS_CONF"] = os.path.join(self.base, conf)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(self.cmd + list(args), env=env, stdin=stdin, stdout=out,
                               stderr=err, timeout=timeout)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(args, p.returncode, out.read().decode(errors="replace"),
                                               err.read().decode(errors="replace"))

    def ok(self, *args, **kw):
        p = self(*args, **kw)
        assert p.returncode == 0, f"podman {' '.join(args)}: exit {p.returncode}\n{p.stderr}\n{p.stdout}"
        return p


HARDENED = ["--network", "none", "--read-only", "--cap-drop", "ALL", "--user", "10001",
            "--security-opt", "no-new-privileges"]


def hardrun_state(*args):
    return subprocess.run([HARDRUN] + list(args), capture_output=True, text=True, timeout=30)


def hardrun_containers():
    p = hardrun_state("list", "-q")
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def v1_dirs():
    """libpod_parent directories in the machine's cgroup v1 hierarchies (never to be created by these tests)."""
    return {p for p in glob.glob("/sys/fs/cgroup/*/libpod_parent/*") + glob.glob("/sys/fs/cgroup/*/libpod_parent")
            if not p.startswith("/sys/fs/cgroup/unified/") and os.path.isdir(p)}


@pytest.fixture(scope="module")
def podman():
    before_etc = snapshot()
    had_unified_parent = os.path.exists("/sys/fs/cgroup/unified/libpod_parent")
    before_v1 = v1_dirs()
    before_hardrun = hardrun_containers()
    base = tempfile.mkdtemp(prefix="hrpod-")  # short: conmon's socket paths are limited
    pm = Podman(base)
    tar = os.path.join(base, "rootfs.tar")
    subprocess.run(["tar", "-C", ROOTFS, "-cf", tar, "."], check=True)
    # a file under /run, where podman mounts a tmpfs with tmpcopyup: it must stay visible in the container
    extra = os.path.join(base, "extra")
    os.makedirs(os.path.join(extra, "run", "lock"))
    with open(os.path.join(extra, "run", "lock", "image-marker"), "w") as f:
        f.write("from the image\n")
    subprocess.run(["tar", "-C", extra, "-rf", tar, "./run/lock/image-marker"], check=True)
    pm.ok("import", tar, "localhost/bb")
    try:
        yield pm
    finally:
        pm("rm", "--all", "--force", "--time", "0")
        pm("rmi", "--all", "--force")
        mounts = [line.split()[4] for line in open("/proc/self/mountinfo") if base in line.split()[4]]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", m])
        if not had_unified_parent and os.path.isdir("/sys/fs/cgroup/unified/libpod_parent"):
            os.rmdir("/sys/fs/cgroup/unified/libpod_parent")  # the (empty) parent of the cgroups hardrun made
        assert mounts == [], f"podman left mounts behind: {mounts}"
        assert v1_dirs() <= before_v1, "cgroup v1 directories were created"
        assert snapshot() == before_etc, "something under /etc changed"
        shutil.rmtree(base, ignore_errors=True)
        assert hardrun_containers() - before_hardrun == set(), "hardrun state left behind"


def test_podman_run_is_hardened_from_inside(podman):
    before = hardrun_containers()
    p = podman.ok("run", "--rm", *HARDENED, "localhost/bb", "id")
    assert p.stdout.strip().startswith("uid=10001(app) gid=10001(app)")
    p = podman.ok("run", "--rm", *HARDENED, "localhost/bb", "cat", "/run/lock/image-marker")
    assert p.stdout == "from the image\n"  # podman's tmpfs on /run copied the image's files (tmpcopyup)
    p = podman.ok("run", "--rm", *HARDENED, "localhost/bb", "sh", "-c",
                  "cat /proc/self/status; touch /x 2>&1; ls /dev; cat /proc/self/cgroup; ls /sys/class/net | wc -l")
    f = status_fields(p.stdout)
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert f[k] == "0000000000000000", k
    assert f["NoNewPrivs"] == "1" and f["Seccomp"] == "2"
    assert "Read-only file system" in p.stdout
    # hardrun's minimal /dev, and the cgroup v2 directory hardrun made for podman's device rules
    devs = set(p.stdout.split("Read-only file system", 1)[1].split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"} <= devs
    assert not any(d.startswith(("sd", "vd", "nvme", "mem", "kmsg")) for d in devs)
    assert "0::/libpod_parent/libpod-" in p.stdout
    assert p.stdout.rstrip().endswith("1")  # --network none: only loopback
    assert hardrun_containers() - before == set()  # --rm: podman deleted them from hardrun's state


def test_podman_device_rules_are_enforced(podman):
    # podman asks for "deny all devices"; with CAP_MKNOD added back the cgroup device program still refuses a
    # disk node, while the default devices stay usable
    p = podman("run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "MKNOD", "--user", "0",
               "--security-opt", "no-new-privileges", "--annotation", "org.hardrun.landlock=off", "localhost/bb",
               "sh", "-c", "mknod /tmp/sda b 8 0; echo sda=$?; echo x > /dev/null; echo null=$?")
    assert "sda=1" in p.stdout and "null=0" in p.stdout, p.stdout + p.stderr
    assert "Operation not permitted" in p.stdout + p.stderr


def test_podman_detached_stop_and_rm(podman):
    name = "hardrun-detached"
    podman.ok("run", "-d", "--name", name, *HARDENED, "localhost/bb", "sh", "-c",
              "trap 'exit 3' TERM; while :; do sleep 0.1; done")
    try:
        p = podman.ok("ps", "--format", "{{.Names}} {{.Status}}")
        assert f"{name} Up" in p.stdout
        cid = podman.ok("inspect", "--format", "{{.Id}}", name).stdout.strip()
        assert cid in hardrun_containers()
        state = hardrun_state("state", cid).stdout
        assert '"status": "running"' in state
        top = podman.ok("top", name, "user", "args").stdout
        assert "10001" in top or "app" in top
        podman.ok("stop", "--time", "10", name)
        code = podman.ok("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert code == "3"  # SIGTERM reached the workload, which exited on its own
    finally:
        podman("rm", "--force", name)
    assert cid not in hardrun_containers()
    assert podman.ok("ps", "-a", "--format", "{{.Names}}").stdout.split().count(name) == 0


def test_podman_run_it_gets_a_terminal(podman):
    """podman run -it: conmon passes --console-socket, hardrun sends it the pty master of a pty made inside
    the container; podman runs here on a pty of the test's own."""
    import pty
    cmd = podman.cmd + ["run", "-it", "--rm", *HARDENED, "localhost/bb", "sh", "-c",
           "tty; test -t 0 && echo stdin-is-a-tty; echo end"]
    pid, master = pty.fork()
    if pid == 0:
        os.execvpe(cmd[0], cmd, podman.env)
    try:
        out = read_pty(master)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "/dev/pts/0" in text and "stdin-is-a-tty" in text and "end" in text


def test_podman_default_pids_limit_fails_closed(podman):
    before = hardrun_containers()
    p = podman("run", "--rm", *HARDENED, "localhost/bb", "id", conf="containers-default-pids.conf")
    assert p.returncode != 0
    assert "uid=10001" not in p.stdout  # the workload never ran
    assert "pids controller not available" in p.stderr and "hardrun" in p.stderr, p.stderr
    assert hardrun_containers() == before


def test_podman_plain_run_is_hardened_by_default(podman):
    """Without any hardening flag podman still gets hardrun's defaults where its config is silent:
    no_new_privs on (podman omits noNewPrivileges), hardrun's masked paths, seccomp from podman's profile."""
    p = podman.ok("run", "--rm", "localhost/bb", "sh", "-c", "cat /proc/self/status; id -u")
    f = status_fields(p.stdout)
    assert f["NoNewPrivs"] == "1" and f["Seccomp"] == "2"
    assert p.stdout.split()[-1] == "0"  # podman's default user is root: podman decides that
    # turned off by name with the annotation: hardrun then cannot load a seccomp filter for a workload without
    # CAP_SYS_ADMIN, and says so (fail closed) ...
    nnp_off = ["--annotation", "org.hardrun.no-new-privileges=false", "--user", "10001", "--cap-drop", "ALL"]
    p = podman("run", "--rm", *nnp_off, "localhost/bb", "true")
    assert p.returncode != 0 and "without no_new_privs needs CAP_SYS_ADMIN" in p.stderr, p.stderr
    # ... unless seccomp is turned off by name too
    p = podman.ok("run", "--rm", *nnp_off, "--security-opt", "seccomp=unconfined", "--annotation",
                  "org.hardrun.seccomp=unconfined", "localhost/bb", "grep", "-E", "NoNewPrivs|Seccomp:", "/proc/self/status")
    assert p.stdout.split() == ["NoNewPrivs:", "0", "Seccomp:", "0"]


def test_podman_exit_status_and_missing_command(podman):
    assert podman("run", "--rm", *HARDENED, "localhost/bb", "sh", "-c", "exit 42").returncode == 42
    p = podman("run", "--rm", *HARDENED, "localhost/bb", "no-such-program")
    assert p.returncode == 127 and "no-such-program" in p.stderr
