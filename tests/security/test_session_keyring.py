"""Keyrings (issue 12, item 9): every sandbox gets a fresh session keyring of its own, as runc and crun give
each container, so a profile that allows keyctl (or seccomp=unconfined) never lets the workload read the
invoker's session keys. Checked with keyctl(KEYCTL_READ) of a key the test put in its own session keyring,
from inside, as root and rootless."""
import ctypes
import os

import pytest

from secutil import probe

libc = ctypes.CDLL(None, use_errno=True)
SYS_add_key, SYS_keyctl = 248, 250
KEY_SPEC_SESSION_KEYRING = -3
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_SETPERM, KEYCTL_REVOKE = 1, 5, 3


@pytest.fixture(scope="module")
def session_key():
    """A key in a session keyring of the test's own, readable by whoever possesses it."""
    ring = libc.syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, b"hardrun-test-session", 0, 0, 0)
    if ring < 0:
        pytest.skip(f"no keyrings here: {os.strerror(ctypes.get_errno())}")
    secret = b"the invoker's secret"
    key = libc.syscall(SYS_add_key, b"user", b"hardrun-test-key", secret, len(secret), KEY_SPEC_SESSION_KEYRING)
    assert key > 0, os.strerror(ctypes.get_errno())
    # possessor: view, read, search; nobody else anything (the kernel's default for a user's own key)
    assert libc.syscall(SYS_keyctl, KEYCTL_SETPERM, key, 0x0b000000, 0, 0) == 0
    yield key
    libc.syscall(SYS_keyctl, KEYCTL_REVOKE, key, 0, 0, 0)


def test_the_invokers_session_keyring_is_not_the_sandboxs(session_key, as_user):
    flags = ["--security-opt", "seccomp=unconfined"]  # a profile that allows keyctl
    p = probe("keyread", str(session_key), flags=flags, user=as_user)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() in ("EACCES", "ENOKEY"), f"the workload read the invoker's key: {p.stdout!r}"
    mine = libc.syscall(SYS_keyctl, 0, KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
    p = probe("keysession", flags=flags, user=as_user)
    assert p.returncode == 0 and p.stdout.strip().isdigit(), (p.stdout, p.stderr)
    assert int(p.stdout) != mine, "the sandbox shares the invoker's session keyring"


def test_two_sandboxes_do_not_share_a_keyring():
    flags = ["--security-opt", "seccomp=unconfined"]
    a = probe("keysession", flags=flags).stdout.strip()
    b = probe("keysession", flags=flags).stdout.strip()
    assert a.isdigit() and b.isdigit() and a != b, (a, b)


@pytest.mark.skipif(os.geteuid() != 0, reason="the OCI runtime runs as root here")
@pytest.mark.parametrize("no_new_keyring", [False, True])
def test_oci_no_new_keyring_is_honoured_and_logged(session_key, tmp_path, no_new_keyring):
    """runc's --no-new-keyring is never accepted and ignored: with it the container possesses the invoker's
    session keyring (and hardrun says so), without it the container has one of its own."""
    from conftest import Bundle, runtime
    b = Bundle(str(tmp_path))
    b.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW"}  # a profile that allows keyctl
    b.args("secprobe", "keysession")
    flags = ["--no-new-keyring"] if no_new_keyring else []
    p = runtime(tmp_path / "state", "run", "--bundle", b.dir, *flags, "k1")
    assert p.returncode == 0, p.stderr
    mine = libc.syscall(SYS_keyctl, 0, KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
    assert p.stdout.strip().isdigit(), (p.stdout, p.stderr)
    assert (int(p.stdout) == mine) == no_new_keyring, (p.stdout, mine)
    assert ("--no-new-keyring" in p.stderr) == no_new_keyring, p.stderr
