#!/usr/bin/env bash
# CI: every libFuzzer target for a short bounded time (HARDRUN_FUZZ_SECONDS, default 20 s each), after
# replaying the inputs that once crashed (tests/fuzz/regressions). Longer runs: scripts/fuzz --seconds N.
# Usage: tests/fuzz.sh [--junit FILE]
exec "$(dirname "$0")/../scripts/fuzz" --seconds "${HARDRUN_FUZZ_SECONDS:-20}" "$@"
