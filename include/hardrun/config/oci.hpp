// The OCI front end: an OCI bundle's config.json (runtime spec 1.x, Linux fields) -> typed structs ->
// the same LaunchPlan the flag front end produces.
//
// Two stages, so that "is this a valid config.json" and "can hardrun run it" are separate answers:
//   parse_config(): schema-level validation of every field of the spec (types, ranges, enums, patterns)
//                   into typed structs; errors name the JSON path ("linux.resources.pids.limit: ...").
//                   Fields hardrun does not implement are validated too and remembered in `refused`.
//   to_plan():      the semantic step: refuses the first unimplemented field (naming it), maps the rest
//                   onto a LaunchPlan and applies hardrun's secure defaults where the config is silent.
// Every field is either mapped, ignored with a documented reason (docs/oci.md), or refused.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hardrun/plan/plan.hpp"

namespace hardrun::oci {

// The oldest and newest runtime-spec versions whose Linux fields hardrun reads.
inline constexpr const char* kOciVersionMin = "1.0.0";
inline constexpr const char* kOciVersionMax = "1.3.0";
// Annotations hardrun itself reads (the OCI spec has no field for these layers).
inline constexpr const char* kAnnotationSeccomp = "org.hardrun.seccomp";    // "unconfined" | "default"
inline constexpr const char* kAnnotationLandlock = "org.hardrun.landlock";  // "on" | "off" | "auto"
// process.noNewPrivileges absent means on (hardrun's default); engines that never write `false` (podman omits
// it) can turn it off by name with this annotation: "false" | "true".
inline constexpr const char* kAnnotationNoNewPrivs = "org.hardrun.no-new-privileges";

struct IdMapping {
    std::uint32_t container_id = 0, host_id = 0, size = 0;
};

struct HookSpec {
    std::string path;
    std::vector<std::string> args, env;
    std::optional<int> timeout;
};

struct MountSpec {
    std::string destination, source, type;
    std::vector<std::string> options;
    bool has_id_mappings = false;  // mounts[].uidMappings/gidMappings (idmapped mounts): refused
};

struct NamespaceSpec {
    std::string type;  // mount, pid, network, uts, ipc, user, cgroup, time
    std::string path;  // join this one instead of creating
};

struct DeviceSpec {  // linux.devices[]
    std::string type, path;  // type c, b, u or p
    std::optional<std::int64_t> major, minor;
    std::optional<std::uint32_t> file_mode, uid, gid;
};

struct DeviceRuleSpec {  // linux.resources.devices[]
    bool allow = false;
    std::string type;  // "" = all
    std::optional<std::int64_t> major, minor;
    std::string access;  // "" = rwm
};

struct ThrottleSpec {
    std::int64_t major = 0, minor = 0;
    std::uint64_t rate = 0;
};

struct ResourcesSpec {
    std::vector<DeviceRuleSpec> devices;
    std::optional<std::int64_t> memory_limit, memory_reservation, memory_swap, memory_kernel, memory_kernel_tcp;
    std::optional<std::uint64_t> memory_swappiness;
    std::optional<bool> memory_disable_oom_killer, memory_use_hierarchy, memory_check_before_update;
    std::optional<std::uint64_t> cpu_shares, cpu_period;
    std::optional<std::int64_t> cpu_quota;
    std::optional<std::int64_t> pids_limit;
    std::vector<ThrottleSpec> read_bps, write_bps, read_iops, write_iops;
    std::vector<std::pair<std::string, std::uint64_t>> hugepage_limits;  // pageSize, limit (bytes)
};

struct ProcessSpec {
    bool terminal = false;
    std::vector<std::string> args, env;
    std::string cwd;
    std::uint32_t uid = 0, gid = 0;
    std::optional<std::uint32_t> umask;
    std::vector<std::uint32_t> additional_gids;
    // capabilities.{bounding,effective,permitted,inheritable,ambient}; absent sets are empty
    std::map<std::string, std::vector<std::string>> capabilities;
    struct RlimitSpec {
        std::string type;
        std::uint64_t soft = 0, hard = 0;
    };
    std::vector<RlimitSpec> rlimits;
    std::optional<std::string> apparmor_profile;
    std::optional<int> oom_score_adj;
    std::optional<bool> no_new_privileges;  // absent: hardrun's default (on)
};

// A field that is valid OCI but that hardrun does not implement: to_plan() refuses it.
struct Refusal {
    std::string path;    // JSON path, e.g. "linux.resources.hugepageLimits"
    std::string reason;  // why, and what to do instead
};

struct Config {
    std::string source;  // the config.json text this was parsed from (load_config): kept in the state for exec
    std::vector<std::string> ignored;  // unknown keys ignored as the spec requires (where ignoring weakens nothing)
    std::string oci_version;
    std::string root_path;
    bool root_readonly = false;
    bool has_root = false;
    std::optional<ProcessSpec> process;
    std::optional<std::string> hostname, domainname;
    std::vector<MountSpec> mounts;
    Hooks hooks;  // plan.hpp's Hook lists (prestart, createRuntime, ...)
    std::map<std::string, std::string> annotations;
    bool has_linux = false;
    std::vector<NamespaceSpec> namespaces;
    std::vector<IdMapping> uid_mappings, gid_mappings;
    std::vector<DeviceSpec> devices;
    ResourcesSpec resources;
    bool has_resources = false;
    std::optional<std::string> cgroups_path;
    std::optional<std::string> rootfs_propagation;
    std::optional<nlohmann::json> seccomp;  // the linux.seccomp object, validated, as written
    std::map<std::string, std::string> sysctl;
    std::optional<std::vector<std::string>> masked_paths, readonly_paths;
    std::optional<int> legacy_oom_score_adj;  // linux.resources.oomScoreAdj (pre-1.0 location)
    std::vector<Refusal> refused;
};

// Stage 1. Throws Error("config.json", "<json path>", "<problem>").
Config parse_config(const nlohmann::json& doc);
// Reads and parses BUNDLE/config.json; a missing file or invalid JSON is a one-line error.
Config load_config(const std::string& bundle_dir);

// What the caller of to_plan knows beyond the config.
struct PlanContext {
    std::string bundle_dir;   // canonical; root.path and relative bind sources are relative to it
    uid_t invoker_uid = 0;    // not 0: rootless (the config must ask for a user namespace)
    bool console_socket = false;  // --console-socket was given (process.terminal needs it)
};

// Stage 2. Throws Error naming the field for anything refused or inconsistent.
LaunchPlan to_plan(const Config& config, const PlanContext& context);

// linux.seccomp as engines write it can list one syscall (same arguments) both in an allow rule and in a
// refusing rule: podman's profile allows setns, bpf, perf_event_open ... in its big list and refuses them again
// in the rule for workloads without CAP_SYS_ADMIN. libseccomp runtimes silently keep the first rule (ALLOW);
// hardrun keeps the refusal, which is what the profile means for the capabilities it was generated for.
nlohmann::json resolve_seccomp_conflicts(const nlohmann::json& seccomp);

// The extras the runtime CLI needs besides the plan.
struct Bundle {
    std::string dir;  // canonical
    Config config;
    LaunchPlan plan;
    std::string cgroup_name;  // last component of linux.cgroupsPath ("" = hardrun decides)
};
Bundle load_bundle(const std::string& dir, const PlanContext& context);

// `hardrun features`: what this build and host really support (OCI features document).
nlohmann::json features();
// `hardrun spec`: a hardened config.json. seccomp_profile: hardrun's default profile as an OCI
// linux.seccomp object (empty: none is embedded).
nlohmann::json spec(bool rootless, uid_t invoker_uid, gid_t invoker_gid, const nlohmann::json& seccomp_profile);
// hardrun's default seccomp profile (profiles/seccomp/default.json), resolved for this architecture and a
// workload without capabilities, as an OCI linux.seccomp object. Throws Error.
nlohmann::json default_seccomp_object();

// The OCI state document (`hardrun state`, and the hooks' stdin).
struct StateDoc {
    std::string id, status, bundle;
    pid_t pid = 0;
    std::map<std::string, std::string> annotations;
};
nlohmann::json state_json(const StateDoc& state);

// The capability names and namespace types hardrun knows (features, spec, validation).
std::vector<std::string> namespace_types();

}  // namespace hardrun::oci
