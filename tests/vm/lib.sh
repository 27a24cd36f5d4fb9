# Sourced by every guest test (busybox sh). Helpers to run hardrun and check what happened.
HR=/hardrun/bin/hardrun
ROOTFS=${HARDRUN_ROOTFS:-/rootfs}
CG=/sys/fs/cgroup
USER_UID=1000   # the unprivileged user of the rootless tests
# util-linux setpriv by path: busybox sh would run its own applet, which lacks --reuid
SETPRIV=/usr/bin/setpriv

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
note() { echo "# $*"; }

# logged LABEL CMD...: runs CMD; sets RC, OUT (stdout) and ERR (stderr) and logs them under LABEL.
logged() {
  local label=$1
  shift
  "$@" >/tmp/hr.out 2>/tmp/hr.err </dev/null
  RC=$?
  OUT=$(cat /tmp/hr.out)
  ERR=$(cat /tmp/hr.err)
  echo "\$ $label -> exit $RC"
  sed 's/^/  out: /' /tmp/hr.out
  sed 's/^/  err: /' /tmp/hr.err
}
# hardrun_cmd ARGS...: runs hardrun ARGS (RC, OUT, ERR as logged sets them)
hardrun_cmd() { logged "hardrun $*" "$HR" "$@"; }
# hr ARGS...: hardrun run --rootfs /rootfs ARGS (put -- before the command)
hr() { hardrun_cmd run --rootfs "$ROOTFS" "$@"; }
# hr_as UID ARGS...: the same as an unprivileged user (rootless mode)
hr_as() {
  uid=$1
  shift
  logged "(uid $uid) hardrun run $*" $SETPRIV --reuid="$uid" --regid="$uid" --clear-groups "$HR" run --rootfs "$ROOTFS" "$@"
}

expect_rc() { [ "$RC" = "$1" ] || fail "expected exit $1, got $RC${2:+ ($2)}"; }
expect_out() { case "$OUT" in *"$1"*) ;; *) fail "stdout lacks '$1'" ;; esac; }
expect_no_out() { case "$OUT" in *"$1"*) fail "stdout has '$1'" ;; esac; }
expect_err() { case "$ERR" in *"$1"*) ;; *) fail "stderr lacks '$1'" ;; esac; }
expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }

# wait_until TENTHS CMD...: polls CMD every 0.1 s until it succeeds; false when it never does.
wait_until() {
  n=$1
  shift
  while [ "$n" -gt 0 ]; do
    "$@" && return 0
    sleep 0.1
    n=$((n - 1))
  done
  return 1
}

# the cgroup a root `hardrun run` with pid PID creates (the default parent)
cgroup_of() { echo "$CG/hardrun/hardrun-$1"; }
populated() { grep -q 'populated 1' "$1/cgroup.events" 2>/dev/null; }
# pids of hardrun's cgroup reapers (see Cgroup in include/hardrun/layers/cgroups/cgroups.hpp)
# (zombies do not count: they have exited, and only wait for PID 1 to collect them)
reapers() {
  for p in $(grep -l '^hardrun-reaper$' /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3); do
    grep -q '^State:[[:space:]]*Z' /proc/$p/status 2>/dev/null || echo $p
  done
}
no_reapers() { [ -z "$(reapers)" ]; }
no_workload_cgroups() { [ -z "$(ls -d $CG/hardrun/hardrun-* 2>/dev/null)" ]; }
# a keyed value ("key value" lines) from a cgroup file
cg_key() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# ms_of_uptime SECONDS.HH: /proc/uptime's first field in milliseconds. The fraction loses its leading zero
# first: busybox sh reads "08" and "09" as bad octal ("arithmetic syntax error").
ms_of_uptime() {
  frac=${1#*.}
  frac=${frac#0}
  echo $(( ${1%.*} * 1000 + 10 * frac ))
}
now_ms() { read -r up _ </proc/uptime; ms_of_uptime "$up"; }
