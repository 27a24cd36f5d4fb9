// Mounts: make the rootfs the root (bind, pivot_root, detach the old root), mount /proc, /dev, /sys,
// tmpfs and volumes with targets resolved inside the rootfs (openat2 RESOLVE_IN_ROOT, mount by fd),
// mask and read-only paths, then make the root read-only.
#pragma once
#include "hardrun/plan/plan.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::mounts {

// Child, in its new mount namespace, before pivot_root: every mount of the plan, then pivot_root.
void setup(Sys& sys, const LaunchPlan& plan);
// Child, after setup: masked paths, read-only paths, and the read-only root.
void finalize(Sys& sys, const LaunchPlan& plan);

}  // namespace hardrun::mounts
