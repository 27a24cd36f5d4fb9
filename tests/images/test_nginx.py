"""Debian's nginx (nginx-light) run hardened from the image, as docs/services.md recommends:

    hardrun run --rootfs IMAGE --tmpfs /run --tmpfs /var/lib/nginx --tmpfs /var/log/nginx \
        -- nginx -g 'daemon off; error_log stderr notice;'

as uid 10001 with no capability: Debian's config keeps its 'user www-data' (ignored, with a warning, by a
master that is not root), writes its pid to /run, its temp files to /var/lib/nginx and its access log to
/var/log/nginx. Served to the host's HTTP client through a unix socket in a volume, and through -p.
"""
import os
import re

import pytest

from services import (UNPRIV_UID, answers, assert_hardened, free_port, http_get, shared_dir)

NGINX = ["--tmpfs", "/run", "--tmpfs", "/var/lib/nginx", "--tmpfs", "/var/log/nginx"]
CMD = ["--", "nginx", "-g", "daemon off; error_log stderr notice;"]


# the service's own shutdown lines
SHUTDOWN = (re.compile(r"signal 15 \(SIGTERM\) received"), re.compile(r"\[notice\] \d+#\d+: exit$", re.M))


@pytest.mark.parametrize("user", [None, UNPRIV_UID], ids=["root", "rootless"])
def test_nginx_unix_socket_in_volume(image_snapshot, service, workdir, user):
    uid = 10001 if user is None else user
    sock = shared_dir(workdir, "web", uid, uid)
    svc = service(NGINX + ["-v", f"{sock}:/run/web", "-v", f"{workdir}/data/nginx:/etc/nginx/conf.d:ro"] + CMD,
                  user=user)
    path = os.path.join(sock, "nginx.sock")
    svc.wait_until(answers(lambda: http_get(unix=path)), "nginx to answer on its unix socket")
    status, body = http_get(unix=path)
    assert status == 200 and "Welcome to nginx!" in body, (status, body)
    assert_hardened(svc, uid)
    svc.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()


def test_nginx_published_port(image_snapshot, service):
    port = free_port()
    svc = service(NGINX + ["-p", f"127.0.0.1:{port}:80"] + CMD)
    url = f"http://127.0.0.1:{port}"
    svc.wait_until(answers(lambda: http_get(url)), f"nginx to answer on {url}")
    status, body = http_get(url)
    assert status == 200 and "Welcome to nginx!" in body, (status, body)
    assert_hardened(svc, 10001)
    svc.stopped_cleanly(*SHUTDOWN)
    image_snapshot.check()

