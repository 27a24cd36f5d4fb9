// AppArmor: the exec profile the workload gets, set just before execve through a verified procfs handle.
#pragma once
#include <string>

#include "hardrun/plan.hpp"
#include "hardrun/sys.hpp"

namespace hardrun::apparmor {

struct Decision {
    bool apply = false;    // write "exec PROFILE" to /proc/self/attr/apparmor/exec
    std::string profile;   // the profile name
    std::string note;      // why nothing is applied (e.g. "AppArmor is not enabled on this host")
};

// Supervisor, before clone: what to apply. Throws (fail closed) when a profile was asked for and AppArmor
// is not enabled, or the profile is not loaded.
Decision decide(const LaunchPlan& plan);
// Child, after no_new_privs: set the exec label. Throws Error.
void apply(Sys& sys, const Decision& decision);

}  // namespace hardrun::apparmor
