# hardrun's systemd cgroup driver, driven directly (no engine): `hardrun --systemd-cgroup create/start/delete`
# with linux.cgroupsPath system.slice:hardrun:test. The kernel must show the container's process, and only it, in
# the transient scope's cgroup with config.json's memory.max, systemd must show the scope with Delegate=yes, and
# nothing (cgroup, unit, state) may be left after delete.

SCOPE=/sys/fs/cgroup/system.slice/hardrun-test.scope

sd_bundle() {  # DIR: a bundle from the test image: sleep, 256 MiB memory limit, cgroupsPath system.slice:hardrun:test
  rm -rf "$1" && mkdir -p "$1/rootfs"
  tar -C "$1/rootfs" -xf /hardrun-test/image.tar || fail "unpacking the test image"
  (cd "$1" && must "$HARDRUN" spec)
  python3 - "$1/config.json" <<'PY' || fail "editing config.json"
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
c["linux"]["cgroupsPath"] = "system.slice:hardrun:test"
c["linux"].setdefault("resources", {})["memory"] = {"limit": 268435456}
json.dump(c, open(p, "w"))
PY
}

test_create_start_delete() {
  local b=/tmp/sd-bundle pid
  sd_bundle "$b"
  trap '"$HARDRUN" delete --force sdtest >/dev/null 2>&1' EXIT
  must "$HARDRUN" --systemd-cgroup create --bundle "$b" sdtest
  pid=$("$HARDRUN" state sdtest | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
  note "container process $pid in $(cgroup_dir "$pid")"
  expect_eq "$(cgroup_dir "$pid")" "$SCOPE" "the container's cgroup"
  expect_eq "$(cat "$SCOPE/cgroup.procs")" "$pid" "the scope's processes (only the container)"
  expect_eq "$(cat "$SCOPE/memory.max")" 268435456 "memory.max of the scope"
  must systemctl show -p Delegate -p ActiveState -p Slice -p ControlGroup hardrun-test.scope
  expect_line "$OUT" "Delegate=yes"
  expect_line "$OUT" "ActiveState=active"
  expect_line "$OUT" "Slice=system.slice"
  must "$HARDRUN" start sdtest
  wait_until 50 sh -c "\"$HARDRUN\" state sdtest | grep -q '\"running\"'" || fail "sdtest is not running"
  expect_eq "$(cgroup_dir "$pid")" "$SCOPE" "the container's cgroup after start"
  must "$HARDRUN" kill sdtest TERM
  wait_until 100 sh -c "\"$HARDRUN\" state sdtest | grep -q '\"stopped\"'" || fail "sdtest did not stop"
  must "$HARDRUN" delete sdtest
  wait_until 50 test ! -d "$SCOPE" || fail "$SCOPE is left after delete"
  run systemctl list-units --all --no-legend hardrun-test.scope
  [ -z "$OUT" ] || fail "the unit is left after delete: $OUT"
  run "$HARDRUN" state sdtest
  [ "$RC" != 0 ] || fail "the state of sdtest is left after delete"
}

# --systemd-cgroup with a cgroupfs path is refused, naming the form (one line, nothing left)
test_refuses_cgroupfs_path() {
  local b=/tmp/sd-bundle2
  sd_bundle "$b"
  python3 -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["linux"]["cgroupsPath"]="/hardrun/x"; json.dump(c, open(p,"w"))' "$b/config.json"
  run "$HARDRUN" --systemd-cgroup create --bundle "$b" sdbad
  expect_rc 125 "a cgroupfs path with --systemd-cgroup"
  case "$ERR" in *"slice:prefix:name"*) ;; *) fail "the error does not name slice:prefix:name: $ERR" ;; esac
  run "$HARDRUN" state sdbad
  [ "$RC" != 0 ] || fail "sdbad's state is left"
}
