// Seccomp: profiles (Docker and OCI formats) compiled with libseccomp in the supervisor before clone,
// loaded by the child as the very last step before execve.
#pragma once
#include <linux/filter.h>

#include <string>
#include <vector>

#include "hardrun/plan.hpp"
#include "hardrun/sys.hpp"

namespace hardrun::seccomp {

enum class Mode {
    Enforce,  // the profile as written
    Report,   // denials go to the supervisor through a user-notification listener (--report)
    Record,   // everything notifies and continues; the supervisor records (seccomp record)
};

struct Prepared {
    std::vector<sock_filter> program;  // empty: no filter (unconfined)
    unsigned load_flags = 0;           // SECCOMP_FILTER_FLAG_*; NEW_LISTENER when a supervisor listens
    std::string description;           // e.g. "profile default.json, 312 rules, x86_64"
    bool wants_listener() const;
};

// Supervisor, before clone: resolve plan.seccomp (default profile, a file, an OCI inline object) for
// the capability set the workload will really have, and compile it. Throws Error naming the profile.
Prepared prepare(const LaunchPlan& plan, Mode mode = Mode::Enforce);
// Child, last step before execve. Returns the listener fd (or -1). Throws Error.
int load(Sys& sys, const Prepared& prepared);

}  // namespace hardrun::seccomp
