// The systemd cgroup driver's pure parts: linux.cgroupsPath's slice:prefix:name, unit and slice names, the
// properties of StartTransientUnit, and how they cross to hardrun-systemd.
#include <doctest/doctest.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "hardrun/layers/cgroups/systemd.hpp"
#include "hardrun/support/error.hpp"

using namespace hardrun;
using namespace hardrun::cgroups::systemd;

namespace {
std::string parse_error(const std::string& path) {
    try {
        (void)parse_cgroups_path(path, "id");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("systemd driver: cgroupsPath slice:prefix:name as runc names the scope") {
    CHECK(parse_cgroups_path("system.slice:docker:abc", "x") == ScopeName{"system.slice", "docker-abc.scope"});
    CHECK(parse_cgroups_path(":docker:abc", "x") == ScopeName{"system.slice", "docker-abc.scope"});  // empty slice
    CHECK(parse_cgroups_path("machine-foo.slice:libpod:1", "x") == ScopeName{"machine-foo.slice", "libpod-1.scope"});
    CHECK(parse_cgroups_path("system.slice::abc", "x") == ScopeName{"system.slice", "abc.scope"});  // no prefix
    CHECK(parse_cgroups_path("", "c1") == ScopeName{"system.slice", "hardrun-c1.scope"});  // none given
}

TEST_CASE("systemd driver: bad cgroupsPaths are refused with the field and the reason") {
    CHECK(parse_error("/docker/abc").find("linux.cgroupsPath") != std::string::npos);
    CHECK(parse_error("/docker/abc").find("slice:prefix:name") != std::string::npos);
    CHECK(parse_error("a.slice:b").find("slice:prefix:name") != std::string::npos);
    CHECK(parse_error("a.slice:b:c:d").find("slice:prefix:name") != std::string::npos);
    CHECK(parse_error("system:docker:abc").find("not a valid slice name") != std::string::npos);
    CHECK(parse_error("sys/tem.slice:docker:abc").find("not a valid slice name") != std::string::npos);
    CHECK(parse_error("a--b.slice:docker:abc").find("not a valid slice name") != std::string::npos);
    CHECK(parse_error("system.slice:docker:").find("has no name") != std::string::npos);
    CHECK(parse_error("system.slice:docker:x.slice").find("names a slice") != std::string::npos);
    CHECK(parse_error("system.slice:docker:a/b").find("not a valid unit name") != std::string::npos);
    CHECK(parse_error("system.slice:docker:" + std::string(260, 'a')).find("not a valid unit name") != std::string::npos);
}

TEST_CASE("systemd driver: unit names and where a slice's cgroup is") {
    CHECK(valid_unit_name("docker-abc.scope", ".scope"));
    CHECK_FALSE(valid_unit_name(".scope", ".scope"));
    CHECK_FALSE(valid_unit_name("a b.scope", ".scope"));
    CHECK_FALSE(valid_unit_name("abc.service", ".scope"));
    CHECK(slice_dir("system.slice") == "system.slice");
    CHECK(slice_dir("machine-foo.slice") == "machine.slice/machine-foo.slice");
    CHECK(slice_dir("a-b-c.slice") == "a.slice/a-b.slice/a-b-c.slice");
    CHECK(slice_dir("-.slice") == "");
}

TEST_CASE("systemd driver: StartTransientUnit's properties") {
    const ScopeName s{"system.slice", "docker-abc.scope"};
    auto props = scope_properties(s, 4242, {});
    REQUIRE(props.size() == 6);
    CHECK(props[0] == Property{"Description", std::string("hardrun container docker-abc.scope")});
    CHECK(props[1] == Property{"Slice", std::string("system.slice")});
    CHECK(props[2] == Property{"Delegate", true});
    CHECK(props[3] == Property{"DefaultDependencies", false});
    CHECK(props[4] == Property{"CollectMode", std::string("inactive-or-failed")});
    CHECK(props[5] == Property{"PIDs", std::vector<std::uint32_t>{4242}});

    Resources r;
    r.memory_max = 256ULL << 20;
    r.pids_max = 100;
    r.cpu_max = CpuMax{50000, 100000};
    props = scope_properties(s, 1, r);
    REQUIRE(props.size() == 9);
    CHECK(props[6] == Property{"MemoryMax", std::uint64_t{256ULL << 20}});
    CHECK(props[7] == Property{"TasksMax", std::uint64_t{100}});
    CHECK(props[8] == Property{"CPUQuotaPerSecUSec", std::uint64_t{500000}});
    r = {};
    r.pids_max = -1;  // unlimited: systemd's default, not a property
    CHECK(scope_properties(s, 1, r).size() == 6);
}

TEST_CASE("systemd driver: properties cross to hardrun-systemd as NAME=TYPE:VALUE and back unchanged") {
    Resources r;
    r.memory_max = 256ULL << 20;
    r.pids_max = 100;
    r.cpu_max = CpuMax{50000, 100000};
    const auto props = scope_properties(ScopeName{"machine-a.slice", "x-y.scope"}, 4242, r);
    for (const auto& p : props) CHECK(decode_property(encode_property(p)) == p);
    CHECK(encode_property({"Delegate", true}) == "Delegate=b:1");
    CHECK(encode_property({"Slice", std::string("system.slice")}) == "Slice=s:system.slice");
    CHECK(encode_property({"PIDs", std::vector<std::uint32_t>{1, 2}}) == "PIDs=au:1,2");
    CHECK(decode_property("Description=s:a=b:c") == Property{"Description", std::string("a=b:c")});
    CHECK(decode_property("Empty=s:") == Property{"Empty", std::string()});
    for (const char* bad : {"Delegate", "=b:1", "Delegate=b:2", "Delegate=x:1", "MemoryMax=t:-1", "MemoryMax=t:",
                            "MemoryMax=t:1k", "PIDs=au:1,,2", "PIDs=au:", "PIDs=au:4294967296", "Delegate=b"})
        CHECK_THROWS_AS(decode_property(bad), Error);
}

TEST_CASE("systemd driver: the helper runs with only fds 0-2, no blocked signal, and its first line is the error") {
    CHECK(run_helper("/bin/sh", {"-c", "exit 0"}) == "");
    CHECK(run_helper("/bin/sh", {"-c", "echo 'StopUnit: org.freedesktop.DBus.Error.AccessDenied: no' >&2; echo more >&2; exit 1"}) ==
          "StopUnit: org.freedesktop.DBus.Error.AccessDenied: no");
    CHECK(run_helper("/bin/sh", {"-c", "exit 3"}) == "/bin/sh exited with 3");
    CHECK(run_helper("/bin/sh", {"-c", "kill -KILL $$"}) == "/bin/sh was killed by signal 9");
    CHECK(run_helper("/nonexistent/helper", {}).starts_with("cannot run /nonexistent/helper: "));
    // nothing of the caller's reaches it: an inheritable fd, a blocked signal, stdin
    int fds[2];
    REQUIRE(::pipe(fds) == 0);  // not close-on-exec
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
    const std::string seen = run_helper(
        "/bin/sh", {"-c", "echo $(ls /proc/self/fd | sort -n | tr '\\n' ' ') $(grep SigBlk /proc/self/status) "
                          "$(readlink /proc/self/fd/0) >&2; exit 1"});
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(fds[0]);
    ::close(fds[1]);
    // ls's own directory fd is 3
    CHECK(seen == "0 1 2 3 SigBlk: 0000000000000000 /dev/null");
}

TEST_CASE("systemd driver: update's cgroup writes become the scope's own properties (runc's SetUnitProperties)") {
    const std::uint64_t inf = UINT64_MAX;
    const std::vector<cgroups::LimitWrite> writes = {{"memory.max", "134217728", ""}, {"memory.swap.max", "max", ""},
                                            {"memory.low", "1048576", ""},   {"pids.max", "100", ""},
                                            {"cpu.max", "50000 100000", ""}, {"cpu.weight", "200", ""},
                                            {"io.max", "8:0 rbps=1", ""},    {"cpu.max", "max 200000", ""}};
    const auto props = limit_properties(writes);
    const std::vector<Property> want = {{"MemoryMax", std::uint64_t{134217728}}, {"MemorySwapMax", inf},
                                        {"MemoryLow", std::uint64_t{1048576}},   {"TasksMax", std::uint64_t{100}},
                                        {"CPUQuotaPerSecUSec", std::uint64_t{500000}},
                                        {"CPUQuotaPeriodUSec", std::uint64_t{100000}},
                                        {"CPUWeight", std::uint64_t{200}},
                                        {"CPUQuotaPerSecUSec", inf}, {"CPUQuotaPeriodUSec", std::uint64_t{200000}}};
    CHECK(props == want);  // io.max has no property: left to the cgroup file
    CHECK(limit_properties({{"memory.max", "garbage", ""}, {"cpu.max", "1000 0", ""}}).empty());
}
