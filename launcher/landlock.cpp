// TEMPORARY: the reliability/security issue implements Landlock.
#include "hardrun/landlock.hpp"

#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hardrun/error.hpp"

namespace hardrun::landlock {

int abi_version() {
    long v = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : static_cast<int>(v);
}

std::string apply(const LaunchPlan& plan) {
    if (plan.landlock.mode == LandlockChoice::Mode::On) throw Error("landlock", "ruleset", "not implemented yet");
    return "";
}

}  // namespace hardrun::landlock
