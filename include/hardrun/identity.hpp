// Identity: hostname, rlimits, and the switch to the workload's fixed non-root uid/gid.
#pragma once
#include "hardrun/plan.hpp"
#include "hardrun/sys.hpp"

namespace hardrun::identity {

void set_hostname(Sys& sys, const LaunchPlan& plan);
void apply_rlimits(Sys& sys, const LaunchPlan& plan);
// setgroups (additional gids or none), setresgid, setresuid, keeping capabilities across the switch.
// in_rootless_userns: setgroups is denied there (the invoker's groups cannot be dropped).
void switch_user(Sys& sys, const LaunchPlan& plan, bool in_rootless_userns);

}  // namespace hardrun::identity
