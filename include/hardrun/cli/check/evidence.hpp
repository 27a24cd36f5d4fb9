// Evidence: what the kernel says about a process, read from /proc (and the cgroup filesystem) by another
// process. `hardrun check` reads it for the workload's own process right after its execve and compares it
// with what the plan asked for (check.hpp). The parsers are pure and unit-tested on canned /proc text.
#pragma once
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hardrun/plan/plan.hpp"

namespace hardrun::evidence {

// /proc/PID/status, the fields hardening is about.
struct ProcStatus {
    std::string name;
    char state = '?';
    std::array<long, 4> uid{-1, -1, -1, -1}, gid{-1, -1, -1, -1};  // real, effective, saved, filesystem
    std::vector<long> groups;
    CapSet inh, prm, eff, bnd, amb;
    std::optional<int> no_new_privs;
    std::optional<int> seccomp;          // 0 disabled, 1 strict, 2 filter
    std::optional<int> seccomp_filters;  // kernel 5.9+
};
ProcStatus parse_status(std::string_view text);

// One line of /proc/PID/mountinfo: the per-mount options and the superblock options merged.
struct MountEntry {
    std::string root, mount_point, fstype, source;
    std::vector<std::string> options;
    bool readonly = false, nosuid = false, nodev = false, noexec = false;
    bool has(std::string_view option) const;
};
std::vector<MountEntry> parse_mountinfo(std::string_view text);
// The mount that covers `path` (the last one whose mount point is `path` or a parent of it), or nullptr.
const MountEntry* covering_mount(const std::vector<MountEntry>& mounts, const std::string& path);

// "0::/hardrun-123" (cgroup v2 line of /proc/PID/cgroup) -> "/hardrun-123"; "" without a v2 line.
std::string parse_cgroup_v2_path(std::string_view text);
// uid_map/gid_map text -> mappings (inside, outside, count).
std::vector<IdMap> parse_id_map(std::string_view text);
// Maps an id seen from outside the user namespace back to the id inside it (nullopt: unmapped).
std::optional<long> inside_id(const std::vector<IdMap>& map, long outside);
// /proc/PID/net/dev -> interface names.
std::vector<std::string> parse_net_dev(std::string_view text);
// /proc/PID/limits -> name ("Max core file size") -> {soft, hard} as written ("0", "unlimited").
std::map<std::string, std::pair<std::string, std::string>> parse_limits(std::string_view text);

struct Evidence {
    pid_t pid = -1;
    std::vector<std::string> notes;  // what could not be read, and why
    std::optional<ProcStatus> status;
    std::vector<IdMap> uid_map, gid_map;  // as seen from hardrun's user namespace
    bool own_user_namespace = false;      // the workload is in a user namespace of its own
    std::optional<std::string> lsm_label;  // /proc/PID/attr/current (AppArmor: "profile (enforce)")
    std::map<std::string, std::string> ns, ns_hardrun;  // "mnt" -> "mnt:[4026531841]"
    std::vector<MountEntry> mounts;
    std::string cgroup;                            // v2 path
    std::string cgroup_dir;                        // where it is on hardrun's side ("" if not found)
    std::map<std::string, std::string> cgroup_files;  // "memory.max" -> "67108864"
    std::vector<std::string> interfaces;
    std::map<std::string, std::pair<std::string, std::string>> limits;
    int landlock_abi = 0;
    bool apparmor_enabled = false;  // on this host (/sys/module/apparmor/parameters/enabled)
};

// Reads everything about `pid` that is readable now. Never throws: unreadable parts become notes.
Evidence collect(pid_t pid);

nlohmann::json to_json(const Evidence& e);
Evidence from_json(const nlohmann::json& j);
std::string caps_text(const CapSet& caps);  // "none" or "CAP_CHOWN,CAP_NET_BIND_SERVICE"

}  // namespace hardrun::evidence
