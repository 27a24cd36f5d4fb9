#!/usr/bin/env bash
# The test suite under ASan+UBSan: the unit tests, then the integration and security tests against a clang
# -fsanitize=address,undefined build of hardrun (in $BUILD_DIR/sanitize, shared with scripts/fuzz). Any
# sanitizer report (a memory error, undefined behaviour, a leak in the supervisor) fails the run.
# The big load/race/fault loops are scaled down here (ASan makes each launch slower); scripts/test runs them
# at full size against the normal build.
#
# Usage: tests/sanitize.sh [--junit FILE] [PYTEST ARGS...]
#   Needs the demo rootfs of the normal build ($BUILD_DIR/rootfs, made by scripts/setup): its static helpers
#   are not sanitized (they run inside the sandbox).
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
junit=""; pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --junit) junit=$2; shift ;;
    *) pytest_args+=("$1") ;;
  esac
  shift
done
SAN=$BUILD_DIR/sanitize
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail_junit() {  # message
  [ -n "$junit" ] && printf '<testsuite name="sanitize" tests="1" failures="1"><testcase classname="sanitize" name="setup"><failure message="%s"/></testcase></testsuite>\n' "$1" >"$junit"
  echo "sanitize: $1" >&2
  exit 1
}
[ -d "$ROOTFS_DIR" ] || fail_junit "no demo rootfs in $ROOTFS_DIR: run scripts/setup first"
"$HARDRUN_ROOT/scripts/fuzz" --build-only >/dev/null || fail_junit "the clang ASan+UBSan build failed ($SAN.log)"

# Reports go to files (checked at the end) as well as failing the process: abort_on_error=0 so hardrun's own
# exit status shows the failure to the test, exitcode=86 to make it recognisable.
mkdir -p "$out/reports"
export ASAN_OPTIONS="detect_leaks=1:exitcode=86:log_path=$out/reports/asan:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=86:log_path=$out/reports/ubsan"
export LSAN_OPTIONS="exitcode=86"
chmod 1777 "$out/reports"  # rootless tests run hardrun as another uid
chmod 755 "$out"

rc=0
echo "== sanitize: unit tests"
"$SAN/tests/unit_tests" -r=junit >"$out/unit.xml" 2>"$out/unit.err" || rc=1
"$SAN/tests/unit_tests" --minimal 2>&1 | tail -n 2

echo "== sanitize: integration and security tests against $SAN/hardrun"
export HARDRUN=$SAN/hardrun HARDRUN_ROOTFS=$ROOTFS_DIR HARDRUN_HELPERS=$BUILD_DIR/helpers \
  HARDRUN_SOURCE=$HARDRUN_ROOT HARDRUN_BUILD=$BUILD_DIR HARDRUN_SANITIZED=1
# smaller load runs, but not so small that the leak check judges noise: ASan's allocator maps memory 64 KiB at a
# time, and concurrent launches take such a step now and then, so the concurrent loop must be long enough that half
# a 1 KiB-per-launch leak exceeds one step (10x20: 190 launches, 95 KiB allowed; 10x10 allowed 45 KiB, and one
# ordinary 64 KiB step, 36480 -> 36544 KiB, failed it)
export HARDRUN_LOAD_SEQUENTIAL=${HARDRUN_LOAD_SEQUENTIAL:-200} HARDRUN_LOAD_CONCURRENT=${HARDRUN_LOAD_CONCURRENT:-10x20} \
  HARDRUN_RACE_LAUNCHES=${HARDRUN_RACE_LAUNCHES:-150} HARDRUN_FAULT_LAUNCHES=${HARDRUN_FAULT_LAUNCHES:-100}
t0=$(date +%s)
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$out/integration.xml" \
  "$HARDRUN_ROOT/tests/integration" "$HARDRUN_ROOT/tests/security" "${pytest_args[@]}" || rc=1
echo "sanitize: pytest took $(( $(date +%s) - t0 ))s"

reports=$(find "$out/reports" -type f 2>/dev/null | sort)
if [ -n "$reports" ]; then
  rc=1
  echo "== sanitize: sanitizer reports" >&2
  for r in $reports; do echo "--- $r" >&2; head -n 40 "$r" >&2; done
fi

if [ -n "$junit" ]; then
  /usr/bin/python3 - "$junit" "$out" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET
junit, out = sys.argv[1], sys.argv[2]
top = ET.Element("testsuites", name="sanitize")
for name in ("unit.xml", "integration.xml"):
    path = os.path.join(out, name)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, FileNotFoundError) as e:
        suite = ET.SubElement(top, "testsuite", name=f"sanitize.{name}", tests="1", failures="1")
        case = ET.SubElement(suite, "testcase", classname="sanitize", name=name)
        ET.SubElement(case, "failure", message=str(e))
        continue
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for s in suites:
        s.set("name", "sanitize." + s.get("name", name))
        for c in s.iter("testcase"):
            c.set("classname", "sanitize." + c.get("classname", ""))
        top.append(s)
reports = sorted(glob.glob(os.path.join(out, "reports", "*")))
suite = ET.SubElement(top, "testsuite", name="sanitize.reports", tests="1", failures="1" if reports else "0")
case = ET.SubElement(suite, "testcase", classname="sanitize", name="no sanitizer reports")
if reports:
    text = "".join(f"--- {r}\n" + open(r, errors="replace").read()[:4000] for r in reports[:10])
    ET.SubElement(case, "failure", message=f"{len(reports)} sanitizer report(s)").text = text
ET.ElementTree(top).write(junit, encoding="unicode")
PY
fi
exit $rc
