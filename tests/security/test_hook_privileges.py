"""OCI startContainer hooks (issue 12, item 2).

The spec runs startContainer in the container's namespaces with its path resolved there, i.e. a program the
image supplies. hardrun ran it as the `hardrun start` process itself: uid 0, every capability, no seccomp,
Landlock or no_new_privs, outside the cgroup, so an image that ships a program at the hook's path owned the
host. Now the container process runs the hook itself after its whole setup, right before the workload: the
hook holds exactly the workload's privileges. The test's hook is a script from the image that records what
the kernel says of it (uid, capability sets, no_new_privs, seccomp, namespaces, cgroup) next to what the
workload records of itself, in a volume; both must match, for create/start and for a foreground run --bundle.
The runtime-namespace hooks (prestart, createRuntime, poststart, poststop) still run on the host."""
import os
import time

import pytest

from secutil import Bundle, IS_ROOT, runtime

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the OCI runtime tests run as root")

REPORT = ("grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
          "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; readlink /proc/self/ns/net; cat /proc/self/cgroup; cat /proc/self/attr/current 2>/dev/null; true")


def bundle_with_hook(tmp_path, out):
    b = Bundle(tmp_path)
    hook = os.path.join(b.rootfs, "hookbin")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\n(" + REPORT + ") > /out/hook.txt 2>&1\n")
    os.chmod(hook, 0o755)
    b.config["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind", "rw"]})
    b.config["hooks"] = {"startContainer": [{"path": "/hookbin", "args": ["hookbin"]}]}
    b.args("sh", "-c", "(" + REPORT + ") > /out/workload.txt 2>&1")
    return b


@pytest.fixture
def out(host_dir):
    os.chmod(host_dir, 0o777)
    return host_dir


def compare(out):
    hook = (out / "hook.txt").read_text()
    workload = (out / "workload.txt").read_text()
    assert "Uid:" in hook and "Seccomp:" in hook, hook
    assert hook == workload, f"the startContainer hook ran with other privileges than the workload:\n--- hook\n{hook}--- workload\n{workload}"


def test_start_container_hook_holds_no_more_than_the_container_create_start(tmp_path, out):
    b = bundle_with_hook(tmp_path, out)
    state = tmp_path / "state"
    p = runtime(state, "create", "--bundle", b.dir, "hookc")
    assert p.returncode == 0, p.stderr
    try:
        p = runtime(state, "start", "hookc")
        assert p.returncode == 0, p.stderr
        for _ in range(500):  # the workload runs after `start` returns
            if (out / "workload.txt").exists() and runtime(state, "state", "hookc").stdout.count('"stopped"'):
                break
            time.sleep(0.02)
    finally:
        runtime(state, "delete", "--force", "hookc")
    compare(out)


def test_start_container_hook_holds_no_more_than_the_container_run(tmp_path, out):
    b = bundle_with_hook(tmp_path, out)
    p = runtime(tmp_path / "state", "run", "--bundle", b.dir, "hookr")
    assert p.returncode == 0, p.stderr
    compare(out)


def test_a_failing_start_container_hook_stops_the_container(tmp_path, out):
    b = bundle_with_hook(tmp_path, out)
    with open(os.path.join(b.rootfs, "hookbin"), "w") as f:
        f.write("#!/bin/sh\nexit 3\n")
    p = runtime(tmp_path / "state", "run", "--bundle", b.dir, "hookf")
    assert p.returncode != 0
    assert not (out / "workload.txt").exists(), "the workload ran although its startContainer hook failed"
    assert "startContainer" in p.stderr and len(p.stderr.strip().splitlines()[-1]) > 0, p.stderr
