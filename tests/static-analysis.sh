#!/usr/bin/env bash
# Static analysis: clang-tidy (checks in .clang-tidy) over every launcher and libexec source, and cppcheck over the C++
# sources, the probes, the helpers and the fuzz targets. Any finding fails the run; each file is one JUnit
# test case, so the report says where.
#
# Usage: tests/static-analysis.sh [--junit FILE] [--jobs N] [FILE...]
#   Needs $BUILD_DIR/compile_commands.json (scripts/setup configures it). Suppressions, each with its reason,
#   are in tests/static-analysis.suppressions (cppcheck); clang-tidy findings are fixed or NOLINT'ed in place.
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
junit=""; jobs=$(nproc); files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --junit) junit=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    *) files+=("$1") ;;
  esac
  shift
done
need_packages clang-tidy cppcheck || exit 1
tidy=$(command -v clang-tidy-14 || command -v clang-tidy)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ ! -f "$BUILD_DIR/compile_commands.json" ]; then
  cmake -S "$HARDRUN_ROOT" -B "$BUILD_DIR" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null || exit 1
fi
cd "$HARDRUN_ROOT" || exit 1
[ ${#files[@]} -eq 0 ] && mapfile -t files < <(find launcher libexec -name "*.cpp" | sort)

echo "== clang-tidy: ${#files[@]} files, $jobs at a time"
t0=$(date +%s)
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c \
  'f="$1"; n=$(echo "$f" | tr / _); "$2" -p "$3" --quiet "$f" >"$4/tidy.$n.out" 2>"$4/tidy.$n.err"; echo $? >"$4/tidy.$n.rc"' \
  _ {} "$tidy" "$BUILD_DIR" "$out"
echo "clang-tidy took $(( $(date +%s) - t0 ))s"

echo "== cppcheck"
cppcheck -q --std=c++20 --enable=warning,performance,portability --inline-suppr --suppress=missingIncludeSystem \
  --suppressions-list=tests/static-analysis.suppressions -I include -j "$jobs" \
  --template='{file}:{line}: {severity}: {message} [{id}]' launcher libexec probes tests/helpers tests/fuzz tests/unit \
  >"$out/cppcheck.out" 2>&1
grep -E '^[^ ]+:[0-9]+: ' "$out/cppcheck.out" | sort -u >"$out/cppcheck.findings"

/usr/bin/python3 - "$out" "$junit" "${files[@]}" <<'PY'
import os, re, sys, xml.sax.saxutils as x
out, junit, files = sys.argv[1], sys.argv[2], sys.argv[3:]
cases, failures = [], 0
finding = re.compile(r"^(\S+?):(\d+):(\d+): (warning|error): (.*)$")
for f in files:
    n = f.replace("/", "_")
    text = open(os.path.join(out, f"tidy.{n}.out"), errors="replace").read()
    rc = open(os.path.join(out, f"tidy.{n}.rc")).read().strip()
    found = [l for l in text.splitlines() if finding.match(l)]
    if found or rc != "0":
        failures += 1
        err = open(os.path.join(out, f"tidy.{n}.err"), errors="replace").read()
        body = "\n".join(found) or err[-2000:]
        print("\n".join(found) or f"clang-tidy {f}: exit {rc}\n{err[-500:]}")
        cases.append(f'<testcase classname="static.clang-tidy" name="{x.escape(f)}"><failure message="{len(found)} findings">'
                     f'{x.escape(text[-8000:] or body)}</failure></testcase>')
    else:
        cases.append(f'<testcase classname="static.clang-tidy" name="{x.escape(f)}"/>')
by_file = {}
for line in open(os.path.join(out, "cppcheck.findings")):
    by_file.setdefault(line.split(":", 1)[0], []).append(line.rstrip())
for f, lines in sorted(by_file.items()):
    failures += 1
    print("\n".join(lines))
    cases.append(f'<testcase classname="static.cppcheck" name="{x.escape(f)}"><failure message="{len(lines)} findings">'
                 f'{x.escape(chr(10).join(lines))}</failure></testcase>')
cases.append('<testcase classname="static.cppcheck" name="all sources"/>' if not by_file else "")
print(f"static analysis: {failures} file(s) with findings")
if junit:
    with open(junit, "w") as j:
        j.write(f'<testsuite name="static-analysis" tests="{len([c for c in cases if c])}" failures="{failures}">'
                + "".join(cases) + "</testsuite>\n")
sys.exit(1 if failures else 0)
PY
