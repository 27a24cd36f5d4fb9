// Parsers for the /proc files more than one part of hardrun reads: /proc/PID/mountinfo and /proc/PID/stat.
// The parsers are pure (unit-tested in tests/unit/test_procfs.cpp); read_stat() reads the file.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hardrun::procfs {

// One line of /proc/PID/mountinfo (proc(5)):
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
// root, mount point, fstype and source have the kernel's \ooo escapes (space, tab, newline, backslash) decoded.
struct MountInfo {
    int mount_id = 0, parent_id = 0;
    unsigned major = 0, minor = 0;
    std::string root, mount_point;
    std::vector<std::string> options;          // per-mount: "rw", "nosuid", "relatime"
    std::vector<std::string> optional_fields;  // "shared:4", "master:1"
    std::string fstype, source;
    std::vector<std::string> super_options;    // of the superblock: "rw", "size=64k", "nsdelegate"
    bool has_option(std::string_view o) const;  // among the per-mount options
};
// Lines that do not have the shape above (at least six fields, "-", fstype and source) are skipped.
std::vector<MountInfo> parse_mountinfo(std::string_view text);
// Decodes mountinfo's \ooo escapes ("/my\040dir" -> "/my dir").
std::string unescape(std::string_view s);

// The whitespace-separated fields of /proc text (space, tab and newline separate; empty fields dropped).
std::vector<std::string_view> fields(std::string_view text);

// /proc/PID/stat, the fields hardrun uses.
struct Stat {
    char state = '?';            // field 3: R, S, D, Z, X, ...
    pid_t ppid = 0;              // field 4
    std::uint64_t start_time = 0;  // field 22: clock ticks after boot
};
// nullopt when the text is not a stat line (no ")" after the name, fewer than 22 fields, bad numbers).
std::optional<Stat> parse_stat(std::string_view text);
// Reads /proc/PID/stat ("self" or a pid); nullopt when it is unreadable or malformed.
std::optional<Stat> read_stat(const std::string& pid);
std::optional<Stat> read_stat(pid_t pid);

}  // namespace hardrun::procfs
