"""Debian's redis-server run hardened from the image, as docs/services.md recommends:

    hardrun run --rootfs IMAGE -v HOSTDIR:/run/redis \
        -- redis-server --port 0 --unixsocket /run/redis/redis.sock --save '' --appendonly no

as uid 10001 with no capability and no config file (Debian's /etc/redis/redis.conf is readable by the redis
user only, and daemonizes): a cache that keeps nothing on disk, served to the host's redis-cli through a unix
socket in a volume, and through -p.
"""
import os
import subprocess

import pytest

from services import answers, assert_hardened, free_port, host_tool, shared_dir

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
