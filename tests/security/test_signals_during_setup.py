"""A launch ends on SIGINT/SIGTERM at any moment (issue 12, item 8).

The supervisor blocks the signals it forwards from just before clone until the workload runs; while it waited
for the child's report or for a hook, a SIGTERM or ^C did nothing, so a stuck setup could not be interrupted.
Now a terminating signal that arrives before the workload runs ends the launch cleanly: whatever hardrun
started for it (the container process, a running hook) is killed and reaped, the cgroup and the state are
removed, and hardrun exits 128+signal like docker. Here a hook that sleeps holds the setup: a prestart hook
(run by the supervisor) and a startContainer hook (run by the container process, while the supervisor waits
for its report)."""
import os
import signal
import subprocess
import time

import pytest

from secutil import Bundle, HARDRUN, IS_ROOT

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the OCI runtime tests run as root")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(path, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.parametrize("kind", ["prestart", "startContainer"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_a_launch_stuck_in_setup(tmp_path, host_dir, kind, sig):
    os.chmod(host_dir, 0o777)
    b = Bundle(tmp_path)
    marker = os.path.join(str(host_dir), "hook.pid")
    script = f"#!/bin/sh\necho $$ > {marker}\nexec sleep 60\n"
    if kind == "prestart":
        hook = tmp_path / "hook.sh"
        hook.write_text(script)
        hook.chmod(0o755)
        path = str(hook)
    else:  # runs in the container: the marker goes through a volume
        b.config["mounts"].append({"destination": str(host_dir), "type": "bind", "source": str(host_dir),
                                   "options": ["rbind", "rw"]})
        with open(os.path.join(b.rootfs, "hook.sh"), "w") as f:
            f.write(script)
        os.chmod(os.path.join(b.rootfs, "hook.sh"), 0o755)
        path = "/hook.sh"
    b.config["hooks"] = {kind: [{"path": path}]}
    b.args("true")
    state = tmp_path / "state"
    proc = subprocess.Popen([HARDRUN, "--root", str(state), "run", "--bundle", b.dir, "stuck"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        hook_pid = int(wait_for(marker))
        if kind == "startContainer":  # the hook sees its own pid namespace: find it on the host
            hook_pid = next(int(p) for p in os.listdir("/proc") if p.isdigit() and _is_hook_sleep(int(p), marker))
        proc.send_signal(sig)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"hardrun ignored {sig.name} while a {kind} hook held the setup")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 128 + sig, (rc, proc.stderr.read())
    for _ in range(100):
        if not alive(hook_pid):
            break
        time.sleep(0.05)
    assert not alive(hook_pid), f"the {kind} hook (pid {hook_pid}) outlived the launch"
    assert not os.path.exists(state / "stuck"), "the container's state was left behind"


def _is_hook_sleep(pid, marker):
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        env = open(f"/proc/{pid}/status").read()
    except OSError:
        return False
    return cmd[:2] == [b"sleep", b"60"] and "NSpid" in env and len(
        [x for x in env.split("NSpid:")[1].splitlines()[0].split() if x]) == 2
