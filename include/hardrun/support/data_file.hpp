// Where hardrun finds the files it ships (profiles, the AppArmor policy).
#pragma once
#include <string>

namespace hardrun {

// Resolves a file shipped with hardrun (e.g. "seccomp/default.json") from $HARDRUN_DATADIR, the install
// prefix, or the source tree, in that order.
std::string data_file(const std::string& relative);

}  // namespace hardrun
