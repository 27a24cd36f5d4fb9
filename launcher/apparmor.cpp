// TEMPORARY: AppArmor detection only; the cgroup/AppArmor issue implements profiles.
#include "hardrun/apparmor.hpp"

#include <sys/apparmor.h>

#include "hardrun/error.hpp"

namespace hardrun::apparmor {

Decision decide(const LaunchPlan& plan) {
    Decision d;
    if (plan.apparmor.mode == AppArmorChoice::Mode::Unconfined) {
        d.note = "unconfined (asked)";
        return d;
    }
    bool enabled = aa_is_enabled() == 1;
    if (plan.apparmor.mode == AppArmorChoice::Mode::Named && !enabled)
        throw Error("apparmor", "profile " + plan.apparmor.profile, "AppArmor is not enabled on this host");
    if (!enabled) {
        d.note = "AppArmor is not enabled on this host";
        return d;
    }
    throw Error("apparmor", "profile", "not implemented yet");
}

void apply(Sys&, const Decision& d) {
    if (d.apply) throw Error("apparmor", d.profile, "not implemented yet");
}

}  // namespace hardrun::apparmor
