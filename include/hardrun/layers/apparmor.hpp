// AppArmor: the exec profile the workload gets, set just before execve through a verified procfs handle.
// docs/apparmor.md explains the choices and the default profile (profiles/apparmor/hardrun-default).
#pragma once
#include <optional>
#include <set>
#include <string>

#include "hardrun/plan/plan.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::apparmor {

inline constexpr const char* kDefaultProfile = "hardrun-default";

struct Decision {
    bool apply = false;    // write "exec PROFILE" to /proc/self/attr/apparmor/exec
    std::string profile;   // the profile name
    std::string note;      // why nothing is applied (e.g. "AppArmor is not enabled on this host")
};

// What the host says, gathered by decide() (libapparmor + securityfs).
struct HostFacts {
    bool enabled = false;                        // aa_is_enabled()
    std::string why_disabled;                    // its errno text when not
    std::optional<std::set<std::string>> loaded;  // <securityfs>/apparmor/profiles; nullopt = unreadable
};

// Supervisor, before clone: what to apply. Throws (fail closed) when a profile was asked for and AppArmor
// is not enabled, or the profile is not loaded.
Decision decide(const LaunchPlan& plan);
// The same decision from given facts (pure; unit-tested).
Decision decide_with(const LaunchPlan& plan, const HostFacts& facts);
HostFacts host_facts();

// Supervisor, before clone. PID 1 stays a reaper that never execs (reaper = true: --init, or the label is
// applied and the launch is not detached), so the exec label never reaches it: a workload holding
// CAP_SYS_PTRACE could take it over and run outside the profile. Throws Error for that combination.
void refuse_ptrace_of_unconfined_reaper(const LaunchPlan& plan, const Decision& decision, bool reaper);

// Child, after no_new_privs: set the exec label. Throws Error.
void apply(Sys& sys, const Decision& decision);

// Throws unless fd is on a real procfs (fstatfs PROC_SUPER_MAGIC): a rootfs can put a tmpfs or a
// symlink at /proc so a label write would go nowhere (runc CVE-2019-16884).
void verify_procfs(Sys& sys, int fd, const std::string& what);

// Profile names from the text of <securityfs>/apparmor/profiles ("name (mode)" per line).
std::set<std::string> parse_profiles(const std::string& text);

}  // namespace hardrun::apparmor
