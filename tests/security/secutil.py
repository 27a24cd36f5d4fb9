"""Helpers for the security tests (the integration fixtures plus a few of our own)."""
import importlib.util
import os
import subprocess
import sys

_INTEGRATION = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration", "conftest.py")
_NAME = "hardrun_integration_conftest"


def _load():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, _INTEGRATION)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = mod
    spec.loader.exec_module(mod)
    return mod


_ic = _load()
as_user = _ic.as_user
tmp_rootfs = _ic.tmp_rootfs
HARDRUN = _ic.HARDRUN
ROOT = _ic.ROOT
ROOTFS = _ic.ROOTFS
HELPERS = _ic.HELPERS
UNPRIV_UID = _ic.UNPRIV_UID
SANITIZED = _ic.SANITIZED
env_without_leak_check = _ic.env_without_leak_check
read_pty = _ic.read_pty
run = _ic.run
hardrun = _ic.hardrun
status_fields = _ic.status_fields
Bundle = _ic.Bundle
run_files = _ic.run_files
runtime = _ic.runtime
one_line_error = _ic.one_line_error
vsock_available = _ic.vsock_available
run_command = _ic.run_command
pty_session = _ic.pty_session
mountinfo = _ic.mountinfo
SECPROBE = os.path.join(HELPERS, "secprobe")
IS_ROOT = os.geteuid() == 0


def sh(script, *flags, user=None, **kw):
    return run(list(flags) + ["--", "sh", "-c", script], user=user, **kw)


def probe(*args, flags=(), user=None, **kw):
    """Runs secprobe inside the sandbox and returns its stdout lines."""
    return run(list(flags) + ["--", "secprobe"] + list(args), user=user, **kw)


def host_mounts():
    """The host's mount points (as seen by this process), without the per-mount ids that change."""
    out = set()
    for line in mountinfo().splitlines():
        f = line.split()
        out.add((f[4], f[3]))  # mount point, root within the filesystem
    return out


def tree(path):
    """Every name below path (for 'nothing was created here' checks)."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        for n in dirnames + filenames:
            found.add(os.path.relpath(os.path.join(dirpath, n), path))
    return found


def make_reachable(path, uid=None):
    """Lets the unprivileged test uid reach and use a test-owned path (rootless runs)."""
    p = os.path.abspath(path)
    while p != "/":
        st = os.stat(p)
        os.chmod(p, st.st_mode | 0o111)
        p = os.path.dirname(p)
