"""CVE-2019-16884, 2019-19921, 2023-27561/28642, 2025-52881 (runc): a symlinked or fake /proc made the LSM
label write (/proc/self/attr/...) or the masking go to an attacker's file, leaving the workload unconfined.

hardrun's defences: mount targets never follow symlinks (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS), /proc
is always a fresh procfs instance mounted by fd, and nothing but procfs may be mounted at or inside /proc.
"""
import os
import shutil
import subprocess

import pytest

from secutil import IS_ROOT, host_mounts, run, sh, tree


def replace_with_symlink(rootfs, name, target):
    path = os.path.join(rootfs, name)
    shutil.rmtree(path)
    os.symlink(target, path)


@pytest.mark.parametrize("target", ["ABSOLUTE", "../../../../../../..HOST", "self-dir"])
def test_rootfs_with_symlinked_proc_is_refused(tmp_rootfs, host_dir, as_user, target):
    decoy = host_dir / "fakeproc"
    decoy.mkdir()
    (decoy / "marker").write_text("host side")
    if target == "ABSOLUTE":
        link = str(decoy)
    elif target == "self-dir":
        os.mkdir(os.path.join(tmp_rootfs, "realproc"))
        link = "realproc"  # even a symlink that stays inside the rootfs is refused
    else:
        link = "../../../../../../.." + str(decoy)
    replace_with_symlink(tmp_rootfs, "proc", link)
    before = host_mounts()
    p = run(["--", "sh", "-c", "echo RAN"], rootfs=tmp_rootfs, user=as_user)
    assert p.returncode == 125, p.stderr
    assert "RAN" not in p.stdout
    assert "symlink" in p.stderr and "/proc" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert host_mounts() == before
    assert tree(decoy) == {"marker"}  # nothing created or mounted on the host side


@pytest.mark.parametrize("dest", ["/proc", "/proc/sys", "/proc/1/attr", "/proc/self/attr", "/proc/sys/kernel"])
def test_volume_over_or_inside_proc_is_refused(host_dir, as_user, dest):
    fake = host_dir / "fakeattr"
    fake.mkdir()
    (fake / "exec").write_text("")
    (fake / "current").write_text("unconfined\n")
    p = run(["-v", f"{fake}:{dest}", "--", "sh", "-c", "echo RAN"], user=as_user)
    assert p.returncode == 125, p.stderr
    assert "RAN" not in p.stdout
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.parametrize("dest", ["/proc/sys", "/proc/1", "/proc/driver"])
def test_tmpfs_inside_proc_is_refused(as_user, dest):
    p = run(["--tmpfs", dest, "--", "sh", "-c", "echo RAN"], user=as_user)
    assert p.returncode == 125, p.stderr
    assert "RAN" not in p.stdout
    assert "/proc" in p.stderr


def test_proc_is_a_real_procfs_instance(as_user):
    # the workload's /proc is a procfs of its own pid namespace, whatever the rootfs had at /proc
    p = sh("stat -f -c %T /proc; readlink /proc/self; ls /proc | grep -c '^[0-9]'", user=as_user, check=0)
    fstype, self_pid, count = p.stdout.split()
    assert fstype == "proc"
    assert int(self_pid) < 10 and int(count) < 10  # a fresh pid namespace, not the host's procfs


def test_fake_proc_content_in_rootfs_is_hidden(tmp_rootfs, as_user):
    # a rootfs that ships its own /proc/self/attr files (a "fake procfs" as plain files) gets them covered
    fake = os.path.join(tmp_rootfs, "proc", "self", "attr")
    os.makedirs(fake)
    with open(os.path.join(fake, "current"), "w") as f:
        f.write("fake-label\n")
    p = sh("cat /proc/self/attr/current 2>&1; stat -f -c %T /proc/self/attr", rootfs=tmp_rootfs, user=as_user, check=0)
    assert "fake-label" not in p.stdout
    assert p.stdout.split()[-1] == "proc"


def apparmor_enabled():
    try:
        return open("/sys/module/apparmor/parameters/enabled").read().strip() == "Y"
    except OSError:
        return False


@pytest.mark.skipif(not apparmor_enabled(), reason="AppArmor is not enabled on this kernel; the VM tier covers it: "
                    "tests/vm/cases/20-apparmor.sh test_label_applied_through_real_procfs_despite_fake_proc "
                    "(scripts/vm-test -k apparmor)")
def test_label_is_really_applied_through_a_real_procfs(as_user):
    # the LSM write went to the kernel: the workload is confined by hardrun's profile
    p = sh("cat /proc/self/attr/current", user=as_user, check=0)
    assert "unconfined" not in p.stdout and p.stdout.strip(), p.stdout
