// Pure value parsers for flag values. Each throws UsageError naming the option and the fix.
#pragma once
#include <charconv>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "hardrun/plan.hpp"

namespace hardrun::parse {

// The one checked number parser: the whole of `s` is digits in `base` (no sign, blanks or "0x" prefix)
// and the value fits T and [min, max]. Never throws: nullopt, and the caller names the field and the
// range in its own error (std::stoul would escape as a bare "stoul").
template <std::integral T>
std::optional<T> number(std::string_view s, T min = std::numeric_limits<T>::min(),
                        T max = std::numeric_limits<T>::max(), int base = 10) {
    if (s.empty() || s.front() == '-' || s.front() == '+') return std::nullopt;
    T v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
    return v;
}
// The same in another base ("1777" octal, "a80425fb" hex), over T's whole range.
template <std::integral T>
std::optional<T> number_base(std::string_view s, int base) {
    return number<T>(s, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), base);
}

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
