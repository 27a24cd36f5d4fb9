# Sourced by the engines tier's guest tests (bash, in the Debian guest). Helpers to drive the engines and check
# what the kernel shows.
HARDRUN=/usr/bin/hardrun
IMAGE=hrtest:1                               # the test image (busybox rootfs of scripts/mkrootfs), in docker
CTR_IMAGE=docker.io/library/hrtest:1         # the same in containerd (namespaces default and k8s.io)
PODMAN_IMAGE=localhost/hrtest:1              # the same in podman's rootful storage (/var/lib/containers)
# the seeds' hardened docker command
HARDENED=(--read-only --tmpfs /tmp --cap-drop=ALL --security-opt no-new-privileges --user 10001:10001 --memory 256m --cpus 1)
# what each test asserts inside the container: identity, capabilities, no_new_privs, seccomp, AppArmor label,
# the memory and cpu limits of its own cgroup (read through /proc/self/cgroup: with or without a cgroup
# namespace), and a read-only root with a writable /tmp
PROBE='grep -E "^(Uid|Gid|CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status
echo "label: $(cat /proc/self/attr/current)"
cg=$(sed -n "s/^0:://p" /proc/self/cgroup); cg=${cg%/}
echo "cgroup: $cg, /sys/fs/cgroup: $(grep " /sys/fs/cgroup " /proc/self/mountinfo | cut -d" " -f4-)"
echo "memory.max: $(cat /sys/fs/cgroup$cg/memory.max)"
echo "cpu.max: $(cat /sys/fs/cgroup$cg/cpu.max)"
if touch /etc/probe 2>/dev/null; then echo "root: writable"; else echo "root: read-only"; fi
if touch /tmp/probe 2>/dev/null; then echo "tmp: writable"; else echo "tmp: read-only"; fi'
# a long-running workload that says it started, and exits 0 on SIGTERM (as PID 1 it must handle it itself)
SERVE='echo "started $(hostname)"; trap "exit 0" TERM; while :; do sleep 1; done'

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
note() { echo "# $*"; }
now_ms() { read -r up _ </proc/uptime; echo $(( ${up%.*} * 1000 + 10#${up#*.} * 10 )); }

# run CMD...: runs it; sets RC, OUT (stdout) and ERR (stderr) and logs them
run() {
  "$@" >/tmp/cmd.out 2>/tmp/cmd.err </dev/null
  RC=$?
  OUT=$(cat /tmp/cmd.out)
  ERR=$(cat /tmp/cmd.err)
  echo "\$ $* -> exit $RC"
  sed 's/^/  out: /' /tmp/cmd.out
  sed 's/^/  err: /' /tmp/cmd.err
}
# must CMD...: run, and fail the test (with the command's stderr) unless it exits 0
must() {
  run "$@"
  [ "$RC" = 0 ] || fail "$1 $2 exited $RC: $(echo "$ERR" | grep -v '^$' | tail -n 1)"
}
expect_rc() { [ "$RC" = "$1" ] || fail "expected exit $1, got $RC${2:+ ($2)}"; }
expect_out() { case "$OUT" in *"$1"*) ;; *) fail "stdout lacks '$1'" ;; esac; }
expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }
# expect_line TEXT LINE: TEXT has LINE exactly (whitespace squeezed)
expect_line() {
  echo "$1" | tr -s ' \t' ' ' | grep -qxF -- "$2" || fail "expected the line '$2' in: $(echo "$1" | tr -s ' \t' ' ' | paste -sd'|')"
}
# expect_probe TEXT LABEL MEMORY_MAX CPU_MAX: the output of $PROBE shows the hardened process
# (WANT_ID: the uid and gid it must run as, default 10001)
expect_probe() {
  local id=${WANT_ID:-10001}
  expect_line "$1" "Uid: $id $id $id $id"
  expect_line "$1" "Gid: $id $id $id $id"
  expect_line "$1" "CapEff: 0000000000000000"
  expect_line "$1" "NoNewPrivs: 1"
  expect_line "$1" "Seccomp: 2"
  expect_line "$1" "label: $2"
  expect_line "$1" "memory.max: $3"
  [ -z "${4:-}" ] || expect_line "$1" "cpu.max: $4"
  expect_line "$1" "root: read-only"
  expect_line "$1" "tmp: writable"
}
wait_until() {  # TENTHS CMD...: polls CMD every 0.1 s until it succeeds
  local n=$1; shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
  return 1
}
# cgroup_dir PID: the cgroup v2 directory of a process, as the kernel shows it
cgroup_dir() { echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$1/cgroup")"; }

# What docker and podman share (the same verbs and output), for the container $BOX of a case's start_box:
# ENGINE exec -t: the runtime's pty (through the console socket) is the process's terminal, uid 10001
expect_exec_tty() {  # ENGINE
  must script -qec "$1 exec -t $BOX sh -c 'tty; id -u'" /dev/null
  echo "$OUT" | tr -d '\r' | grep -qx '/dev/pts/[0-9]*' || fail "exec -t: no pty in: $OUT"
  echo "$OUT" | tr -d '\r' | grep -qx 10001 || fail "exec -t: not uid 10001: $OUT"
}
# ENGINE pause, then unpause: the engine's status and the cgroup v2 freezer of the container's cgroup CG
expect_pause_unpause() {  # ENGINE CG
  must "$1" pause "$BOX"
  expect_eq "$("$1" inspect -f '{{.State.Status}}' "$BOX")" paused "status after pause"
  grep -qx 'frozen 1' "$2/cgroup.events" || fail "$2 is not frozen: $(cat "$2/cgroup.events")"
  must "$1" unpause "$BOX"
  expect_eq "$("$1" inspect -f '{{.State.Status}}' "$BOX")" running "status after unpause"
  grep -qx 'frozen 0' "$2/cgroup.events" || fail "$2 is still frozen: $(cat "$2/cgroup.events")"
}

# install_hardrun DIR: from the project's .deb (DIR/hardrun.deb, scripts/vm-engines' default) with dpkg, as a
# Debian host does: the package's postinst loads the AppArmor profile; what the kernel lists right after dpkg
# is kept in $INSTALL_RECORD for the package tests (cases/05-package.sh). With scripts/vm-engines --binary,
# by copying to the paths the package uses (/usr/bin, /usr/share/hardrun) and `hardrun apparmor load`.
INSTALL_RECORD=/run/hardrun-install
install_hardrun() {
  rm -rf "$INSTALL_RECORD" && mkdir -p "$INSTALL_RECORD"
  if [ -e "$1/hardrun.deb" ]; then
    echo deb >"$INSTALL_RECORD/method"
    # the image was built with dpkg told to leave out other packages' docs, man pages and locales
    # (tests/vm-engines/mkimage, 99mmdebstrap); a Debian host installs them: so does hardrun's install here
    # (the VM runs on a snapshot of the image)
    rm -f /etc/dpkg/dpkg.cfg.d/99mmdebstrap
    must dpkg -i "$1/hardrun.deb"
    cp /sys/kernel/security/apparmor/profiles "$INSTALL_RECORD/apparmor-profiles" \
      || fail "cannot read the kernel's AppArmor profiles"
  else
    echo binary >"$INSTALL_RECORD/method"
    must install -m 755 "$1/bin/hardrun" /usr/bin/hardrun
    must install -D -m 755 "$1/bin/hardrun-systemd" /usr/libexec/hardrun/hardrun-systemd
    rm -rf /usr/share/hardrun && must cp -r "$1/share/hardrun" /usr/share/hardrun
    must "$HARDRUN" apparmor load
  fi
}

# setup_guest DIR: install hardrun, wait for the engines, import the test image into docker, containerd and podman
setup_guest() {
  local dir=$1 sandbox
  install_hardrun "$dir"
  wait_until 1200 docker info >/dev/null 2>&1 || fail "dockerd did not come up: $(systemctl status docker 2>&1 | tail -n 5)"
  wait_until 600 ctr version >/dev/null 2>&1 || fail "containerd did not come up"
  must docker version --format '{{.Server.Version}}'
  must docker info --format 'cgroup driver {{.CgroupDriver}}, cgroup v{{.CgroupVersion}}, runtimes {{.Runtimes}}, default {{.DefaultRuntime}}'
  must containerd --version
  run sh -c 'containerd config dump | grep -A3 "runtimes\.\(runc\|hardrun\)\]"'
  journalctl -u containerd --no-pager | grep -i "error\|failed" | tail -n 5
  must runc --version
  must "$HARDRUN" --version
  # the test image: the per-run disk's busybox rootfs; the CRI sandbox image is the same rootfs running /pause,
  # tagged as containerd's sandbox_image (no registry here)
  sandbox=$(containerd config dump | sed -n 's/^ *sandbox_image = "\(.*\)"/\1/p')
  [ -n "$sandbox" ] || fail "no sandbox_image in containerd's configuration"
  must docker import "$dir/image.tar" "$IMAGE"
  must docker import --change 'ENTRYPOINT ["/pause"]' "$dir/image.tar" "$sandbox"
  docker save "$IMAGE" "$sandbox" >/tmp/images.tar || fail "docker save failed"
  must ctr -n default images import /tmp/images.tar
  must ctr -n k8s.io images import /tmp/images.tar
  rm -f /tmp/images.tar
  must ctr -n k8s.io images ls -q
  # podman has no daemon: its rootful storage, imported from the same tar as docker's image
  must podman version
  run podman info --format 'cgroup manager {{.Host.CgroupManager}}, cgroup {{.Host.CgroupsVersion}}, storage {{.Store.GraphDriverName}}, default runtime {{.Host.OCIRuntime.Name}}'
  must podman import "$dir/image.tar" "$PODMAN_IMAGE"
  must podman images --format '{{.Repository}}:{{.Tag}}'
  expect_out "$PODMAN_IMAGE"
}
