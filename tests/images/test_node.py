"""A node service (tests/images/data/server.js, node:http) run hardened with the image's nodejs, as
docs/services.md recommends:

    hardrun run --rootfs IMAGE -v APPDIR:/srv:ro -v HOSTDIR:/run/app -- node /srv/server.js --unix /run/app/app.sock

as uid 10001 with no capability: the code in a read-only (and, by default, noexec) volume at the image's empty
/srv, which node reads and never executes. Reached by the host's HTTP client through a unix socket in a
volume (root and rootless), through socket activation (a listening socket as fd 3, LISTEN_FDS=1, in a sandbox
whose network has only loopback), and through -p.
"""
import os

import pytest

from services import (UNPRIV_UID, answers, assert_hardened, free_port, http_get, listening_socket, shared_dir)



def code(workdir):
    return ["-v", f"{workdir}/data:/srv:ro"]
SERVER = ["node", "/srv/server.js"]
HELLO = "hello from node\n"


def stopped_cleanly(svc):
    rc = svc.stop()
    out = svc.output()
    assert rc == 0, f"exit {rc}:\n{out}"
    assert "stopped cleanly" in out, out


@pytest.mark.parametrize("user", [None, UNPRIV_UID], ids=["root", "rootless"])
def test_node_unix_socket_in_volume(image_snapshot, service, workdir, user):
    uid = 10001 if user is None else user
    sock = shared_dir(workdir, "app", uid, uid)
    svc = service(code(workdir) + ["-v", f"{sock}:/run/app", "--"] + SERVER + ["--unix", "/run/app/app.sock"],
                  user=user)
    path = os.path.join(sock, "app.sock")
    svc.wait_until(answers(lambda: http_get(unix=path)), "the node service to answer on its unix socket")
    assert http_get(unix=path) == (200, HELLO)
    assert_hardened(svc, uid)
    stopped_cleanly(svc)
    assert not os.path.exists(path)  # its own cleanup ran
    image_snapshot.check()


@pytest.mark.parametrize("user", [None, UNPRIV_UID], ids=["root", "rootless"])
def test_node_socket_activation(image_snapshot, service, workdir, user):
    listener = listening_socket()
    port = listener.getsockname()[1]
    svc = service(code(workdir) + ["--"] + SERVER, user=user, listen_fd=listener.fileno())
    listener.close()  # hardrun holds it now
    url = f"http://127.0.0.1:{port}"
    svc.wait_until(lambda: "listening on fd 3" in svc.output(), "the node service to take fd 3")
    assert http_get(url) == (200, HELLO)
    assert_hardened(svc, 10001 if user is None else user)
    stopped_cleanly(svc)
    image_snapshot.check()


def test_node_published_port(image_snapshot, service, workdir):
    port = free_port()
    svc = service(code(workdir) + ["-p", f"127.0.0.1:{port}:8000", "--"] + SERVER + ["--port", "8000"])
    url = f"http://127.0.0.1:{port}"
    svc.wait_until(answers(lambda: http_get(url)), f"the node service to answer on {url}")
    assert http_get(url) == (200, HELLO)
    assert_hardened(svc, 10001)
    stopped_cleanly(svc)
    image_snapshot.check()
