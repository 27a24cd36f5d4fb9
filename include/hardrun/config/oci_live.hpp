// What the OCI verbs on a live container read and write, as pure functions: `update`'s new limits (from a
// linux.resources object, parsed and mapped exactly as config.json's, and runc's update flags) turned into
// cgroup writes, `events`' documents in runc's JSON shape, and runc's Go durations (--interval 5s).
#pragma once
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hardrun/config/oci.hpp"
#include "hardrun/layers/cgroups/live.hpp"

namespace hardrun::oci {

// `update --resources FILE|-`: a linux.resources object, through config.json's parser. A field hardrun
// refuses in config.json is refused here too (Error "update", naming the field).
ResourcesSpec parse_update_resources(const nlohmann::json& resources);

// runc's update flags, as given (nullopt: not given; runc takes them all as strings). Sizes take docker's
// units ("512m") or -1; the others are integers.
struct UpdateFlags {
    std::optional<std::string> memory, memory_swap, memory_reservation, kernel_memory, kernel_memory_tcp;
    std::optional<std::string> cpu_quota, cpu_period, cpu_shares, cpu_rt_period, cpu_rt_runtime;
    std::optional<std::string> pids_limit, blkio_weight;
    std::optional<std::string> cpuset_cpus, cpuset_mems, l3_cache_schema, mem_bw_schema;
};
// The flags over `r` (a flag wins over the same field of --resources, as in runc). A flag hardrun cannot
// honour is a UsageError naming it; what means "unset" to runc (0, an empty string) is accepted.
void apply_update_flags(const UpdateFlags& flags, ResourcesSpec& r);

// The cgroup writes of an update: only what it sets, with config.json's value rules (the same messages);
// -1 means unlimited ("max"), 0 or absent leaves a value as it is. `now` completes half a pair (swap needs
// the memory limit, a period the quota). `created_devices` are the device rules the container was made
// with: device rules in the update must be those (changing them live is refused).
std::vector<cgroups::LimitWrite> update_writes(const ResourcesSpec& r, const cgroups::Current& now,
                                               const std::vector<DeviceRule>& created_devices, std::uint64_t page_size);

// The device rules a container made from this config enforces (config.json's, plus hardrun's defaults).
std::vector<DeviceRule> device_rules(const Config& config);

// A Go duration as runc's --interval takes it: "5s", "100ms", "1m30s", "1.5s", "2h" (ns, us, ms, s, m, h).
// UsageError naming `option` for junk, a negative or a zero duration.
std::chrono::milliseconds parse_duration(std::string_view option, std::string_view text);

// runc's events: {"type":"stats","id":ID,"data":{cpu, cpuset, memory, pids, blkio, hugetlb, intel_rdt,
// network_interfaces}} with cgroup v2's figures converted as runc converts them (ns, memory+swap ...).
nlohmann::json stats_data(const cgroups::Sample& sample);
nlohmann::json stats_event(const std::string& id, const cgroups::Sample& sample);
// {"type":"oom","id":ID}
nlohmann::json oom_event(const std::string& id);

}  // namespace hardrun::oci
