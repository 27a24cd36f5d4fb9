// TEMPORARY: the OCI issue implements config.json parsing.
#include "hardrun/error.hpp"
#include "hardrun/run_front.hpp"

namespace hardrun::commands {

LaunchPlan plan_from_bundle(const RunFlags& flags) {
    throw Error("bundle", flags.bundle, "OCI bundles are not implemented yet");
}

}  // namespace hardrun::commands
