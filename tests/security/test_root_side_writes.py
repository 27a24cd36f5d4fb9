"""Files hardrun writes as root through a symlink someone else planted (issue 12, item 10).

`create --pid-file P` wrote P.hardrun-tmp with O_TRUNC and followed a symlink there, so another user who
planted `P.hardrun-tmp -> /root-owned/file` had root overwrite that file with a pid; `spec` wrote config.json
through a dangling symlink (creating the file it named), and `--log` appended to whatever the path pointed at
(and blocked forever on a FIFO).

hardrun's defence: one writer (launcher/support/files.cpp). A whole file is written to a temporary file created with
O_CREAT|O_EXCL|O_NOFOLLOW under a random name in the target's directory (opened O_DIRECTORY|O_NOFOLLOW), fsynced
and renamed onto the name relative to that directory; a symlink at the name, or as the directory, is refused
with one line. An append log is opened with O_NOFOLLOW|O_NONBLOCK and must be a regular file.

The checks are on the victim files' contents and the links themselves.
"""
import json
import os
import shutil
import stat
import tempfile

import pytest

from secutil import HARDRUN, ROOTFS, one_line_error, run_files

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="root-side writes: the invoker is root")

PRECIOUS = "root-owned, must stay as it is\n"


@pytest.fixture
def place():
    """A scratch directory with a root-owned victim file that nothing may change."""
    base = tempfile.mkdtemp(prefix="hardrun-sec-writes-")
    victim = os.path.join(base, "victim")
    with open(victim, "w") as f:
        f.write(PRECIOUS)
    os.chmod(victim, 0o600)
    yield base, victim
    shutil.rmtree(base, ignore_errors=True)


def hr(*args, timeout=30):
    return run_files([HARDRUN] + list(args), timeout=timeout)


def make_bundle(base):
    bundle = os.path.join(base, "bundle")
    os.mkdir(bundle)
    p = hr("spec", "--bundle", bundle)
    assert p.returncode == 0, p.stderr
    cfg_path = os.path.join(bundle, "config.json")
    cfg = json.load(open(cfg_path))
    cfg["root"]["path"] = ROOTFS  # read-only root, no mounts that would need a mount point created
    cfg["process"]["args"] = ["sleep", "60"]
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    return bundle


def cleanup(state, cid):
    if os.path.isdir(os.path.join(state, cid)):
        hr("--root", state, "delete", "--force", cid)


def test_create_pid_file_does_not_follow_a_planted_temp_symlink(place):
    base, victim = place
    bundle = make_bundle(base)
    state = os.path.join(base, "state")
    pidfile = os.path.join(base, "c.pid")
    # every name the old writer used: the planted link must not be followed whatever name is tried
    os.symlink(victim, pidfile + ".hardrun-tmp")
    try:
        p = hr("--root", state, "create", "--bundle", bundle, "--pid-file", pidfile, "pidc")
        assert p.returncode == 0, p.stderr
        assert open(victim).read() == PRECIOUS
        pid = int(open(pidfile).read())
        assert os.path.exists(f"/proc/{pid}")
        st = os.lstat(pidfile)
        assert stat.S_ISREG(st.st_mode)
        assert os.readlink(pidfile + ".hardrun-tmp") == victim  # the planted link itself is left alone
        assert sorted(os.listdir(base)) == ["bundle", "c.pid", "c.pid.hardrun-tmp", "state", "victim"]
    finally:
        cleanup(state, "pidc")


def test_create_pid_file_that_is_a_symlink_is_refused(place):
    base, victim = place
    bundle = make_bundle(base)
    state = os.path.join(base, "state")
    pidfile = os.path.join(base, "c.pid")
    os.symlink(victim, pidfile)
    try:
        p = hr("--root", state, "create", "--bundle", bundle, "--pid-file", pidfile, "pidl")
        one_line_error(p, pidfile, "symlink")
        assert open(victim).read() == PRECIOUS
        assert os.readlink(pidfile) == victim
        assert not os.path.exists(os.path.join(state, "pidl"))  # the container is gone again
    finally:
        cleanup(state, "pidl")


def test_pid_file_in_a_symlinked_directory_is_refused(place):
    base, victim = place
    bundle = make_bundle(base)
    state = os.path.join(base, "state")
    real = os.path.join(base, "real")
    os.mkdir(real)
    os.symlink(real, os.path.join(base, "linkdir"))
    try:
        p = hr("--root", state, "create", "--bundle", bundle, "--pid-file", os.path.join(base, "linkdir", "c.pid"), "pidd")
        one_line_error(p, os.path.join(base, "linkdir"), "symlink")
        assert os.listdir(real) == []
    finally:
        cleanup(state, "pidd")


def test_spec_does_not_write_through_a_dangling_config_symlink(place):
    base, _ = place
    bundle = os.path.join(base, "b")
    os.mkdir(bundle)
    target = os.path.join(base, "created-by-root")
    os.symlink(target, os.path.join(bundle, "config.json"))
    p = hr("spec", "--bundle", bundle)
    one_line_error(p, "config.json", "symlink")
    assert not os.path.exists(target)
    assert os.readlink(os.path.join(bundle, "config.json")) == target


def test_spec_still_refuses_to_overwrite_and_leaves_no_temp_file(place):
    base, _ = place
    bundle = os.path.join(base, "b")
    os.mkdir(bundle)
    assert hr("spec", "--bundle", bundle).returncode == 0
    first = open(os.path.join(bundle, "config.json")).read()
    json.loads(first)
    one_line_error(hr("spec", "--bundle", bundle), "exists")
    assert open(os.path.join(bundle, "config.json")).read() == first
    assert os.listdir(bundle) == ["config.json"]


def test_log_does_not_append_through_a_symlink(place):
    base, victim = place
    log = os.path.join(base, "runtime.log")
    os.symlink(victim, log)
    p = hr("--root", os.path.join(base, "state"), "--log", log, "start", "nope")
    assert p.returncode == 125, p.stderr
    assert open(victim).read() == PRECIOUS
    assert os.readlink(log) == victim
    assert "symlink" in p.stderr


def test_log_that_is_a_fifo_is_refused_without_blocking(place):
    base, _ = place
    log = os.path.join(base, "runtime.log")
    os.mkfifo(log)
    p = hr("--root", os.path.join(base, "state"), "--log", log, "start", "nope", timeout=20)
    assert p.returncode == 125, p.stderr
    assert "not a regular file" in p.stderr
    assert stat.S_ISFIFO(os.lstat(log).st_mode)


def test_log_still_appends_to_a_regular_file(place):
    base, _ = place
    log = os.path.join(base, "runtime.log")
    with open(log, "w") as f:
        f.write("earlier line\n")
    p = hr("--root", os.path.join(base, "state"), "--log", log, "--log-format", "json", "start", "nope")
    assert p.returncode == 125
    lines = open(log).read().splitlines()
    assert lines[0] == "earlier line"
    assert json.loads(lines[1])["level"] == "error"
