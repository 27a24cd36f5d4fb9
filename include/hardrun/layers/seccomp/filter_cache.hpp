// A cache of compiled seccomp programs across launches (docs/performance.md).
//
// Compiling a profile of ~350 rules with libseccomp is the largest single CPU cost of a launch (about 3 ms
// on the benchmark machine, half of hardrun's user time). The result only depends on the inputs below, so
// the supervisor keeps it, keyed by all of them, and the next launch with the same profile and target
// loads it in microseconds:
//   * the exact build of hardrun (its ELF build id) and libseccomp's version,
//   * the profile: its path and every byte of it (or the OCI inline object), exactly the bytes compiled,
//   * the target: native architecture, the capabilities the workload can use, the running kernel's version
//     and its seccomp actions, strict mode.
// The key is stored in the entry and compared byte for byte, so a hash collision cannot pick the wrong
// program.
//
// Where: $HARDRUN_CACHE_DIR, else /run/hardrun/filter-cache when running as root, else
// $XDG_RUNTIME_DIR/hardrun/filter-cache (both tmpfs: emptied at boot). HARDRUN_CACHE=off turns it off.
// Trust: an entry is used only when its directory and file belong to the effective uid and no one else
// can write to them (who can write there could weaken later filters), and it is opened without following
// symlinks. Writes go to a temporary file renamed into place; past 64 entries (other builds, edited
// profiles) the directory is emptied. Every cache problem silently falls back to
// compiling: the cache can make a launch faster, never fail it.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "hardrun/plan/plan.hpp"

namespace hardrun::seccomp {
struct Prepared;
struct Target;
}  // namespace hardrun::seccomp

namespace hardrun::filter_cache {

// The cache directory, or "" when caching is off or there is nowhere to keep it.
std::string directory();

// Raw entries: the value stored for exactly `key`, or nullopt.
std::optional<std::string> load(const std::string& key);
void store(const std::string& key, const std::string& value);  // best effort

// Seccomp: everything a compiled Enforce-mode program depends on; "" when it cannot be cached (this binary has no
// build id, or the profile is over 8 MiB). `profile_bytes` are the bytes the caller compiles: the profile file at
// `profile_path` as it read it once, or plan.seccomp.inline_json (OCI) with an empty path. This function reads
// no file: a key from one read and a program from another would store a swapped file's program under the first
// file's key, for every later launch (issue 12).
std::string seccomp_key(const LaunchPlan& plan, const seccomp::Target& target, const std::string& profile_path,
                        std::string_view profile_bytes);
// Enforce-mode result <-> entry. decode() returns false on anything unexpected (then the caller compiles).
std::string encode(const seccomp::Prepared& prepared);
bool decode(const std::string& value, seccomp::Prepared& prepared);

}  // namespace hardrun::filter_cache
