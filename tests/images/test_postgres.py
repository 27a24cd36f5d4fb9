"""Debian's PostgreSQL 15 run hardened from the image, as docs/services.md recommends.

postgres refuses to run as root and insists that its data directory belongs to the uid it runs as, so it runs
as the image's own postgres user (-u with the image's numeric ids); it holds no capability. Debian's config
(/etc/postgresql/15/main) turns SSL on with the snakeoil key, readable by the ssl-cert group only
(--group-add ssl-cert), and puts its socket and pid file in /run/postgresql, here a volume the host's psql
connects through. Two ways to keep the data:

- ephemeral: the image's own cluster copied into a tmpfs owned by postgres (tmpcopyup, uid=, gid=);
- persistent: a host directory owned by postgres as the data directory, initialised by initdb in the sandbox
  and kept across restarts.

Stopped with SIGTERM (postgres' 'smart' shutdown), it logs 'database system is shut down' and exits 0.
"""
import os
import subprocess

import pytest

from services import (IMAGE, answers, assert_hardened, assert_unchanged, free_port, host_tool, image_ids, shared_dir,
                      snapshot)

PG_UID, PG_GID = image_ids("postgres")
BIN = "/usr/lib/postgresql/15/bin"
MAIN = "/var/lib/postgresql/15/main"
CONF = "/etc/postgresql/15/main/postgresql.conf"
AS_POSTGRES = ["-u", f"{PG_UID}:{PG_GID}", "--group-add", "ssl-cert"]
SERVER = [f"{BIN}/postgres", "-D", MAIN, "-c", f"config_file={CONF}"]


def psql(*args, host, port=None, password=None, timeout=30):
    """The host's psql as the image's postgres uid (Debian's pg_hba.conf: peer authentication on the socket,
    the server reads the client's uid and looks it up in the image's /etc/passwd), or with a password."""
    cmd = [host_tool("psql"), "-X", "-q", "-At", "-h", host, "-U", "postgres", "-d", "postgres"]
    if port:
        cmd += ["-p", str(port)]
    env = dict(os.environ, PGCONNECT_TIMEOUT="5")
    if password is not None:
        env["PGPASSWORD"] = password
    else:
        cmd = ["setpriv", f"--reuid={PG_UID}", f"--regid={PG_GID}", "--clear-groups"] + cmd
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout, env=env, cwd="/")
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


SHUTDOWN = ("received smart shutdown request", "database system is shut down")  # the service's own shutdown lines


def wait_ready(svc, host, port=None):
    svc.wait_until(answers(lambda: psql("-c", "select 1", host=host, port=port)), "postgres to accept connections")


def test_postgres_ephemeral_unix_socket_in_volume(image_snapshot, service, workdir):
    sock = shared_dir(workdir, "sock", PG_UID, PG_GID, mode=0o2775)
    svc = service(AS_POSTGRES + ["--tmpfs", f"{MAIN}:tmpcopyup,uid={PG_UID},gid={PG_GID},mode=0700",
                                 "-v", f"{sock}:/run/postgresql", "--"] + SERVER)
    wait_ready(svc, sock)
    psql("-c", "create table t (v text)", "-c", "insert into t values ('hello from postgres')", host=sock)
    assert psql("-c", "select v from t", host=sock) == "hello from postgres"
    assert psql("-c", "show ssl", host=sock) == "on"
    assert_hardened(svc, PG_UID)
    svc.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()


def test_postgres_persistent_data_volume(image_snapshot, service, workdir):
    data = shared_dir(workdir, "pgdata", PG_UID, PG_GID, mode=0o700)
    sock = shared_dir(workdir, "sock", PG_UID, PG_GID, mode=0o2775)
    volumes = ["-v", f"{data}:{MAIN}", "-v", f"{sock}:/run/postgresql"]
    init = service(AS_POSTGRES + volumes + ["--", f"{BIN}/initdb", "-D", MAIN, "-U", "postgres",
                                            "--auth-local=peer", "--auth-host=scram-sha-256"])
    assert init.proc.wait(timeout=180) == 0, init.output()
    assert os.path.isfile(os.path.join(data, "PG_VERSION"))
    svc = service(AS_POSTGRES + volumes + ["--"] + SERVER)
    wait_ready(svc, sock)
    psql("-c", "create table t (v text)", "-c", "insert into t values ('kept')", host=sock)
    assert_hardened(svc, PG_UID)
    svc.stopped_cleanly(*SHUTDOWN)
    again = service(AS_POSTGRES + volumes + ["--"] + SERVER)
    wait_ready(again, sock)
    assert psql("-c", "select v from t", host=sock) == "kept"
    again.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()


def test_postgres_read_write_leaves_the_image_unchanged(service, workdir):
    """--read-write instead of a tmpfs: postgres writes its lock file, WAL and tables into the image's own
    cluster (owned by postgres), in a writable layer that goes away with the sandbox. On a private copy of the
    image, since today those writes land in the tree itself."""
    image = os.path.join(workdir, "image")
    subprocess.run(["cp", "-a", IMAGE, image], check=True, timeout=600)
    before = snapshot(image)
    sock = shared_dir(workdir, "sock", PG_UID, PG_GID, mode=0o2775)
    svc = service(AS_POSTGRES + ["--read-write", "-v", f"{sock}:/run/postgresql", "--"] + SERVER, rootfs=image)
    wait_ready(svc, sock)
    psql("-c", "create table t (v text)", "-c", "insert into t values ('gone after the run')", host=sock)
    svc.stopped_cleanly(*SHUTDOWN)
    assert_unchanged(before, snapshot(image))


def test_postgres_published_port(image_snapshot, service, workdir):
    """-p for TCP clients: the password is set through the socket first (peer), then used over TCP with SSL."""
    port = free_port()
    sock = shared_dir(workdir, "sock", PG_UID, PG_GID, mode=0o2775)
    svc = service(AS_POSTGRES + ["--tmpfs", f"{MAIN}:tmpcopyup,uid={PG_UID},gid={PG_GID},mode=0700",
                                 "-v", f"{sock}:/run/postgresql",
                                 "-p", f"127.0.0.1:{port}:5432", "--"] + SERVER + ["-c", "listen_addresses=*"])
    wait_ready(svc, sock)
    psql("-c", "alter user postgres password 'hardrun-test'", host=sock)
    assert psql("-c", "select ssl from pg_stat_ssl where pid = pg_backend_pid()", host="127.0.0.1", port=port,
                password="hardrun-test") == "t"
    assert_hardened(svc, PG_UID)
    svc.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()
