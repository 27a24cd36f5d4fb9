// Inputs the fuzzers (tests/fuzz) found interesting, kept as unit tests. Each names its fuzz target; the raw
// inputs are also in tests/fuzz/regressions/<target>/ and replayed before every fuzzing run.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "hardrun/support/error.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/layers/landlock.hpp"
#include "hardrun/cli/lint/lint.hpp"
#include "hardrun/config/oci.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"
#include "landlock_view.hpp"

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

// flag_values: tests/fuzz/regressions/flag_values/named-volume-*, "Osr8:/..." (case 4, --volume). Since -v NAME:/path
// names a volume, a source that is not a path is a name: the fuzzer's property (absolute sources only) was older
// than named volumes. A volume is a host path or a name, never both, never neither.
TEST_CASE("fuzz regression flag_values: a named volume has a name and no source yet") {
    Mount m = parse::volume("--volume", "Osr8:/\xa2\xa2/dat");
    CHECK(m.volume == "Osr8");
    CHECK(m.source.empty());
    CHECK(m.destination == "/\xa2\xa2/dat");
    CHECK_THROWS_AS(parse::volume("--volume", "Osr8/x:/d"), UsageError);
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

// landlock_rules: tests/fuzz/regressions/landlock_rules/entries-below-a-symlink, the bytes
// 07 30 00 05 0d 26 f4 03 00 02 41 38 32 decoded as fuzz_landlock_rules.cpp does: ABI 1, a read-only root, a
// writable tmpfs at /data, a read-only noexec tmpfs at /tmp/a, a symlink /a, and entries the fuzzer's fake tree
// lists below that symlink (/a/data, /a/data/b), which no real filesystem has. Rules go on real directories and
// files only, never on a symlink or anything reached through one, and every real path gets what the plan gives it.
TEST_CASE("fuzz regression landlock_rules: entries below a symlink get no rule, real paths get the plan") {
    using landlock::EntryType;
    using namespace landlock::access;
    LaunchPlan plan;
    plan.readonly_root = true;
    Mount data;
    data.kind = MountKind::Tmpfs;
    data.destination = "/data";
    data.nodev = true;
    Mount tmp_a = data;
    tmp_a.destination = "/tmp/a";
    tmp_a.readonly = true;
    tmp_a.noexec = true;
    plan.mounts = {data, tmp_a};
    test::MapView view;
    view.entries = {{"/", EntryType::Directory},      {"/data", EntryType::Directory},
                    {"/tmp", EntryType::Directory},   {"/tmp/a", EntryType::Directory},
                    {"/a", EntryType::Symlink},       {"/a/data", EntryType::Directory},
                    {"/a/data/b", EntryType::Symlink}};

    const landlock::Ruleset rs = landlock::compute(plan, 1, view);
    const std::uint64_t mask = landlock::fs_rights_for_abi(1);
    CHECK(rs.handled_fs == mask);
    for (const auto& r : rs.paths) {
        INFO("rule on " << r.path);
        CHECK((r.access & ~mask) == 0);
        CHECK(view.type(r.path) == EntryType::Directory);
        CHECK(r.path != "/a");
        CHECK(r.path.rfind("/a/", 0) != 0);
    }
    // what each real path gets: the union of the rules along it equals the plan's rights (ABI 1 has no truncate,
    // refer or ioctl), except on / and /tmp, which hold a more restricted mount below and get only what it allows
    CHECK(test::rights_along(rs, "/data") == (landlock::planned_rights(plan, "/data") & mask));
    CHECK(test::rights_along(rs, "/data") == ((kRead | kWrite | kExecute) & mask));
    CHECK(test::rights_along(rs, "/tmp/a") == kRead);
    CHECK(test::rights_along(rs, "/") == kRead);
    CHECK(test::rights_along(rs, "/tmp") == kRead);
    CHECK((test::rights_along(rs, "/tmp/a/x") & (kWrite | kExecute)) == 0);
}

// build_plan: numbers too large for std::stoul escaped as a bare std::out_of_range ("hardrun: stoul"). Every
// numeric flag is now one UsageError naming the flag and its range (regressions/build_plan/huge-port-number).
TEST_CASE("fuzz regression build_plan: numbers beyond 64 bits are usage errors naming the flag and range") {
    const std::string huge = "99999999999999999999999";
    auto error_for = [](auto set) {
        RunFlags f;
        f.rootfs = "/usr";
        f.command = {"true"};
        set(f);
        try {
            build_plan(f, 0);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(error_for([&](RunFlags& f) { f.allow_connect = {huge}; }) ==
          "--allow-connect: '" + huge + "' is not a TCP port (1..65535)");
    CHECK(error_for([&](RunFlags& f) { f.allow_bind = {"18446744073709551617"}; }) ==
          "--allow-bind: '18446744073709551617' is not a TCP port (1..65535)");
    CHECK(error_for([&](RunFlags& f) { f.cpu_shares = huge; }) == "--cpu-shares: '" + huge + "' is not a number in 2..262144");
    CHECK(error_for([&](RunFlags& f) { f.pids_limit = huge; }).starts_with("--pids-limit: '" + huge + "' is not a number"));
    for (const char* port : {"0", "65536", "-1", "+80", " 80", "80 ", "0x50", ""})
        CHECK(error_for([&](RunFlags& f) { f.allow_bind = {port}; }).find("is not a TCP port (1..65535)") != std::string::npos);
}

namespace {
std::string regression(const std::string& target, const std::string& name) {
    std::ifstream in(std::string(HARDRUN_SOURCE_DIR) + "/tests/fuzz/regressions/" + target + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    REQUIRE_FALSE(ss.str().empty());
    return ss.str();
}

// The one-line error a parse gives; fails the test if anything but a hardrun::Error escapes.
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}
}  // namespace

// Issue 12, class 3: a number beyond a 64-bit float (1e400) made nlohmann's parser throw out_of_range.406, which
// the parsers did not catch (they caught parse_error only): "hardrun: [json.exception.out_of_range.406] number
// overflow parsing '1e400'", naming neither the file nor the place. regressions/seccomp_profile/number-overflow
// and regressions/oci_config/number-overflow.
TEST_CASE("fuzz regression seccomp_profile: a number beyond a double is one Error naming the profile and the JSON path") {
    const std::string text = regression("seccomp_profile", "number-overflow");
    const std::string e = error_of([&] { (void)seccomp::parse_profile(text, "number-overflow.json"); });
    CHECK(e.starts_with("seccomp: number-overflow.json: "));
    CHECK(e.find("syscalls[0].args[0].value") != std::string::npos);
    CHECK(e.find("1e400") != std::string::npos);
    CHECK(e.find("line 2") != std::string::npos);
    CHECK(e.find("json.exception") == std::string::npos);
}

TEST_CASE("fuzz regression oci_config: a number beyond a double is one Error naming config.json and the JSON path") {
    const std::string text = regression("oci_config", "number-overflow");
    char tmpl[] = "/tmp/hardrun-fuzz-regression-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string dir = tmpl;
    std::ofstream(dir + "/config.json") << text;
    const std::string e = error_of([&] { (void)oci::load_config(dir); });
    CHECK(e.starts_with("config.json: " + dir + "/config.json: "));
    CHECK(e.find("process.user.uid") != std::string::npos);
    CHECK(e.find("1e400") != std::string::npos);
    CHECK(e.find("json.exception") == std::string::npos);
    // lint reads the same file (a bundle directory or the config itself)
    for (const std::string& input : {dir, dir + "/config.json"}) {
        const std::string l = error_of([&] { (void)lint::load_file(input); });
        CHECK(l.starts_with("lint: " + dir + "/config.json: "));
        CHECK(l.find("process.user.uid") != std::string::npos);
        CHECK(l.find("json.exception") == std::string::npos);
    }
    std::filesystem::remove_all(dir);
}
