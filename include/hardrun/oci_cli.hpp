// The OCI runtime CLI's entry points used outside cmd_oci.cpp.
#pragma once
#include "hardrun/flags.hpp"

namespace hardrun::commands {

// `hardrun run --bundle DIR [ID]` (runc run): the container runs in the foreground under the OCI lifecycle
// (state under --root, hooks, --console-socket, --pid-file, -d). Returns hardrun's exit code.
int run_bundle(const RunFlags& flags, bool verbose, bool quiet);

}  // namespace hardrun::commands
