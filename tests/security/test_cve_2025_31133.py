"""CVE-2025-31133, 2025-52565 (runc) and the crun 2026 advisories: a rootfs whose /dev/null (or /dev, or
/dev/console) was a symlink or a regular file redirected the masking bind mounts or the device setup onto a
host path, making e.g. /proc/sys/kernel/core_pattern writable.

hardrun's defences: /dev is always a fresh tmpfs mounted by fd on a verified directory (a symlinked or
non-directory /dev is refused), the device nodes are created inside that tmpfs (O_EXCL|O_NOFOLLOW) and bound
from the host's own nodes by fd, and masking only ever binds a /dev/null that fstat() proves is the null device.
"""
import os
import shutil
import stat

import pytest

from secutil import host_mounts, run, sh, tree


def prepared_host(host_dir):
    victim = host_dir / "victim"
    victim.mkdir()
    (victim / "core_pattern").write_text("|/host/handler\n")
    return victim


@pytest.mark.parametrize("kind", ["symlink-abs", "symlink-rel", "regular-file"])
def test_rootfs_dev_that_is_not_a_directory_is_refused(tmp_rootfs, host_dir, as_user, kind):
    victim = prepared_host(host_dir)
    dev = os.path.join(tmp_rootfs, "dev")
    shutil.rmtree(dev)
    if kind == "symlink-abs":
        os.symlink(str(victim), dev)
    elif kind == "symlink-rel":
        os.symlink("../../../../../../.." + str(victim), dev)
    else:
        with open(dev, "w") as f:
            f.write("not a directory\n")
    before = host_mounts()
    p = run(["--", "sh", "-c", "echo RAN"], rootfs=tmp_rootfs, user=as_user)
    assert p.returncode == 125, p.stderr
    assert "RAN" not in p.stdout
    assert "/dev" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert host_mounts() == before
    assert tree(victim) == {"core_pattern"}  # no null/zero/pts... created on the host
    if kind == "regular-file":
        assert open(dev).read() == "not a directory\n"


@pytest.mark.parametrize("kind", ["symlink-to-host-file", "regular-file", "symlink-to-proc"])
def test_rootfs_dev_null_cannot_redirect_masking(tmp_rootfs, host_dir, as_user, kind):
    victim = prepared_host(host_dir)
    null = os.path.join(tmp_rootfs, "dev", "null")
    if os.path.lexists(null):
        os.unlink(null)
    if kind == "symlink-to-host-file":
        os.symlink(str(victim / "core_pattern"), null)
    elif kind == "symlink-to-proc":
        os.symlink("/proc/sys/kernel/core_pattern", null)
    else:
        with open(null, "w") as f:
            f.write("fake null\n")
    # inside: /dev/null and every masked file are the real null device; /proc/sys stays read-only
    script = ("stat -c '%F %t:%T' /dev/null /proc/kcore /proc/keys 2>&1; "
              "echo x > /proc/sys/kernel/core_pattern 2>/dev/null && echo CORE-WRITABLE; echo done")
    p = sh(script, rootfs=tmp_rootfs, user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == "character special file 1:3", p.stdout
    for line in lines[1:-1]:
        assert line in ("character special file 1:3",) or "No such file" in line, p.stdout
    assert "CORE-WRITABLE" not in p.stdout
    assert (victim / "core_pattern").read_text() == "|/host/handler\n"


def test_a_volume_over_dev_null_stops_the_launch(host_dir, as_user):
    # a non-null file where /dev/null should be: masking must refuse rather than bind it over /proc files
    fake = host_dir / "fake-null"
    fake.write_text("")
    os.chmod(fake, 0o666)
    p = run(["-v", f"{fake}:/dev/null", "--", "sh", "-c", "echo RAN"], user=as_user)
    assert p.returncode == 125, p.stderr
    assert "RAN" not in p.stdout
    assert "null device" in p.stderr, p.stderr


@pytest.mark.parametrize("flag", [["--tmpfs", "/dev"], ["-v", "/tmp:/dev"]])
def test_replacing_dev_is_refused(as_user, flag):
    p = run(flag + ["--", "sh", "-c", "echo RAN"], user=as_user)
    assert p.returncode == 125 and "RAN" not in p.stdout, p.stderr


def test_dev_nodes_are_the_real_devices(as_user):
    p = sh("for n in null zero full random urandom tty; do stat -c '%n %F %t:%T' /dev/$n; done", user=as_user, check=0)
    expected = {"/dev/null": "1:3", "/dev/zero": "1:5", "/dev/full": "1:7", "/dev/random": "1:8",
                "/dev/urandom": "1:9", "/dev/tty": "5:0"}
    for line in p.stdout.splitlines():
        name, rest = line.split(" ", 1)
        assert rest == f"character special file {expected[name]}", line
