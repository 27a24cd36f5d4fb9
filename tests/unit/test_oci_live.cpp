// The OCI verbs on a live container, the pure parts: update's flags and linux.resources -> cgroup writes
// (config.json's value rules, runc's -1/0 meanings), the freezer's cgroup.events, the stats files -> runc's
// events JSON, and Go durations.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hardrun/config/oci_live.hpp"
#include "hardrun/support/error.hpp"

using namespace hardrun;
using namespace hardrun::oci;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t kPage = 4096;

// "file=value" for each write, in order.
std::vector<std::string> writes_of(const ResourcesSpec& r, const cgroups::Current& now = {},
                                   const std::vector<DeviceRule>& created = {}) {
    std::vector<std::string> out;
    for (const auto& w : update_writes(r, now, created, kPage)) out.push_back(w.file + "=" + w.value);
    return out;
}

std::vector<std::string> writes_of_flags(const UpdateFlags& f, const cgroups::Current& now = {}) {
    ResourcesSpec r;
    apply_update_flags(f, r);
    return writes_of(r, now);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("update: runc's flags map onto the cgroup v2 files with config.json's conversions") {
    UpdateFlags f;
    f.memory = "64m";
    f.memory_swap = "96m";
    f.memory_reservation = "32m";
    f.cpu_quota = "50000";
    f.cpu_period = "100000";
    f.cpu_shares = "512";
    f.pids_limit = "40";
    CHECK(writes_of_flags(f) == V{"memory.max=67108864", "memory.oom.group=1", "memory.swap.max=33554432",
                                  "memory.low=33554432", "cpu.max=50000 100000", "cpu.weight=20", "pids.max=40"});
    // what is expected back: the kernel rounds memory down to pages
    ResourcesSpec r;
    r.memory_limit = 64 * 1024 * 1024 + 100;
    const auto w = update_writes(r, {}, {}, kPage);
    REQUIRE(w.size() == 2);
    CHECK(w[0].expect == "67108864");
}

TEST_CASE("update: -1 is unlimited, 0 or absent leaves a value as it is") {
    UpdateFlags f;
    f.memory = "-1";
    f.pids_limit = "-1";
    f.cpu_quota = "-1";
    CHECK(writes_of_flags(f, {std::nullopt, "50000 200000"}) ==
          V{"memory.max=max", "memory.swap.max=max", "pids.max=max", "cpu.max=max 200000"});
    UpdateFlags zero;
    zero.memory = "0";
    zero.pids_limit = "0";
    zero.cpu_quota = "0";
    zero.cpu_shares = "0";
    zero.blkio_weight = "0";
    zero.kernel_memory = "0";
    zero.cpuset_cpus = "";
    CHECK(writes_of_flags(zero).empty());
    CHECK(writes_of_flags(UpdateFlags{}).empty());
}

TEST_CASE("update: half a pair is completed from what the cgroup has now") {
    // a quota alone keeps the container's period; a period alone keeps its quota
    UpdateFlags q;
    q.cpu_quota = "25000";
    CHECK(writes_of_flags(q, {std::nullopt, "max 50000"}) == V{"cpu.max=25000 50000"});
    UpdateFlags p;
    p.cpu_period = "200000";
    CHECK(writes_of_flags(p, {std::nullopt, "50000 100000"}) == V{"cpu.max=50000 200000"});
    CHECK(writes_of_flags(p, {std::nullopt, "max 100000"}) == V{"cpu.max=max 200000"});
    // swap alone: memory plus swap, against the memory limit there now (which is not rewritten)
    UpdateFlags s;
    s.memory_swap = "96m";
    CHECK(writes_of_flags(s, {std::string("67108864"), std::nullopt}) == V{"memory.swap.max=33554432"});
    CHECK(error_of([&] { writes_of_flags(s, {std::string("max"), std::nullopt}); })
              .find("needs a memory limit") != std::string::npos);
    UpdateFlags s2 = s;
    s2.memory_swap = "32m";
    CHECK(error_of([&] { writes_of_flags(s2, {std::string("67108864"), std::nullopt}); })
              .find("must be at least memory.limit") != std::string::npos);
}

TEST_CASE("update: config.json's value rules apply, named as update's") {
    UpdateFlags f;
    f.memory = "1m";
    const std::string e = error_of([&] { writes_of_flags(f); });
    CHECK(e.find("update: linux.resources.memory.limit") == 0);
    CHECK(e.find("below the 6 MiB") != std::string::npos);
    UpdateFlags shares;
    shares.cpu_shares = "1";
    CHECK(error_of([&] { writes_of_flags(shares); }).find("not in 2..262144") != std::string::npos);
    UpdateFlags period;
    period.cpu_quota = "-1";
    period.cpu_period = "10";
    CHECK(error_of([&] { writes_of_flags(period); }).find("between 1000 and 1000000") != std::string::npos);
    UpdateFlags neg;
    neg.pids_limit = "-5";
    CHECK(error_of([&] { writes_of_flags(neg); }).find("use -1 for unlimited") != std::string::npos);
}

TEST_CASE("update: flags hardrun cannot honour are refused by name") {
    auto refused = [](UpdateFlags f, const std::string& flag) {
        ResourcesSpec r;
        const std::string e = error_of([&] { apply_update_flags(f, r); });
        CHECK_MESSAGE(e.rfind(flag + ":", 0) == 0, e);
    };
    UpdateFlags f;
    f.cpuset_cpus = "0-1";
    refused(f, "--cpuset-cpus");
    f = {};
    f.cpuset_mems = "0";
    refused(f, "--cpuset-mems");
    f = {};
    f.kernel_memory = "10m";
    refused(f, "--kernel-memory");
    f = {};
    f.kernel_memory_tcp = "1m";
    refused(f, "--kernel-memory-tcp");
    f = {};
    f.cpu_rt_period = "1000";
    refused(f, "--cpu-rt-period");
    f = {};
    f.cpu_rt_runtime = "10";
    refused(f, "--cpu-rt-runtime");
    f = {};
    f.blkio_weight = "300";
    refused(f, "--blkio-weight");
    f = {};
    f.l3_cache_schema = "L3:0=ff";
    refused(f, "--l3-cache-schema");
    f = {};
    f.mem_bw_schema = "MB:0=20";
    refused(f, "--mem-bw-schema");
    f = {};
    f.memory = "lots";
    refused(f, "--memory");
    f = {};
    f.cpu_quota = "1.5";
    refused(f, "--cpu-quota");
}

TEST_CASE("update: --resources goes through config.json's parser; flags win over it") {
    const json docker = json::parse(R"({"blockIO":{"weight":0},"cpu":{"cpus":"","mems":"","period":0,"quota":0,"shares":0},
                                        "memory":{"limit":134217728,"swap":134217728},"pids":{"limit":0}})");
    ResourcesSpec r = parse_update_resources(docker);
    CHECK(writes_of(r) == V{"memory.max=134217728", "memory.oom.group=1", "memory.swap.max=0"});
    UpdateFlags f;
    f.memory = "256m";
    f.memory_swap = "-1";
    apply_update_flags(f, r);
    CHECK(writes_of(r) == V{"memory.max=268435456", "memory.oom.group=1", "memory.swap.max=max"});
    // hugepageLimits are written (0 included: a real limit, which kubelet sends for every size not asked for)
    CHECK(writes_of(parse_update_resources(json::parse(R"({"hugepageLimits":[{"pageSize":"2MB","limit":0}]})"))) ==
          V{"hugetlb.2MB.max=0"});
    for (const auto& [doc, field] : std::vector<std::pair<std::string, std::string>>{
             {R"({"rdma":{"mlx5_1":{"hcaHandles":3}}})", "linux.resources.rdma"},
             {R"({"cpu":{"cpus":"0"}})", "linux.resources.cpu.cpus"},
             {R"({"memory":{"swappiness":10}})", "linux.resources.memory.swappiness"},
             {R"({"blockIO":{"weight":10}})", "linux.resources.blockIO.weight"},
             {R"({"unknown":1})", "unknown"}}) {
        const std::string text = doc;  // a structured binding cannot be captured before C++20's P1091 (clang 14)
        const std::string e = error_of([&] { parse_update_resources(json::parse(text)); });
        CHECK_MESSAGE(e.find(field) != std::string::npos, e);
        CHECK_MESSAGE(e.rfind("update: ", 0) == 0, e);
    }
}

TEST_CASE("update: device rules are accepted only as the container was created") {
    Config c;
    c.resources.devices = {DeviceRuleSpec{false, "", std::nullopt, std::nullopt, "rwm"}};
    const auto created = device_rules(c);
    REQUIRE(created.size() > 1);  // the rule plus hardrun's default devices
    ResourcesSpec same;
    same.devices = c.resources.devices;
    CHECK(writes_of(same, {}, created).empty());
    ResourcesSpec other;
    other.devices = {DeviceRuleSpec{true, "", std::nullopt, std::nullopt, "rwm"}};
    CHECK(error_of([&] { writes_of(other, {}, created); }).find("changing the device rules") != std::string::npos);
}

TEST_CASE("freezer: cgroup.events' frozen key") {
    CHECK(cgroups::parse_frozen("populated 1\nfrozen 1\n") == true);
    CHECK(cgroups::parse_frozen("populated 1\nfrozen 0\n") == false);
    CHECK(cgroups::parse_frozen("populated 0\n") == std::nullopt);
}

TEST_CASE("events: cgroup v2 files become runc's stats shape") {
    const auto s = cgroups::parse_sample({
        {"cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 3\nthrottled_usec 250\n"},
        {"memory.current", "8388608\n"},
        {"memory.max", "67108864\n"},
        {"memory.peak", "9437184\n"},
        {"memory.swap.current", "4096\n"},
        {"memory.swap.max", "max\n"},
        {"memory.stat", "anon 4096\nfile 8192\n"},
        {"memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"},
        {"pids.current", "3\n"},
        {"pids.max", "max\n"},
        {"io.stat", "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"},
    });
    CHECK(s.memory_events.at("oom_kill") == 1);
    const json ev = stats_event("c1", s);
    CHECK(ev["type"] == "stats");
    CHECK(ev["id"] == "c1");
    const json& d = ev["data"];
    CHECK(d["cpu"]["usage"] == json{{"total", 1500000}, {"user", 1000000}, {"kernel", 500000}});
    CHECK(d["cpu"]["throttling"] == json{{"periods", 10}, {"throttledPeriods", 3}, {"throttledTime", 250000}});
    CHECK(d["memory"]["usage"] == json{{"usage", 8388608}, {"limit", 67108864}, {"max", 9437184}, {"failcnt", 0}});
    // swap as runc reports it on cgroup v2: memory plus swap, unlimited stays unlimited
    CHECK(d["memory"]["swap"] == json{{"usage", 8388608 + 4096}, {"limit", UINT64_MAX}, {"failcnt", 0}});
    CHECK(d["memory"]["kernel"] == json{{"limit", 0}, {"failcnt", 0}});
    CHECK(d["memory"]["cache"] == 8192);
    CHECK(d["memory"]["raw"] == json{{"anon", 4096}, {"file", 8192}});
    CHECK(d["pids"] == json{{"current", 3}});  // no limit: runc leaves it out (0)
    CHECK(d["blkio"]["ioServiceBytesRecursive"] ==
          json::array({{{"major", 8}, {"op", "Read"}, {"value", 4096}}, {{"major", 8}, {"op", "Write"}}}));
    CHECK(d["blkio"]["ioServicedRecursive"][0] == json{{"major", 8}, {"op", "Read"}, {"value", 1}});
    CHECK(d["hugetlb"] == json::object());
    CHECK(d["network_interfaces"].is_null());
    CHECK(d.contains("cpuset"));
    CHECK(d.contains("intel_rdt"));
    CHECK(oom_event("c1") == json{{"type", "oom"}, {"id", "c1"}});
}

TEST_CASE("events: a cgroup without controllers still has the shape, with zeros left out") {
    const json d = stats_data(cgroups::parse_sample({{"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"}}));
    CHECK(d["cpu"]["usage"] == json{{"user", 0}, {"kernel", 0}});
    CHECK(d["cpu"]["throttling"] == json::object());
    CHECK(d["memory"]["usage"] == json{{"limit", 0}, {"failcnt", 0}});
    CHECK(!d["memory"].contains("raw"));
    CHECK(d["pids"] == json::object());
    CHECK(d["blkio"] == json::object());
    const json limited = stats_data(cgroups::parse_sample({{"pids.max", "40\n"}, {"memory.max", "1048576\n"},
                                                           {"memory.swap.max", "0\n"}, {"memory.current", "0\n"},
                                                           {"memory.swap.current", "0\n"}}));
    CHECK(limited["pids"] == json{{"limit", 40}});
    CHECK(limited["memory"]["swap"]["limit"] == 1048576);
}

TEST_CASE("--interval: Go durations") {
    using std::chrono::milliseconds;
    CHECK(parse_duration("--interval", "5s") == milliseconds(5000));
    CHECK(parse_duration("--interval", "100ms") == milliseconds(100));
    CHECK(parse_duration("--interval", "1m30s") == milliseconds(90000));
    CHECK(parse_duration("--interval", "1.5s") == milliseconds(1500));
    CHECK(parse_duration("--interval", "2h") == milliseconds(7200000));
    CHECK(parse_duration("--interval", "1us") == milliseconds(1));
    for (const char* bad : {"", "5", "s", "5x", "-1s", "0s", "1..5s"})
        CHECK_MESSAGE(error_of([&] { parse_duration("--interval", bad); }).rfind("--interval:", 0) == 0, bad);
}
