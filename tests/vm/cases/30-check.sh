# hardrun check on a real kernel (Debian's, under qemu): the escape probes that need what the build host lacks
# (cgroup v2 memory and pids, /proc/kcore, /proc/sysrq-trigger, modules, ioperm, AppArmor) are all blocked
# here, and each of those is shown able to fail when run outside any sandbox. OOM and the pids limit give
# their findings with the limit and the peak.
PROBE=/hardrun/bin/probes/hardrun-probe

# check_cmd ARGS: hardrun check --rootfs /rootfs ARGS (human report on stdout)
check_cmd() { hardrun_cmd check -q --rootfs "$ROOTFS" "$@"; }

# the verdict a probe got in the human report
verdict_of() { echo "$OUT" | awk -v n="$1" '$2 == n { print $1; exit }'; }

test_probes_all_blocked_with_limits() {
  [ -x "$PROBE" ] || fail "$PROBE is not in the initramfs"
  n=$("$PROBE" list | wc -l)
  [ "$n" -ge 30 ] || fail "only $n probes"
  check_cmd --probes --memory 128m --pids-limit 64
  expect_rc 0 "every probe blocked under the default hardening with limits"
  expect_out "Escape probes ($n: $n blocked)"
  # the ones the build host cannot test, each blocked here for real
  for p in memory-limit pids-limit fork-bomb read-kcore sysrq-trigger load-module ioperm; do
    expect_eq "$(verdict_of $p)" blocked "$p"
  done
  expect_out "killed by the OOM killer at the memory limit"
}

test_probes_fail_a_plan_without_limits() {
  # issue 15 item 6: no limit is a finding, even though the test limit the probe then runs under stops it
  check_cmd --probes --probe memory-limit --probe pids-limit --probe fork-bomb
  expect_rc 1 "a plan without memory and pids limits"
  for p in memory-limit pids-limit fork-bomb; do
    expect_eq "$(verdict_of $p)" not-blocked "$p"
  done
  expect_out "the plan sets no memory limit"
  expect_out "under a test limit: blocked, killed by the OOM killer"
}

test_probes_use_the_plans_own_limits() {
  check_cmd --probes --probe memory-limit --probe pids-limit --probe fork-bomb --memory 48m --pids-limit 32
  expect_rc 0
  expect_out "allocate past memory.max -> OOM kill: blocked by memory.max=48 MiB"
  expect_out "fork(2) past pids.max -> EAGAIN: blocked by pids.max=32"
  expect_no_out "test limit"
}

test_probes_can_fail_outside_a_sandbox() {
  # as root and without any sandbox, the host-dependent probes must report "not blocked"
  for p in read-kcore sysrq-trigger write-proc-sys sys-firmware load-module ioperm; do
    out=$("$PROBE" $p)
    echo "$p: $out" | tr '\n' ' '
    echo
    case "$out" in *result=not-blocked*) ;; *) fail "$p outside a sandbox: $out" ;; esac
  done
  # the limit probes stop at their own safety cap when nothing limits them
  for a in "memory-limit 33554432" "pids-limit 16" "fork-bomb 16"; do
    out=$("$PROBE" $a)
    case "$out" in *result=not-blocked*) ;; *) fail "$a without a limit: $out" ;; esac
  done
}

test_check_reports_apparmor_and_cgroup_evidence() {
  check_cmd --memory 40m --pids-limit 20 -- true
  # the limits are warnings-free, so the only possible non-ok layers would be failures
  expect_rc 0 "a clean run under full hardening"
  echo "$OUT" | grep -q "ok       apparmor" || fail "apparmor layer not ok"
  expect_out "label 'hardrun-default (enforce)'"
  expect_out "memory.max=41943040"
  expect_out "pids.max=20"
}

test_check_oom_finding_names_limit_and_peak() {
  check_cmd --memory 32m -- cgstress mem 256
  expect_rc 1 "an OOM kill is the hardening's doing"
  expect_out "killed by the OOM killer: the memory limit 32 MiB was reached (peak"
  expect_out "fix: raise --memory"
}

test_check_pids_finding() {
  check_cmd --pids-limit 8 -- cgstress forks 50
  expect_rc 1
  expect_out "fork failed: the pids limit 8 was reached"
}
