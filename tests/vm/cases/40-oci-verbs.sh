# The OCI verbs on a live container where cgroup v2 has its controllers (Debian's kernel under qemu): update
# writes each limit and the kernel's files show it, events reports the kernel's own figures in runc's shape
# and an OOM kill as an oom event, pause freezes a container with limits. (The build host, without
# controllers, covers the freezer, the refusals and the JSON shape: tests/integration/test_oci_verbs.py.)
STATE=/tmp/oci-verbs-state

# bundle DIR RESOURCES CMD: a bundle over $ROOTFS running `sh -c CMD` with linux.resources = RESOURCES
bundle() {
  rm -rf "$1"
  mkdir -p "$1"
  "$HR" spec --bundle "$1" >/dev/null || fail "hardrun spec"
  sed -i -e "s|^    \"linux\": {|    \"linux\": {\"resources\": $2,|" \
    -e "s|^            \"sh\"\$|            \"sh\", \"-c\", \"$3\"|" \
    -e "s|\"path\": \"rootfs\"|\"path\": \"$ROOTFS\"|" "$1/config.json"
}
oci() { hardrun_cmd --root $STATE "$@"; }
# the pid in `state`, and that process's cgroup directory
pid_of() { "$HR" --root $STATE state "$1" | sed -n 's/^ *"pid": \([0-9]*\).*/\1/p'; }
status_of() { "$HR" --root $STATE state "$1" | sed -n 's/^ *"status": "\([a-z]*\)".*/\1/p'; }
cgroup_dir_of() { echo "$CG$(sed -n 's/^0:://p' /proc/$1/cgroup)"; }
started() {
  oci create --bundle "$2" "$1"
  expect_rc 0 "create $1"
  oci start "$1"
  expect_rc 0 "start $1"
}
gone() { ! [ -e "$1" ]; }
# update_stdin ID JSON WHAT: `update --resources -` with JSON on stdin (docker's and containerd's way), which
# must succeed
update_stdin() {
  echo "$2" | "$HR" --root $STATE update --resources - "$1" >/tmp/upd.out 2>&1
  local rc=$?
  cat /tmp/upd.out
  expect_eq $rc 0 "$3"
}

test_update_writes_each_limit_and_reads_it_back() {
  bundle /tmp/bu '{"memory": {"limit": 67108864}, "pids": {"limit": 50}}' "sleep 300"
  started u1 /tmp/bu
  dir=$(cgroup_dir_of "$(pid_of u1)")
  expect_eq "$(cat $dir/memory.max)" 67108864 "memory.max at create"
  oci update --memory 128m --memory-swap 192m --memory-reservation 32m --pids-limit 80 --cpu-quota 50000 \
    --cpu-period 100000 --cpu-share 512 u1
  expect_rc 0
  expect_eq "$(cat $dir/memory.max)" $((128 << 20)) memory.max
  expect_eq "$(cat $dir/memory.swap.max)" $((64 << 20)) "memory.swap.max (192m - 128m)"
  expect_eq "$(cat $dir/memory.low)" $((32 << 20)) memory.low
  expect_eq "$(cat $dir/pids.max)" 80 pids.max
  expect_eq "$(cat $dir/cpu.max)" "50000 100000" cpu.max
  expect_eq "$(cat $dir/cpu.weight)" 20 "cpu.weight (shares 512, runc's conversion)"
  # a period alone keeps the quota; swap alone is memory plus swap against the memory limit there
  oci update --cpu-period 200000 --memory-swap 160m u1
  expect_rc 0
  expect_eq "$(cat $dir/cpu.max)" "50000 200000" "cpu.max after --cpu-period"
  expect_eq "$(cat $dir/memory.swap.max)" $((32 << 20)) "memory.swap.max after --memory-swap alone"
  # the kernel rounds memory to pages: expected, and read back as such
  oci update --memory 67108964 u1
  expect_rc 0
  expect_eq "$(cat $dir/memory.max)" 67108864 "memory.max rounded down to a page"
  # docker's/containerd's way: a linux.resources object on stdin, -1 for unlimited
  update_stdin u1 '{"memory": {"limit": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1, "shares": 1024}, "blockIO": {"weight": 0}}' \
    "update --resources -"
  expect_eq "$(cat $dir/memory.max)" max "memory.max after limit -1"
  expect_eq "$(cat $dir/memory.swap.max)" max "memory.swap.max follows memory -1"
  expect_eq "$(cat $dir/pids.max)" max "pids.max after limit -1"
  expect_eq "$(cat $dir/cpu.max)" "max 200000" "cpu.max after quota -1"
  expect_eq "$(cat $dir/cpu.weight)" 39 "cpu.weight (shares 1024)"
  # refused before anything is written: config.json's rules, and what hardrun cannot honour
  oci update --memory 1m u1
  expect_rc 125
  expect_err "below the 6 MiB"
  oci update --cpuset-cpus 0 u1
  expect_rc 125
  expect_err "--cpuset-cpus: cpusets are not implemented"
  expect_eq "$(cat $dir/memory.max)" max "memory.max after the refused updates"
  oci delete --force u1
  expect_rc 0
  wait_until 50 gone "$dir" || fail "$dir left behind"
}

test_update_enables_a_controller_the_container_was_created_without() {
  # only a device rule at create: update --memory must still reach memory.max
  bundle /tmp/bd '{"devices": [{"allow": false, "access": "rwm"}]}' "sleep 300"
  started d1 /tmp/bd
  dir=$(cgroup_dir_of "$(pid_of d1)")
  oci update --memory 96m --pids-limit 30 d1
  expect_rc 0
  expect_eq "$(cat $dir/memory.max)" $((96 << 20)) memory.max
  expect_eq "$(cat $dir/pids.max)" 30 pids.max
  oci delete --force d1
  expect_rc 0
}

test_hugepage_limits_as_kubelet_sends_them() {
  # kubelet sends a hugepageLimits entry for every page size, with 0 for those the pod does not ask for:
  # 0 is a real limit (no huge pages), written to hugetlb.<size>.max; update changes it
  bundle /tmp/bh '{"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}' "sleep 300"
  started h1 /tmp/bh
  dir=$(cgroup_dir_of "$(pid_of h1)")
  expect_eq "$(cat $dir/hugetlb.2MB.max)" 0 "hugetlb.2MB.max at create"
  update_stdin h1 '{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194305}]}' "update --resources - with hugepageLimits"
  expect_eq "$(cat $dir/hugetlb.2MB.max)" 4194304 "hugetlb.2MB.max after update (whole pages)"
  oci delete --force h1
  expect_rc 0
}

test_events_stats_are_the_kernels_figures() {
  bundle /tmp/be '{"memory": {"limit": 67108864}, "pids": {"limit": 50}}' "cgstress mem 24; sleep 300"
  started e1 /tmp/be
  dir=$(cgroup_dir_of "$(pid_of e1)")
  wait_until 300 grep -q '^[0-9]' $dir/memory.peak || fail "no memory.peak"
  wait_until 300 sh -c "[ \$(cat $dir/memory.peak) -ge $((24 << 20)) ]" || fail "the workload did not allocate 24 MiB"
  oci events --stats e1
  expect_rc 0
  expect_out '"id":"e1","type":"stats"'
  # nlohmann writes keys sorted: memory.usage is {"failcnt","limit","max","usage"}
  usage=$(echo "$OUT" | grep -o '"usage":{"failcnt":0,"limit":67108864,"max":[0-9]*')
  [ -n "$usage" ] || fail "memory.usage lacks limit 67108864 and a max: $OUT"
  max=${usage##*:}
  [ "$max" -ge $((24 << 20)) ] || fail "memory.usage.max $max below the 24 MiB allocated"
  expect_eq "$max" "$(cat $dir/memory.peak)" "memory.usage.max = memory.peak"
  expect_out "\"pids\":{\"current\":$(cat $dir/pids.current),\"limit\":50}"
  total=$(echo "$OUT" | grep -o '"total":[0-9]*' | head -n 1)
  [ "${total#*:}" -gt 0 ] || fail "no cpu.usage.total: $OUT"
  oci delete --force e1
  expect_rc 0
}

test_events_stream_reports_the_oom_kill_and_ends() {
  bundle /tmp/bo '{"memory": {"limit": 33554432}}' "sleep 2; cgstress mem 256; sleep 300"
  oci create --bundle /tmp/bo o1
  expect_rc 0
  "$HR" --root $STATE events --interval 1s o1 >/tmp/ev.out 2>/tmp/ev.err &
  ev=$!
  oci start o1
  expect_rc 0
  wait_until 600 sh -c "! kill -0 $ev 2>/dev/null" || { kill $ev; fail "events did not end when the container died"; }
  wait $ev
  rc=$?
  cat /tmp/ev.out /tmp/ev.err
  expect_eq $rc 0 "events' exit status"
  grep -q '^{"id":"o1","type":"oom"}$' /tmp/ev.out || fail "no oom event"
  grep -q '"type":"stats"' /tmp/ev.out || fail "no stats event before the OOM kill"
  expect_eq "$(status_of o1)" stopped "the container after its OOM kill"
  oci delete o1
  expect_rc 0
}

test_pause_freezes_a_container_with_limits() {
  bundle /tmp/bp '{"pids": {"limit": 50}}' "cgstress spin 300"
  started p1 /tmp/bp
  dir=$(cgroup_dir_of "$(pid_of p1)")
  oci pause p1
  expect_rc 0
  grep -q '^frozen 1$' $dir/cgroup.events || fail "cgroup.events: $(cat $dir/cgroup.events)"
  expect_eq "$(status_of p1)" paused status
  u0=$(cg_key $dir/cpu.stat usage_usec)
  sleep 1
  u1=$(cg_key $dir/cpu.stat usage_usec)
  expect_eq "$u1" "$u0" "cpu usage while paused"
  oci resume p1
  expect_rc 0
  sleep 1
  [ "$(cg_key $dir/cpu.stat usage_usec)" -gt "$u1" ] || fail "no cpu usage after resume"
  oci delete --force p1
  expect_rc 0
}
