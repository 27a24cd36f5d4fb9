# docker (Debian's docker.io with its default configuration: the systemd cgroup driver on cgroup v2) plus
# /etc/docker/daemon.json's runtime entry "hardrun". Every test runs once with runc and once with hardrun.

docker_run_hardened() {  # RUNTIME: the seeds' hardened command, asserted from inside
  must docker run --rm --runtime "$1" "${HARDENED[@]}" "$IMAGE" sh -c "$PROBE"
  expect_probe "$OUT" "docker-default (enforce)" 268435456 "100000 100000"
}
test_run_hardened_runc() { docker_run_hardened runc; }
test_run_hardened_hardrun() { docker_run_hardened hardrun; }

# start_box RUNTIME: a detached hardened container named box-RUNTIME (removed when the test ends); sets BOX and PID
start_box() {
  BOX=box-$1
  trap "docker rm -f $BOX >/dev/null 2>&1" EXIT
  must docker run -d --name "$BOX" --runtime "$1" "${HARDENED[@]}" "$IMAGE" sh -c "$SERVE"
  wait_until 100 test "$(docker inspect -f '{{.State.Running}}' "$BOX")" = true || fail "$BOX is not running"
  PID=$(docker inspect -f '{{.State.Pid}}' "$BOX")
  note "$BOX runs as pid $PID in $(cgroup_dir "$PID")"
}

docker_run_detached() {
  start_box "$1"
  [ -d "/proc/$PID" ] || fail "pid $PID of $BOX does not exist"
  expect_eq "$(cat "$(cgroup_dir "$PID")/memory.max")" 268435456 "memory.max of $BOX's cgroup"
  expect_line "$(grep -E '^(Uid|NoNewPrivs|Seccomp):' "/proc/$PID/status")" "NoNewPrivs: 1"
  expect_eq "$(cat "/proc/$PID/attr/current")" "docker-default (enforce)" "AppArmor label of $BOX's process"
}
test_run_detached_runc() { docker_run_detached runc; }
test_run_detached_hardrun() { docker_run_detached hardrun; }

# exec: the new process gets the container's hardening (docker passes the container's user, capabilities,
# no_new_privs, AppArmor profile and seccomp filter in process.json)
docker_exec() {
  start_box "$1"
  must docker exec "$BOX" sh -c "$PROBE"
  expect_probe "$OUT" "docker-default (enforce)" 268435456 "100000 100000"
}
test_exec_runc() { docker_exec runc; }
test_exec_hardrun() { docker_exec hardrun; }

# exec -t: a pty from the runtime (console socket), its slave the process's terminal
docker_exec_tty() {
  start_box "$1"
  expect_exec_tty docker
}
test_exec_tty_runc() { docker_exec_tty runc; }
test_exec_tty_hardrun() { docker_exec_tty hardrun; }

# update --memory: the runtime writes the container's cgroup; the kernel's file says so. Under docker's systemd
# cgroup driver the scope's own properties follow (runc's SetUnitProperties): systemd shows the new limit, and its
# daemon-reload, which re-applies every unit's properties to its cgroup, keeps it
docker_update() {
  start_box "$1"
  must docker update --memory 128m --memory-swap 256m --pids-limit 90 "$BOX"
  local cg; cg=$(cgroup_dir "$PID")
  expect_eq "$(cat "$cg/memory.max")" 134217728 "memory.max after docker update"
  expect_eq "$(cat "$cg/pids.max")" 90 "pids.max after docker update"
  expect_eq "$(docker inspect -f '{{.HostConfig.Memory}}' "$BOX")" 134217728 "docker's recorded memory limit"
  case "$cg" in
    */*.scope)
      local unit=${cg##*/}
      must systemctl show -p MemoryMax -p TasksMax "$unit"
      expect_line "$OUT" "MemoryMax=134217728"
      expect_line "$OUT" "TasksMax=90"
      must systemctl daemon-reload
      expect_eq "$(cat "$cg/memory.max")" 134217728 "memory.max after systemctl daemon-reload"
      expect_eq "$(cat "$cg/pids.max")" 90 "pids.max after systemctl daemon-reload"
      ;;
    *) note "$BOX's cgroup $cg is no systemd scope: the cgroupfs driver" ;;
  esac
}
test_update_runc() { docker_update runc; }
test_update_hardrun() { docker_update hardrun; }

# pause/unpause: the cgroup v2 freezer
docker_pause() {
  start_box "$1"
  expect_pause_unpause docker "$(cgroup_dir "$PID")"
}
test_pause_runc() { docker_pause runc; }
test_pause_hardrun() { docker_pause hardrun; }

docker_stats() {
  start_box "$1"
  must docker stats --no-stream --format '{{.MemUsage}} {{.PIDs}}' "$BOX"
  case "$OUT" in *"/ 256MiB "[1-9]*) ;; *) fail "docker stats: expected a 256MiB limit and some pids, got '$OUT'" ;; esac
}
test_stats_runc() { docker_stats runc; }
test_stats_hardrun() { docker_stats hardrun; }

docker_logs() {
  start_box "$1"
  wait_until 50 sh -c "docker logs $BOX 2>&1 | grep -q '^started '" || true
  must docker logs "$BOX"
  expect_out "started "
}
test_logs_runc() { docker_logs runc; }
test_logs_hardrun() { docker_logs hardrun; }

# stop: SIGTERM reaches the workload (it exits 0 at once), well before docker's 10 s SIGKILL
docker_stop() {
  start_box "$1"
  local t0; t0=$(now_ms)
  must docker stop "$BOX"
  local ms=$(( $(now_ms) - t0 ))
  note "docker stop took ${ms} ms"
  expect_eq "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$BOX")" "exited 0" "state after stop"
  [ $ms -lt 8000 ] || fail "docker stop took ${ms} ms: SIGTERM did not end the workload"
  [ ! -d "/proc/$PID" ] || fail "pid $PID is still there after docker stop"
}
test_stop_runc() { docker_stop runc; }
test_stop_hardrun() { docker_stop hardrun; }

# rm: nothing of the container is left: no process, cgroup, mount, or runtime state
docker_rm() {
  start_box "$1"
  local cg id; cg=$(cgroup_dir "$PID"); id=$(docker inspect -f '{{.Id}}' "$BOX")
  must docker stop "$BOX"
  must docker rm "$BOX"
  [ ! -d "/proc/$PID" ] || fail "pid $PID is still there"
  [ ! -d "$cg" ] || fail "cgroup $cg is still there"
  ! grep -q "$id" /proc/self/mountinfo || fail "mounts of $id are left: $(grep "$id" /proc/self/mountinfo | cut -d' ' -f5)"
  local state=/run/docker/runtime-$1/moby/$id
  [ ! -e "$state" ] || fail "the runtime's state $state is left"
  [ -z "$(docker ps -aq --filter "name=$BOX")" ] || fail "docker still lists $BOX"
}
test_rm_runc() { docker_rm runc; }
test_rm_hardrun() { docker_rm hardrun; }
