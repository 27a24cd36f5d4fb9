// Pure value parsers for flag values. Each throws UsageError naming the option and the fix.
#pragma once
#include <charconv>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "hardrun/plan/plan.hpp"
#include "hardrun/support/number.hpp"

namespace hardrun::parse {

// The one table of mount flag options, shared by --tmpfs, --volume and config.json's mounts: ro/rw,
// nosuid/suid, nodev/dev, noexec/exec. Applies `opt` to `m` and returns true, or returns false when `opt`
// is not one of the pairs in `allowed` (a volume takes only ro/rw and noexec/exec).
enum MountFlags : unsigned { kMountReadOnly = 1, kMountSuid = 2, kMountDev = 4, kMountExec = 8, kMountAllFlags = 15 };
bool mount_flag(std::string_view opt, Mount& m, unsigned allowed = kMountAllFlags);

// "512m", "1g", "64k", "100" (bytes), "1.5g". Binary units (k = 1024). Throws on junk or overflow.
std::uint64_t size(std::string_view option, std::string_view value);
// "0.5", "2" -> cpu.max quota for the default 100ms period.
CpuMax cpus(std::string_view option, std::string_view value);
// "UID" or "UID:GID" (numeric only: hardrun does not read the rootfs' /etc/passwd).
std::pair<uid_t, gid_t> user(std::string_view option, std::string_view value);
// "PATH[:size=64m,mode=1777,noexec,exec,nosuid,suid,nodev,dev,ro,rw]" -> a Tmpfs mount.
Mount tmpfs(std::string_view option, std::string_view value);
// "SRC:DST[:ro|rw]" (SRC must be an absolute host path) -> a Bind mount.
Mount volume(std::string_view option, std::string_view value);
// A named volume's name, as docker names them: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters.
bool volume_name(std::string_view name);
// "nofile=1024[:2048]", "core=0", "nproc=unlimited".
Rlimit ulimit(std::string_view option, std::string_view value);
// "NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE", "net_bind_service" -> capability number; "ALL" -> -1.
int capability(std::string_view option, std::string_view value);
std::string capability_name(int cap);  // "CAP_NET_BIND_SERVICE"
int last_capability();                 // highest capability number this build knows
// Absolute, normalized path inside the sandbox: no "..", no empty components.
std::string sandbox_path(std::string_view option, std::string_view value);
// "K=V"; a bare "K" takes the value from hardrun's own environment (docker semantics).
std::string env(std::string_view option, std::string_view value);
// Valid RFC 1123 host name.
std::string hostname(std::string_view option, std::string_view value);
// Human size: 67108864 -> "64 MiB".
std::string human_size(std::uint64_t bytes);

}  // namespace hardrun::parse
