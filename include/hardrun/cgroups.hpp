// cgroup v2: a cgroup per launch with memory/cpu/pids/io limits, entered with CLONE_INTO_CGROUP.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "hardrun/fd.hpp"
#include "hardrun/plan.hpp"

namespace hardrun::cgroups {

struct Stats {
    bool oom_killed = false;            // memory.events oom_kill grew
    std::uint64_t oom_kills = 0;
    bool pids_limit_hit = false;        // pids.events max grew
    std::optional<std::uint64_t> memory_peak;  // bytes
    std::optional<std::uint64_t> cpu_usage_usec, cpu_throttled_usec, nr_throttled;
};

// Owns one cgroup directory hardrun created; the destructor kills what is left in it (cgroup.kill)
// and removes it.
class Cgroup {
public:
    // Creates and configures the workload's cgroup, or returns nullptr when the plan asks for no
    // resource limit. Throws Error (fail closed) when limits were asked and cannot be applied here.
    static std::unique_ptr<Cgroup> create(const LaunchPlan& plan, const std::string& name);
    ~Cgroup();
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;

    int dir_fd() const { return dir_.get(); }  // for clone3 CLONE_INTO_CGROUP
    const std::string& path() const { return path_; }
    Stats collect() const;  // after the workload exits
    void kill_all() const;  // cgroup.kill

private:
    Cgroup(std::string path, UniqueFd dir, const Resources& limits);
    std::string path_;
    UniqueFd dir_;
    Resources limits_;
};

}  // namespace hardrun::cgroups
