"""hardrun volume ls|inspect|rm (issue 16): the named volumes of -v NAME:/path, as docker volume shows them.

A volume a running sandbox has mounted is shown in use (by the pid the kernel's mountinfo names) and cannot be
removed; once the sandbox is gone it can, and the removal never follows a symlink the workload left in it, nor
crosses into a filesystem mounted below it.
"""
import json
import os
import subprocess
import time

import pytest

from conftest import ROOTFS, hardrun, run


@pytest.fixture
def vols(tmp_path):
    d = tmp_path / "volumes"
    d.mkdir()
    return str(d)


def vol(vols, *args, **kw):
    return hardrun("volume", "--volumes-dir", vols, *args, **kw)


def fill(vols, name, script):
    run(["--volumes-dir", vols, "--user", "0", "-v", f"{name}:/data", "--", "sh", "-c", script], check=0)


def test_ls_and_inspect_show_the_volumes_runs_made(vols):
    assert vol(vols, "ls", "-q").stdout == ""
    fill(vols, "web", "echo hi > /data/index.html")
    fill(vols, "db", "mkdir /data/base")
    p = vol(vols, "ls", "-q")
    assert p.returncode == 0 and p.stdout.split() == ["db", "web"], p.stdout + p.stderr
    table = vol(vols, "ls").stdout.splitlines()
    assert table[0].split() == ["VOLUME", "NAME", "MOUNTPOINT", "IN", "USE"]
    assert table[1].split() == ["db", os.path.join(vols, "db"), "-"]
    # something that is not a volume is not listed: a file, a bad name, a symlink
    open(os.path.join(vols, "file"), "w").close()
    os.mkdir(os.path.join(vols, ".hidden"))
    os.symlink("/etc", os.path.join(vols, "etc"))
    assert vol(vols, "ls", "-q").stdout.split() == ["db", "web"]
    doc = json.loads(vol(vols, "inspect", "web").stdout)
    assert [(d["Name"], d["Mountpoint"], d["Driver"], d["InUseBy"]) for d in doc] == \
        [("web", os.path.join(vols, "web"), "local", [])]
    assert doc[0]["CreatedAt"].endswith("Z")
    p = vol(vols, "inspect", "nope")
    assert p.returncode == 125 and "volume 'nope': does not exist" in p.stderr, p.stderr


def test_rm_refuses_a_volume_in_use_and_removes_it_after(vols):
    fill(vols, "data", "echo keep > /data/f")
    name = f"voltest-{os.getpid()}"
    p = run(["-d", "--name", name, "--volumes-dir", vols, "-v", "data:/data", "--", "sleep", "300"], check=0)
    try:
        pid = json.loads(hardrun("state", name).stdout)["pid"]
        # in use: shown with the sandbox's pid, and refused by name, the data untouched
        line = vol(vols, "ls").stdout.splitlines()[1]
        assert line.split()[-2:] == ["pid", str(pid)], line
        assert json.loads(vol(vols, "inspect", "data").stdout)[0]["InUseBy"] == [pid]
        p = vol(vols, "rm", "data")
        assert p.returncode == 125, p.stderr
        assert p.stderr.strip() == f"hardrun: volume rm: volume 'data': is in use by a sandbox (pid {pid}); stop it first"
        assert open(os.path.join(vols, "data", "f")).read() == "keep\n"
        assert sorted(os.listdir(vols)) == ["data"]  # put back where it was
    finally:
        hardrun("kill", name, "KILL")
        for _ in range(100):
            if json.loads(hardrun("state", name).stdout or "{}").get("status") == "stopped":
                break
            time.sleep(0.05)
        hardrun("delete", "--force", name)
    p = vol(vols, "rm", "data")
    assert p.returncode == 0 and p.stdout == "data\n", p.stderr
    assert os.listdir(vols) == []


def test_rm_never_follows_the_workloads_symlinks(vols, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "f").write_text("keep")
    fill(vols, "evil", f"ln -s {precious} /data/dir; ln -s {precious}/f /data/file; mkdir -p /data/a/b; "
                       "chmod 0 /data/a/b; mkfifo /data/fifo")
    assert os.path.islink(os.path.join(vols, "evil", "dir"))
    p = vol(vols, "rm", "evil")
    assert p.returncode == 0, p.stderr
    assert os.listdir(vols) == [] and (precious / "f").read_text() == "keep"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs inside a volume")
def test_rm_does_not_cross_into_a_mount_below_the_volume(vols):
    fill(vols, "m", "mkdir /data/mnt")
    script = (f'mount -t tmpfs t "$1/m/mnt" && echo inside > "$1/m/mnt/x" && "$2" volume --volumes-dir "$1" rm m; '
              f'echo rc=$?; cat "$1/m/mnt/x"; umount "$1/m/mnt"')
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", vols,
                        os.environ.get("HARDRUN", "hardrun")], capture_output=True, text=True, timeout=60)
    assert "rc=125" in p.stdout and "inside" in p.stdout, p.stdout + p.stderr
    assert "is another filesystem mounted there; unmount it first" in p.stderr, p.stderr
    assert sorted(os.listdir(vols)) == ["m"]  # put back, not half removed under another name


def test_rm_names_what_is_missing_or_not_a_name(vols):
    p = vol(vols, "rm", "nope")
    assert p.returncode == 125 and p.stderr.strip() == \
        f"hardrun: volume rm: volume 'nope': does not exist in {vols} (hardrun volume ls lists them)", p.stderr
    assert vol(vols, "rm", "-f", "nope").returncode == 0
    p = vol(vols, "rm", "../etc")
    assert p.returncode == 125 and "is not a volume name" in p.stderr, p.stderr
