// The systemd cgroup driver's pure parts: linux.cgroupsPath's slice:prefix:name, unit and slice names, the
// properties of StartTransientUnit.
#include <doctest/doctest.h>

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
