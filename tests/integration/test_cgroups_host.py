"""cgroup v2 limits on the build host: asked-for limits are enforced or refused before the workload runs.

This kind of host mounts a hybrid hierarchy (cgroup v1 controllers, an empty cgroup v2 at
/sys/fs/cgroup/unified), so hardrun must fail closed with the reason and the fix. Enforcement itself is
proven on a real cgroup v2 kernel by the VM tier (tests/vm/cases/10-cgroups.sh).
"""
import os

import pytest

from conftest import HARDRUN, cgroup2_mount, hardrun, run



def v2_controllers():
    mount = cgroup2_mount()
    if not mount:
        return set()
    with open(os.path.join(mount, "cgroup.controllers")) as f:
        return set(f.read().split())


def v1_mounted(controller):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            if fields[dash + 1] == "cgroup" and controller in fields[dash + 3].split(","):
                return True
    return False


def hardrun_cgroups():
    """Every hardrun-* cgroup under the cgroup2 mount (to prove nothing was created or left)."""
    mount = cgroup2_mount()
    found = []
    if mount:
        for dirpath, dirnames, _ in os.walk(mount):
            found += [os.path.join(dirpath, d) for d in dirnames if d.startswith("hardrun-") and d[8:].isdigit()]
    return sorted(found)


FLAGS = {
    "memory": ["--memory", "64m"],
    "pids": ["--pids-limit", "50"],
    "cpu": ["--cpus", "0.5"],
}


@pytest.mark.parametrize("controller", sorted(FLAGS))
def test_limit_without_v2_controller_fails_closed(controller, as_user):
    if controller in v2_controllers():
        pytest.skip(f"this host's cgroup v2 has the {controller} controller (the VM tier covers enforcement)")
    before = hardrun_cgroups()
    p = run(FLAGS[controller] + ["--", "echo", "RAN"], user=as_user)
    assert p.returncode == 125, p.stderr
    assert "RAN" not in p.stdout, "the workload ran although its limit could not be applied"
    assert len(p.stderr.strip().splitlines()) == 1, f"not one line: {p.stderr!r}"
    if as_user is None:
        if v1_mounted(controller):
            assert (f"cgroup v2 {controller} controller not available: this host mounts cgroup v1 (hybrid hierarchy)"
                    in p.stderr)
            assert "systemd.unified_cgroup_hierarchy=1" in p.stderr  # the fix
        else:
            assert f"cgroup v2 {controller} controller not available" in p.stderr
    else:
        # rootless on a host whose cgroup is not delegated to the user
        assert "not delegated to uid" in p.stderr
        assert "Delegate=yes" in p.stderr
    assert hardrun_cgroups() == before, "a cgroup was created or left behind"


def test_memory_swap_and_reservation_need_the_memory_controller():
    if "memory" in v2_controllers():
        pytest.skip("this host's cgroup v2 has the memory controller")
    p = run(["--memory", "64m", "--memory-swap", "128m", "--memory-reservation", "32m", "--", "echo", "RAN"])
    assert p.returncode == 125
    assert "RAN" not in p.stdout
    assert "memory controller not available" in p.stderr


def test_without_limits_no_cgroup_is_made():
    before = hardrun_cgroups()
    p = run(["--", "cat", "/proc/self/cgroup"], check=0)
    assert p.stdout  # the workload ran
    assert hardrun_cgroups() == before


def test_cgroup_parent_must_stay_under_the_hierarchy():
    p = run(["--cgroup-parent", "/a/../../etc", "--pids-limit", "10", "--", "echo", "RAN"])
    if "pids" not in v2_controllers() and "controller not available" in p.stderr:
        pytest.skip("the controller check comes first on this host")
    assert p.returncode == 125
    assert "RAN" not in p.stdout
    assert "--cgroup-parent" in p.stderr and ".." in p.stderr


def _bundle(tmp_path, args, devices):
    """An OCI bundle (hardrun spec + the demo rootfs) running ARGS as uid 0 with /dev/loop0 bound in."""
    import json
    import subprocess
    from conftest import ROOTFS
    bundle = tmp_path / "bundle"
    bundle.mkdir(parents=True)
    spec = hardrun("spec", "--bundle", str(bundle))
    if spec.returncode != 0 or not (bundle / "config.json").exists():
        spec = subprocess.run([HARDRUN, "spec"], cwd=bundle, capture_output=True, text=True)
    if spec.returncode != 0:
        pytest.skip("this build has no OCI front end (hardrun spec)")
    subprocess.run(["cp", "-a", ROOTFS, str(bundle / "rootfs")], check=True)
    c = json.loads((bundle / "config.json").read_text())
    c["root"] = {"path": "rootfs", "readonly": True}
    c["process"]["args"] = args
    c["process"]["user"] = {"uid": 0, "gid": 0}
    st = os.stat("/dev/loop0")
    c["linux"]["devices"] = [{"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0,
                              "fileMode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid}]
    c["linux"].setdefault("resources", {})["devices"] = devices
    (bundle / "config.json").write_text(json.dumps(c))
    os.chmod(tmp_path, 0o755)
    return bundle


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/loop0"), reason="needs root and /dev/loop0")
def test_device_rules_enforced_by_bpf_program(tmp_path):
    """cgroup v2 has no devices.allow: the rules must reach the kernel as a BPF device program (this works
    on the hybrid host too: it needs the cgroup2 hierarchy, not a controller). Proven from inside: the
    same block device opens or not depending on the rules alone."""
    script = ("head -c 1 /dev/loop0 >/dev/null && echo read-ok; "
              "echo x > /dev/loop0 && echo write-ok; echo > /dev/null && echo null-ok")
    before = hardrun_cgroups()
    default_parent = os.path.join(cgroup2_mount(), "hardrun")
    had_parent = os.path.isdir(default_parent)
    deny = _bundle(tmp_path / "a", ["sh", "-c", script], [{"allow": False, "access": "rwm"}])
    p = hardrun("run", "--bundle", str(deny), "hr-test-devices-deny")
    assert p.returncode == 0, p.stderr
    assert "null-ok" in p.stdout  # the defaults (null, zero, ...) stay allowed
    assert "read-ok" not in p.stdout and "write-ok" not in p.stdout
    assert "Operation not permitted" in p.stderr
    read_only = _bundle(tmp_path / "b", ["sh", "-c", script],
                        [{"allow": False, "access": "rwm"},
                         {"allow": True, "type": "b", "major": 7, "minor": 0, "access": "r"}])
    p = hardrun("run", "--bundle", str(read_only), "hr-test-devices-read")
    assert p.returncode == 0, p.stderr
    assert "read-ok" in p.stdout
    assert "write-ok" not in p.stdout  # r granted, w not
    assert hardrun_cgroups() == before
    if not had_parent:  # hardrun keeps its default parent; the test leaves the host as it found it
        try:
            os.rmdir(default_parent)
        except OSError:
            pass
