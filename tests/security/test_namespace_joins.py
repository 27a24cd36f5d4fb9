"""Namespaces joined by path (OCI linux.namespaces[].path), issue 12 items 4 and 5.

4. Joining a pid namespace by path must put the workload itself inside it: setns(CLONE_NEWPID) moves only the
   caller's future children, so hardrun joins it before the container process is created. Checked from inside:
   the workload's own pid namespace (readlink /proc/self/ns/pid), its pid there, and what its /proc shows.
5. The host-namespace sysctl refusal must hold against a path swapped between the check and the join: each
   namespace is opened once, the open fd is checked (against /proc/1/ns and hardrun's own) and that same fd is
   joined. A racer exchanges a symlink to a foreign network namespace with one to the host's while bundles set
   net.core.somaxconn; the host's value must never change."""
import os
import subprocess
import time

import pytest

from secutil import Bundle, HELPERS, IS_ROOT, runtime

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="joining namespaces by path: the OCI tests run as root")


def _inner_pid(outer):
    """The pid of unshare's forked child (the namespace's init)."""
    for _ in range(200):
        try:
            kids = open(f"/proc/{outer}/task/{outer}/children").read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.01)
    raise AssertionError("unshare did not fork")


@pytest.fixture
def foreign(request):
    """A process in fresh namespaces of the kinds given (unshare), ended afterwards; yields its pid."""
    flags = request.param
    outer = subprocess.Popen(["unshare"] + flags + ["sleep", "120"])
    try:
        pid = _inner_pid(outer.pid) if "--fork" in flags else outer.pid
        yield pid
    finally:
        outer.kill()
        outer.wait()


def _set_ns(cfg, kind, path):
    nss = [n for n in cfg["linux"]["namespaces"] if n["type"] != kind]
    nss.append({"type": kind, "path": path})
    cfg["linux"]["namespaces"] = nss


@pytest.mark.parametrize("foreign", [["--pid", "--fork"]], indirect=True)
def test_joined_pid_namespace_holds_the_workload_itself(tmp_path, foreign):
    target = f"/proc/{foreign}/ns/pid"
    b = Bundle(tmp_path)
    _set_ns(b.config, "pid", target)
    b.args("sh", "-c", "echo $$; readlink /proc/self/ns/pid; ls /proc | grep -c '^[0-9]'")
    p = runtime(tmp_path / "state", "run", "--bundle", b.dir, "pidjoin")
    assert p.returncode == 0, p.stderr
    pid, ns, count = p.stdout.split()
    assert ns == f"pid:[{os.stat(target).st_ino}]", (ns, "the workload is not in the namespace it joined")
    assert int(pid) < 100, f"the workload has pid {pid}: a host pid, not one of the joined namespace"
    assert int(count) <= 5, f"the workload's /proc shows {count} processes: the host's, not the namespace's"


@pytest.mark.parametrize("foreign", [["--net"]], indirect=True)
def test_host_namespace_sysctl_refusal_holds_against_a_swapped_path(tmp_path, foreign):
    host_file = "/proc/sys/net/core/somaxconn"
    before = open(host_file).read().strip()
    value = "4097" if before != "4097" else "4098"
    links = tmp_path / "links"
    links.mkdir()
    a, bpath = links / "a", links / "b"
    os.symlink(f"/proc/{foreign}/ns/net", a)   # the namespace the check sees...
    os.symlink(f"/proc/{os.getpid()}/ns/net", bpath)  # ...and the host's (ours), exchanged with it all the time
    b = Bundle(tmp_path)
    _set_ns(b.config, "network", str(a))
    b.config["linux"]["sysctl"] = {"net.core.somaxconn": value}
    b.args("true")
    swapper = subprocess.Popen([os.path.join(HELPERS, "secprobe"), "swap", str(a), str(bpath)])
    ran = refused = 0
    try:
        for i in range(60):
            p = runtime(tmp_path / "state", "run", "--bundle", b.dir, f"swap{i}")
            changed = open(host_file).read().strip() != before
            if changed:
                with open(host_file, "w") as f:  # put the host back before failing
                    f.write(before)
            assert not changed, f"launch {i} wrote net.core.somaxconn={value} into the host's namespace"
            if p.returncode == 0:
                ran += 1
            else:
                assert "host" in p.stderr, p.stderr
                refused += 1
    finally:
        swapper.kill()
        swapper.wait()
    print("ran", ran, "refused", refused)
    assert ran and refused, (ran, refused)  # the race went both ways


def _probe(b, name):
    import json
    from secutil import HARDRUN
    p = subprocess.run([HARDRUN, "check", "--bundle", b.dir, "--probe", name, "--format", "json", "-q"],
                       capture_output=True, text=True, timeout=120)
    return json.loads(p.stdout)["probes"][0]


@pytest.mark.parametrize("foreign", [["--pid", "--fork"]], indirect=True)
def test_host_pid_namespace_probe(tmp_path, foreign):
    """The probe is blocked in a joined pid namespace and in a new one, and not blocked without one."""
    b = Bundle(tmp_path)
    b.args("true")
    assert _probe(b, "host-pid-namespace")["verdict"] == "blocked"
    _set_ns(b.config, "pid", f"/proc/{foreign}/ns/pid")
    b.save()
    r = _probe(b, "host-pid-namespace")
    assert r["verdict"] == "blocked", r
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "pid"]
    b.save()
    r = _probe(b, "host-pid-namespace")
    assert r["verdict"] == "not-blocked", r
    assert "NOT blocked" in r["expected"], r
