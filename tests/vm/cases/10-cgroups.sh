# cgroup v2 limits on a real kernel (Debian's, under qemu): each test drives hardrun as the host would
# and checks what the kernel did: exit statuses, the cgroup's own files, and what is left behind.

test_memory_under_limit_passes() {
  hr --verbose --memory 64m -- cgstress mem 16
  expect_rc 0
  expect_out "allocated 16 MiB"
  case "$ERR" in *"OOM"*) fail "OOM reported for a workload under the limit" ;; esac
  # the run report: peak memory (memory.peak) and CPU time (cpu.stat)
  peak=$(echo "$ERR" | sed -n 's/.*cgroup: memory peak \([0-9]*\)\.[0-9] MiB, cpu [0-9]* ms.*/\1/p')
  [ -n "$peak" ] || fail "no 'cgroup: memory peak ..., cpu ...' line in the report"
  [ "$peak" -ge 16 ] && [ "$peak" -lt 64 ] || fail "peak memory $peak MiB for a 16 MiB workload"
}

test_memory_limit_oom_exit_137() {
  hr --memory 32m -- cgstress mem 256
  expect_rc 137 "the OOM kill must give exit 137"
  expect_err "workload killed by the OOM killer: memory limit 32 MiB reached; raise --memory"
  expect_no_out "allocated 256 MiB"
}

test_memory_swap_default_no_swap() {
  # default --memory-swap = --memory: memory.swap.max is 0 (checked live, while the workload runs)
  # (--init: PID 1 of a pid namespace ignores SIGTERM; the init forwards it to sleep)
  "$HR" run --rootfs "$ROOTFS" --init --memory 40m -- sleep 30 >/tmp/bg.out 2>&1 &
  pid=$!
  dir=$(cgroup_of $pid)
  wait_until 300 populated "$dir" || fail "no populated cgroup $dir"
  expect_eq "$(cat $dir/memory.max)" 41943040 memory.max
  expect_eq "$(cat $dir/memory.swap.max)" 0 memory.swap.max
  expect_eq "$(cat $dir/memory.oom.group)" 1 memory.oom.group
  kill -TERM $pid
  wait $pid
  [ -e "$dir" ] && fail "$dir still exists after hardrun exited"
  return 0
}

test_values_read_back_match_flags() {
  "$HR" run --rootfs "$ROOTFS" --init --memory 48m --memory-swap 64m --memory-reservation 16m --cpus 0.5 \
    --cpu-shares 512 --pids-limit 40 -- sleep 30 >/tmp/bg.out 2>&1 &
  pid=$!
  dir=$(cgroup_of $pid)
  wait_until 300 populated "$dir" || { cat /tmp/bg.out; fail "no populated cgroup $dir"; }
  expect_eq "$(cat $dir/memory.max)" $((48 << 20)) memory.max
  expect_eq "$(cat $dir/memory.swap.max)" $((16 << 20)) "memory.swap.max (64m - 48m)"
  expect_eq "$(cat $dir/memory.low)" $((16 << 20)) memory.low
  expect_eq "$(cat $dir/cpu.max)" "50000 100000" cpu.max
  expect_eq "$(cat $dir/cpu.weight)" 20 "cpu.weight (shares 512, runc's conversion)"
  expect_eq "$(cat $dir/pids.max)" 40 pids.max
  # the workload is in it, hardrun (the supervisor) is not
  procs=$(cat $dir/cgroup.procs)
  [ -n "$procs" ] || fail "no process in $dir"
  for p in $procs; do [ "$p" = "$pid" ] && fail "hardrun itself is in the workload's cgroup"; done
  child=$(echo "$procs" | head -n 1)
  grep -q "^0::/hardrun/hardrun-$pid\$" /proc/$child/cgroup || fail "workload's /proc/PID/cgroup: $(cat /proc/$child/cgroup)"
  kill -TERM $pid
  wait $pid
  [ -e "$dir" ] && fail "$dir still exists after hardrun exited"
  return 0
}

test_fork_bomb_stops_at_pids_max() {
  hr --pids-limit 20 -- cgstress forks 500
  expect_rc 0
  n=$(echo "$OUT" | sed -n 's/^forked \([0-9]*\) of 500.*/\1/p')
  [ -n "$n" ] || fail "no count in the output"
  [ "$n" -lt 20 ] || fail "forked $n processes with --pids-limit 20"
  [ "$n" -ge 10 ] || fail "only $n forks: the limit is not what stopped it"
  expect_out "Resource temporarily unavailable"
  # and without the limit the same workload gets all 500
  hr -- cgstress forks 500
  expect_out "forked 500 of 500"
}

test_cpus_half_core_throttled() {
  "$HR" run --rootfs "$ROOTFS" --cpus 0.5 -- cgstress spin 6 >/tmp/bg.out 2>&1 &
  pid=$!
  dir=$(cgroup_of $pid)
  wait_until 300 populated "$dir" || fail "no populated cgroup $dir"
  u0=$(cg_key $dir/cpu.stat usage_usec)
  t0=$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)
  sleep 4
  u1=$(cg_key $dir/cpu.stat usage_usec)
  t1=$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)
  throttled=$(cg_key $dir/cpu.stat nr_throttled)
  throttled_us=$(cg_key $dir/cpu.stat throttled_usec)
  wait $pid || fail "the burner failed: $(cat /tmp/bg.out)"
  used=$((u1 - u0)) wall=$((t1 - t0))
  note "cpu used ${used}us in ${wall}us of wall time; nr_throttled=$throttled throttled_usec=$throttled_us"
  [ "$throttled" -gt 0 ] || fail "nr_throttled is 0: cpu.max did not throttle"
  [ "$throttled_us" -gt 0 ] || fail "throttled_usec is 0"
  # about half a core: at most 0.5 of the wall time plus one 100ms period of slack
  [ $((used * 10)) -le $((wall * 5 + 1000000)) ] || fail "used ${used}us of ${wall}us: more than half a core"
  [ $((used * 10)) -ge $wall ] || fail "used ${used}us of ${wall}us: the burner hardly ran"
}

test_cgroup_gone_after_exit() {
  hr --memory 64m --pids-limit 50 -- true
  expect_rc 0
  left=$(ls -d $CG/hardrun/hardrun-* 2>/dev/null)
  [ -z "$left" ] || fail "left behind: $left"
  # also when the workload left a background process behind
  hr --memory 64m -- sh -c 'sleep 100 & echo started'
  expect_out started
  left=$(ls -d $CG/hardrun/hardrun-* 2>/dev/null)
  [ -z "$left" ] || fail "left behind: $left"
  ps -o pid,args | grep '[s]leep 100' && fail "the workload's leftover process survived"
  # hardrun dismissed its reaper and waited for it: none is left when hardrun returns
  [ -z "$(reapers)" ] || fail "reaper left running after a normal exit: $(reapers)"
  return 0
}

test_cgroup_gone_after_kill9_of_hardrun() {
  "$HR" run --rootfs "$ROOTFS" --memory 64m -- sleep 100 >/tmp/bg.out 2>&1 &
  pid=$!
  dir=$(cgroup_of $pid)
  wait_until 300 populated "$dir" || fail "no populated cgroup $dir"
  reaper=$(reapers)
  [ -n "$reaper" ] || fail "no hardrun-reaper process while the workload runs"
  grep -q "^0::/hardrun/hardrun-$pid\$" /proc/$reaper/cgroup && fail "the reaper is inside the workload's cgroup"
  kill -9 $pid
  wait $pid
  # no second launch: the reaper (not gc()) removes it within a few seconds, then exits
  wait_until 50 sh -c "[ ! -e $dir ]" || fail "$dir still there 5 s after kill -9: $(cat $dir/cgroup.events 2>&1)"
  wait_until 50 no_reapers || fail "the reaper outlived its cgroup: $(reapers)"
  ps -o pid,args | grep '[s]leep 100' && fail "the workload survived"
  return 0
}

test_kill9_rounds_leave_nothing() {
  # 20 rounds of kill -9 in the middle of a launch with --memory: whatever moment it hits (before the
  # workload runs, while it runs), nothing is left a few seconds later, and no reaper stays around
  i=0
  while [ $i -lt 20 ]; do
    "$HR" run --rootfs "$ROOTFS" --memory 32m -- sleep 100 >/dev/null 2>&1 &
    pid=$!
    # every other round: killed as soon as its cgroup exists (maybe before the workload is in it)
    if [ $((i % 2)) = 0 ]; then wait_until 300 sh -c "[ -d $(cgroup_of $pid) ]"
    else wait_until 300 populated "$(cgroup_of $pid)"; fi
    kill -9 $pid
    wait $pid 2>/dev/null
    i=$((i + 1))
  done
  wait_until 100 no_workload_cgroups || fail "left behind after 20 kill -9 rounds: $(ls -d $CG/hardrun/hardrun-*)"
  wait_until 50 no_reapers || fail "reapers left: $(reapers)"
  ps -o pid,args | grep '[s]leep 100' && fail "a workload survived"
  # the reaper's cost, as hardrun measures it (fork, fork, wait)
  hr --verbose --memory 32m -- true
  note "$(echo "$ERR" | grep 'reaper started')"
  expect_err "cgroup reaper started in"
  [ -z "$(reapers)" ] || fail "a normal exit left its reaper running: $(reapers)"
}

test_rootless_without_delegation_fails_closed() {
  hr_as $USER_UID --memory 32m -- echo RAN
  expect_rc 125
  expect_err "not delegated"
  expect_no_out RAN
}

test_rootless_delegated_subtree_works() {
  d=$CG/deleg-$USER_UID
  mkdir -p $d
  chown $USER_UID:$USER_UID $d $d/cgroup.procs $d/cgroup.subtree_control $d/cgroup.threads
  # as a login manager would: put the user's process into the delegated cgroup, then drop to the user
  sh -c "echo \$\$ > $d/cgroup.procs && exec $SETPRIV --reuid=$USER_UID --regid=$USER_UID --clear-groups \
    $HR run --rootfs $ROOTFS --memory 32m --pids-limit 30 -- cgstress mem 256" >/tmp/hr.out 2>/tmp/hr.err
  RC=$?; ERR=$(cat /tmp/hr.err); cat /tmp/hr.out /tmp/hr.err
  expect_rc 137 "OOM inside the delegated subtree"
  expect_err "killed by the OOM killer"
  # a second launch from the leaf hardrun made (the delegated cgroup itself has controllers on now, so
  # no process may join it: cgroup v2's "no internal processes")
  sh -c "echo \$\$ > $d/hardrun-supervisor/cgroup.procs && exec $SETPRIV --reuid=$USER_UID --regid=$USER_UID \
    --clear-groups $HR run --rootfs $ROOTFS --memory 32m --pids-limit 30 -- cgstress forks 100" >/tmp/hr.out 2>/tmp/hr.err
  RC=$?; OUT=$(cat /tmp/hr.out); cat /tmp/hr.out /tmp/hr.err
  expect_rc 0
  n=$(echo "$OUT" | sed -n 's/^forked \([0-9]*\) of 100.*/\1/p')
  [ -n "$n" ] && [ "$n" -lt 30 ] || fail "pids.max not enforced in the delegated subtree (forked '$n')"
  expect_eq "$(cat $d/cgroup.subtree_control)" "memory pids" "controllers hardrun enabled in $d"
  ls -d $d/hardrun-[0-9]* 2>/dev/null && fail "workload cgroups left in $d"
  [ -d $d/hardrun-supervisor ] || fail "hardrun did not move itself into a leaf of $d"
  # clean up: the leaf is empty now that hardrun exited
  rmdir $d/hardrun-supervisor $d
}

test_systemd_delegate_yes_for_root() {
  # what systemd does for a system unit with Delegate=yes: a cgroup of its own, marked trusted.delegate=1,
  # holding the unit's main process (a root shell, then hardrun by exec)
  d=$CG/hardrun-test.service
  mkdir -p $d
  /hardrun/helpers/setxattr $d trusted.delegate 1 || fail "cannot set trusted.delegate on $d"
  sh -c "echo \$\$ > $d/cgroup.procs && exec $HR run --rootfs $ROOTFS --init --pids-limit 20 -- sleep 30" \
    >/tmp/bg.out 2>&1 &
  pid=$!
  wait_until 300 populated $d/hardrun-$pid || { cat /tmp/bg.out; fail "no workload cgroup in $d"; }
  [ -e $CG/hardrun/hardrun-$pid ] && fail "the workload's cgroup went to the default parent, not the unit's"
  expect_eq "$(cat $d/hardrun-$pid/pids.max)" 20 "pids.max of the workload's cgroup in the unit"
  grep -qx "$pid" $d/hardrun-supervisor/cgroup.procs ||
    fail "hardrun is not in $d/hardrun-supervisor: $(cat $d/hardrun-supervisor/cgroup.procs 2>&1)"
  expect_eq "$(cat $d/cgroup.procs)" "" "processes in the unit's cgroup itself (no internal processes)"
  child=$(head -n 1 $d/hardrun-$pid/cgroup.procs)
  grep -q "^0::/hardrun-test.service/hardrun-$pid\$" /proc/$child/cgroup ||
    fail "workload's /proc/PID/cgroup: $(cat /proc/$child/cgroup)"
  kill -TERM $pid
  wait $pid
  [ -e $d/hardrun-$pid ] && fail "$d/hardrun-$pid left after hardrun exited"
  # the limit applies: a fork bomb (the unit's next start runs from the supervisor leaf)
  sh -c "echo \$\$ > $d/hardrun-supervisor/cgroup.procs && exec $HR run --rootfs $ROOTFS --pids-limit 20 -- \
    cgstress forks 200" >/tmp/hr.out 2>/tmp/hr.err
  RC=$?; OUT=$(cat /tmp/hr.out); cat /tmp/hr.out /tmp/hr.err
  expect_rc 0
  n=$(echo "$OUT" | sed -n 's/^forked \([0-9]*\) of 200.*/\1/p')
  [ -n "$n" ] && [ "$n" -lt 20 ] || fail "pids.max not enforced in the delegated unit (forked '$n')"
  ls -d $d/hardrun-[0-9]* 2>/dev/null && fail "workload cgroups left in $d"
  [ -z "$(ls -d $CG/hardrun/hardrun-* 2>/dev/null)" ] || fail "a cgroup under the default parent"
  rmdir $d/hardrun-supervisor $d
}

test_cgroup_parent_flag() {
  hr --cgroup-parent /custom/place --pids-limit 25 -- sh -c 'cat /proc/self/cgroup'
  expect_rc 0
  expect_eq "$OUT" "0::/" "/proc/self/cgroup inside the workload (its own cgroup namespace)"
  [ -d $CG/custom/place ] || fail "--cgroup-parent was not created"
  ls -d $CG/custom/place/hardrun-* 2>/dev/null && fail "workload cgroup left in $CG/custom/place"
  expect_eq "$(cat $CG/custom/place/cgroup.subtree_control)" pids "controllers enabled along --cgroup-parent"
  rmdir $CG/custom/place $CG/custom
}

test_cgroup_for_limits_carries_a_default_deny_device_program() {
  # a cgroup made only for --memory still denies every device but the defaults (issue 12): a root workload
  # with CAP_MKNOD on a tmpfs that allows devices may make /dev/null's twin, not /dev/kmsg's
  hr --memory 64m --user 0 --cap-add MKNOD --tmpfs /devtest:dev --landlock off -- \
    sh -c 'mknod /devtest/null c 1 3 && echo null-made; mknod /devtest/kmsg c 1 11 2>/dev/null && echo kmsg-made || echo kmsg-refused'
  expect_rc 0
  expect_out "null-made"
  expect_out "kmsg-refused"
  expect_no_out "kmsg-made"
}
