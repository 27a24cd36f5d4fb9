// config.json -> typed Config (parse_config) -> LaunchPlan (to_plan). See oci.hpp for the two stages and
// docs/oci.md for the table of every field: mapped, ignored with a reason, or refused.
#include "hardrun/config/oci.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "hardrun/layers/cgroups/cgroups.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/layers/sysctl.hpp"
#include "oci_json.hpp"

namespace hardrun::oci {

using json = nlohmann::json;
using namespace detail;

namespace {

// ------------------------------------------------------------------------------------------------
// Typed reading with the JSON path in every error.
// ------------------------------------------------------------------------------------------------


const char* type_of(const json& j) {
    switch (j.type()) {
        case json::value_t::object: return "an object";
        case json::value_t::array: return "an array";
        case json::value_t::string: return "a string";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "an integer";
        case json::value_t::number_float: return "a fractional number";
        case json::value_t::null: return "null";
        default: return "an unexpected value";
    }
}

void want(bool ok, const json& j, const std::string& path, const char* what) {
    if (!ok) fail(path, std::string("must be ") + what + ", not " + type_of(j));
}

const json& want_object(const json& j, const std::string& path) {
    want(j.is_object(), j, path, "an object");
    return j;
}

const json& want_array(const json& j, const std::string& path) {
    want(j.is_array(), j, path, "an array");
    return j;
}

std::string get_string(const json& j, const std::string& path) {
    want(j.is_string(), j, path, "a string");
    return j.get<std::string>();
}

bool get_bool(const json& j, const std::string& path) {
    want(j.is_boolean(), j, path, "a boolean");
    return j.get<bool>();
}

std::uint64_t get_u64(const json& j, const std::string& path, std::uint64_t max = std::numeric_limits<std::uint64_t>::max(),
                      const char* what = "an unsigned integer") {
    if (j.is_number_unsigned() || (j.is_number_integer() && j.get<std::int64_t>() >= 0)) {
        auto v = j.get<std::uint64_t>();
        if (v > max) fail(path, std::to_string(v) + " is out of range (at most " + std::to_string(max) + ")");
        return v;
    }
    if (j.is_number_integer()) fail(path, std::to_string(j.get<std::int64_t>()) + " is negative; must be " + what);
    want(false, j, path, what);
    return 0;
}

std::uint32_t get_u32(const json& j, const std::string& path) {
    return static_cast<std::uint32_t>(get_u64(j, path, std::numeric_limits<std::uint32_t>::max(), "an unsigned 32-bit integer"));
}

std::int64_t get_i64(const json& j, const std::string& path, std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                     std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
    std::int64_t v = 0;
    if (j.is_number_unsigned()) {
        auto u = j.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            fail(path, std::to_string(u) + " is out of range for a 64-bit integer");
        v = static_cast<std::int64_t>(u);
    } else if (j.is_number_integer()) {
        v = j.get<std::int64_t>();
    } else {
        want(false, j, path, "an integer");
    }
    if (v < min || v > max)
        fail(path, std::to_string(v) + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
    return v;
}

std::vector<std::string> get_strings(const json& j, const std::string& path) {
    want_array(j, path);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < j.size(); ++i) out.push_back(get_string(j[i], item_path(path, i)));
    return out;
}

std::map<std::string, std::string> get_string_map(const json& j, const std::string& path) {
    want_object(j, path);
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : j.items()) {
        if (k.empty()) fail(path, "has an empty key");
        out[k] = get_string(v, key_path(path, k));
    }
    return out;
}

// Refuses keys the spec (1.3) does not define: a field hardrun does not know could be a security setting
// that would otherwise be silently skipped.
// A key the spec does not name: refused where ignoring it could weaken a layer (the default: process, user,
// capabilities, rlimits, linux, namespaces, devices, resources, seccomp, mounts, root); elsewhere ignored, as
// the spec requires (MUST NOT error), and recorded in `ignore_into` for a warning.
void check_keys(const json& obj, const std::string& path, std::initializer_list<const char*> known,
                Config* ignore_into = nullptr) {
    for (const auto& [k, v] : obj.items()) {
        bool ok = false;
        for (const char* n : known)
            if (k == n) ok = true;
        if (!ok && ignore_into) {
            ignore_into->ignored.push_back(key_path(path, k));
            continue;
        }
        if (!ok)
            fail(key_path(path, k), "not a field of the OCI runtime spec (up to " + std::string(kOciVersionMax) +
                                        ") that hardrun knows; refusing rather than ignoring it");
    }
}




std::string get_enum(const json& j, const std::string& path, std::initializer_list<const char*> values) {
    std::string v = get_string(j, path);
    if (!matches_enum(v, values)) {
        std::string list;
        for (const char* x : values) list += (list.empty() ? "" : ", ") + std::string(x);
        fail(path, qt(v) + " is not one of " + list);
    }
    return v;
}

// ------------------------------------------------------------------------------------------------
// Stage 1: parse (schema-level validation)
// ------------------------------------------------------------------------------------------------
constexpr std::initializer_list<const char*> kSeccompActions = {
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"};
constexpr std::initializer_list<const char*> kSeccompArchs = {
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64"};
constexpr std::initializer_list<const char*> kSeccompOps = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                                                            "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
constexpr std::initializer_list<const char*> kSeccompFlags = {
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
constexpr std::initializer_list<const char*> kNamespaceTypes = {"mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time"};

HookSpec parse_hook(const json& j, const std::string& path) {
    want_object(j, path);
    check_keys(j, path, {"path", "args", "env", "timeout"});
    HookSpec h;
    const json* p = find(j, "path");
    if (!p) fail(key_path(path, "path"), "is required");
    h.path = get_string(*p, key_path(path, "path"));
    if (const json* a = find(j, "args")) h.args = get_strings(*a, key_path(path, "args"));
    if (const json* e = find(j, "env")) h.env = get_strings(*e, key_path(path, "env"));
    if (const json* t = find(j, "timeout")) {
        std::int64_t v = get_i64(*t, key_path(path, "timeout"), 1, INT_MAX);
        h.timeout = static_cast<int>(v);
    }
    return h;
}

std::vector<Hook> parse_hooks(const json& j, const std::string& path) {
    want_array(j, path);
    std::vector<Hook> out;
    for (std::size_t i = 0; i < j.size(); ++i) {
        HookSpec h = parse_hook(j[i], item_path(path, i));
        out.push_back(Hook{h.path, h.args, h.env, h.timeout});
    }
    return out;
}

IdMapping parse_id_mapping(const json& j, const std::string& path) {
    want_object(j, path);
    check_keys(j, path, {"containerID", "hostID", "size"});
    IdMapping m;
    for (const char* k : {"containerID", "hostID", "size"})
        if (!find(j, k)) fail(key_path(path, k), "is required");
    m.container_id = get_u32(j["containerID"], key_path(path, "containerID"));
    m.host_id = get_u32(j["hostID"], key_path(path, "hostID"));
    m.size = get_u32(j["size"], key_path(path, "size"));
    return m;
}

std::vector<IdMapping> parse_id_mappings(const json& j, const std::string& path) {
    want_array(j, path);
    std::vector<IdMapping> out;
    for (std::size_t i = 0; i < j.size(); ++i) out.push_back(parse_id_mapping(j[i], item_path(path, i)));
    return out;
}

void parse_process(Config& c, const json& j) {
    const std::string P = "process";
    want_object(j, P);
    check_keys(j, P, {"terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd", "capabilities", "rlimits",
                      "apparmorProfile", "oomScoreAdj", "selinuxLabel", "ioPriority", "noNewPrivileges", "scheduler",
                      "execCPUAffinity"});
    ProcessSpec p;
    if (const json* t = find(j, "terminal")) p.terminal = get_bool(*t, key_path(P, "terminal"));
    if (const json* cs = find(j, "consoleSize")) {
        want_object(*cs, key_path(P, "consoleSize"));
        check_keys(*cs, key_path(P, "consoleSize"), {"height", "width"}, &c);
        for (const char* k : {"height", "width"}) {
            const json* v = find(*cs, k);
            if (!v) fail(key_path(key_path(P, "consoleSize"), k), "is required");
            get_u64(*v, key_path(key_path(P, "consoleSize"), k));
        }
    }
    if (const json* u = find(j, "user")) {
        const std::string U = key_path(P, "user");
        want_object(*u, U);
        check_keys(*u, U, {"uid", "gid", "umask", "additionalGids", "username"});
        if (const json* v = find(*u, "uid")) p.uid = get_u32(*v, key_path(U, "uid"));
        if (const json* v = find(*u, "gid")) p.gid = get_u32(*v, key_path(U, "gid"));
        if (const json* v = find(*u, "umask")) p.umask = get_u32(*v, key_path(U, "umask"));
        if (const json* v = find(*u, "additionalGids")) {
            want_array(*v, key_path(U, "additionalGids"));
            for (std::size_t i = 0; i < v->size(); ++i)
                p.additional_gids.push_back(get_u32((*v)[i], item_path(key_path(U, "additionalGids"), i)));
        }
        if (const json* v = find(*u, "username")) {
            get_string(*v, key_path(U, "username"));
            refuse(c, key_path(U, "username"), "is a Windows field; give a numeric uid and gid");
        }
    }
    if (const json* a = find(j, "args")) p.args = get_strings(*a, key_path(P, "args"));
    if (const json* cl = find(j, "commandLine")) {
        get_string(*cl, key_path(P, "commandLine"));
        refuse(c, key_path(P, "commandLine"), "is a Windows field; use process.args");
    }
    if (const json* e = find(j, "env")) p.env = get_strings(*e, key_path(P, "env"));
    const json* cwd = find(j, "cwd");
    if (!cwd) fail(key_path(P, "cwd"), "is required");
    p.cwd = get_string(*cwd, key_path(P, "cwd"));
    if (const json* caps = find(j, "capabilities")) {
        const std::string C = key_path(P, "capabilities");
        want_object(*caps, C);
        check_keys(*caps, C, {"bounding", "permitted", "effective", "inheritable", "ambient"});
        for (const auto& [k, v] : caps->items()) p.capabilities[k] = get_strings(v, key_path(C, k));
    }
    if (const json* rl = find(j, "rlimits")) {
        const std::string R = key_path(P, "rlimits");
        want_array(*rl, R);
        for (std::size_t i = 0; i < rl->size(); ++i) {
            const std::string I = item_path(R, i);
            const json& r = (*rl)[i];
            want_object(r, I);
            check_keys(r, I, {"type", "soft", "hard"});
            for (const char* k : {"type", "soft", "hard"})
                if (!find(r, k)) fail(key_path(I, k), "is required");
            ProcessSpec::RlimitSpec s;
            s.type = get_string(r["type"], key_path(I, "type"));
            bool ok = s.type.size() > 7 && s.type.starts_with("RLIMIT_") &&
                      std::all_of(s.type.begin() + 7, s.type.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
            if (!ok) fail(key_path(I, "type"), qt(s.type) + " is not RLIMIT_NAME");
            s.soft = get_u64(r["soft"], key_path(I, "soft"));
            s.hard = get_u64(r["hard"], key_path(I, "hard"));
            p.rlimits.push_back(s);
        }
    }
    if (const json* a = find(j, "apparmorProfile")) p.apparmor_profile = get_string(*a, key_path(P, "apparmorProfile"));
    if (const json* o = find(j, "oomScoreAdj"))
        p.oom_score_adj = static_cast<int>(get_i64(*o, key_path(P, "oomScoreAdj"), INT_MIN, INT_MAX));
    if (const json* s = find(j, "selinuxLabel")) {
        if (!get_string(*s, key_path(P, "selinuxLabel")).empty())
            refuse(c, key_path(P, "selinuxLabel"), "SELinux is not supported by hardrun (it uses AppArmor, seccomp and Landlock)");
    }
    if (const json* io = find(j, "ioPriority")) {
        const std::string I = key_path(P, "ioPriority");
        want_object(*io, I);
        check_keys(*io, I, {"class", "priority"}, &c);
        if (!find(*io, "class")) fail(key_path(I, "class"), "is required");
        get_enum((*io)["class"], key_path(I, "class"), {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"});
        if (const json* pr = find(*io, "priority")) get_i64(*pr, key_path(I, "priority"), INT32_MIN, INT32_MAX);
        refuse(c, I, "I/O priorities are not implemented by hardrun");
    }
    if (const json* n = find(j, "noNewPrivileges")) p.no_new_privileges = get_bool(*n, key_path(P, "noNewPrivileges"));
    if (const json* s = find(j, "scheduler")) {
        const std::string S = key_path(P, "scheduler");
        want_object(*s, S);
        check_keys(*s, S, {"policy", "nice", "priority", "flags", "runtime", "deadline", "period"}, &c);
        if (!find(*s, "policy")) fail(key_path(S, "policy"), "is required");
        get_enum((*s)["policy"], key_path(S, "policy"),
                 {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"});
        for (const char* k : {"nice", "priority"})
            if (const json* v = find(*s, k)) get_i64(*v, key_path(S, k), INT32_MIN, INT32_MAX);
        for (const char* k : {"runtime", "deadline", "period"})
            if (const json* v = find(*s, k)) get_u64(*v, key_path(S, k));
        if (const json* f = find(*s, "flags")) {
            want_array(*f, key_path(S, "flags"));
            for (std::size_t i = 0; i < f->size(); ++i)
                get_enum((*f)[i], item_path(key_path(S, "flags"), i),
                         {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY",
                          "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX"});
        }
        refuse(c, S, "scheduling policies are not implemented by hardrun");
    }
    if (const json* a = find(j, "execCPUAffinity")) {
        const std::string A = key_path(P, "execCPUAffinity");
        want_object(*a, A);
        check_keys(*a, A, {"initial", "final"});
        for (const char* k : {"initial", "final"})
            if (const json* v = find(*a, k)) {
                std::string s = get_string(*v, key_path(A, k));
                if (s.find_first_not_of("0123456789, -") != std::string::npos) fail(key_path(A, k), qt(s) + " is not a CPU list");
            }
        refuse(c, A, "CPU affinity is not implemented by hardrun");
    }
    c.process = p;
}

MountSpec parse_mount(const json& j, const std::string& path) {
    want_object(j, path);
    check_keys(j, path, {"destination", "source", "type", "options", "uidMappings", "gidMappings"});
    MountSpec m;
    const json* d = find(j, "destination");
    if (!d) fail(key_path(path, "destination"), "is required");
    m.destination = get_string(*d, key_path(path, "destination"));
    if (const json* s = find(j, "source")) m.source = get_string(*s, key_path(path, "source"));
    if (const json* t = find(j, "type")) m.type = get_string(*t, key_path(path, "type"));
    if (const json* o = find(j, "options")) m.options = get_strings(*o, key_path(path, "options"));
    for (const char* k : {"uidMappings", "gidMappings"})
        if (const json* v = find(j, k)) {
            parse_id_mappings(*v, key_path(path, k));
            if (!v->empty()) m.has_id_mappings = true;
        }
    return m;
}

std::optional<std::int64_t> opt_i64(const json& obj, const char* key, const std::string& path) {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    return get_i64(*v, key_path(path, key));
}

std::optional<std::uint64_t> opt_u64(const json& obj, const char* key, const std::string& path) {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    return get_u64(*v, key_path(path, key));
}

std::optional<bool> opt_bool(const json& obj, const char* key, const std::string& path) {
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    return get_bool(*v, key_path(path, key));
}

void parse_resources(Config& c, const json& j) {
    const std::string R = "linux.resources";
    want_object(j, R);
    check_keys(j, R, {"unified", "devices", "pids", "blockIO", "cpu", "hugepageLimits", "memory", "network", "rdma",
                      "oomScoreAdj"});
    c.has_resources = true;
    ResourcesSpec& r = c.resources;
    if (const json* u = find(j, "unified")) {
        auto m = get_string_map(*u, key_path(R, "unified"));
        if (!m.empty())
            refuse(c, key_path(R, "unified"),
                   "raw cgroup v2 files are not written by hardrun; use the typed fields (memory, cpu, pids, blockIO)");
    }
    if (const json* d = find(j, "devices")) {
        const std::string D = key_path(R, "devices");
        want_array(*d, D);
        for (std::size_t i = 0; i < d->size(); ++i) {
            const std::string I = item_path(D, i);
            const json& e = (*d)[i];
            want_object(e, I);
            check_keys(e, I, {"allow", "type", "major", "minor", "access"});
            if (!find(e, "allow")) fail(key_path(I, "allow"), "is required");
            DeviceRuleSpec rule;
            rule.allow = get_bool(e["allow"], key_path(I, "allow"));
            if (const json* t = find(e, "type")) rule.type = get_string(*t, key_path(I, "type"));
            rule.major = opt_i64(e, "major", I);
            rule.minor = opt_i64(e, "minor", I);
            if (const json* a = find(e, "access")) rule.access = get_string(*a, key_path(I, "access"));
            r.devices.push_back(rule);
        }
    }
    if (const json* p = find(j, "pids")) {
        const std::string P = key_path(R, "pids");
        want_object(*p, P);
        check_keys(*p, P, {"limit"});
        if (!find(*p, "limit")) fail(key_path(P, "limit"), "is required");
        r.pids_limit = get_i64((*p)["limit"], key_path(P, "limit"));
    }
    if (const json* b = find(j, "blockIO")) {
        const std::string B = key_path(R, "blockIO");
        want_object(*b, B);
        check_keys(*b, B, {"weight", "leafWeight", "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
                           "throttleWriteIOPSDevice", "weightDevice"});
        // 0 means unset, as in runc (docker sends "weight": 0 with every container); any other weight is refused
        for (const char* k : {"weight", "leafWeight"})
            if (const json* v = find(*b, k); v && get_u64(*v, key_path(B, k), 65535) != 0)
                refuse(c, key_path(B, k), "I/O weights are not implemented by hardrun (io.max throttles are)");
        if (const json* w = find(*b, "weightDevice")) {
            const std::string W = key_path(B, "weightDevice");
            want_array(*w, W);
            for (std::size_t i = 0; i < w->size(); ++i) {
                const std::string I = item_path(W, i);
                want_object((*w)[i], I);
                check_keys((*w)[i], I, {"major", "minor", "weight", "leafWeight"});
                for (const char* k : {"major", "minor"}) {
                    if (!find((*w)[i], k)) fail(key_path(I, k), "is required");
                    get_i64((*w)[i][k], key_path(I, k));
                }
                for (const char* k : {"weight", "leafWeight"})
                    if (const json* v = find((*w)[i], k)) get_u64(*v, key_path(I, k), 65535);
            }
            if (!w->empty()) refuse(c, W, "I/O weights are not implemented by hardrun (io.max throttles are)");
        }
        auto throttles = [&](const char* key, std::vector<ThrottleSpec>& out) {
            const json* t = find(*b, key);
            if (!t) return;
            const std::string T = key_path(B, key);
            want_array(*t, T);
            for (std::size_t i = 0; i < t->size(); ++i) {
                const std::string I = item_path(T, i);
                want_object((*t)[i], I);
                check_keys((*t)[i], I, {"major", "minor", "rate"});
                ThrottleSpec s;
                for (const char* k : {"major", "minor"})
                    if (!find((*t)[i], k)) fail(key_path(I, k), "is required");
                s.major = get_i64((*t)[i]["major"], key_path(I, "major"));
                s.minor = get_i64((*t)[i]["minor"], key_path(I, "minor"));
                if (const json* v = find((*t)[i], "rate")) s.rate = get_u64(*v, key_path(I, "rate"));
                out.push_back(s);
            }
        };
        throttles("throttleReadBpsDevice", r.read_bps);
        throttles("throttleWriteBpsDevice", r.write_bps);
        throttles("throttleReadIOPSDevice", r.read_iops);
        throttles("throttleWriteIOPSDevice", r.write_iops);
    }
    if (const json* cpu = find(j, "cpu")) {
        const std::string C = key_path(R, "cpu");
        want_object(*cpu, C);
        check_keys(*cpu, C, {"cpus", "mems", "period", "quota", "burst", "realtimePeriod", "realtimeRuntime", "shares", "idle"});
        r.cpu_shares = opt_u64(*cpu, "shares", C);
        r.cpu_period = opt_u64(*cpu, "period", C);
        r.cpu_quota = opt_i64(*cpu, "quota", C);
        for (const char* k : {"cpus", "mems"})
            if (const json* v = find(*cpu, k))
                if (!get_string(*v, key_path(C, k)).empty())
                    refuse(c, key_path(C, k), "cpusets are not implemented by hardrun");
        if (opt_u64(*cpu, "burst", C)) refuse(c, key_path(C, "burst"), "cpu.max.burst is not implemented by hardrun");
        if (opt_u64(*cpu, "realtimePeriod", C)) refuse(c, key_path(C, "realtimePeriod"), "realtime scheduling is not implemented by hardrun");
        if (opt_i64(*cpu, "realtimeRuntime", C)) refuse(c, key_path(C, "realtimeRuntime"), "realtime scheduling is not implemented by hardrun");
        if (opt_i64(*cpu, "idle", C)) refuse(c, key_path(C, "idle"), "cpu.idle is not implemented by hardrun");
    }
    if (const json* h = find(j, "hugepageLimits")) {
        const std::string H = key_path(R, "hugepageLimits");
        want_array(*h, H);
        for (std::size_t i = 0; i < h->size(); ++i) {
            const std::string I = item_path(H, i);
            const json& e = (*h)[i];
            want_object(e, I);
            check_keys(e, I, {"pageSize", "limit"});
            for (const char* k : {"pageSize", "limit"})
                if (!find(e, k)) fail(key_path(I, k), "is required");
            std::string ps = get_string(e["pageSize"], key_path(I, "pageSize"));
            bool ok = ps.size() >= 3 && ps[0] >= '1' && ps[0] <= '9' && ps.ends_with("B") &&
                      std::string("KMG").find(ps[ps.size() - 2]) != std::string::npos &&
                      std::all_of(ps.begin(), ps.end() - 2, [](char ch) { return ch >= '0' && ch <= '9'; });
            if (!ok) fail(key_path(I, "pageSize"), qt(ps) + " is not a page size such as 2MB or 64KB");
            r.hugepage_limits.emplace_back(ps, get_u64(e["limit"], key_path(I, "limit")));
        }
    }
    if (const json* m = find(j, "memory")) {
        const std::string M = key_path(R, "memory");
        want_object(*m, M);
        check_keys(*m, M, {"kernel", "kernelTCP", "limit", "reservation", "swap", "swappiness", "disableOOMKiller",
                           "useHierarchy", "checkBeforeUpdate"});
        r.memory_limit = opt_i64(*m, "limit", M);
        r.memory_reservation = opt_i64(*m, "reservation", M);
        r.memory_swap = opt_i64(*m, "swap", M);
        r.memory_kernel = opt_i64(*m, "kernel", M);
        r.memory_kernel_tcp = opt_i64(*m, "kernelTCP", M);
        r.memory_swappiness = opt_u64(*m, "swappiness", M);
        r.memory_disable_oom_killer = opt_bool(*m, "disableOOMKiller", M);
        r.memory_use_hierarchy = opt_bool(*m, "useHierarchy", M);
        r.memory_check_before_update = opt_bool(*m, "checkBeforeUpdate", M);
        for (auto [v, k] : {std::pair{r.memory_kernel, "kernel"}, std::pair{r.memory_kernel_tcp, "kernelTCP"}})
            if (v && *v > 0)
                refuse(c, key_path(M, k), "kernel memory limits do not exist in cgroup v2 (deprecated in the OCI spec)");
        if (r.memory_swappiness) refuse(c, key_path(M, "swappiness"), "cgroup v2 has no per-cgroup swappiness");
        if (r.memory_disable_oom_killer.value_or(false))
            refuse(c, key_path(M, "disableOOMKiller"), "cgroup v2 cannot disable the OOM killer for a cgroup");
    }
    if (const json* n = find(j, "network")) {
        const std::string N = key_path(R, "network");
        want_object(*n, N);
        check_keys(*n, N, {"classID", "priorities"});
        if (const json* v = find(*n, "classID")) get_u32(*v, key_path(N, "classID"));
        if (const json* pr = find(*n, "priorities")) {
            want_array(*pr, key_path(N, "priorities"));
            for (std::size_t i = 0; i < pr->size(); ++i) {
                const std::string I = item_path(key_path(N, "priorities"), i);
                want_object((*pr)[i], I);
                check_keys((*pr)[i], I, {"name", "priority"});
                for (const char* k : {"name", "priority"})
                    if (!find((*pr)[i], k)) fail(key_path(I, k), "is required");
                get_string((*pr)[i]["name"], key_path(I, "name"));
                get_u32((*pr)[i]["priority"], key_path(I, "priority"));
            }
        }
        if (!n->empty()) refuse(c, N, "net_cls/net_prio are cgroup v1 controllers; hardrun uses cgroup v2 only");
    }
    if (const json* rd = find(j, "rdma")) {
        const std::string D = key_path(R, "rdma");
        want_object(*rd, D);
        for (const auto& [dev, lim] : rd->items()) {
            const std::string I = key_path(D, dev);
            want_object(lim, I);
            check_keys(lim, I, {"hcaHandles", "hcaObjects"});
            for (const char* k : {"hcaHandles", "hcaObjects"})
                if (const json* v = find(lim, k)) get_u32(*v, key_path(I, k));
        }
        if (!rd->empty()) refuse(c, D, "rdma limits are not implemented by hardrun");
    }
    if (const json* o = find(j, "oomScoreAdj"))
        c.legacy_oom_score_adj = static_cast<int>(get_i64(*o, key_path(R, "oomScoreAdj"), INT_MIN, INT_MAX));
}

void parse_seccomp(Config& c, const json& j) {
    const std::string S = "linux.seccomp";
    want_object(j, S);
    check_keys(j, S, {"defaultAction", "defaultErrnoRet", "flags", "listenerPath", "listenerMetadata", "architectures", "syscalls"});
    if (!find(j, "defaultAction")) fail(key_path(S, "defaultAction"), "is required");
    get_enum(j["defaultAction"], key_path(S, "defaultAction"), kSeccompActions);
    if (const json* v = find(j, "defaultErrnoRet")) get_u32(*v, key_path(S, "defaultErrnoRet"));
    if (const json* f = find(j, "flags")) {
        want_array(*f, key_path(S, "flags"));
        for (std::size_t i = 0; i < f->size(); ++i) get_enum((*f)[i], item_path(key_path(S, "flags"), i), kSeccompFlags);
    }
    for (const char* k : {"listenerPath", "listenerMetadata"})
        if (const json* v = find(j, k)) {
            if (!get_string(*v, key_path(S, k)).empty())
                refuse(c, key_path(S, k), "handing the seccomp listener to an outside agent is not implemented by hardrun");
        }
    if (const json* a = find(j, "architectures")) {
        want_array(*a, key_path(S, "architectures"));
        for (std::size_t i = 0; i < a->size(); ++i) get_enum((*a)[i], item_path(key_path(S, "architectures"), i), kSeccompArchs);
    }
    if (const json* sc = find(j, "syscalls")) {
        const std::string Y = key_path(S, "syscalls");
        want_array(*sc, Y);
        for (std::size_t i = 0; i < sc->size(); ++i) {
            const std::string I = item_path(Y, i);
            const json& e = (*sc)[i];
            want_object(e, I);
            check_keys(e, I, {"names", "action", "errnoRet", "args"});
            if (!find(e, "names")) fail(key_path(I, "names"), "is required");
            if (!find(e, "action")) fail(key_path(I, "action"), "is required");
            auto names = get_strings(e["names"], key_path(I, "names"));
            if (names.empty()) fail(key_path(I, "names"), "must list at least one syscall");
            get_enum(e["action"], key_path(I, "action"), kSeccompActions);
            if (const json* v = find(e, "errnoRet")) get_u32(*v, key_path(I, "errnoRet"));
            if (const json* args = find(e, "args")) {
                want_array(*args, key_path(I, "args"));
                for (std::size_t k = 0; k < args->size(); ++k) {
                    const std::string A = item_path(key_path(I, "args"), k);
                    const json& a = (*args)[k];
                    want_object(a, A);
                    check_keys(a, A, {"index", "value", "valueTwo", "op"});
                    for (const char* f : {"index", "value", "op"})
                        if (!find(a, f)) fail(key_path(A, f), "is required");
                    get_u32(a["index"], key_path(A, "index"));
                    get_u64(a["value"], key_path(A, "value"));
                    if (const json* v2 = find(a, "valueTwo")) get_u64(*v2, key_path(A, "valueTwo"));
                    get_enum(a["op"], key_path(A, "op"), kSeccompOps);
                }
            }
        }
    }
    c.seccomp = j;
}

void parse_linux(Config& c, const json& j) {
    const std::string L = "linux";
    want_object(j, L);
    c.has_linux = true;
    check_keys(j, L, {"devices", "netDevices", "uidMappings", "gidMappings", "namespaces", "resources", "cgroupsPath",
                      "rootfsPropagation", "seccomp", "sysctl", "maskedPaths", "readonlyPaths", "mountLabel", "intelRdt",
                      "memoryPolicy", "personality", "timeOffsets"});
    if (const json* d = find(j, "devices")) {
        const std::string D = key_path(L, "devices");
        want_array(*d, D);
        for (std::size_t i = 0; i < d->size(); ++i) {
            const std::string I = item_path(D, i);
            const json& e = (*d)[i];
            want_object(e, I);
            check_keys(e, I, {"type", "path", "fileMode", "major", "minor", "uid", "gid"});
            for (const char* k : {"type", "path"})
                if (!find(e, k)) fail(key_path(I, k), "is required");
            DeviceSpec dev;
            dev.type = get_string(e["type"], key_path(I, "type"));
            if (dev.type.size() != 1 || std::string("cbup").find(dev.type[0]) == std::string::npos)
                fail(key_path(I, "type"), qt(dev.type) + " is not a device type (c, b, u or p)");
            dev.path = get_string(e["path"], key_path(I, "path"));
            if (const json* m = find(e, "fileMode")) dev.file_mode = static_cast<std::uint32_t>(get_u64(*m, key_path(I, "fileMode"), 511));
            dev.major = opt_i64(e, "major", I);
            dev.minor = opt_i64(e, "minor", I);
            if (dev.type != "p" && (!dev.major || !dev.minor))
                fail(I, "a '" + dev.type + "' device needs major and minor");
            if (const json* v = find(e, "uid")) dev.uid = get_u32(*v, key_path(I, "uid"));
            if (const json* v = find(e, "gid")) dev.gid = get_u32(*v, key_path(I, "gid"));
            c.devices.push_back(dev);
        }
    }
    if (const json* n = find(j, "netDevices")) {
        const std::string N = key_path(L, "netDevices");
        want_object(*n, N);
        for (const auto& [name, dev] : n->items()) {
            const std::string I = key_path(N, name);
            want_object(dev, I);
            check_keys(dev, I, {"name"}, &c);
            if (const json* v = find(dev, "name")) get_string(*v, key_path(I, "name"));
        }
        if (!n->empty()) refuse(c, N, "moving host network devices into the container is not implemented by hardrun");
    }
    if (const json* m = find(j, "uidMappings")) c.uid_mappings = parse_id_mappings(*m, key_path(L, "uidMappings"));
    if (const json* m = find(j, "gidMappings")) c.gid_mappings = parse_id_mappings(*m, key_path(L, "gidMappings"));
    if (const json* ns = find(j, "namespaces")) {
        const std::string N = key_path(L, "namespaces");
        want_array(*ns, N);
        std::set<std::string> seen;
        for (std::size_t i = 0; i < ns->size(); ++i) {
            const std::string I = item_path(N, i);
            const json& e = (*ns)[i];
            want_object(e, I);
            check_keys(e, I, {"type", "path"});
            if (!find(e, "type")) fail(key_path(I, "type"), "is required");
            NamespaceSpec s;
            s.type = get_enum(e["type"], key_path(I, "type"), kNamespaceTypes);
            if (const json* p = find(e, "path")) s.path = get_string(*p, key_path(I, "path"));
            if (!seen.insert(s.type).second) fail(key_path(I, "type"), qt(s.type) + " is listed twice");
            if (s.type == "time") refuse(c, key_path(I, "type"), "time namespaces are not implemented by hardrun");
            c.namespaces.push_back(s);
        }
    }
    if (const json* r = find(j, "resources")) parse_resources(c, *r);
    if (const json* p = find(j, "cgroupsPath")) c.cgroups_path = get_string(*p, key_path(L, "cgroupsPath"));
    if (const json* p = find(j, "rootfsPropagation")) {
        // the schema's four values, plus the recursive spellings runc and crun also accept
        c.rootfs_propagation = get_enum(*p, key_path(L, "rootfsPropagation"),
                                        {"private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", "runbindable"});
    }
    if (const json* s = find(j, "seccomp")) parse_seccomp(c, *s);
    if (const json* s = find(j, "sysctl")) c.sysctl = get_string_map(*s, key_path(L, "sysctl"));
    if (const json* m = find(j, "maskedPaths")) c.masked_paths = get_strings(*m, key_path(L, "maskedPaths"));
    if (const json* m = find(j, "readonlyPaths")) c.readonly_paths = get_strings(*m, key_path(L, "readonlyPaths"));
    if (const json* m = find(j, "mountLabel")) {
        if (!get_string(*m, key_path(L, "mountLabel")).empty())
            refuse(c, key_path(L, "mountLabel"), "SELinux is not supported by hardrun");
    }
    if (const json* r = find(j, "intelRdt")) {
        const std::string I = key_path(L, "intelRdt");
        want_object(*r, I);
        check_keys(*r, I, {"closID", "schemata", "l3CacheSchema", "memBwSchema", "enableMonitoring"}, &c);
        for (const char* k : {"closID", "l3CacheSchema", "memBwSchema"})
            if (const json* v = find(*r, k)) get_string(*v, key_path(I, k));
        if (const json* v = find(*r, "schemata")) get_strings(*v, key_path(I, "schemata"));
        if (const json* v = find(*r, "enableMonitoring")) get_bool(*v, key_path(I, "enableMonitoring"));
        refuse(c, I, "Intel RDT is not implemented by hardrun");
    }
    if (const json* m = find(j, "memoryPolicy")) {
        const std::string M = key_path(L, "memoryPolicy");
        want_object(*m, M);
        check_keys(*m, M, {"mode", "nodes", "flags"}, &c);
        if (const json* v = find(*m, "mode"))
            get_enum(*v, key_path(M, "mode"), {"MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
                                               "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"});
        if (const json* v = find(*m, "nodes")) get_string(*v, key_path(M, "nodes"));
        if (const json* v = find(*m, "flags")) {
            want_array(*v, key_path(M, "flags"));
            for (std::size_t i = 0; i < v->size(); ++i)
                get_enum((*v)[i], item_path(key_path(M, "flags"), i),
                         {"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"});
        }
        refuse(c, M, "NUMA memory policies are not implemented by hardrun");
    }
    if (const json* p = find(j, "personality")) {
        const std::string P = key_path(L, "personality");
        want_object(*p, P);
        check_keys(*p, P, {"domain", "flags"}, &c);
        if (const json* v = find(*p, "domain")) get_enum(*v, key_path(P, "domain"), {"LINUX", "LINUX32"});
        if (const json* v = find(*p, "flags")) get_strings(*v, key_path(P, "flags"));
        refuse(c, P, "execution domains are not implemented by hardrun");
    }
    if (const json* t = find(j, "timeOffsets")) {
        const std::string T = key_path(L, "timeOffsets");
        want_object(*t, T);
        check_keys(*t, T, {"boottime", "monotonic"}, &c);
        for (const auto& [k, v] : t->items()) {
            const std::string K = key_path(T, k);
            want_object(v, K);
            check_keys(v, K, {"secs", "nanosecs"}, &c);
            if (const json* s = find(v, "secs")) get_i64(*s, key_path(K, "secs"));
            if (const json* n = find(v, "nanosecs")) get_u32(*n, key_path(K, "nanosecs"));
        }
        if (!t->empty()) refuse(c, T, "time namespaces are not implemented by hardrun");
    }
}

// ociVersion is SemVer 2.0.0 with major 0 or 1 (this runtime implements the spec up to kOciVersionMax).
void check_oci_version(const std::string& v) {
    const std::string core = v.substr(0, v.find_first_of("-+"));
    const auto d1 = core.find('.'), d2 = d1 == std::string::npos ? d1 : core.find('.', d1 + 1);
    const bool semver = d2 != std::string::npos && parse::number<unsigned>(core.substr(0, d1)) &&
                        parse::number<unsigned>(core.substr(d1 + 1, d2 - d1 - 1)) && parse::number<unsigned>(core.substr(d2 + 1)) &&
                        (core.size() == v.size() || v.size() > core.size() + 1);
    if (!semver) fail("ociVersion", qt(v) + " is not a version (SemVer, e.g. 1.0.2)");
    if (*parse::number<unsigned>(core.substr(0, d1)) > 1)  // 0.x: the spec's own drafts, which 1.x still reads
        fail("ociVersion", qt(v) + ": hardrun implements the OCI runtime spec up to " + std::string(kOciVersionMax) +
                               "; a new major version may change what fields mean");
}

}  // namespace

Config parse_config(const json& doc) {
    if (!doc.is_object()) fail("", std::string("the document must be a JSON object, not ") + type_of(doc));
    Config c;
    check_keys(doc, "", {"ociVersion", "hooks", "annotations", "hostname", "domainname", "mounts", "root", "process",
                         "linux", "solaris", "windows", "vm", "zos", "freebsd"}, &c);
    const json* v = find(doc, "ociVersion");
    if (!v) fail("ociVersion", "is required");
    c.oci_version = get_string(*v, "ociVersion");
    check_oci_version(c.oci_version);
    if (const json* h = find(doc, "hooks")) {
        want_object(*h, "hooks");
        check_keys(*h, "hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}, &c);
        if (const json* x = find(*h, "prestart")) c.hooks.prestart = parse_hooks(*x, "hooks.prestart");
        if (const json* x = find(*h, "createRuntime")) c.hooks.create_runtime = parse_hooks(*x, "hooks.createRuntime");
        if (const json* x = find(*h, "createContainer")) c.hooks.create_container = parse_hooks(*x, "hooks.createContainer");
        if (const json* x = find(*h, "startContainer")) c.hooks.start_container = parse_hooks(*x, "hooks.startContainer");
        if (const json* x = find(*h, "poststart")) c.hooks.poststart = parse_hooks(*x, "hooks.poststart");
        if (const json* x = find(*h, "poststop")) c.hooks.poststop = parse_hooks(*x, "hooks.poststop");
    }
    if (const json* a = find(doc, "annotations")) c.annotations = get_string_map(*a, "annotations");
    if (const json* h = find(doc, "hostname")) c.hostname = get_string(*h, "hostname");
    if (const json* d = find(doc, "domainname")) c.domainname = get_string(*d, "domainname");
    if (const json* m = find(doc, "mounts")) {
        want_array(*m, "mounts");
        for (std::size_t i = 0; i < m->size(); ++i) c.mounts.push_back(parse_mount((*m)[i], item_path("mounts", i)));
    }
    if (const json* r = find(doc, "root")) {
        want_object(*r, "root");
        check_keys(*r, "root", {"path", "readonly"});
        const json* p = find(*r, "path");
        if (!p) fail("root.path", "is required");
        c.root_path = get_string(*p, "root.path");
        if (const json* ro = find(*r, "readonly")) c.root_readonly = get_bool(*ro, "root.readonly");
        c.has_root = true;
    }
    if (const json* p = find(doc, "process")) parse_process(c, *p);
    if (const json* l = find(doc, "linux")) parse_linux(c, *l);
    for (const char* other : {"solaris", "windows", "vm", "zos", "freebsd"})
        if (const json* o = find(doc, other)) {
            want_object(*o, other);
            refuse(c, other, "is for another platform; hardrun runs Linux containers only");
        }
    return c;
}

Config load_config(const std::string& bundle_dir) {
    const std::string path = bundle_dir + "/config.json";
    std::ifstream in(path);
    if (!in) {
        struct stat st {};
        int err = ::stat(bundle_dir.c_str(), &st) != 0 ? errno : (::access(path.c_str(), R_OK) != 0 ? errno : EIO);
        throw Error("bundle", path, errno_text(err) + (err == ENOENT ? "; a bundle is a directory with config.json and the rootfs" : ""));
    }
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) throw_errno("bundle", path, errno);
    const json doc = parse_json(text.str(), "config.json", path, "not valid JSON");
    try {
        Config c = parse_config(doc);
        c.source = text.str();
        for (const std::string& k : c.ignored)
            log::warning("config.json: " + k + " is not a field of the OCI runtime spec (up to " + std::string(kOciVersionMax) +
                         ") that hardrun knows; ignored, as the spec requires");
        return c;
    } catch (const json::exception& e) {  // parse_config checks types first; should the library still throw
        throw Error("config.json", path, json_error_text(e));
    }
}
namespace detail {
void parse_resources_object(Config& c, const json& resources) { parse_resources(c, resources); }
}  // namespace detail

}  // namespace hardrun::oci
