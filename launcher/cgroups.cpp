// TEMPORARY: the cgroup/AppArmor issue implements cgroup v2 limits.
#include "hardrun/cgroups.hpp"

#include "hardrun/error.hpp"

namespace hardrun::cgroups {

std::unique_ptr<Cgroup> Cgroup::create(const LaunchPlan& plan, const std::string&) {
    if (plan.resources.empty()) return nullptr;
    throw Error("cgroups", "resource limits", "not implemented yet");
}
Cgroup::Cgroup(std::string path, UniqueFd dir, const Resources& limits)
    : path_(std::move(path)), dir_(std::move(dir)), limits_(limits) {}
Cgroup::~Cgroup() = default;
Stats Cgroup::collect() const { return {}; }
void Cgroup::kill_all() const {}

}  // namespace hardrun::cgroups
