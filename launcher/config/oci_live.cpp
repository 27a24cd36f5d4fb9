// The OCI verbs on a live container, the pure part (oci_live.hpp): update's writes, events' documents,
// runc's durations.
#include "hardrun/config/oci_live.hpp"

#include <cmath>
#include <limits>

#include "hardrun/plan/parse.hpp"
#include "hardrun/support/error.hpp"
#include "oci_json.hpp"

namespace hardrun::oci {

using json = nlohmann::json;

namespace {

const std::string kR = "linux.resources";

// Re-labels config.json's errors: in `update` the object is the field, not a file.
template <class F>
auto as_update(F&& f) {
    try {
        return f();
    } catch (const UsageError&) {
        throw;
    } catch (const Error& e) {
        if (e.step() != "config.json") throw;
        throw Error("update", e.object(), e.cause());
    }
}

[[noreturn]] void refuse_flag(const char* flag, const std::string& why) { throw UsageError(flag, why); }

// A signed integer flag ("-1", "100000").
std::int64_t integer(const char* flag, const std::string& v) {
    const bool neg = !v.empty() && v.front() == '-';
    auto n = parse::number<std::int64_t>(neg ? std::string_view(v).substr(1) : std::string_view(v));
    if (!n) throw UsageError(flag, "'" + v + "' is not an integer");
    return neg ? -*n : *n;
}

// A size flag: docker's units ("512m"), or -1 for unlimited.
std::int64_t size_or_minus_one(const char* flag, const std::string& v) {
    if (v == "-1") return -1;
    const std::uint64_t b = parse::size(flag, v);
    if (b > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) throw UsageError(flag, "'" + v + "' is too large");
    return static_cast<std::int64_t>(b);
}

std::optional<std::uint64_t> period_of(const std::optional<std::string>& cpu_max) {
    if (!cpu_max) return std::nullopt;
    const auto sp = cpu_max->find(' ');
    if (sp == std::string::npos) return std::nullopt;
    return parse::number<std::uint64_t>(std::string_view(*cpu_max).substr(sp + 1));
}

std::optional<std::string> quota_of(const std::optional<std::string>& cpu_max) {
    if (!cpu_max) return std::nullopt;
    return cpu_max->substr(0, cpu_max->find(' '));
}

}  // namespace

ResourcesSpec parse_update_resources(const json& j) {
    return as_update([&] {
        Config c;
        detail::parse_resources_object(c, j);
        if (!c.refused.empty()) throw Error("update", c.refused.front().path, c.refused.front().reason);
        return c.resources;
    });
}

void apply_update_flags(const UpdateFlags& f, ResourcesSpec& r) {
    auto given = [](const std::optional<std::string>& v) { return v && !v->empty(); };
    if (given(f.memory)) r.memory_limit = size_or_minus_one("--memory", *f.memory);
    if (given(f.memory_swap)) r.memory_swap = size_or_minus_one("--memory-swap", *f.memory_swap);
    if (given(f.memory_reservation)) r.memory_reservation = size_or_minus_one("--memory-reservation", *f.memory_reservation);
    for (auto [v, flag] : {std::pair{&f.kernel_memory, "--kernel-memory"}, {&f.kernel_memory_tcp, "--kernel-memory-tcp"}})
        if (given(*v) && size_or_minus_one(flag, **v) > 0)
            refuse_flag(flag, "kernel memory limits do not exist in cgroup v2 (deprecated in the OCI spec); hardrun cannot honour it");
    if (given(f.cpu_quota)) r.cpu_quota = integer("--cpu-quota", *f.cpu_quota);
    if (given(f.cpu_period)) {
        const auto v = integer("--cpu-period", *f.cpu_period);
        if (v < 0) throw UsageError("--cpu-period", "must not be negative");
        r.cpu_period = static_cast<std::uint64_t>(v);
    }
    if (given(f.cpu_shares)) {
        const auto v = integer("--cpu-share", *f.cpu_shares);
        if (v < 0) throw UsageError("--cpu-share", "must not be negative");
        r.cpu_shares = static_cast<std::uint64_t>(v);
    }
    if (given(f.pids_limit)) r.pids_limit = integer("--pids-limit", *f.pids_limit);
    for (auto [v, flag] : {std::pair{&f.cpu_rt_period, "--cpu-rt-period"}, {&f.cpu_rt_runtime, "--cpu-rt-runtime"}})
        if (given(*v) && integer(flag, **v) != 0) refuse_flag(flag, "realtime scheduling is not implemented by hardrun");
    if (given(f.blkio_weight) && integer("--blkio-weight", *f.blkio_weight) != 0)
        refuse_flag("--blkio-weight", "I/O weights are not implemented by hardrun (io.max throttles are)");
    for (auto [v, flag] : {std::pair{&f.cpuset_cpus, "--cpuset-cpus"}, {&f.cpuset_mems, "--cpuset-mems"}})
        if (given(*v)) refuse_flag(flag, "cpusets are not implemented by hardrun");
    for (auto [v, flag] : {std::pair{&f.l3_cache_schema, "--l3-cache-schema"}, {&f.mem_bw_schema, "--mem-bw-schema"}})
        if (given(*v)) refuse_flag(flag, "Intel RDT is not implemented by hardrun");
}

std::vector<cgroups::LimitWrite> update_writes(const ResourcesSpec& r, const cgroups::Current& now,
                                               const std::vector<DeviceRule>& created_devices, std::uint64_t page) {
    const std::string M = kR + ".memory", C = kR + ".cpu";
    ResourcesSpec m = r;  // what config.json's mapping sees
    std::vector<cgroups::LimitWrite> unlimit;  // the -1 values: "max"
    auto below_minus_one = [](const std::optional<std::int64_t>& v) { return v && *v < -1; };
    for (auto [v, path] : {std::pair{&r.memory_limit, M + ".limit"}, {&r.memory_swap, M + ".swap"},
                           {&r.memory_reservation, M + ".reservation"}, {&r.pids_limit, kR + ".pids.limit"},
                           {&r.cpu_quota, C + ".quota"}})
        if (below_minus_one(*v)) throw Error("update", path, std::to_string(**v) + " is not a value: use -1 for unlimited");

    // memory, and swap, which OCI counts as memory plus swap (runc's rules for cgroup v2)
    const bool mem_set = r.memory_limit && *r.memory_limit > 0, mem_unlimited = r.memory_limit && *r.memory_limit == -1;
    bool mem_from_now = false;
    if (mem_unlimited) {
        m.memory_limit.reset();
        unlimit.push_back({"memory.max", "max", "max"});
        if (!r.memory_swap || *r.memory_swap == 0) unlimit.push_back({"memory.swap.max", "max", "max"});
    }
    if (r.memory_swap && *r.memory_swap > 0 && !mem_set) {
        if (mem_unlimited) throw Error("update", M + ".swap", "cannot be limited while memory.limit is -1 (unlimited)");
        const auto cur = now.memory_max ? parse::number<std::int64_t>(*now.memory_max) : std::nullopt;
        if (!cur)
            throw Error("update", M + ".swap",
                        "needs a memory limit (swap is memory plus swap in the OCI spec) and the container has none "
                        "(memory.max is " + now.memory_max.value_or("absent") + "); give the memory limit too");
        m.memory_limit = *cur;
        mem_from_now = true;
    }
    if (r.memory_reservation && *r.memory_reservation == -1) unlimit.push_back({"memory.low", "max", "max"});
    if (r.pids_limit && *r.pids_limit == -1) unlimit.push_back({"pids.max", "max", "max"});

    // cpu.max: a quota without a period keeps the period there, a period without a quota keeps the quota
    const bool quota_set = r.cpu_quota && *r.cpu_quota > 0, period_set = r.cpu_period && *r.cpu_period > 0;
    const auto now_period = period_of(now.cpu_max);
    if (quota_set && !period_set && now_period) m.cpu_period = *now_period;
    if ((r.cpu_quota && *r.cpu_quota == -1) || (!quota_set && period_set && quota_of(now.cpu_max) == "max")) {
        const std::uint64_t period = period_set ? *r.cpu_period : now_period.value_or(100000);
        if (period < 1000 || period > 1000000) throw Error("update", C + ".period", "must be between 1000 and 1000000 microseconds");
        const std::string v = "max " + std::to_string(period);
        unlimit.push_back({"cpu.max", v, v});
        m.cpu_quota.reset();
    } else if (!quota_set && period_set) {
        const auto q = quota_of(now.cpu_max);
        const auto qn = q ? parse::number<std::int64_t>(*q) : std::nullopt;
        if (!qn) throw Error("update", C + ".period", "cannot be changed: the container's cpu.max is not readable (cpu controller)");
        m.cpu_quota = *qn;
    }

    // device rules: only the ones the container was created with (its BPF program stays as it is)
    if (!r.devices.empty()) {
        Config dc;
        dc.resources.devices = r.devices;
        if (as_update([&] { return device_rules(dc); }) != created_devices)
            throw Error("update", kR + ".devices",
                        "changing the device rules of a running container is not implemented by hardrun (these differ "
                        "from the rules it was created with)");
        m.devices.clear();
    }

    Config c;
    c.resources = m;
    LaunchPlan p;
    as_update([&] { detail::map_resources_of(c, p); });
    Resources res = p.resources;
    res.devices.clear();
    if (mem_from_now) res.memory_max.reset();  // only swap was asked for
    std::vector<cgroups::LimitWrite> out = cgroups::limit_writes(res, page);
    out.insert(out.end(), unlimit.begin(), unlimit.end());
    return out;
}

std::vector<DeviceRule> device_rules(const Config& config) {
    Config dc;
    dc.resources.devices = config.resources.devices;
    LaunchPlan dp;
    detail::map_resources_of(dc, dp);
    return dp.resources.devices;
}

std::chrono::milliseconds parse_duration(std::string_view option, std::string_view text) {
    const std::string bad = "'" + std::string(text) + "' is not a duration; use e.g. 5s, 500ms or 1m30s";
    if (text.empty()) throw UsageError(std::string(option), bad);
    long double ns = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t start = i;
        while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
        const std::string num(text.substr(start, i - start));
        const std::size_t ustart = i;
        while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
        const std::string_view unit = text.substr(ustart, i - ustart);
        if (num.empty() || num == "." || std::count(num.begin(), num.end(), '.') > 1) throw UsageError(std::string(option), bad);
        long double scale = 0;
        if (unit == "ns") scale = 1;
        else if (unit == "us" || unit == "\u00b5s") scale = 1e3L;
        else if (unit == "ms") scale = 1e6L;
        else if (unit == "s") scale = 1e9L;
        else if (unit == "m") scale = 60e9L;
        else if (unit == "h") scale = 3600e9L;
        else throw UsageError(std::string(option), bad);
        ns += std::strtold(num.c_str(), nullptr) * scale;
    }
    if (!(ns > 0) || ns > 1e18L) throw UsageError(std::string(option), "must be a positive duration (e.g. 5s)");
    return std::chrono::milliseconds(static_cast<long long>(std::ceil(ns / 1e6L)));
}

json stats_data(const cgroups::Sample& s) {
    auto get = [](const std::map<std::string, std::uint64_t>& m, const char* k) -> std::uint64_t {
        auto it = m.find(k);
        return it == m.end() ? 0 : it->second;
    };
    // runc's omitempty: a zero number or an empty list is left out
    auto put = [](json& o, const char* k, std::uint64_t v) {
        if (v) o[k] = v;
    };
    json usage = {{"kernel", get(s.cpu_stat, "system_usec") * 1000}, {"user", get(s.cpu_stat, "user_usec") * 1000}};
    put(usage, "total", get(s.cpu_stat, "usage_usec") * 1000);
    json throttling = json::object();
    put(throttling, "periods", get(s.cpu_stat, "nr_periods"));
    put(throttling, "throttledPeriods", get(s.cpu_stat, "nr_throttled"));
    put(throttling, "throttledTime", get(s.cpu_stat, "throttled_usec") * 1000);

    auto entry = [&](std::optional<std::uint64_t> use, std::optional<std::uint64_t> limit, std::optional<std::uint64_t> max) {
        json e = {{"limit", limit.value_or(0)}, {"failcnt", 0}};
        put(e, "usage", use.value_or(0));
        put(e, "max", max.value_or(0));
        return e;
    };
    // swap as cgroup v1 reported it (memory plus swap), which is what runc reports on cgroup v2 too
    std::optional<std::uint64_t> swap_use, swap_limit;
    if (s.swap_current) swap_use = *s.swap_current + s.memory_current.value_or(0);
    if (s.swap_max)
        swap_limit = *s.swap_max == cgroups::kUnlimited || s.memory_max.value_or(0) == cgroups::kUnlimited ||
                             *s.swap_max > cgroups::kUnlimited - s.memory_max.value_or(0)
                         ? cgroups::kUnlimited
                         : *s.swap_max + s.memory_max.value_or(0);
    json memory = {{"usage", entry(s.memory_current, s.memory_max, s.memory_peak)},
                   {"swap", entry(swap_use, swap_limit, std::nullopt)},
                   {"kernel", entry(std::nullopt, std::nullopt, std::nullopt)},
                   {"kernelTCP", entry(std::nullopt, std::nullopt, std::nullopt)}};
    put(memory, "cache", get(s.memory_stat, "file"));
    if (!s.memory_stat.empty()) memory["raw"] = s.memory_stat;

    json pids = json::object();
    put(pids, "current", s.pids_current.value_or(0));
    if (s.pids_max && *s.pids_max != cgroups::kUnlimited) put(pids, "limit", *s.pids_max);  // runc: no limit is 0

    json blkio = json::object();
    json bytes = json::array(), ios = json::array();
    for (const auto& io : s.io)
        for (auto [key, op, list] : {std::tuple{"rbytes", "Read", &bytes}, {"wbytes", "Write", &bytes},
                                     {"rios", "Read", &ios}, {"wios", "Write", &ios}}) {
            json e = {{"op", op}};
            put(e, "major", io.major);
            put(e, "minor", io.minor);
            put(e, "value", get(io.values, key));
            list->push_back(e);
        }
    if (!bytes.empty()) blkio["ioServiceBytesRecursive"] = bytes;
    if (!ios.empty()) blkio["ioServicedRecursive"] = ios;

    json cpuset = {{"cpu_exclusive", 0},   {"mem_hardwall", 0},       {"mem_exclusive", 0},
                   {"memory_migrate", 0},  {"memory_spread_page", 0}, {"memory_spread_slab", 0},
                   {"memory_pressure", 0}, {"sched_load_balance", 0}, {"sched_relax_domain_level", 0}};
    return {{"cpu", {{"usage", usage}, {"throttling", throttling}}},
            {"cpuset", cpuset},
            {"memory", memory},
            {"pids", pids},
            {"blkio", blkio},
            {"hugetlb", json::object()},
            {"intel_rdt", json::object()},
            {"network_interfaces", nullptr}};
}

json stats_event(const std::string& id, const cgroups::Sample& s) {
    return {{"type", "stats"}, {"id", id}, {"data", stats_data(s)}};
}

json oom_event(const std::string& id) { return {{"type", "oom"}, {"id", id}}; }

}  // namespace hardrun::oci
