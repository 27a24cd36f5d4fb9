// Landlock: unprivileged filesystem (and network) access rules matching the mount plan.
#pragma once
#include "hardrun/plan.hpp"
#include "hardrun/sys.hpp"

namespace hardrun::landlock {

// Kernel Landlock ABI version (0 = unsupported).
int abi_version();
// Child, after pivot_root and the mounts: restrict the workload. Throws when asked (On) and impossible.
// Returns a short description of what was applied, or "" when skipped (Auto on an unsupported kernel).
std::string apply(const LaunchPlan& plan);

}  // namespace hardrun::landlock
