# docker (Debian's docker.io with its default configuration: the systemd cgroup driver on cgroup v2) plus
# /etc/docker/daemon.json's runtime entry "hardrun". Every test runs once with runc and once with hardrun.

docker_run_hardened() {  # RUNTIME: the seeds' hardened command, asserted from inside
  must docker run --rm --runtime "$1" "${HARDENED[@]}" "$IMAGE" sh -c "$PROBE"
  expect_probe "$OUT" "docker-default (enforce)" 268435456 "100000 100000"
}
test_run_hardened_runc() { docker_run_hardened runc; }
test_run_hardened_hardrun() { docker_run_hardened hardrun; }
