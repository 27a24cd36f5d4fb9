"""Volume sources that run through a symlink another sandbox planted (issue 12, item 6).

Container A has a writable shared volume and plants `shared/sub -> /hostdir` (an absolute host path, or a
`..`-relative one); container B is then started with `-v shared/sub:/data` and would read and write /hostdir.
The same for an OCI bundle's mounts[].source.

hardrun's defence: a volume source is opened from / component by component without following any symlink
(openat2 RESOLVE_NO_SYMLINKS), at plan time and again in the child, and the bind is made from that exact fd
(open_tree on the fd), so a symlink anywhere in the source is refused with one line that names it and its
resolved path, and a swap after the check cannot redirect the bind. hardrun cannot tell who controls a symlink
(what a sandbox writes into a volume belongs to root, or in a rootless sandbox to the invoker), so it follows
none, not even one the invoker named as the whole path: the line says which real path to pass instead.

Every check is on the host's files and on what the sandbox saw, not on hardrun's words alone.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from secutil import HARDRUN, sh


def plant(shared, name, target, user, rootfs):
    """Container A (with `shared` as a writable volume) plants shared/name -> target."""
    p = sh(f"ln -s '{target}' /data/{name}", "-v", f"{shared}:/data", user=user, rootfs=rootfs)
    assert p.returncode == 0, p.stderr
    assert os.readlink(os.path.join(shared, name)) == target


@pytest.fixture
def layout(shared_dir):
    """shared/ (writable by both test uids) and hostdir/ (a host directory with a secret, outside any volume)."""
    shared = os.path.join(shared_dir, "shared")
    hostdir = os.path.join(shared_dir, "hostdir")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    os.mkdir(hostdir)
    os.chmod(hostdir, 0o777)  # so that a rootless B could write there if it ever reached it
    with open(os.path.join(hostdir, "secret"), "w") as f:
        f.write("host-secret\n")
    os.chmod(os.path.join(hostdir, "secret"), 0o644)
    return shared, hostdir


def assert_refused_naming(p, component):
    assert p.returncode == 125, f"exit {p.returncode}: {p.stderr}\n{p.stdout}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert component in lines[0] and "symlink" in lines[0], lines[0]
    return lines[0]


def assert_host_untouched(hostdir, out):
    assert sorted(os.listdir(hostdir)) == ["secret"], os.listdir(hostdir)
    assert open(os.path.join(hostdir, "secret")).read() == "host-secret\n"
    assert "host-secret" not in out


@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_volume_through_a_planted_symlink_is_refused(layout, as_user, link, tmp_rootfs):
    shared, hostdir = layout
    plant(shared, "sub", hostdir if link == "absolute" else "../hostdir", as_user, tmp_rootfs)
    b = sh("cat /data/secret; echo pwned > /data/pwned", "-v", f"{shared}/sub:/data", user=as_user, rootfs=tmp_rootfs)
    line = assert_refused_naming(b, f"{shared}/sub")
    assert hostdir in line  # the resolved path the invoker may pass instead, if that is what was meant
    assert_host_untouched(hostdir, b.stdout)


def test_symlink_in_the_middle_of_a_volume_source_is_refused(layout, as_user, tmp_rootfs):
    shared, hostdir = layout
    os.mkdir(os.path.join(hostdir, "inner"))
    os.chmod(os.path.join(hostdir, "inner"), 0o777)
    plant(shared, "sub", hostdir, as_user, tmp_rootfs)
    b = sh("ls /data; echo pwned > /data/pwned", "-v", f"{shared}/sub/inner:/data", user=as_user, rootfs=tmp_rootfs)
    assert_refused_naming(b, f"{shared}/sub")
    assert os.listdir(os.path.join(hostdir, "inner")) == []


def test_planted_symlink_to_a_host_file_is_refused(layout, as_user, tmp_rootfs):
    shared, hostdir = layout
    plant(shared, "f", os.path.join(hostdir, "secret"), as_user, tmp_rootfs)
    b = sh("cat /f; echo pwned > /f", "-v", f"{shared}/f:/f", user=as_user, rootfs=tmp_rootfs)
    assert_refused_naming(b, f"{shared}/f")
    assert_host_untouched(hostdir, b.stdout)


def test_a_symlink_the_invoker_named_is_refused_too(layout, tmp_rootfs):
    # even one that only root could have made: hardrun cannot tell who controls a link
    shared, hostdir = layout
    link = os.path.join(os.path.dirname(shared), "by-root")
    os.symlink(hostdir, link)
    b = sh("cat /data/secret", "-v", f"{link}:/data", rootfs=tmp_rootfs)
    line = assert_refused_naming(b, link)
    assert f"-v {hostdir}" in line or hostdir in line
    assert "host-secret" not in b.stdout


def test_real_directories_still_mount_read_write(layout, as_user, tmp_rootfs):
    shared, _ = layout
    os.mkdir(os.path.join(shared, "real"))
    os.chmod(os.path.join(shared, "real"), 0o777)
    # a `..` in the path is fine: only symlinks are refused
    b = sh("echo hello > /data/written; cat /data/written", "-v", f"{shared}/real/../real:/data", user=as_user,
           rootfs=tmp_rootfs)
    assert b.returncode == 0, b.stderr
    assert b.stdout == "hello\n"
    assert open(os.path.join(shared, "real", "written")).read() == "hello\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="the OCI bundle case runs as root")
def test_oci_bind_source_through_a_planted_symlink_is_refused(layout, tmp_rootfs):
    shared, hostdir = layout
    plant(shared, "sub", hostdir, None, tmp_rootfs)
    base = tempfile.mkdtemp(prefix="hardrun-sec-oci-")
    try:
        bundle = os.path.join(base, "bundle")
        os.mkdir(bundle)
        p = subprocess.run([HARDRUN, "spec", "--bundle", bundle], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        cfg_path = os.path.join(bundle, "config.json")
        cfg = json.load(open(cfg_path))
        cfg["root"]["path"] = tmp_rootfs
        cfg["process"]["args"] = ["sh", "-c", "cat /volsym/secret; echo pwned > /volsym/pwned"]
        cfg["process"]["user"] = {"uid": 0, "gid": 0}
        cfg["mounts"].append({"destination": "/volsym", "type": "bind", "source": f"{shared}/sub",
                              "options": ["rbind", "rw"]})
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        state = os.path.join(base, "state")
        p = subprocess.run([HARDRUN, "--root", state, "run", "--bundle", bundle, "volsym"], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert_refused_naming(p, f"{shared}/sub")
        assert_host_untouched(hostdir, p.stdout)
        assert not os.path.exists(os.path.join(tmp_rootfs, "volsym"))  # refused at plan time, before any mkdir
    finally:
        shutil.rmtree(base, ignore_errors=True)
