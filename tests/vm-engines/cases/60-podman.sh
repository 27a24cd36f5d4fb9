# podman (Debian's 4.3 with conmon, rootful, no daemon: every podman command is its own process) with Debian's
# configuration (the systemd cgroup manager on cgroup v2, so conmon passes --systemd-cgroup and the container is
# the scope machine.slice/libpod-ID.scope) plus the runtime entry "hardrun" of
# /etc/containers/containers.conf (tests/vm-engines/guest). Every test runs once with runc and once with hardrun;
# the runtime is named on podman's command line (its global --runtime: a name from containers.conf or a path).

# podman loads its own AppArmor profile, named after containers/common's version (containers-default-0.50.1
# on bookworm): LABEL is the label the probe shows, checked to be that profile in enforce mode
probe_label() {
  LABEL=$(echo "$1" | sed -n 's/^label: //p')
  case "$LABEL" in containers-default-*" (enforce)") ;; *) fail "AppArmor label '$LABEL' is not podman's containers-default profile" ;; esac
}

# the seeds' hardened command (docker's flags, which podman takes as they are), asserted from inside; the hardrun
# run names the runtime by its path, as README's example does
podman_run_hardened() {  # RUNTIME (a name or a path)
  must podman --runtime "$1" run --rm "${HARDENED[@]}" "$PODMAN_IMAGE" sh -c "$PROBE"
  probe_label "$OUT"
  expect_probe "$OUT" "$LABEL" 268435456 "100000 100000"
}
test_run_hardened_runc() { podman_run_hardened runc; }
test_run_hardened_hardrun() { podman_run_hardened "$HARDRUN"; }

# exit statuses through conmon's exit file: the workload's own, and 127 for a command that is not in the image
podman_exit_status() {
  run podman --runtime "$1" run --rm "$PODMAN_IMAGE" sh -c 'exit 3'
  expect_rc 3 "the workload's exit status"
  run podman --runtime "$1" run --rm "$PODMAN_IMAGE" /no/such/command
  expect_rc 127 "a command that does not exist"
}
test_exit_status_runc() { podman_exit_status runc; }
test_exit_status_hardrun() { podman_exit_status hardrun; }

# start_box RUNTIME: a detached hardened container named podbox-RUNTIME (removed when the test ends); sets BOX,
# ID, PID and CG (its cgroup directory), and checks that podman recorded the runtime and that runtime's state
# exists (its default --root: /run/runc, /run/hardrun)
start_box() {
  BOX=podbox-$1
  trap "podman rm -f -t 0 $BOX >/dev/null 2>&1" EXIT
  must podman --runtime "$1" run -d --name "$BOX" "${HARDENED[@]}" "$PODMAN_IMAGE" sh -c "$SERVE"
  wait_until 100 test "$(podman inspect -f '{{.State.Running}}' "$BOX")" = true || fail "$BOX is not running"
  ID=$(podman inspect -f '{{.Id}}' "$BOX")
  PID=$(podman inspect -f '{{.State.Pid}}' "$BOX")
  CG=$(cgroup_dir "$PID")
  note "$BOX ($ID) runs as pid $PID in $CG"
  expect_eq "$(podman inspect -f '{{.OCIRuntime}}' "$BOX")" "$1" "the runtime podman recorded for $BOX"
  [ -e "/run/$1/$ID/state.json" ] || fail "no state of $1 for $ID in /run/$1: $(ls "/run/$1" 2>&1 | paste -sd' ')"
}

podman_run_detached() {
  start_box "$1"
  [ -d "/proc/$PID" ] || fail "pid $PID of $BOX does not exist"
  case "$CG" in */machine.slice/libpod-"$ID".scope*) ;; *) fail "$BOX is not in systemd's scope libpod-$ID.scope: $CG" ;; esac
  expect_eq "$(cat "$CG/memory.max")" 268435456 "memory.max of $BOX's cgroup"
  local status; status=$(grep -E '^(Uid|NoNewPrivs|Seccomp):' "/proc/$PID/status")
  expect_line "$status" "NoNewPrivs: 1"
  expect_line "$status" "Uid: 10001 10001 10001 10001"
  expect_line "$status" "Seccomp: 2"
  must podman logs "$BOX"
  expect_out "started "
}
test_run_detached_runc() { podman_run_detached runc; }
test_run_detached_hardrun() { podman_run_detached hardrun; }

# exec: conmon runs `RUNTIME exec -d --pid-file F --process process.json ID`; the new process gets the
# container's hardening from podman's process.json (user, capabilities, no_new_privs, AppArmor, seccomp)
podman_exec() {
  start_box "$1"
  must podman exec "$BOX" sh -c "$PROBE"
  probe_label "$OUT"
  expect_probe "$OUT" "$LABEL" 268435456 "100000 100000"
  run podman exec "$BOX" sh -c 'exit 5'
  expect_rc 5 "podman exec's exit status"
}
test_exec_runc() { podman_exec runc; }
test_exec_hardrun() { podman_exec hardrun; }

# stop + rm: SIGTERM reaches the workload, which exits 0 on it (a SIGKILL would make it 137); podman's own
# work around the signal (the stop, then conmon's exit command `podman container cleanup`, each a podman
# process) takes 7-9 s under TCG with runc and hardrun alike, so the SIGKILL is put off to 60 s and the stop
# must end well before it. After rm nothing of the container is left: no process (workload or conmon),
# cgroup, mount, or runtime state
podman_stop_rm() {
  start_box "$1"
  local t0 ms; t0=$(now_ms)
  must podman stop --time 60 "$BOX"
  ms=$(( $(now_ms) - t0 ))
  note "podman stop took ${ms} ms"
  expect_eq "$(podman inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$BOX")" "exited 0" "state after stop"
  [ $ms -lt 30000 ] || fail "podman stop took ${ms} ms: SIGTERM did not end the workload"
  must podman rm "$BOX"
  [ ! -d "/proc/$PID" ] || fail "pid $PID is still there"
  [ ! -d "$CG" ] || fail "cgroup $CG is still there"
  ! grep -q "$ID" /proc/self/mountinfo || fail "mounts of $ID are left: $(grep "$ID" /proc/self/mountinfo | cut -d' ' -f5)"
  [ ! -e "/run/$1/$ID" ] || fail "the runtime's state /run/$1/$ID is left"
  local left; left=$(ps -eo pid=,args= | grep -F "$ID" | grep -v grep)
  [ -z "$left" ] || fail "processes of $ID are left: $left"
  [ -z "$(podman ps -aq --filter "name=$BOX")" ] || fail "podman still lists $BOX"
}
test_stop_rm_runc() { podman_stop_rm runc; }
test_stop_rm_hardrun() { podman_stop_rm hardrun; }

# kill: podman kill sends SIGKILL through the runtime's kill verb; the container's exit status is 137 (podman
# wait and inspect), and a second kill of the stopped container is refused as podman refuses it with runc
podman_kill() {
  start_box "$1"
  must podman kill "$BOX"
  must podman wait "$BOX"
  expect_eq "$OUT" 137 "podman wait after podman kill"
  expect_eq "$(podman inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$BOX")" "exited 137" "state after kill"
  [ ! -d "/proc/$PID" ] || fail "pid $PID is still there after podman kill"
  run podman kill "$BOX"
  [ "$RC" != 0 ] || fail "podman kill of a stopped container succeeded"
  must podman rm "$BOX"
  [ ! -d "$CG" ] || fail "cgroup $CG is still there"
  [ ! -e "/run/$1/$ID" ] || fail "the runtime's state /run/$1/$ID is left"
}
test_kill_runc() { podman_kill runc; }
test_kill_hardrun() { podman_kill hardrun; }

# exec, the other paths podman parses: a command that is not in the image is 127 (podman reads the runtime's
# error through conmon and knows "no such file or directory"), and exec -t gets a pty from the runtime
# (conmon's console socket)
podman_exec_errors() {
  start_box "$1"
  run podman exec "$BOX" /no/such/command
  expect_rc 127 "podman exec of a command that does not exist"
  expect_exec_tty podman
}
test_exec_errors_runc() { podman_exec_errors runc; }
test_exec_errors_hardrun() { podman_exec_errors hardrun; }

# pause/unpause: the runtime's pause and resume verbs, on the cgroup v2 freezer of the container's scope
podman_pause() {
  start_box "$1"
  expect_pause_unpause podman "$CG"
}
test_pause_runc() { podman_pause runc; }
test_pause_hardrun() { podman_pause hardrun; }

# update (new in podman 4.3): the runtime's update verb with a linux.resources document; the kernel's file says so
podman_update() {
  start_box "$1"
  must podman update --memory 128m "$BOX"
  expect_eq "$(cat "$CG/memory.max")" 134217728 "memory.max after podman update"
}
test_update_runc() { podman_update runc; }
test_update_hardrun() { podman_update hardrun; }

# restart: stop, delete in the runtime, create and start again under the same id: a new process in a new scope
# with the same limits (hardrun's state of the first run must be gone for the second create to succeed)
podman_restart() {
  start_box "$1"
  must podman restart --time 60 "$BOX"
  wait_until 100 test "$(podman inspect -f '{{.State.Running}}' "$BOX")" = true || fail "$BOX is not running after restart"
  local pid; pid=$(podman inspect -f '{{.State.Pid}}' "$BOX")
  [ "$pid" != "$PID" ] || fail "restart kept pid $PID"
  [ ! -d "/proc/$PID" ] || fail "the first process $PID is still there"
  expect_eq "$(cat "$(cgroup_dir "$pid")/memory.max")" 268435456 "memory.max after restart"
  [ -e "/run/$1/$ID/state.json" ] || fail "no state of $1 for $ID after restart"
}
test_restart_runc() { podman_restart runc; }
test_restart_hardrun() { podman_restart hardrun; }
