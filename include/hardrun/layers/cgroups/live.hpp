// cgroup v2 on a live container's cgroup, for the OCI verbs that act on a running container: the freezer
// (pause/resume), writing new limits and reading them back (update), and the figures `events` reports.
// Every function takes the cgroup's directory (state::Record::cgroup_path); errors are one line naming the
// file (Error "cgroups").
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hardrun/layers/cgroups/cgroups.hpp"

namespace hardrun::cgroups {

// One cgroup file read at a directory fd (cgroups.cpp): its text, or the errno.
struct Read {
    int err = 0;
    std::string text;
};
Read read_at(int dirfd, const std::string& rel);
Read read_path(const std::string& path);
// One write(2) of the whole value: 0 or the errno.
int write_at(int dirfd, const std::string& rel, const std::string& value);
// "key value" lines (cpu.stat, memory.stat, memory.events, cgroup.events): the numeric ones.
std::map<std::string, std::uint64_t> keyed(const std::string& text);
// Writes one limit and reads it back (the check create() makes): throws Error naming the file and the value.
void write_limit(int dirfd, const std::string& path, const LimitWrite& w);
// Makes every controller in `needed` available in `path` (its cgroup.controllers), enabling it in
// cgroup.subtree_control from the cgroup2 root down to path's parent where it is missing, after checking
// that each level offers it; throws Error with the reason and the fix (missing_controller_reason()).
void enable_controllers_above(const std::string& path, const std::set<std::string>& needed);

// ---- the freezer --------------------------------------------------------------------------------
// cgroup.events' "frozen" (true/false), or nullopt when the cgroup is gone or has no freezer.
std::optional<bool> frozen(const std::string& path);
// The pure part: "frozen N" of a cgroup.events text.
std::optional<bool> parse_frozen(const std::string& cgroup_events);
// Writes 1 (or 0) to cgroup.freeze and waits, notified by cgroup.events (POLLPRI), until the kernel reports
// "frozen 1" (or "frozen 0"). A cgroup that does not settle within `limit` is set back to what it was
// and Error is thrown: a half-frozen container is never reported paused.
void set_frozen(const std::string& path, bool freeze, std::chrono::milliseconds limit);

// ---- update -------------------------------------------------------------------------------------
// The controllers a list of writes needs ("memory" for memory.max ...).
std::set<std::string> controllers_of(const std::vector<LimitWrite>& writes);
// The limits there now, as the files say (trimmed; nullopt when absent), for an update that changes only
// half of a pair: swap (it is memory plus swap in OCI) and cpu.max's period or quota.
struct Current {
    std::optional<std::string> memory_max, cpu_max;
};
Current current_limits(const std::string& path);
// Enables the controllers, then writes each limit and reads it back, in order; throws at the first failure.
void apply_writes(const std::string& path, const std::vector<LimitWrite>& writes);

// ---- events -------------------------------------------------------------------------------------
// What `events` reports, from the cgroup's files. A file that does not exist (its controller is not
// enabled) leaves its fields empty. "max" is kUnlimited.
inline constexpr std::uint64_t kUnlimited = UINT64_MAX;
struct IoStat {
    std::uint64_t major = 0, minor = 0;
    std::map<std::string, std::uint64_t> values;  // rbytes, wbytes, rios, wios, dbytes, dios
    bool operator==(const IoStat&) const = default;
};
struct Sample {
    std::map<std::string, std::uint64_t> cpu_stat;       // cpu.stat (usage_usec ... throttled_usec)
    std::optional<std::uint64_t> memory_current, memory_max, memory_peak, swap_current, swap_max;
    std::map<std::string, std::uint64_t> memory_stat;    // memory.stat
    std::map<std::string, std::uint64_t> memory_events;  // memory.events (oom_kill ...)
    std::optional<std::uint64_t> pids_current, pids_max;
    std::vector<IoStat> io;                              // io.stat
};
// The files read, and the pure parser (file name -> text).
inline constexpr const char* kSampleFiles[] = {"cpu.stat",    "memory.current", "memory.max",  "memory.peak",
                                               "memory.swap.current", "memory.swap.max", "memory.stat",
                                               "memory.events", "pids.current", "pids.max", "io.stat"};
Sample parse_sample(const std::map<std::string, std::string>& files);
// Reads kSampleFiles of the cgroup; throws Error when the cgroup itself is gone.
Sample sample(const std::string& path);

}  // namespace hardrun::cgroups
