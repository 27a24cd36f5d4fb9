"""Debian's redis-server run hardened from the image, as docs/services.md recommends:

    hardrun run --rootfs IMAGE -v HOSTDIR:/run/redis \
        -- redis-server --port 0 --unixsocket /run/redis/redis.sock --save '' --appendonly no

as uid 10001 with no capability and no config file (Debian's /etc/redis/redis.conf is readable by the redis
user only, and daemonizes): a cache that keeps nothing on disk, served to the host's redis-cli through a unix
socket in a volume, and through -p.
"""
import json
import os
import signal
import subprocess

import pytest

from services import HARDRUN, IMAGE, answers, assert_hardened, free_port, host_tool, shared_dir, wait_for

SERVER = ["redis-server", "--save", "", "--appendonly", "no"]


def cli(*args, timeout=20):
    p = subprocess.run([host_tool("redis-cli")] + list(args), capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def use(*where):
    assert cli(*where, "PING") == "PONG"
    assert cli(*where, "SET", "greeting", "hello from redis") == "OK"
    assert cli(*where, "GET", "greeting") == "hello from redis"


SHUTDOWN = ("Received SIGTERM scheduling shutdown", "Redis is now ready to exit, bye bye...")  # the service's own shutdown lines


def test_redis_unix_socket_in_volume(image_snapshot, service, workdir):
    sock = shared_dir(workdir, "redis", 10001, 10001)
    svc = service(["-v", f"{sock}:/run/redis", "--"] + SERVER +
                  ["--port", "0", "--unixsocket", "/run/redis/redis.sock"])
    path = os.path.join(sock, "redis.sock")
    svc.wait_until(answers(lambda: cli("-s", path, "PING")), "redis to answer on its unix socket")
    use("-s", path)
    assert_hardened(svc, 10001)
    svc.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()


def test_redis_published_port(image_snapshot, service):
    port = free_port()
    svc = service(["-p", f"127.0.0.1:{port}:6379", "--"] + SERVER + ["--bind", "0.0.0.0", "--protected-mode", "no"])
    where = ("-h", "127.0.0.1", "-p", str(port))
    svc.wait_until(answers(lambda: cli(*where, "PING")), f"redis to answer on port {port}")
    use(*where)
    assert_hardened(svc, 10001)
    svc.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()


def test_redis_checked_under_the_profile_recorded_from_it(image_snapshot, workdir):
    # issue 15 item 2 on a real service: `seccomp record` writes redis' own profile (which refuses sendmsg: redis
    # never calls it), and `check` then runs redis under that profile with its report, drives it and stops it.
    # Before, --report and check refused every such profile ("--report needs the profile to allow sendmsg").
    sock = shared_dir(workdir, "redis", 10001, 10001)
    path = os.path.join(sock, "redis.sock")
    profile = os.path.join(workdir, "redis.json")
    args = ["--rootfs", IMAGE, "-v", f"{sock}:/run/redis", "--"] + SERVER + ["--port", "0", "--unixsocket", "/run/redis/redis.sock"]
    rec = subprocess.Popen([HARDRUN, "seccomp", "record", "-q", "-o", profile] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(answers(lambda: cli("-s", path, "PING")), "redis to answer under seccomp record", timeout=90)
        use("-s", path)
        rec.send_signal(signal.SIGTERM)
        out, err = rec.communicate(timeout=60)
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.wait()
    assert rec.returncode == 0, err
    doc = json.load(open(profile))
    allowed = {n for r in doc["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert "sendmsg" not in allowed and doc["defaultAction"] == "SCMP_ACT_ERRNO", sorted(allowed)
    exercise = f"{host_tool('redis-cli')} -s {path} SET k v && {host_tool('redis-cli')} -s {path} GET k | grep -qx v"
    check = subprocess.run([HARDRUN, "check", "-q", "--format", "json", "--exercise",
                            f"for i in $(seq 100); do {host_tool('redis-cli')} -s {path} PING && break; sleep 0.3; done; {exercise}",
                            "--security-opt", f"seccomp={profile}"] + args,
                           capture_output=True, text=True, timeout=180)
    assert check.returncode == 0, (check.returncode, check.stderr, check.stdout[-3000:])
    report = json.loads(check.stdout)
    assert report["findings"] == [], report["findings"]
    # redis served the client's SET and GET under its own profile, then stopped cleanly on check's SIGTERM
    assert report["serve"]["exercise_status"] == 0 and report["serve"]["stopped_by_check"], report["serve"]
    assert report["outcome"]["exit_code"] == 0 and report["verdict"].startswith("the workload succeeded"), report["verdict"]
    seccomp = next(l for l in report["layers"] if l["name"] == "seccomp")
    assert seccomp["status"] == "ok" and profile in seccomp["asked"], seccomp
    image_snapshot.check()
