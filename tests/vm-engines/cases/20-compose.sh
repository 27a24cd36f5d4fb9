# docker-compose (Debian's v1, 1.29: bookworm has no compose v2 plugin) against the same docker: one service
# with read_only, tmpfs, cap_drop, mem_limit and runtime:, up and down.

compose_up_down() {  # RUNTIME
  local dir=/tmp/compose-$1 project=hr$1
  mkdir -p "$dir"
  cat >"$dir/docker-compose.yml" <<YML
version: "2.4"
services:
  app:
    image: $IMAGE
    runtime: $1
    read_only: true
    tmpfs: [/tmp]
    cap_drop: [ALL]
    mem_limit: 256m
    user: "10001:10001"
    security_opt: [no-new-privileges]
    command: ["sh", "-c", "eval \"\$\$PROBE\"; echo READY; trap 'exit 0' TERM; while :; do sleep 1; done"]
    environment:
      PROBE: |
$(echo "$PROBE" | sed 's/\$/$$/g; s/^/        /')
YML
  trap "cd $dir && docker-compose -p $project down -t 1 >/dev/null 2>&1" EXIT
  cd "$dir" || fail "no $dir"
  must docker-compose -p "$project" up -d
  wait_until 200 sh -c "docker-compose -p $project logs app 2>/dev/null | grep -q READY" || {
    run docker-compose -p "$project" logs app; fail "the service never said READY"; }
  must docker-compose -p "$project" logs --no-color app
  local probe; probe=$(echo "$OUT" | sed 's/^[^|]*| //')
  expect_probe "$probe" "docker-default (enforce)" 268435456
  local id; id=$(docker-compose -p "$project" ps -q app)
  expect_eq "$(docker inspect -f '{{.HostConfig.Runtime}}' "$id")" "$1" "the service's runtime"
  must docker-compose -p "$project" down -t 5
  [ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$project")" ] || fail "containers of $project are left"
  [ -z "$(docker network ls -q --filter "name=${project}_default")" ] || fail "network ${project}_default is left"
}
test_up_down_runc() { compose_up_down runc; }
test_up_down_hardrun() { compose_up_down hardrun; }
