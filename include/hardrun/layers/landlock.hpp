// Landlock: unprivileged access rules for the workload, computed from the mount plan.
//
// Filesystem: read (and execute) on the root, write only where the plan mounts something writable (tmpfs,
// rw volumes, a --read-write root), no execute where the plan says noexec, read-only /proc, /sys and
// /run/secrets, read/write on hardrun's device nodes and /dev/pts. Network (ABI >= 4): TCP bind/connect
// only to the ports given with --allow-bind/--allow-connect (a direction with no port listed stays
// unrestricted). Scoping (ABI >= 6): no connecting to abstract unix sockets and no signals outside the
// sandbox's Landlock domain. Landlock rights along a path add up, so a right granted on a directory can
// never be taken away below it: the rules are placed on the deepest directories whose whole subtree
// wants the same rights (see compute()).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hardrun/plan/plan.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::landlock {

// The kernel ABI (own definitions: Debian 12's <linux/landlock.h> predates ABI 3).
namespace access {
inline constexpr std::uint64_t kExecute = 1ULL << 0;
inline constexpr std::uint64_t kWriteFile = 1ULL << 1;
inline constexpr std::uint64_t kReadFile = 1ULL << 2;
inline constexpr std::uint64_t kReadDir = 1ULL << 3;
inline constexpr std::uint64_t kRemoveDir = 1ULL << 4;
inline constexpr std::uint64_t kRemoveFile = 1ULL << 5;
inline constexpr std::uint64_t kMakeChar = 1ULL << 6;
inline constexpr std::uint64_t kMakeDir = 1ULL << 7;
inline constexpr std::uint64_t kMakeReg = 1ULL << 8;
inline constexpr std::uint64_t kMakeSock = 1ULL << 9;
inline constexpr std::uint64_t kMakeFifo = 1ULL << 10;
inline constexpr std::uint64_t kMakeBlock = 1ULL << 11;
inline constexpr std::uint64_t kMakeSym = 1ULL << 12;
inline constexpr std::uint64_t kRefer = 1ULL << 13;     // ABI 2
inline constexpr std::uint64_t kTruncate = 1ULL << 14;  // ABI 3
inline constexpr std::uint64_t kIoctlDev = 1ULL << 15;  // ABI 5
inline constexpr std::uint64_t kNetBindTcp = 1ULL << 0;     // ABI 4
inline constexpr std::uint64_t kNetConnectTcp = 1ULL << 1;  // ABI 4
inline constexpr std::uint64_t kScopeAbstractUnix = 1ULL << 0;  // ABI 6
inline constexpr std::uint64_t kScopeSignal = 1ULL << 1;        // ABI 6

inline constexpr std::uint64_t kRead = kReadFile | kReadDir;
inline constexpr std::uint64_t kWrite = kWriteFile | kRemoveDir | kRemoveFile | kMakeDir | kMakeReg | kMakeSock |
                                        kMakeFifo | kMakeSym | kRefer | kTruncate;
// The rights that make sense on a non-directory.
inline constexpr std::uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;
}  // namespace access

// Every filesystem right this ABI knows (0 for ABI 0).
std::uint64_t fs_rights_for_abi(int abi);

enum class EntryType { Directory, File, Symlink };

// The filesystem the rules are computed from: the sandbox's own view after pivot_root. A fake in the tests.
class FsView {
public:
    virtual ~FsView() = default;
    // nullopt: does not exist (or cannot be reached)
    virtual std::optional<EntryType> type(const std::string& path) = 0;
    // The entries of a directory (names, no "." or ".."); nullopt when it cannot be listed.
    virtual std::optional<std::vector<std::pair<std::string, EntryType>>> list(const std::string& dir) = 0;
};

struct PathRule {
    std::string path;
    std::uint64_t access = 0;
    bool operator==(const PathRule&) const = default;
};

struct Ruleset {
    int abi = 0;
    std::uint64_t handled_fs = 0, handled_net = 0, scoped = 0;
    std::vector<PathRule> paths;  // in the order they are added
    std::vector<std::pair<std::uint16_t, std::uint64_t>> ports;  // port -> kNetBindTcp/kNetConnectTcp
};

// The rights the plan gives a path's subtree (what its innermost planned mount allows), before ABI masking.
std::uint64_t planned_rights(const LaunchPlan& plan, const std::string& path);

// Pure: the ruleset for the plan on a kernel with this ABI, the filesystem seen through view. work, when given,
// receives the planner's step count (entries and rules looked at, planned paths compared): it must grow
// linearly with the entries of the directories it lists (a rootfs with 100,000 files in / once made the
// planner quadratic; the unit test counts this).
Ruleset compute(const LaunchPlan& plan, int abi, FsView& view, std::uint64_t* work = nullptr);

// Kernel Landlock ABI version (0 = unsupported or disabled).
int abi_version();
int abi_version(Sys& sys);

// Child, after pivot_root, the mounts, the uid switch and no_new_privs: restrict the workload.
// Throws Error when Landlock is asked for (On, or Auto on a kernel that supports it) and cannot be applied.
// Returns a short description of what was applied, or "" when skipped (Off, or Auto without kernel support).
std::string apply(Sys& sys, const LaunchPlan& plan);

// One line for --verbose, the demo and `hardrun check`: what apply() would do on this kernel.
std::string describe(const LaunchPlan& plan);

}  // namespace hardrun::landlock
