"""Another user squats the rootless OCI state directory (issue 12, item 11a).

Without --root a rootless hardrun keeps its OCI state in $XDG_RUNTIME_DIR/hardrun, or /tmp/hardrun-UID when
XDG_RUNTIME_DIR is not set. /tmp is everyone's: another user can create /tmp/hardrun-UID first (a directory
of their own, a symlink, one the victim could later be tricked into using) and so read or deny the victim's
containers.

hardrun's defence: $XDG_RUNTIME_DIR (a directory only that user can create, as runc uses
$XDG_RUNTIME_DIR/runc) is preferred; the /tmp fallback is used only if it is a real directory owned by the uid
with mode 0700, and otherwise refused with one line that names the fix (set XDG_RUNTIME_DIR or pass --root).
Nothing is ever written into a squatted directory.
"""
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from secutil import HARDRUN, UNPRIV_UID

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="plays two users: needs root to set them up")

SQUATTER = UNPRIV_UID + 1
FALLBACK = f"/tmp/hardrun-{UNPRIV_UID}"


def as_victim(*args, xdg=None):
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    if xdg is not None:
        env["XDG_RUNTIME_DIR"] = xdg
    cmd = ["setpriv", f"--reuid={UNPRIV_UID}", f"--regid={UNPRIV_UID}", "--clear-groups", HARDRUN] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture
def fallback():
    """/tmp/hardrun-UID made by the test (and removed afterwards); skips if the victim uid already has one."""
    if os.path.lexists(FALLBACK):
        pytest.skip(f"{FALLBACK} exists already (not made by this test)")
    yield FALLBACK
    if os.path.islink(FALLBACK) or os.path.isfile(FALLBACK):
        os.unlink(FALLBACK)
    elif os.path.isdir(FALLBACK):
        shutil.rmtree(FALLBACK)


@pytest.fixture
def xdg_dir():
    base = tempfile.mkdtemp(prefix="hardrun-sec-xdg-")
    os.chmod(base, 0o700)
    os.chown(base, UNPRIV_UID, UNPRIV_UID)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def squat(path, uid=SQUATTER, mode=0o777):
    os.mkdir(path)
    os.chown(path, uid, uid)
    os.chmod(path, mode)
    with open(os.path.join(path, "planted"), "w") as f:
        f.write("squatter\n")


def assert_refused_with_fix(p, path):
    assert p.returncode == 125, f"exit {p.returncode}: {p.stderr}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert path in lines[0] and "XDG_RUNTIME_DIR" in lines[0] and "--root" in lines[0], lines[0]


def test_a_squatted_fallback_does_not_matter_with_xdg_runtime_dir(fallback, xdg_dir):
    squat(fallback)
    p = as_victim("list", xdg=xdg_dir)
    assert p.returncode == 0, p.stderr
    st = os.lstat(os.path.join(xdg_dir, "hardrun"))  # the state went where only the victim can create it
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == UNPRIV_UID and stat.S_IMODE(st.st_mode) == 0o700
    assert os.listdir(fallback) == ["planted"]


@pytest.mark.parametrize("kind", ["other-owner", "symlink", "group-readable"])
def test_a_squatted_fallback_is_refused_naming_the_fix(fallback, xdg_dir, kind):
    if kind == "other-owner":
        squat(fallback)
    elif kind == "symlink":
        os.symlink(xdg_dir, fallback)  # a directory the victim owns, reached through someone else's link
    else:
        squat(fallback, uid=UNPRIV_UID, mode=0o750)  # the victim's uid, but readable by a group
    before = sorted(os.listdir(fallback))
    p = as_victim("list")
    assert_refused_with_fix(p, fallback)
    assert sorted(os.listdir(fallback)) == before
    if kind == "symlink":
        assert os.path.islink(fallback) and os.listdir(xdg_dir) == []


def test_the_fallback_is_made_private_when_missing(fallback):
    p = as_victim("list")
    assert p.returncode == 0, p.stderr
    st = os.lstat(fallback)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == UNPRIV_UID and stat.S_IMODE(st.st_mode) == 0o700
