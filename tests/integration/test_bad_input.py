"""Bad input: each gets one clear error line, exit 125/126/127, and leaves nothing behind on the host."""
import os
import subprocess

import pytest

from conftest import HARDRUN, ROOTFS, hardrun, mountinfo, run


def assert_clean_failure(p, code, *needles):
    assert p.returncode == code, (p.returncode, p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.startswith("hardrun:") and "warning" not in l]
    assert len(lines) == 1, p.stderr  # one clear line
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture(autouse=True)
def nothing_left_behind():
    before = mountinfo()
    yield
    assert mountinfo() == before


def test_rootfs_missing():
    p = hardrun("run", "--rootfs", "/nonexistent/rootfs", "--", "true")
    assert_clean_failure(p, 125, "--rootfs", "/nonexistent/rootfs", "No such file")


def test_rootfs_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    p = hardrun("run", "--rootfs", str(f), "--", "true")
    assert_clean_failure(p, 125, "--rootfs", "not a directory")


@pytest.mark.parametrize("target,link", [("tmp", "/etc"), ("proc", "/"), ("dev", "/dev"), ("sys", "../../..")])
def test_symlinked_mount_target_is_refused(tmp_rootfs, target, link, as_user):
    path = os.path.join(tmp_rootfs, target)
    subprocess.run(["rm", "-rf", path], check=True)
    os.symlink(link, path)
    p = run(["--", "true"], rootfs=tmp_rootfs, user=as_user)
    assert_clean_failure(p, 125, "mounts", "/" + target, "symlink")


def test_symlinked_volume_target_is_refused(tmp_rootfs, tmp_path):
    os.symlink("/etc", os.path.join(tmp_rootfs, "data2"))
    src = tmp_path / "vol"
    src.mkdir()
    p = run(["-v", f"{src}:/data2/sub", "--", "true"], rootfs=tmp_rootfs)
    assert_clean_failure(p, 125, "mounts", "/data2", "symlink")
    assert not os.path.exists("/etc/sub")  # nothing created outside the rootfs


def test_command_missing():
    assert_clean_failure(run(["--", "/no/such/cmd"]), 127, "exec /no/such/cmd", "No such file")
    assert_clean_failure(run(["--", "nosuchcmd"]), 127, "nosuchcmd")


def test_command_not_executable():
    assert_clean_failure(run(["--", "/etc/passwd"]), 126, "/etc/passwd", "Permission denied")


def test_command_is_a_directory():
    assert_clean_failure(run(["--", "/etc"]), 126, "/etc")


def test_no_command():
    p = hardrun("run", "--rootfs", ROOTFS)
    assert_clean_failure(p, 125, "no command given")


@pytest.mark.parametrize("flags,needle", [
    (["--memory", "12q"], "--memory: '12q' is not a size; use e.g. 512m"),
    (["--cpus", "x"], "--cpus"),
    (["--user", "root"], "--user"),
    (["--tmpfs", "tmp"], "--tmpfs"),
    (["--volume", "rel/ative:/x"], "--volume"),  # ("relative:/x" is a named volume)
    (["--cap-add", "NOPE"], "--cap-add"),
    (["--ulimit", "nofile"], "--ulimit"),
    (["--security-opt", "what=ever"], "--security-opt"),
    (["--network", "bridge"], "--network"),
    (["--bogus-flag"], "bogus-flag"),
])
def test_malformed_flags(flags, needle):
    p = hardrun("run", "--rootfs", ROOTFS, *flags, "--", "true")
    assert_clean_failure(p, 125, needle)


def test_workdir_missing():
    assert_clean_failure(run(["-w", "/nope", "--", "true"]), 125, "workdir", "/nope")


def test_missing_mount_point_on_read_only_rootfs_creates_nothing(tmp_path):
    # a rootfs without /run: the mount point is made in the rootfs layer, never in the image (issue 16 item 1;
    # hardrun used to create it in the rootfs directory)
    rootfs = tmp_path / "r"
    subprocess.run(["cp", "-a", ROOTFS, str(rootfs)], check=True)
    subprocess.run(["rm", "-rf", str(rootfs / "run")], check=True)
    p = run(["--tmpfs", "/run", "--", "grep", " /run ", "/proc/self/mountinfo"], rootfs=str(rootfs))
    assert p.returncode == 0, p.stderr
    assert " - tmpfs " in p.stdout
    assert not (rootfs / "run").exists()
