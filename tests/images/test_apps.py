"""A python service (tests/images/data/server.py, http.server) and a node service (server.js, node:http) run
hardened with the image's python3 and nodejs, as docs/services.md recommends:

    hardrun run --rootfs IMAGE -v APPDIR:/srv:ro -v HOSTDIR:/run/app -- python3 /srv/server.py --unix /run/app/app.sock
    hardrun run --rootfs IMAGE -v APPDIR:/srv:ro -v HOSTDIR:/run/app -- node /srv/server.js --unix /run/app/app.sock

as uid 10001 with no capability: the code in a read-only (and, by default, noexec) volume at the image's empty
/srv, which the interpreter reads and never executes. Reached by the host's HTTP client through a unix socket in
a volume (root and rootless), through socket activation (a listening socket as fd 3, LISTEN_FDS=1, in a sandbox
whose network has only loopback), and through -p.
"""
import os

import pytest

from services import (UNPRIV_UID, answers, assert_hardened, free_port, http_get, listening_socket, shared_dir)

# the language -> the server's command line and its answer
APPS = {
    "python": (["python3", "/srv/server.py"], "hello from python\n"),
    "node": (["node", "/srv/server.js"], "hello from node\n"),
}
USERS = pytest.mark.parametrize("user", [None, UNPRIV_UID], ids=["root", "rootless"])
LANGS = pytest.mark.parametrize("lang", list(APPS))


def code(workdir):
    return ["-v", f"{workdir}/data:/srv:ro"]


SHUTDOWN = ("stopped cleanly",)  # the service's own shutdown lines


@LANGS
@USERS
def test_app_unix_socket_in_volume(image_snapshot, service, workdir, lang, user):
    server, hello = APPS[lang]
    uid = 10001 if user is None else user
    sock = shared_dir(workdir, "app", uid, uid)
    svc = service(code(workdir) + ["-v", f"{sock}:/run/app", "--"] + server + ["--unix", "/run/app/app.sock"],
                  user=user)
    path = os.path.join(sock, "app.sock")
    svc.wait_until(answers(lambda: http_get(unix=path)), f"the {lang} service to answer on its unix socket")
    assert http_get(unix=path) == (200, hello)
    assert_hardened(svc, uid)
    svc.stopped_cleanly(*SHUTDOWN)
    assert not os.path.exists(path)  # its own cleanup ran
    image_snapshot.check()


@LANGS
@USERS
def test_app_socket_activation(image_snapshot, service, workdir, lang, user):
    server, hello = APPS[lang]
    listener = listening_socket()
    port = listener.getsockname()[1]
    svc = service(code(workdir) + ["--"] + server, user=user, listen_fd=listener.fileno())
    listener.close()  # hardrun holds it now
    url = f"http://127.0.0.1:{port}"
    svc.wait_until(lambda: "listening on fd 3" in svc.output(), f"the {lang} service to take fd 3")
    assert http_get(url) == (200, hello)
    assert_hardened(svc, 10001 if user is None else user)
    svc.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()


@LANGS
def test_app_published_port(image_snapshot, service, workdir, lang):
    server, hello = APPS[lang]
    port = free_port()
    svc = service(code(workdir) + ["-p", f"127.0.0.1:{port}:8000", "--"] + server + ["--port", "8000"])
    url = f"http://127.0.0.1:{port}"
    svc.wait_until(answers(lambda: http_get(url)), f"the {lang} service to answer on {url}")
    assert http_get(url) == (200, hello)
    assert_hardened(svc, 10001)
    svc.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()
