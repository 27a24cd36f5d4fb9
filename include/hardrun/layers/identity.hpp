// Identity: hostname, rlimits, and the switch to the workload's fixed non-root uid/gid.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "hardrun/plan/plan.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::identity {

void set_hostname(Sys& sys, const LaunchPlan& plan);
void apply_rlimits(Sys& sys, const LaunchPlan& plan);
// setgroups (additional gids or none), setresgid, setresuid, keeping capabilities across the switch.
// in_rootless_userns: setgroups is denied there (the invoker's groups cannot be dropped).
void switch_user(Sys& sys, const LaunchPlan& plan, bool in_rootless_userns);

// Rootless (hardrun not root, a new user namespace): setgroups(2) is denied there, so the workload keeps
// the invoker's supplementary groups. They show as the overflow gid 65534 inside, but the kernel still
// grants file access through them. Returns those groups (other than the primary gid); empty as root.
std::vector<gid_t> kept_supplementary_groups(const LaunchPlan& plan);
// The plan warning for such groups ("user: ..."), naming them; nullopt when there are none. Pure.
std::optional<std::string> kept_groups_warning(const std::vector<gid_t>& groups);
// The describe() wording for the workload's supplementary groups: "no supplementary groups", the OCI
// additionalGids, or the kept invoker groups.
std::string groups_summary(const LaunchPlan& plan, const std::vector<gid_t>& kept);

}  // namespace hardrun::identity
