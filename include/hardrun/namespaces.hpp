// Namespaces: which to create, joining existing ones, user-namespace id maps (supervisor side).
#pragma once
#include <sys/types.h>

#include "hardrun/plan.hpp"
#include "hardrun/sys.hpp"

namespace hardrun::namespaces {

// CLONE_NEW* flags for the namespaces the plan creates (joined ones are excluded).
std::uint64_t clone_flags(const LaunchPlan& plan);
// Child, first step: setns() into every namespace the plan joins by path.
void join(Sys& sys, const LaunchPlan& plan);
// Supervisor: write /proc/PID/{setgroups,uid_map,gid_map} for a child in a new user namespace.
void write_id_maps(pid_t child, const LaunchPlan& plan);
// The id maps for an unprivileged invoker: workload uid/gid -> invoker uid/gid (one line each).
void default_rootless_maps(LaunchPlan& plan, uid_t invoker_uid, gid_t invoker_gid);

}  // namespace hardrun::namespaces
