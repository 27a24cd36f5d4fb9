#include "hardrun/layers/capabilities.hpp"

#include <cap-ng.h>
#include <sys/prctl.h>

#include "hardrun/support/error.hpp"
#include "hardrun/plan/parse.hpp"

namespace hardrun::capabilities {

namespace {
std::string names(CapSet s) {
    std::string out;
    for (int c = 0; c <= parse::last_capability(); ++c)
        if (s.has(c)) out += (out.empty() ? "" : ",") + parse::capability_name(c);
    return out;
}
}  // namespace

CapSet held_bounding(Sys& sys) {
    CapSet s;
    for (int c = 0; c <= parse::last_capability(); ++c)
        if (sys.prctl(PR_CAPBSET_READ, static_cast<unsigned long>(c), 0, 0, 0) == 1) s.add(c);
    return s;
}

CapSet held_bounding() { return held_bounding(real_sys()); }

void drop_bounding(Sys& sys, const LaunchPlan& plan) {
    CapSet wanted = plan.caps.bounding;
    wanted.bits |= plan.caps.permitted.bits | plan.caps.effective.bits | plan.caps.ambient.bits |
                   plan.caps.inheritable.bits;
    CapSet held = held_bounding(sys);
    CapSet missing{wanted.bits & ~held.bits};
    if (!missing.empty())
        throw Error("capabilities", names(missing),
                    "hardrun does not hold it in its own bounding set, so it cannot be granted to the workload");
    capng_clear(CAPNG_SELECT_BOUNDS);
    for (int c = 0; c <= parse::last_capability(); ++c)
        if (plan.caps.bounding.has(c)) capng_update(CAPNG_ADD, CAPNG_BOUNDING_SET, static_cast<unsigned>(c));
    if (int r = sys.capng_apply(CAPNG_SELECT_BOUNDS); r != 0)
        throw Error("capabilities", "bounding set", "capng_apply failed (" + std::to_string(r) +
                                                        "); hardrun needs CAP_SETPCAP to drop the bounding set");
}

void apply(Sys& sys, const LaunchPlan& plan) {
    capng_clear(CAPNG_SELECT_CAPS);
    capng_clear(CAPNG_SELECT_AMBIENT);
    for (int c = 0; c <= parse::last_capability(); ++c) {
        auto cap = static_cast<unsigned>(c);
        if (plan.caps.effective.has(c)) capng_update(CAPNG_ADD, CAPNG_EFFECTIVE, cap);
        if (plan.caps.permitted.has(c)) capng_update(CAPNG_ADD, CAPNG_PERMITTED, cap);
        if (plan.caps.inheritable.has(c) || plan.caps.ambient.has(c))
            capng_update(CAPNG_ADD, CAPNG_INHERITABLE, cap);  // ambient needs inheritable
        if (plan.caps.ambient.has(c)) capng_update(CAPNG_ADD, CAPNG_AMBIENT, cap);
    }
    if (int r = sys.capng_apply(CAPNG_SELECT_CAPS); r != 0)
        throw Error("capabilities", names(plan.caps.permitted).empty() ? "empty set" : names(plan.caps.permitted),
                    "capset failed (" + std::to_string(r) + ")");
    if (int r = sys.capng_apply(CAPNG_SELECT_AMBIENT); r != 0)
        throw Error("capabilities", "ambient " + names(plan.caps.ambient), "capng_apply failed (" + std::to_string(r) + ")");
    if (int r = sys.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0); r < 0) throw_errno("capabilities", "PR_SET_KEEPCAPS", -r);
}

}  // namespace hardrun::capabilities
