# containerd (Debian's, default configuration) through ctr and its runc shim (io.containerd.runc.v2); hardrun
# through the shim's --runc-binary. The same hardening flags for both runtimes. ctr run has no --user: the
# workload is uid 0 with every capability of containerd's default set dropped. ctr's spec has no cgroup mount and
# no cgroup namespace: the test mounts cgroup2 read-only (what docker's spec has), so the probe finds its cgroup.
WANT_ID=0

ctr_flags() {  # RUNTIME: sets FLAGS
  FLAGS=(--read-only --memory-limit 268435456 --cpus 1 --seccomp --apparmor-default-profile ctr-default
    --mount "type=tmpfs,src=tmpfs,dst=/tmp,options=nosuid:nodev:mode=1777"
    --mount "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:nodev:noexec")
  local cap
  for cap in CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT \
    KILL AUDIT_WRITE; do FLAGS+=(--cap-drop "CAP_$cap"); done
  [ "$1" = runc ] || FLAGS+=(--runc-binary "$HARDRUN")
}
# start_task RUNTIME: a detached container ctr-RUNTIME, removed when the test ends; sets TASK and PID
start_task() {
  TASK=ctr-$1
  ctr_flags "$1"
  trap "ctr task kill -s KILL $TASK >/dev/null 2>&1; sleep 1; ctr task rm -f $TASK >/dev/null 2>&1; ctr containers rm $TASK >/dev/null 2>&1" EXIT
  must ctr run -d "${FLAGS[@]}" "$CTR_IMAGE" "$TASK" sh -c "$SERVE"
  wait_until 100 sh -c "ctr task ls | grep -q '^$TASK .* RUNNING'" || fail "$TASK is not running: $(ctr task ls)"
  PID=$(ctr task ls | awk -v t="$TASK" '$1 == t { print $2 }')
  note "$TASK runs as pid $PID in $(cgroup_dir "$PID")"
}

ctr_run() {
  ctr_flags "$1"
  trap "ctr containers rm ctr-run-$1 >/dev/null 2>&1" EXIT
  must ctr run --rm "${FLAGS[@]}" "$CTR_IMAGE" "ctr-run-$1" sh -c "$PROBE"
  expect_probe "$OUT" "ctr-default (enforce)" 268435456 "100000 100000"
}
test_run_runc() { ctr_run runc; }
test_run_hardrun() { ctr_run hardrun; }

ctr_task_exec() {
  start_task "$1"
  must ctr task exec --exec-id probe "$TASK" sh -c "$PROBE"
  expect_probe "$OUT" "ctr-default (enforce)" 268435456 "100000 100000"
}
test_task_exec_runc() { ctr_task_exec runc; }
test_task_exec_hardrun() { ctr_task_exec hardrun; }

# kill: SIGTERM through the shim; the task stops with the workload's status, and delete leaves nothing
ctr_kill() {
  start_task "$1"
  local cg; cg=$(cgroup_dir "$PID")
  must ctr task kill "$TASK"
  wait_until 100 sh -c "ctr task ls | grep -q '^$TASK .* STOPPED'" || fail "$TASK did not stop: $(ctr task ls)"
  [ ! -d "/proc/$PID" ] || fail "pid $PID is still there"
  must ctr task rm "$TASK"
  must ctr containers rm "$TASK"
  [ ! -d "$cg" ] || fail "cgroup $cg is still there"
}
test_kill_runc() { ctr_kill runc; }
test_kill_hardrun() { ctr_kill hardrun; }

# metrics: the shim reads the container's cgroup (cgroupsPath /default/ID)
ctr_metrics() {
  start_task "$1"
  must ctr task metrics --format json "$TASK"
  echo "$OUT" | tr -d ' \n' | grep -q '"limit":268435456\|"usage_limit":268435456' || fail "metrics lack the 256 MiB memory limit"
  echo "$OUT" | tr -d ' \n' | grep -q '"pids":{"current":[1-9]' || fail "metrics lack the pids count"
}
test_metrics_runc() { ctr_metrics runc; }
test_metrics_hardrun() { ctr_metrics hardrun; }
