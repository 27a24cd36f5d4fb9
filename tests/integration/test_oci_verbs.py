"""The OCI verbs on a live container: pause/resume (cgroup v2 freezer), update, events (runc's JSON lines).

This host's cgroup v2 hierarchy has no controllers, but cgroup.freeze, cgroup.events and cpu.stat need none:
a container gets a cgroup of its own from a device rule (linux.resources.devices), and these tests pause it,
read it and remove it. Limits written by `update` and the memory/pids figures of `events` need controllers:
the VM tier proves them (tests/vm/cases/40-oci-verbs.sh). Every check is made on the kernel's objects: the
workload's own progress (a counter it writes into a bind-mounted directory), cgroup.events, /proc.
"""
import json
import os
import subprocess
import time

import pytest

from conftest import HARDRUN, Bundle, OciRuntime, cgroup2_mount, one_line_error, reap, run_files, wait_for

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="the OCI runtime tests run as root"),
              pytest.mark.usefixtures("oci_subreaper")]


Runtime = OciRuntime


@pytest.fixture
def env(tmp_path):
    """(bundle, runtime, out dir): the container counts in out/n; its cgroup comes from a device rule."""
    if cgroup2_mount() is None:
        pytest.skip("no cgroup v2 hierarchy")
    rt = Runtime(str(tmp_path / "state"), log=str(tmp_path / "log.json"))
    b = Bundle(str(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    b.config["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind", "rw"]})
    b.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    b.args("sh", "-c", "n=0; while :; do n=$((n+1)); echo $n > /out/n.tmp; mv /out/n.tmp /out/n; done")
    yield b, rt, out
    if os.path.isdir(rt.root):
        for cid in os.listdir(rt.root):
            rt("delete", "--force", cid)
    reap()


def count(out):
    try:
        return int((out / "n").read_text())
    except (OSError, ValueError):
        return None


def cgroup_dir(pid):
    rel = open(f"/proc/{pid}/cgroup").read().split("0::", 1)[1].strip()
    return cgroup2_mount() + rel


def frozen(cg):
    for line in open(os.path.join(cg, "cgroup.events")):
        k, v = line.split()
        if k == "frozen":
            return v == "1"
    raise AssertionError("no frozen key")


def started(b, rt, cid):
    rt.ok("create", "--bundle", b.dir, cid)
    rt.ok("start", cid)
    pid = rt.state(cid)["pid"]
    return pid, cgroup_dir(pid)


def last_log(rt):
    lines = open(rt.log).read().splitlines()
    return json.loads(lines[-1])


# --- pause / resume ------------------------------------------------------------------------------------

def test_pause_stops_the_workload_and_resume_lets_it_go_on(env):
    b, rt, out = env
    pid, cg = started(b, rt, "p1")
    wait_for(lambda: (count(out) or 0) > 50, "the workload counting")
    assert not frozen(cg)
    rt.ok("pause", "p1")
    assert frozen(cg), "pause returned before cgroup.events said frozen 1"
    assert rt.state("p1")["status"] == "paused"
    listed = json.loads(rt.ok("list", "--format", "json").stdout)
    assert [c["status"] for c in listed if c["id"] == "p1"] == ["paused"]
    assert "paused" in rt.ok("list").stdout.splitlines()[1]
    n = count(out)
    time.sleep(0.5)
    assert count(out) == n, "the workload went on counting while paused"
    # every task of the cgroup is frozen, not only the first one
    assert rt.ok("ps", "--format", "json", "p1").stdout.strip() != "[]"
    rt.ok("resume", "p1")
    assert not frozen(cg)
    assert rt.state("p1")["status"] == "running"
    wait_for(lambda: (count(out) or 0) > n + 50, "the workload counting again after resume")


def test_pause_and_resume_refuse_in_runcs_words_and_log_it(env):
    b, rt, out = env
    started(b, rt, "p2")
    line = one_line_error(rt("resume", "p2"), "resume", "container not paused", "running")
    assert last_log(rt)["level"] == "error" and last_log(rt)["msg"] == line.removeprefix("hardrun: ")
    rt.ok("pause", "p2")
    one_line_error(rt("pause", "p2"), "pause", "container not running", "paused")
    rt.ok("resume", "p2")
    rt.ok("kill", "p2", "KILL")
    wait_for(lambda: rt.state("p2")["status"] == "stopped", "the container to stop")
    one_line_error(rt("pause", "p2"), "pause", "container not running (it is stopped)")
    assert "container not running" in last_log(rt)["msg"]
    one_line_error(rt("pause", "nosuch"), "does not exist")


def test_pause_refuses_a_container_without_a_cgroup(env):
    b, rt, out = env
    del b.config["linux"]["resources"]
    b.save()
    started(b, rt, "p3")
    one_line_error(rt("pause", "p3"), "pause", "container 'p3'", "has no cgroup of its own", "linux.resources")
    one_line_error(rt("events", "--stats", "p3"), "events", "has no cgroup of its own")
    one_line_error(rt("update", "--pids-limit", "10", "p3"), "update", "has no cgroup of its own")
    assert rt.state("p3")["status"] == "running"


def test_a_paused_container_can_be_killed_and_force_deleted(env):
    b, rt, out = env
    pid, cg = started(b, rt, "p4")
    rt.ok("pause", "p4")
    one_line_error(rt("delete", "p4"), "delete", "is paused", "--force")
    assert os.path.exists(f"/proc/{pid}")
    rt.ok("delete", "--force", "p4")  # SIGKILL reaches frozen tasks on cgroup v2
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2],
             "the container process to die")
    assert not os.path.exists(cg), "the frozen cgroup was left behind"
    assert "p4" not in os.listdir(rt.root)
    # kill KILL of a paused container: the process dies while the cgroup is still frozen
    pid, cg = started(b, rt, "p5")
    rt.ok("pause", "p5")
    rt.ok("kill", "p5", "KILL")
    wait_for(lambda: rt.state("p5")["status"] == "stopped", "the paused container to die of SIGKILL")
    rt.ok("delete", "p5")
    assert not os.path.exists(cg)


# --- events ---------------------------------------------------------------------------------------------

def test_events_stats_prints_one_event_in_runcs_shape(env):
    b, rt, out = env
    pid, cg = started(b, rt, "e1")
    wait_for(lambda: (count(out) or 0) > 200, "the workload spending some CPU")
    p = rt.ok("events", "--stats", "e1")
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == "e1"
    d = ev["data"]
    assert set(d) == {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"}
    # cpu.stat needs no controller: the figures are the kernel's, in nanoseconds as runc gives them
    usage_usec = int([l.split()[1] for l in open(os.path.join(cg, "cpu.stat")) if l.startswith("usage_usec")][0])
    total = d["cpu"]["usage"]["total"]
    assert total > 0 and total % 1000 == 0
    assert total <= usage_usec * 1000, "events reported more CPU than cpu.stat has now"
    assert d["cpu"]["usage"]["user"] + d["cpu"]["usage"]["kernel"] > 0
    for entry in ("usage", "swap", "kernel", "kernelTCP"):
        assert "limit" in d["memory"][entry] and "failcnt" in d["memory"][entry]
    assert d["network_interfaces"] is None


def test_events_streams_stats_until_the_container_exits(env):
    b, rt, out = env
    started(b, rt, "e2")
    cmd = [HARDRUN, "--root", rt.root, "events", "--interval", "200ms", "e2"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as ev:
        try:
            first = json.loads(ev.stdout.readline())
            second = json.loads(ev.stdout.readline())
            assert first["type"] == second["type"] == "stats" and first["id"] == "e2"
            assert second["data"]["cpu"]["usage"]["total"] >= first["data"]["cpu"]["usage"]["total"]
            rt.ok("kill", "e2", "KILL")
            rest, err = ev.communicate(timeout=10)
        finally:
            if ev.poll() is None:
                ev.kill()
        assert ev.returncode == 0, err
        assert all(json.loads(l)["type"] == "stats" for l in rest.splitlines())


def test_events_refuses_bad_input_and_a_stopped_container(env):
    b, rt, out = env
    started(b, rt, "e3")
    one_line_error(rt("events", "--interval", "5x", "e3"), "--interval", "not a duration")
    one_line_error(rt("events", "--interval", "0s", "e3"), "--interval", "positive")
    rt.ok("kill", "e3", "KILL")
    wait_for(lambda: rt.state("e3")["status"] == "stopped", "the container to stop")
    one_line_error(rt("events", "e3"), "events", "container not running")


# --- update ---------------------------------------------------------------------------------------------

def test_update_accepts_what_engines_send_for_unset(env):
    """docker's update sends blockIO.weight 0, empty cpusets and zero cpu quota/period: nothing to write."""
    b, rt, out = env
    started(b, rt, "u1")
    docker = {"blockIO": {"weight": 0}, "cpu": {"cpus": "", "mems": "", "period": 0, "quota": 0}, "memory": {},
              "pids": {"limit": 0}}
    rt.ok("update", "--resources", "-", "u1", stdin=json.dumps(docker))
    rt.ok("update", "--blkio-weight", "0", "--kernel-memory", "0", "--cpu-rt-period", "0", "--cpuset-cpus", "", "u1")
    assert rt.state("u1")["status"] == "running"


def test_update_refuses_what_it_cannot_honour_by_name(env):
    b, rt, out = env
    started(b, rt, "u2")
    for args, needle in [(["--cpuset-cpus", "0"], "--cpuset-cpus"), (["--cpuset-mems", "0"], "--cpuset-mems"),
                         (["--blkio-weight", "500"], "--blkio-weight"), (["--kernel-memory", "10m"], "--kernel-memory"),
                         (["--kernel-memory-tcp", "10m"], "--kernel-memory-tcp"),
                         (["--cpu-rt-runtime", "100"], "--cpu-rt-runtime"), (["--l3-cache-schema", "L3:0=f"], "--l3-cache-schema"),
                         (["--mem-bw-schema", "MB:0=50"], "--mem-bw-schema"), (["--memory", "12q"], "--memory")]:
        line = one_line_error(rt("update", *args, "u2"), needle)
        assert last_log(rt)["msg"] == line.removeprefix("hardrun: ")
    for res, needle in [({"rdma": {"mlx5_1": {"hcaHandles": 3}}}, "linux.resources.rdma"),
                        ({"cpu": {"cpus": "0-1"}}, "linux.resources.cpu.cpus"),
                        ({"memory": {"limit": 1000}}, "6 MiB"),
                        ({"bogus": 1}, "bogus"),
                        ({"devices": [{"allow": True, "access": "rwm"}]}, "device rules")]:
        one_line_error(rt("update", "--resources", "-", "u2", stdin=json.dumps(res)), "update", needle)
    one_line_error(rt("update", "--resources", "-", "u2", stdin="{"), "update", "--resources (stdin)")
    # an option no verb knows is a usage error, written to --log too (an engine reads only that)
    line = one_line_error(rt("update", "--no-such-flag", "1", "u2"), "--no-such-flag")
    assert last_log(rt)["msg"] == line.removeprefix("hardrun: ")
    # the device rules it was created with are accepted (CRI sends them back with every update)
    rt.ok("update", "--resources", "-", "u2", stdin=json.dumps({"devices": b.config["linux"]["resources"]["devices"]}))


def test_hugepage_limits_at_create_and_update(env):
    """hugepageLimits as kubelet sends them (0 for a size the pod does not ask for): written to
    hugetlb.<size>.max at create, changed by update and read back in whole pages"""
    b, rt, out = env
    controllers = open(os.path.join(cgroup2_mount(), "cgroup.controllers")).read().split()
    if "hugetlb" not in controllers:
        b.config["linux"]["resources"]["hugepageLimits"] = [{"pageSize": "2MB", "limit": 0}]
        b.save()
        one_line_error(rt("create", "--bundle", b.dir, "h0"), "cgroups", "hugetlb")
        return
    if not os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no 2MB huge pages on this kernel")
    b.config["linux"]["resources"]["hugepageLimits"] = [{"pageSize": "2MB", "limit": 0}]
    b.save()
    pid, cg = started(b, rt, "h1")
    assert open(os.path.join(cg, "hugetlb.2MB.max")).read().strip() == "0"
    rt.ok("update", "--resources", "-", "h1",
          stdin=json.dumps({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * 1024 * 1024 + 1}]}))
    assert open(os.path.join(cg, "hugetlb.2MB.max")).read().strip() == str(4 * 1024 * 1024)


def test_update_fails_closed_without_the_controller(env):
    b, rt, out = env
    mount = cgroup2_mount()
    controllers = open(os.path.join(mount, "cgroup.controllers")).read().split()
    if "memory" in controllers or "pids" in controllers:
        pytest.skip("this host's cgroup v2 has controllers (the VM tier covers update)")
    pid, cg = started(b, rt, "u3")
    before = open(os.path.join(mount, "cgroup.subtree_control")).read()
    one_line_error(rt("update", "--memory", "64m", "u3"), "cgroups", "memory controller not available")
    # runc's -1 (unlimited) is a value, not an option
    one_line_error(rt("update", "--pids-limit", "-1", "u3"), "cgroups", "pids controller not available")
    assert open(os.path.join(mount, "cgroup.subtree_control")).read() == before
    assert not os.path.exists(os.path.join(cg, "memory.max"))
    rt.ok("kill", "u3", "KILL")
    wait_for(lambda: rt.state("u3")["status"] == "stopped", "the container to stop")
    one_line_error(rt("update", "--pids-limit", "10", "u3"), "update", "container not running (it is stopped)")


def test_features_lists_the_verbs():
    p = run_files([HARDRUN, "features"])
    verbs = json.loads(p.stdout)["annotations"]["org.hardrun.verbs"].split(",")
    assert {"pause", "resume", "update", "events"} <= set(verbs)
    for verb in ("pause", "resume", "update", "events"):
        h = run_files([HARDRUN, verb, "--help"])
        assert h.returncode == 0 and "Refused" not in h.stdout.splitlines()[0]
