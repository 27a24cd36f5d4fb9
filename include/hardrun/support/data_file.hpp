// Where hardrun finds the files it ships (profiles, the AppArmor policy) and the binaries it runs (hardrun-probe
// in the sandbox, hardrun-systemd for the systemd cgroup driver).
#pragma once
#include <string>
#include <vector>

namespace hardrun {

// Resolves a file shipped with hardrun (e.g. "seccomp/default.json") from $HARDRUN_DATADIR, the install
// prefix, or the source tree, in that order.
std::string data_file(const std::string& relative);

// The directory of the running hardrun binary (/proc/self/exe), "" when it cannot be read.
std::string exe_dir();

// A binary shipped with hardrun: the first of `candidates` that exists, as a real path. Fail closed: it must be a
// regular executable file owned by root or the effective uid and writable by nobody else, else
// Error(step, "<what> <path>", why); none found: Error(step, "<what> <name>", "not found (looked at ...); <hint>").
std::string shipped_binary(const std::vector<std::string>& candidates, const std::string& step, const std::string& what,
                           const std::string& name, const std::string& hint);

}  // namespace hardrun
