# AppArmor on a real kernel: hardrun-default, named profiles, fail-closed cases, the load command.
PROFILE_FILE=${HARDRUN_DATADIR:-/usr/share/hardrun}/apparmor/hardrun-default

aa_loaded() { grep -q "^$1 (" /sys/kernel/security/apparmor/profiles; }
ensure_default_loaded() {
  aa_loaded hardrun-default && return 0
  hardrun_cmd apparmor load
  expect_rc 0 "hardrun apparmor load"
}

test_apparmor_enabled_in_guest() {
  [ "$(cat /sys/module/apparmor/parameters/enabled)" = Y ] || fail "AppArmor is not enabled in the guest kernel"
  hardrun_cmd apparmor status
  expect_rc 0
  expect_out "apparmor: enabled"
}

test_default_profile_not_loaded_fails_closed() {
  aa_loaded hardrun-default && apparmor_parser --remove "$PROFILE_FILE"
  aa_loaded hardrun-default && fail "could not unload hardrun-default for the test"
  hr -- echo RAN
  expect_rc 125
  expect_err "hardrun apparmor load"
  expect_no_out RAN
  # the explicit way out
  hr --security-opt apparmor=unconfined -- cat /proc/self/attr/current
  expect_rc 0
  expect_out unconfined
  ensure_default_loaded
}

test_load_requires_root() {
  $SETPRIV --reuid=$USER_UID --regid=$USER_UID --clear-groups $HR apparmor load >/tmp/o 2>&1
  rc=$?
  cat /tmp/o
  [ $rc = 125 ] || fail "exit $rc, expected 125"
  grep -q "needs root" /tmp/o || fail "no reason given"
}

test_load_and_default_profile_applies() {
  aa_loaded hardrun-default && apparmor_parser --remove "$PROFILE_FILE"
  hardrun_cmd apparmor load
  expect_rc 0
  aa_loaded hardrun-default || fail "hardrun-default is not in the kernel after hardrun apparmor load"
  hr -- cat /proc/self/attr/current
  expect_rc 0
  expect_eq "$OUT" "hardrun-default (enforce)" "/proc/self/attr/current"
  hr -- cat /proc/self/attr/apparmor/current
  expect_eq "$OUT" "hardrun-default (enforce)" "/proc/self/attr/apparmor/current"
}

# Landlock (on by default) also refuses some of these: it is turned off so AppArmor alone decides.
test_denied_write_refused_allowed_write_works() {
  ensure_default_loaded
  # allowed: the workload's own tmpfs
  hr --landlock off -- sh -c 'echo hello > /tmp/f && cat /tmp/f'
  expect_rc 0
  expect_out hello
  # denied by hardrun-default: opening /proc/PID/mem for writing
  hr --landlock off -- sh -c 'echo x > /proc/self/mem; echo rc=$?'
  expect_err "Permission denied"
  expect_out "rc=1"
  # the same without the profile opens it (the write itself then fails at address 0): the profile did it
  hr --landlock off --security-opt apparmor=unconfined -- sh -c 'echo x > /proc/self/mem; echo rc=$?'
  case "$ERR" in *"Permission denied"*) fail "denied even without AppArmor: the test proves nothing" ;; esac
  return 0
}

test_mount_denied_even_with_cap_sys_admin() {
  ensure_default_loaded
  hr --landlock off --cap-add SYS_ADMIN --security-opt seccomp=unconfined -- mount -t tmpfs none /tmp
  [ "$RC" = 0 ] && fail "mount succeeded under hardrun-default"
  case "$ERR" in *[Pp]"ermission denied"*) ;; *) fail "mount was not refused with a permission error" ;; esac
  hr --landlock off --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    -- mount -t tmpfs none /tmp
  expect_rc 0 "the same mount without AppArmor (control)"
}

test_ptrace_capability_with_an_unconfined_reaper_is_refused() {
  ensure_default_loaded
  # the label applies: PID 1 stays hardrun's reaper, outside the profile; CAP_SYS_PTRACE would reach it
  hr --cap-add SYS_PTRACE -- sh -c 'echo RAN'
  expect_rc 125 "CAP_SYS_PTRACE with the profile applied"
  expect_err "CAP_SYS_PTRACE"
  expect_no_out "RAN"
  # the same workload without the profile runs (control), and the reaper is really there with the profile on
  hr --cap-add SYS_PTRACE --security-opt apparmor=unconfined -- sh -c 'echo RAN'
  expect_rc 0 "CAP_SYS_PTRACE without AppArmor"
  hr -- sh -c 'echo pid=$$'
  expect_out "pid=2"
}

test_named_profile_applies() {
  cat >/tmp/hr-test-profile <<'P'
profile hr-test flags=(attach_disconnected) {
  file,
  deny /tmp/forbidden w,
}
P
  hardrun_cmd apparmor load /tmp/hr-test-profile
  expect_rc 0
  hr --security-opt apparmor=hr-test -- sh -c 'cat /proc/self/attr/current; echo a > /tmp/allowed && echo allowed-ok; echo b > /tmp/forbidden || echo forbidden-refused'
  expect_rc 0
  expect_out "hr-test (enforce)"
  expect_out allowed-ok
  expect_out forbidden-refused
  apparmor_parser --remove /tmp/hr-test-profile
}

test_unloaded_named_profile_fails_closed() {
  hr --security-opt apparmor=no-such-profile -- echo RAN
  expect_rc 125
  expect_err "not loaded"
  expect_no_out RAN
}

test_rootless_gets_default_profile() {
  ensure_default_loaded
  hr_as $USER_UID -- cat /proc/self/attr/current
  expect_rc 0
  expect_eq "$OUT" "hardrun-default (enforce)" "rootless /proc/self/attr/current"
}

test_label_applied_through_real_procfs_despite_fake_proc() {
  # runc CVE-2019-16884: a rootfs that ships its own /proc/self/attr/current (plain files) must not catch
  # the label write; hardrun writes it through the sandbox's real procfs and the kernel confines the workload
  "$HR" apparmor load >/dev/null 2>&1
  fake=/tmp/fakeproc-rootfs
  rm -rf $fake
  cp -a "$ROOTFS" $fake
  mkdir -p $fake/proc/self/attr
  echo fake-label > $fake/proc/self/attr/current
  echo fake-label > $fake/proc/self/attr/exec
  hardrun_cmd run --rootfs $fake -- sh -c 'cat /proc/self/attr/current; stat -f -c %T /proc/self/attr'
  rm -rf $fake
  expect_rc 0
  expect_eq "$(echo "$OUT" | head -n 1)" "hardrun-default (enforce)" "/proc/self/attr/current"
  expect_eq "$(echo "$OUT" | tail -n 1)" "proc" "the filesystem at /proc/self/attr"
}
