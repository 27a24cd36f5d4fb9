#include "hardrun/identity.hpp"

#include <sys/prctl.h>

#include "hardrun/error.hpp"
#include "hardrun/parse.hpp"

namespace hardrun::identity {

namespace {
const char* rlimit_name(int r) {
    switch (r) {
        case RLIMIT_CORE: return "core";
        case RLIMIT_NOFILE: return "nofile";
        case RLIMIT_NPROC: return "nproc";
        case RLIMIT_STACK: return "stack";
        case RLIMIT_CPU: return "cpu";
        case RLIMIT_AS: return "as";
        case RLIMIT_FSIZE: return "fsize";
        case RLIMIT_MEMLOCK: return "memlock";
        default: return "limit";
    }
}
}  // namespace

void set_hostname(Sys& sys, const LaunchPlan& plan) {
    if (!plan.namespaces.uts || plan.namespaces.join.count("uts")) return;
    if (int r = sys.sethostname(plan.hostname); r < 0) throw_errno("hostname", plan.hostname, -r);
}

void apply_rlimits(Sys& sys, const LaunchPlan& plan) {
    for (const auto& rl : plan.rlimits) {
        if (int r = sys.setrlimit(rl.resource, rl.soft, rl.hard); r < 0) {
            std::string hint;
            if (-r == EPERM)
                hint = "raising a hard limit needs CAP_SYS_RESOURCE, which hardrun does not hold here; keep the "
                       "hard limit at or below hardrun's own (ulimit -H)";
            throw_errno("rlimits", std::string(rlimit_name(rl.resource)) + "=" + std::to_string(rl.soft) + ":" +
                                       std::to_string(rl.hard),
                        -r, hint);
        }
    }
}

void switch_user(Sys& sys, const LaunchPlan& plan, bool in_rootless_userns) {
    // keep the permitted set across the uid change so capabilities.apply() can set the final sets
    if (int r = sys.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0); r < 0) throw_errno("identity", "PR_SET_KEEPCAPS", -r);
    if (!in_rootless_userns) {
        if (int r = sys.setgroups(plan.additional_gids); r < 0)
            throw_errno("identity", "clearing supplementary groups", -r);
    }
    if (int r = sys.setresgid(plan.gid); r < 0) throw_errno("identity", "setresgid(" + std::to_string(plan.gid) + ")", -r,
                                                            in_rootless_userns ? "the gid is not mapped in the user namespace" : "");
    if (int r = sys.setresuid(plan.uid); r < 0) throw_errno("identity", "setresuid(" + std::to_string(plan.uid) + ")", -r,
                                                            in_rootless_userns ? "the uid is not mapped in the user namespace" : "");
}

}  // namespace hardrun::identity
