// Capabilities with libcap-ng: bounding, permitted, effective, inheritable and ambient sets.
#pragma once
#include "hardrun/plan/plan.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::capabilities {

// Before the uid switch (needs CAP_SETPCAP): drop every capability outside plan.caps.bounding from the
// bounding set. Throws if a capability asked for is not held by hardrun itself.
void drop_bounding(Sys& sys, const LaunchPlan& plan);
// After the uid switch: set effective/permitted/inheritable, then raise the ambient set.
void apply(Sys& sys, const LaunchPlan& plan);
// The capabilities hardrun's own process holds in its bounding set (to refuse impossible --cap-add).
CapSet held_bounding();
CapSet held_bounding(Sys& sys);

}  // namespace hardrun::capabilities
