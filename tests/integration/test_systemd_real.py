"""hardrun under a real systemd: Type=notify, --sd-notify=hardrun, socket activation, KillMode=mixed stops and
journal priorities, with systemd's own manager, systemd-run and systemctl.

Where systemd is not PID 1 (this project's CI machine), the test boots the host's /lib/systemd/systemd as PID 1
of new pid, mount and cgroup namespaces, the way a container manager does: a private /run, a cgroup2 mount of
a cgroup the test creates (and removes), and a target that pulls in nothing else, so the manager starts only
the units the tests give it (DefaultDependencies=no). It shares the host's filesystem and network namespace;
its journal is volatile (in its private /run). Everything is torn down by killing its PID 1.
"""
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest

from conftest import HARDRUN, ROOTFS, cgroup2_mount

SYSTEMD = "/lib/systemd/systemd"

BOOT = r'''
set -e
echo $$ > "$1/cgroup.procs"
exec unshare --pid --fork --mount --cgroup --propagation private --mount-proc sh -c '
  set -e
  mount -t tmpfs -o mode=0755,size=64m hardrun-test-run /run
  mount -t cgroup2 hardrun-test-cgroup /sys/fs/cgroup
  mkdir -p /run/systemd/system /run/systemd/journald.conf.d
  printf "[Unit]\nDescription=hardrun tests\nDefaultDependencies=no\n" > /run/systemd/system/hardrun-tests.target
  printf "[Journal]\nStorage=volatile\n" > /run/systemd/journald.conf.d/hardrun-tests.conf
  exec env -i container=hardrun-tests PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      /lib/systemd/systemd --system --unit=hardrun-tests.target --log-target=kmsg --log-level=notice
'
'''



def own_cgroup():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def remove_cgroup_tree(path):
    for _ in range(100):
        try:
            for root, dirs, _files in os.walk(path, topdown=False):
                for d in dirs:
                    os.rmdir(os.path.join(root, d))
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)  # processes of the killed namespace are still exiting
    raise RuntimeError(f"cannot remove {path}")


class Manager:
    def __init__(self, pid):
        self.pid = pid

    def run(self, *args, timeout=120, check=False):
        p = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p"] + list(args), capture_output=True,
                           text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, f"{args}: {p.stdout}{p.stderr}"
        return p

    def show(self, unit, *props):
        out = self.run("systemctl", "show", unit, *[f"-p{p}" for p in props], check=True).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def result(self, unit):
        """What systemd told ExecStopPost= (a stopped transient unit is unloaded at once, its state with it)."""
        return self.run("cat", f"/run/{unit}.result", check=True).stdout.split()

    def write_unit(self, name, text):
        p = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", "sh", "-c",
                            "cat > " + shlex.quote(f"/run/systemd/system/{name}")], input=text, text=True,
                           capture_output=True)
        assert p.returncode == 0, p.stderr


@pytest.fixture(scope="module")
def systemd():
    if os.geteuid() != 0:
        pytest.skip("booting a systemd manager needs root")
    for tool in ("unshare", "nsenter", "systemd-run", "systemctl", "journalctl"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    if not os.access(SYSTEMD, os.X_OK):
        pytest.skip(f"{SYSTEMD} is not installed")
    mount, own = cgroup2_mount(), own_cgroup()
    if not mount or own is None:
        pytest.skip("no cgroup v2 hierarchy to give the manager")
    cg = os.path.join(mount + own.rstrip("/"), "hardrun-test-systemd-" + uuid.uuid4().hex[:8])
    os.mkdir(cg)
    boot = subprocess.Popen(["sh", "-c", BOOT, "sh", cg], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    manager = None
    try:
        deadline = time.monotonic() + 60
        while manager is None:
            try:
                with open(os.path.join(cg, "init.scope", "cgroup.procs")) as f:
                    pids = f.read().split()
                if pids:
                    m = Manager(int(pids[0]))
                    if m.run("systemctl", "is-system-running").stdout.strip() in ("running", "degraded"):
                        manager = m
            except FileNotFoundError:
                pass
            if manager is None:
                assert boot.poll() is None, "the systemd manager exited while booting"
                assert time.monotonic() < deadline, "the systemd manager did not reach 'running'"
                time.sleep(0.1)
        manager.run("systemctl", "start", "systemd-journald.socket", "systemd-journald.service", check=True)
        yield manager
    finally:
        if manager:
            try:
                os.kill(manager.pid, signal.SIGKILL)  # PID 1 of its namespace: everything in it dies
            except ProcessLookupError:
                pass
        boot.kill()
        boot.wait()
        remove_cgroup_tree(cg)


def hardrun_unit(systemd, name, props, hardrun_args, script):
    cmd = ["systemd-run", "--unit", name, "-p", "DefaultDependencies=no", "-p", "TimeoutStartSec=60",
           "-p", "TimeoutStopSec=30", "-p", f"ExecStopPost=/bin/sh -c 'echo $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS "
           f"> /run/{name}.result'"]
    for p in props:
        cmd += ["-p", p]
    return systemd.run(*cmd, HARDRUN, "run", "--rootfs", ROOTFS, *hardrun_args, "--", "sh", "-c", script)


def test_type_notify_from_the_workload_and_stop(systemd, tmp_path):
    out = tmp_path / "out"
    os.chmod(tmp_path, 0o755)
    script = ("trap 'echo stopping; exit 0' TERM; echo sock=$NOTIFY_SOCKET; "
              "sd_notify_send --barrier READY=1 STATUS=serving; while :; do sleep 1; done")
    # systemd-run waits for the start job: for Type=notify that is READY=1, sent from inside the sandbox
    p = hardrun_unit(systemd, "hr-notify", ["Type=notify", "NotifyAccess=all", "KillMode=mixed",
                                            f"StandardOutput=file:{out}"], ["--init"], script)
    assert p.returncode == 0, p.stderr
    st = systemd.show("hr-notify", "ActiveState", "SubState", "StatusText", "MainPID")
    assert (st["ActiveState"], st["SubState"], st["StatusText"]) == ("active", "running", "serving"), st
    systemd.run("systemctl", "stop", "hr-notify", check=True)
    assert systemd.result("hr-notify") == ["success", "exited", "0"]
    text = out.read_text()
    assert "sock=/dev/.hardrun-notify" in text
    assert "stopping" in text  # SIGTERM reached the workload through hardrun and its init


def test_sd_notify_hardrun_for_a_workload_without_the_protocol(systemd):
    p = hardrun_unit(systemd, "hr-ready", ["Type=notify", "KillMode=mixed", "SuccessExitStatus=143"],
                     ["--init", "--sd-notify=hardrun"], "exec sleep 1000")
    assert p.returncode == 0, p.stderr  # NotifyAccess=main (the default) suffices: hardrun is the main pid
    st = systemd.show("hr-ready", "ActiveState", "StatusText", "MainPID")
    assert st["ActiveState"] == "active"
    assert st["StatusText"].startswith("hardrun: workload running (pid ")
    systemd.run("systemctl", "stop", "hr-ready", check=True)
    # sleep died of the forwarded SIGTERM: hardrun exits 128+15, which the unit counts as success
    assert systemd.result("hr-ready") == ["success", "exited", "143"]


def test_a_start_failure_fails_the_unit_and_reaches_the_journal_as_an_error(systemd):
    p = systemd.run("systemd-run", "--unit", "hr-broken", "-p", "DefaultDependencies=no", "-p", "Type=notify",
                    "-p", "NotifyAccess=all", HARDRUN, "run", "--rootfs", "/nonexistent/rootfs", "--", "true")
    assert p.returncode != 0
    st = systemd.show("hr-broken", "Result", "ExecMainStatus")
    assert st == {"Result": "exit-code", "ExecMainStatus": "125"}, st
    # hardrun's error line carries priority 3 (<3>, JOURNAL_STREAM): journalctl -p err finds it
    log = systemd.run("journalctl", "--no-pager", "-o", "cat", "-u", "hr-broken", "-p", "err", check=True).stdout
    assert "hardrun: --rootfs: '/nonexistent/rootfs'" in log, log
    assert "<3>" not in log  # the prefix became the priority, it is not part of the message


def test_socket_activation_from_a_socket_unit(systemd, tmp_path):
    out = tmp_path / "out"
    os.chmod(tmp_path, 0o755)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    systemd.write_unit("hr-sock.socket", f"[Unit]\nDefaultDependencies=no\n[Socket]\nListenStream=127.0.0.1:{port}\n"
                                         "FileDescriptorName=web\n")
    systemd.write_unit("hr-sock.service", "[Unit]\nDefaultDependencies=no\n[Service]\nType=notify\nNotifyAccess=all\n"
                                          f"StandardOutput=file:{out}\nKillMode=mixed\n"
                                          f"ExecStart={HARDRUN} run --rootfs {ROOTFS} -- sh -c "
                                          "'sd_notify_send --barrier READY=1 >/dev/null; exec sd_listen accept'\n")
    systemd.run("systemctl", "daemon-reload", check=True)
    systemd.run("systemctl", "start", "hr-sock.socket", check=True)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
            reply = c.makefile().readline()
    finally:
        systemd.run("systemctl", "stop", "hr-sock.socket", "hr-sock.service")
    # systemd started the service on the first connection; the workload accepted it on its fd 3, from a
    # network namespace of its own
    assert reply == "hello from pid 1\n", out.read_text() if out.exists() else ""
    text = out.read_text()
    assert "pid=1 listen_pid=1 listen_fds=1 names=web" in text
    assert "open=0,1,2,3\n" in text


def test_delegate_yes_puts_the_limited_workload_inside_the_unit(systemd, tmp_path):
    controllers = systemd.run("cat", "/sys/fs/cgroup/cgroup.controllers", check=True).stdout.split()
    if not {"memory", "pids"} <= set(controllers):
        pytest.skip(f"the cgroup v2 hierarchy here has no memory/pids controllers ({controllers}); the VM tier "
                    "covers cgroup limits")
    out = tmp_path / "out"
    os.chmod(tmp_path, 0o755)
    script = "cat /proc/self/cgroup; sd_notify_send --barrier READY=1 >/dev/null; exec sleep 1000"
    p = hardrun_unit(systemd, "hr-limits", ["Type=notify", "NotifyAccess=all", "KillMode=mixed", "Delegate=yes",
                                            "SuccessExitStatus=143", f"StandardOutput=file:{out}"],
                     ["--init", "--memory", "64m", "--pids-limit", "32"], script)
    try:
        assert p.returncode == 0, p.stderr  # READY=1 accepted: the workload's cgroup is inside the unit's
        unit_cg = systemd.show("hr-limits", "ControlGroup")["ControlGroup"]
        tree = systemd.run("find", "/sys/fs/cgroup" + unit_cg, "-maxdepth", "1", "-type", "d", check=True).stdout.split()
        workload = [d for d in tree if os.path.basename(d).startswith("hardrun-") and not d.endswith("-supervisor")]
        assert len(workload) == 1, tree
        assert systemd.run("cat", workload[0] + "/memory.max", check=True).stdout.strip() == str(64 << 20)
        assert systemd.run("cat", workload[0] + "/pids.max", check=True).stdout.strip() == "32"
    finally:
        systemd.run("systemctl", "stop", "hr-limits")
    assert systemd.result("hr-limits") == ["success", "exited", "143"]


def test_the_shipped_template_unit_runs_a_bundle(systemd, tmp_path):
    """contrib/systemd/hardrun@.service as shipped (ExecStart pointed at the binary under test), one instance per
    bundle path; a drop-in only keeps this test manager from pulling in the host's sysinit.target."""
    import json
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    os.chmod(tmp_path, 0o755)
    subprocess.run([HARDRUN, "spec", "--bundle", str(bundle)], check=True, capture_output=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    config["root"]["path"] = ROOTFS
    (bundle / "config.json").write_text(json.dumps(config))
    template = open(os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "systemd",
                                 "hardrun@.service")).read().replace("/usr/bin/hardrun", HARDRUN)
    systemd.write_unit("hardrun@.service", template)
    instance = subprocess.run(["systemd-escape", "--path", "--template=hardrun@.service", str(bundle)],
                              capture_output=True, text=True, check=True).stdout.strip()
    systemd.run("mkdir", "-p", f"/run/systemd/system/{instance}.d", check=True)
    systemd.write_unit(f"{instance}.d/test.conf",
                       "[Unit]\nDefaultDependencies=no\n[Service]\n"
                       "ExecStopPost=/bin/sh -c 'echo $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS > /run/template.result'\n")
    systemd.run("systemctl", "daemon-reload", check=True)
    try:
        # Type=notify with --sd-notify=hardrun (the template's default): started = the bundle's process runs
        systemd.run("systemctl", "start", instance, check=True)
        st = systemd.show(instance, "ActiveState", "StatusText", "Description")
        assert st["ActiveState"] == "active", st
        assert st["StatusText"].startswith("hardrun: workload running"), st
        assert st["Description"] == f"hardrun sandbox for the OCI bundle {bundle}"  # %f: the bundle's path
    finally:
        systemd.run("systemctl", "stop", instance)
    assert systemd.result("template") == ["success", "exited", "0"]
