# The guest runner's own pieces (tests/vm/run-tests, lib.sh).

test_uptime_to_ms_reads_every_fraction() {
  # every two-digit fraction /proc/uptime can show, "08" and "09" included (not octal)
  for f in 00 01 07 08 09 10 50 99; do
    expect_eq "$(ms_of_uptime 241.$f 2>&1)" $((241000 + 10 * ${f#0})) "ms_of_uptime 241.$f"
  done
  expect_eq "$(ms_of_uptime 7.08 2>&1)" 7080 "ms_of_uptime 7.08"
  [ "$(now_ms)" -gt 0 ] || fail "now_ms: $(now_ms 2>&1)"
}
