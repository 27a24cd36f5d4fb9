// Inputs the fuzzers (tests/fuzz) found interesting, kept as unit tests. Each names its fuzz target; the raw
// inputs are also in tests/fuzz/regressions/<target>/ and replayed before every fuzzing run.
#include <doctest/doctest.h>

#include "hardrun/error.hpp"
#include "hardrun/landlock.hpp"
#include "hardrun/parse.hpp"

using namespace hardrun;

// build_plan: a path component that merely starts with ".." is a name, not a way up (the fuzzer's own
// property check once mistook it for one).
TEST_CASE("fuzz regression build_plan: '..st' is a file name, '..' is refused") {
    Mount m = parse::tmpfs("--tmpfs", "/5sr/b-m ..st");
    CHECK(m.destination == "/5sr/b-m ..st");
    CHECK(parse::sandbox_path("-w", "/a/..b/c..") == "/a/..b/c..");
    CHECK_THROWS_AS(parse::tmpfs("--tmpfs", "/a/../b"), UsageError);
    CHECK_THROWS_AS(parse::volume("-v", "/src:/a/.."), UsageError);
}

// flag values: the parsers reject with UsageError only, whatever the bytes (a few shapes libFuzzer tried).
TEST_CASE("fuzz regression flag_values: odd bytes are usage errors") {
    for (const char* v : {"", "\xff", "1e999", "18446744073709551616", "0x10", "1.", ".5g", "1..5m", "-1", "9999999999999t"})
        CHECK_THROWS_AS(parse::size("--memory", v), UsageError);
    for (const char* v : {"", ":", "1:", ":1", "1:2:3", "4294967295", "-5", "0x1"})
        CHECK_THROWS_AS(parse::user("--user", v), UsageError);
    for (const char* v : {"", "=", "nofile", "nofile=", "nofile=2:1", "nofile=1:2:3", "bogus=1"})
        CHECK_THROWS_AS(parse::ulimit("--ulimit", v), UsageError);
    for (const char* v : {"", "CAP_", "cap_", "NOT_A_CAP", "CAP_CAP_CHOWN"})
        CHECK_THROWS_AS(parse::capability("--cap-add", v), UsageError);
}
