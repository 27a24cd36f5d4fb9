"""Isolation details proven from inside, as root and rootless: every namespace is a new one (its inode differs
from the invoker's), tmpfs and volume options reach the mount, a read-only volume is refused by the mount flag
itself (Landlock off), and the hostname is the sandbox's own."""
import os
import pathlib

import pytest

from conftest import mountinfo, run


def sh(script, *flags, user=None, **kw):
    return run(list(flags) + ["--", "sh", "-c", script], user=user, **kw)


NAMESPACES = ["mnt", "pid", "ipc", "uts", "net", "cgroup"]


def test_every_namespace_is_a_new_one(as_user):
    script = "; ".join(f"readlink /proc/self/ns/{n}" for n in NAMESPACES + ["user"])
    p = sh(script, user=as_user, check=0)
    inside = dict(zip(NAMESPACES + ["user"], p.stdout.split()))
    for n in NAMESPACES:
        assert inside[n] != os.readlink(f"/proc/self/ns/{n}"), f"{n} namespace shared with the invoker"
    # rootless runs in a user namespace of its own; as root, the host's (uids are real host uids)
    same_user = inside["user"] == os.readlink("/proc/self/ns/user")
    assert same_user == (as_user is None), inside["user"]


def test_tmpfs_mode_size_and_flags_reach_the_mount(as_user):
    p = sh("stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo",
           "--tmpfs", "/scratch:size=1m,mode=0700", user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == "700"
    assert "size=1024k" in lines[1] and "nosuid" in lines[1] and "nodev" in lines[1], lines[1]


def test_read_only_volume_is_refused_by_the_mount_itself(as_user, shared_dir):
    vol = pathlib.Path(shared_dir) / "ro"
    vol.mkdir()
    os.chmod(vol, 0o777)  # DAC would allow the write: only the mount flag refuses it
    p = sh("touch /data/x; grep ' /data ' /proc/self/mountinfo", "-v", f"{vol}:/data:ro", "--landlock", "off",
           user=as_user, check=0)
    assert "Read-only file system" in p.stderr, p.stderr
    line = p.stdout.strip()
    opts = line.split()[5].split(",")
    assert "ro" in opts and "nosuid" in opts and "nodev" in opts, line
    assert not (vol / "x").exists()
    # the same volume read-write: the write lands on the host
    p = sh("touch /data/x && echo wrote", "-v", f"{vol}:/data", "--landlock", "off", user=as_user, check=0)
    assert p.stdout.strip() == "wrote" and (vol / "x").exists()


def test_hostname_is_the_sandboxes_own(as_user):
    before = os.uname().nodename
    p = sh("hostname; hostname other 2>&1; hostname", "--hostname", "box", user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == "box"
    assert lines[-1] == "box"  # no CAP_SYS_ADMIN: cannot rename even its own uts namespace
    assert os.uname().nodename == before


def test_nothing_of_the_sandbox_is_left_mounted_on_the_host(as_user):
    before = mountinfo()
    sh("true", "--tmpfs", "/scratch", "-v", "/etc:/hostetc:ro", user=as_user, check=0)
    assert mountinfo() == before
