"""Device nodes shipped in the image (issue 12, item 1).

A rootfs that contains a block or character device node (mode 666) must not give the workload the host's
device: the rootfs bind and every bind hardrun makes are nodev and nosuid, so the kernel refuses to open any
device node that is not one of hardrun's own /dev entries, with or without Landlock, as root and rootless.
Where a cgroup exists, a cgroup v2 device program denies every device but the default ones, even on a mount
that allows devices (a container root with CAP_MKNOD on a `dev` tmpfs).

What is checked is what the kernel answers to open(2) inside the sandbox, and the flags the sandbox's own
mountinfo shows."""
import os
import stat

import pytest

from secutil import Bundle, IS_ROOT, probe, run, runtime, status_fields

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="mknod in the image needs root")

NODES = {
    # name: (type, major, minor); 1:3 is the null device, 1:5 zero: opening them succeeds wherever devices work
    "vnull": (stat.S_IFCHR, 1, 3),
    "vzero": (stat.S_IFCHR, 1, 5),
    "vdisk": (stat.S_IFBLK, 7, 0),
}


def plant(rootfs, where="/"):
    d = os.path.join(rootfs, where.lstrip("/"))
    os.makedirs(d, exist_ok=True)
    for name, (kind, ma, mi) in NODES.items():
        os.mknod(os.path.join(d, name), 0o666 | kind, os.makedev(ma, mi))
        os.chmod(os.path.join(d, name), 0o666)
    return [os.path.join(where, n) for n in NODES]


@pytest.mark.parametrize("landlock", ["auto", "off"])
def test_image_device_nodes_cannot_be_opened(tmp_rootfs, as_user, landlock):
    paths = plant(tmp_rootfs)
    for path in paths:
        for mode in ("r", "w"):
            p = probe("open", path, mode, flags=["--landlock", landlock], rootfs=tmp_rootfs, user=as_user)
            assert p.returncode == 0, p.stderr
            # EACCES from nodev (a block node of an absent driver may answer ENXIO on a dev mount: never "ok")
            assert p.stdout.strip() == "EACCES", f"{path} {mode} under --landlock {landlock}: {p.stdout!r}"


def test_image_device_node_in_a_volume_cannot_be_opened(tmp_rootfs, host_dir, as_user):
    os.chmod(host_dir, 0o777)
    paths = plant(str(host_dir))
    for name in NODES:
        p = probe("open", "/data/" + name, "r", flags=["-v", f"{host_dir}:/data", "--landlock", "off"],
                  rootfs=tmp_rootfs, user=as_user)
        assert p.stdout.strip() == "EACCES", (name, p.stdout, p.stderr)
    assert paths


def test_hardrun_dev_still_works(tmp_rootfs, as_user):
    plant(tmp_rootfs)
    p = run(["--", "sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c"], rootfs=tmp_rootfs, user=as_user)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "4"


def test_every_mount_but_the_device_binds_is_nodev_and_nosuid(tmp_rootfs, host_dir, as_user):
    p = run(["-v", f"{host_dir}:/data", "--tmpfs", "/var/cache", "--", "cat", "/proc/self/mountinfo"],
            rootfs=tmp_rootfs, user=as_user)
    assert p.returncode == 0, p.stderr
    device_binds = {f"/dev/{n}" for n in ("null", "zero", "full", "random", "urandom", "tty")}
    seen = set()
    for line in p.stdout.splitlines():
        f = line.split()
        target, opts = f[4], f[5].split(",")
        seen.add(target)
        if target in device_binds or f[f.index("-") + 1] == "devpts" or f[3] == "/null":
            continue  # hardrun's own device mounts: /dev's nodes, the ptys, /dev/null over masked files
        assert "nodev" in opts, f"{target} allows devices: {line}"
        assert "nosuid" in opts, f"{target} allows setuid: {line}"
    assert {"/", "/data", "/var/cache"} <= seen


def test_setuid_bit_in_the_image_is_not_honoured(tmp_rootfs):
    """nosuid on the root: even with no_new_privs off, a setuid-root copy of busybox does not make uid 0."""
    os.makedirs(os.path.join(tmp_rootfs, "opt", "suid"))
    sub = os.path.join(tmp_rootfs, "opt", "suid", "cat")  # busybox picks the applet by its name
    with open(os.path.join(tmp_rootfs, "bin", "busybox"), "rb") as src, open(sub, "wb") as dst:
        dst.write(src.read())
    os.chmod(sub, 0o4755)
    p = run(["--security-opt", "no-new-privileges=false", "--security-opt", "seccomp=unconfined", "--", "/opt/suid/cat", "/proc/self/status"],
            rootfs=tmp_rootfs)
    assert p.returncode == 0, p.stderr
    st = status_fields(p.stdout)
    # busybox gives up the effective uid itself, but the exec set the saved uid: any 0 is root regained
    assert "0" not in st["Uid"].split(), st["Uid"]


def test_device_program_denies_devices_on_a_dev_mount(tmp_path):
    """A container root with CAP_MKNOD and a tmpfs mounted with `dev`: the mount allows devices, the cgroup's
    device program does not (only the default devices are allowed). The default-deny program for a cgroup made
    for limits alone is unit-tested (test_cgroups.cpp) and run in the VM tier, where controllers exist."""
    b = Bundle(tmp_path)
    proc = b.config["process"]
    proc["user"] = {"uid": 0, "gid": 0}
    for k in ("bounding", "effective", "permitted"):
        proc["capabilities"][k] = ["CAP_MKNOD", "CAP_DAC_OVERRIDE"]
    b.config["mounts"].append({"destination": "/devtest", "type": "tmpfs", "source": "tmpfs",
                               "options": ["dev", "nosuid", "mode=755"]})
    b.config.setdefault("annotations", {})["org.hardrun.landlock"] = "off"  # Landlock would refuse the mknod
    # what docker sends: deny everything, then its defaults; the device program needs no controller
    b.config["linux"].setdefault("resources", {})["devices"] = [{"allow": False, "access": "rwm"}]
    b.args("sh", "-c", "mknod /devtest/null c 1 3 && /usr/local/bin/secprobe open /devtest/null r; "
                       "mknod /devtest/kmsg c 1 11 2>/dev/null && echo made || echo refused")
    b.save()
    if not _cgroup_v2_writable():
        pytest.skip("no writable cgroup v2 hierarchy")
    p = runtime(tmp_path / "state", "run", "--bundle", b.dir, "devtest")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["ok", "refused"], (p.stdout, p.stderr)


def _cgroup_v2_writable():
    for line in open("/proc/self/mountinfo"):
        f = line.split()
        if f[f.index("-") + 1] == "cgroup2":
            return os.access(f[4], os.W_OK)
    return False
