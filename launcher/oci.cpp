// config.json -> typed Config (parse_config) -> LaunchPlan (to_plan). See oci.hpp for the two stages and
// docs/oci.md for the table of every field: mapped, ignored with a reason, or refused.
#include "hardrun/oci.hpp"

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

#include "hardrun/cgroups.hpp"
#include "hardrun/error.hpp"
#include "hardrun/files.hpp"
#include "hardrun/flags.hpp"
#include "hardrun/json_text.hpp"
#include "hardrun/parse.hpp"
#include "hardrun/sysctl.hpp"

namespace hardrun::oci {

using json = nlohmann::json;

namespace {

// ------------------------------------------------------------------------------------------------
// Typed reading with the JSON path in every error.
// ------------------------------------------------------------------------------------------------
[[noreturn]] void fail(const std::string& path, const std::string& msg) { throw Error("config.json", path, msg); }

std::string key_path(const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; }
std::string item_path(const std::string& base, std::size_t i) { return base + "[" + std::to_string(i) + "]"; }
std::string qt(const std::string& s) { return "'" + s + "'"; }

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
void check_keys(const json& obj, const std::string& path, std::initializer_list<const char*> known) {
    for (const auto& [k, v] : obj.items()) {
        bool ok = false;
        for (const char* n : known)
            if (k == n) ok = true;
        if (!ok)
            fail(key_path(path, k), "not a field of the OCI runtime spec (up to " + std::string(kOciVersionMax) +
                                        ") that hardrun knows; refusing rather than ignoring it");
    }
}

const json* find(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

void refuse(Config& c, const std::string& path, const std::string& reason) { c.refused.push_back({path, reason}); }

bool matches_enum(const std::string& v, std::initializer_list<const char*> values) {
    return std::any_of(values.begin(), values.end(), [&](const char* x) { return v == x; });
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
        check_keys(*cs, key_path(P, "consoleSize"), {"height", "width"});
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
        check_keys(*io, I, {"class", "priority"});
        if (!find(*io, "class")) fail(key_path(I, "class"), "is required");
        get_enum((*io)["class"], key_path(I, "class"), {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"});
        if (const json* pr = find(*io, "priority")) get_i64(*pr, key_path(I, "priority"), INT32_MIN, INT32_MAX);
        refuse(c, I, "I/O priorities are not implemented by hardrun");
    }
    if (const json* n = find(j, "noNewPrivileges")) p.no_new_privileges = get_bool(*n, key_path(P, "noNewPrivileges"));
    if (const json* s = find(j, "scheduler")) {
        const std::string S = key_path(P, "scheduler");
        want_object(*s, S);
        check_keys(*s, S, {"policy", "nice", "priority", "flags", "runtime", "deadline", "period"});
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
            get_u64(e["limit"], key_path(I, "limit"));
        }
        if (!h->empty()) refuse(c, H, "hugetlb limits are not implemented by hardrun");
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
            check_keys(dev, I, {"name"});
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
        check_keys(*r, I, {"closID", "schemata", "l3CacheSchema", "memBwSchema", "enableMonitoring"});
        for (const char* k : {"closID", "l3CacheSchema", "memBwSchema"})
            if (const json* v = find(*r, k)) get_string(*v, key_path(I, k));
        if (const json* v = find(*r, "schemata")) get_strings(*v, key_path(I, "schemata"));
        if (const json* v = find(*r, "enableMonitoring")) get_bool(*v, key_path(I, "enableMonitoring"));
        refuse(c, I, "Intel RDT is not implemented by hardrun");
    }
    if (const json* m = find(j, "memoryPolicy")) {
        const std::string M = key_path(L, "memoryPolicy");
        want_object(*m, M);
        check_keys(*m, M, {"mode", "nodes", "flags"});
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
        check_keys(*p, P, {"domain", "flags"});
        if (const json* v = find(*p, "domain")) get_enum(*v, key_path(P, "domain"), {"LINUX", "LINUX32"});
        if (const json* v = find(*p, "flags")) get_strings(*v, key_path(P, "flags"));
        refuse(c, P, "execution domains are not implemented by hardrun");
    }
    if (const json* t = find(j, "timeOffsets")) {
        const std::string T = key_path(L, "timeOffsets");
        want_object(*t, T);
        check_keys(*t, T, {"boottime", "monotonic"});
        for (const auto& [k, v] : t->items()) {
            const std::string K = key_path(T, k);
            want_object(v, K);
            check_keys(v, K, {"secs", "nanosecs"});
            if (const json* s = find(v, "secs")) get_i64(*s, key_path(K, "secs"));
            if (const json* n = find(v, "nanosecs")) get_u32(*n, key_path(K, "nanosecs"));
        }
        if (!t->empty()) refuse(c, T, "time namespaces are not implemented by hardrun");
    }
}

}  // namespace

Config parse_config(const json& doc) {
    if (!doc.is_object()) fail("", std::string("the document must be a JSON object, not ") + type_of(doc));
    check_keys(doc, "", {"ociVersion", "hooks", "annotations", "hostname", "domainname", "mounts", "root", "process",
                         "linux", "solaris", "windows", "vm", "zos", "freebsd"});
    Config c;
    const json* v = find(doc, "ociVersion");
    if (!v) fail("ociVersion", "is required");
    c.oci_version = get_string(*v, "ociVersion");
    if (const json* h = find(doc, "hooks")) {
        want_object(*h, "hooks");
        check_keys(*h, "hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"});
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
        return parse_config(doc);
    } catch (const json::exception& e) {  // parse_config checks types first; should the library still throw
        throw Error("config.json", path, json_error_text(e));
    }
}

// ------------------------------------------------------------------------------------------------
// Stage 2: Config -> LaunchPlan
// ------------------------------------------------------------------------------------------------
namespace {

std::string sandbox_path(const std::string& path, const std::string& value) {
    try {
        return parse::sandbox_path(path, value);
    } catch (const Error& e) {
        fail(path, e.cause());
    }
}

std::string host_path(const std::string& field, const std::string& bundle, const std::string& value, bool want_dir) {
    if (value.empty()) fail(field, "is empty");
    std::string p = value.front() == '/' ? value : bundle + "/" + value;
    char buf[PATH_MAX];
    if (!::realpath(p.c_str(), buf)) fail(field, qt(value) + ": " + errno_text(errno));
    struct stat st {};
    if (::stat(buf, &st) != 0) fail(field, qt(value) + ": " + errno_text(errno));
    if (want_dir && !S_ISDIR(st.st_mode)) fail(field, qt(value) + " is not a directory");
    return buf;
}

// A bind source: resolved without following any symlink (one planted by another sandbox would redirect the bind
// to a host path; files.hpp), relative ones from the bundle directory.
std::string bind_source(const std::string& field, const std::string& bundle, const std::string& value) {
    if (value.empty()) fail(field, "is empty");
    const std::string p = value.front() == '/' ? value : bundle + "/" + value;
    try {
        return files::resolve_without_symlinks(p);
    } catch (const Error& e) {
        fail(field, qt(value) + ": " + e.cause());
    }
}

constexpr std::initializer_list<const char*> kIgnoredMountOptions = {
    // access-time and I/O-behaviour options: no security effect; the kernel default (relatime) applies
    "atime", "noatime", "relatime", "norelatime", "strictatime", "nostrictatime", "diratime", "nodiratime",
    "lazytime", "nolazytime", "ratime", "rnoatime", "rrelatime", "rnorelatime", "rstrictatime", "rnostrictatime",
    "rdiratime", "rnodiratime", "defaults", "async", "silent", "loud", "nomand", "noiversion", "iversion", "acl", "noacl",
    // propagation: every mount hardrun makes is already private
    "private", "rprivate"};

Mount to_mount(const MountSpec& ms, std::size_t i, const std::string& bundle, const std::string& rootfs) {
    const std::string P = item_path("mounts", i);
    if (ms.has_id_mappings) fail(P, "idmapped mounts (uidMappings/gidMappings on a mount) are not implemented by hardrun");
    Mount m;
    m.destination = sandbox_path(key_path(P, "destination"), ms.destination);
    if (m.destination == "/") fail(key_path(P, "destination"), "a mount over / would hide the rootfs; use root.path");
    bool bind = ms.type == "bind";
    bool rbind = false;
    for (const auto& o : ms.options) {
        if (o == "bind") bind = true;
        if (o == "rbind") bind = rbind = true;
    }
    std::string type = bind ? "bind" : ms.type;
    const std::string O = key_path(P, "options");
    if (type == "bind") {
        m.kind = MountKind::Bind;
        if (ms.source.empty()) fail(key_path(P, "source"), "a bind mount needs a source");
        m.source = bind_source(key_path(P, "source"), bundle, ms.source);
        m.recursive = rbind || ms.type == "rbind";
    } else if (type == "tmpfs") {
        m.kind = m.destination == "/dev" ? MountKind::Dev : MountKind::Tmpfs;
        if (m.kind == MountKind::Dev) m.nodev = false;  // hardrun's /dev holds the default device nodes
    } else if (type == "proc") {
        m.kind = MountKind::Proc;
    } else if (type == "sysfs") {
        m.kind = MountKind::Sysfs;
    } else if (type == "devpts") {
        m.kind = MountKind::Devpts;
    } else if (type == "mqueue") {
        m.kind = MountKind::Mqueue;
    } else if (type == "cgroup" || type == "cgroup2") {
        m.kind = MountKind::Cgroup;
    } else {
        fail(key_path(P, "type"), qt(ms.type) + " is not a mount type hardrun supports (bind, tmpfs, proc, sysfs, devpts, mqueue, cgroup)");
    }
    // hardrun mounts nosuid,nodev unless the options say suid/dev explicitly (docs/oci.md); devpts and /dev
    // are what device nodes are for (a nodev devpts makes /dev/pts/ptmx unusable)
    m.nosuid = true;
    m.nodev = m.kind != MountKind::Dev && m.kind != MountKind::Devpts;
    m.noexec = false;
    m.readonly = false;
    m.recursive = m.kind == MountKind::Bind ? m.recursive : true;
    for (const auto& o : ms.options) {
        std::string opt = o;
        // the recursive attribute variants (rro, rnosuid, ...): hardrun applies attributes to the whole tree
        static const std::set<std::string> rattrs = {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec"};
        if (rattrs.count(opt)) opt = opt.substr(1);
        if (opt == "ro") m.readonly = true;
        else if (opt == "rw") m.readonly = false;
        else if (opt == "nosuid") m.nosuid = true;
        else if (opt == "suid") m.nosuid = false;
        else if (opt == "nodev") m.nodev = true;
        else if (opt == "dev") m.nodev = false;
        else if (opt == "noexec") m.noexec = true;
        else if (opt == "exec") m.noexec = false;
        else if (opt == "bind" || opt == "rbind") continue;
        else if (matches_enum(opt, kIgnoredMountOptions)) continue;
        else if (matches_enum(opt, {"shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}))
            fail(O, qt(o) + ": per-mount propagation is not implemented by hardrun (every mount is private)");
        else if (opt == "tmpcopyup" && m.kind == MountKind::Tmpfs) m.copy_up = true;
        else if (m.kind == MountKind::Bind)
            fail(O, qt(o) + " is not a bind mount option hardrun supports (ro, rw, nosuid, suid, nodev, dev, noexec, exec, bind, rbind)");
        else if ((m.kind == MountKind::Tmpfs || m.kind == MountKind::Dev) && opt.starts_with("size=")) {
            try {
                m.size = parse::size(O, opt.substr(5));
            } catch (const Error& e) {
                fail(O, e.cause());
            }
        } else if ((m.kind == MountKind::Tmpfs || m.kind == MountKind::Dev) && opt.starts_with("mode=")) {
            std::string v = opt.substr(5);
            const auto mode = parse::number<mode_t>(v, 0, 07777, 8);
            if (!mode) fail(O, qt(o) + " is not an octal mode");
            m.mode = *mode;
        } else if (opt.find('=') != std::string::npos && m.kind != MountKind::Dev) {
            m.extra.push_back(opt);  // a filesystem option (devpts gid=5, tmpfs uid=..., proc hidepid=...): the kernel checks it
        } else if (opt == "newinstance" && m.kind == MountKind::Devpts) {
            m.extra.push_back(opt);
        } else {
            fail(O, qt(o) + " is not a mount option hardrun supports for " + (ms.type.empty() ? type : ms.type));
        }
    }
    (void)rootfs;
    return m;
}

CapSet cap_set(const std::vector<std::string>& names, const std::string& path) {
    CapSet s;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string& n = names[i];
        int cap = -1;
        try {
            if (!n.starts_with("CAP_")) throw UsageError("", qt(n) + " is not a capability name (CAP_...)");
            cap = parse::capability(item_path(path, i), n);
        } catch (const Error& e) {
            fail(item_path(path, i), e.cause());
        }
        if (cap < 0) fail(item_path(path, i), qt(n) + " is not a capability name");
        s.add(cap);
    }
    return s;
}

DeviceRule to_rule(const DeviceRuleSpec& r, const std::string& path) {
    DeviceRule d;
    d.allow = r.allow;
    std::string t = r.type.empty() ? "a" : r.type;
    if (t != "a" && t != "b" && t != "c") fail(key_path(path, "type"), qt(r.type) + " is not a, b or c");
    d.type = t[0];
    if (r.major && *r.major != -1) {
        if (*r.major < 0) fail(key_path(path, "major"), "must be a device number or -1 for all");
        d.major = r.major;
    }
    if (r.minor && *r.minor != -1) {
        if (*r.minor < 0) fail(key_path(path, "minor"), "must be a device number or -1 for all");
        d.minor = r.minor;
    }
    d.access = r.access.empty() ? "rwm" : r.access;
    for (char ch : d.access)
        if (ch != 'r' && ch != 'w' && ch != 'm') fail(key_path(path, "access"), qt(r.access) + " is not a combination of r, w, m");
    return d;
}

// The device nodes in hardrun's /dev: always allowed, like runc's and crun's default device rules.
void map_resources(const Config& c, LaunchPlan& p) {
    const ResourcesSpec& r = c.resources;
    const std::string M = "linux.resources.memory";
    auto& out = p.resources;
    if (r.memory_limit && *r.memory_limit > 0) {
        if (*r.memory_limit < (6LL << 20)) fail(key_path(M, "limit"), std::to_string(*r.memory_limit) + " is below the 6 MiB a process needs");
        out.memory_max = static_cast<std::uint64_t>(*r.memory_limit);
    } else if (r.memory_limit && *r.memory_limit < -1) {
        fail(key_path(M, "limit"), "must be a number of bytes, or -1 for unlimited");
    }
    if (r.memory_swap && *r.memory_swap != 0) {
        // OCI (like cgroup v1) counts memory+swap; cgroup v2's memory.swap.max is the swap alone
        if (*r.memory_swap == -1) out.memory_swap_max = -1;
        else if (*r.memory_swap < -1) fail(key_path(M, "swap"), "must be a number of bytes, or -1 for unlimited");
        else if (!out.memory_max) fail(key_path(M, "swap"), "needs memory.limit too (swap is memory plus swap in the OCI spec)");
        else if (static_cast<std::uint64_t>(*r.memory_swap) < *out.memory_max)
            fail(key_path(M, "swap"), "must be at least memory.limit (it is memory plus swap in the OCI spec)");
        else out.memory_swap_max = *r.memory_swap - static_cast<std::int64_t>(*out.memory_max);
    }
    if (r.memory_reservation && *r.memory_reservation > 0) out.memory_low = static_cast<std::uint64_t>(*r.memory_reservation);
    const std::string C = "linux.resources.cpu";
    if (r.cpu_shares && *r.cpu_shares != 0) {
        if (*r.cpu_shares < 2 || *r.cpu_shares > 262144) fail(key_path(C, "shares"), std::to_string(*r.cpu_shares) + " is not in 2..262144");
        out.cpu_weight = 1 + ((*r.cpu_shares - 2) * 9999) / 262142;  // the conversion runc and crun use
    }
    if (r.cpu_quota && *r.cpu_quota > 0) {
        CpuMax cm;
        cm.quota_us = static_cast<std::uint64_t>(*r.cpu_quota);
        cm.period_us = r.cpu_period && *r.cpu_period ? *r.cpu_period : 100000;
        if (cm.period_us < 1000 || cm.period_us > 1000000) fail(key_path(C, "period"), "must be between 1000 and 1000000 microseconds");
        if (cm.quota_us < 1000) fail(key_path(C, "quota"), "must be at least 1000 microseconds");
        out.cpu_max = cm;
    }
    if (r.pids_limit && *r.pids_limit > 0) out.pids_max = *r.pids_limit;
    std::map<std::string, IoMax> io;
    auto add_io = [&](const std::vector<ThrottleSpec>& list, std::optional<std::uint64_t> IoMax::*field, const char* name) {
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto& t = list[i];
            if (t.major < 0 || t.minor < 0)
                fail(item_path("linux.resources.blockIO." + std::string(name), i), "needs a real major:minor");
            std::string dev = std::to_string(t.major) + ":" + std::to_string(t.minor);
            io[dev].device = dev;
            io[dev].*field = t.rate;
        }
    };
    add_io(r.read_bps, &IoMax::rbps, "throttleReadBpsDevice");
    add_io(r.write_bps, &IoMax::wbps, "throttleWriteBpsDevice");
    add_io(r.read_iops, &IoMax::riops, "throttleReadIOPSDevice");
    add_io(r.write_iops, &IoMax::wiops, "throttleWriteIOPSDevice");
    for (auto& [k, v] : io) out.io_max.push_back(v);
    for (std::size_t i = 0; i < r.devices.size(); ++i)
        out.devices.push_back(to_rule(r.devices[i], item_path("linux.resources.devices", i)));
    if (!out.devices.empty())
        for (const auto& d : cgroups::default_device_rules()) out.devices.push_back(d);
}

// linux.devices: a bind mount of the host's node, after checking it is the device the config describes.
void map_devices(const Config& c, LaunchPlan& p) {
    for (std::size_t i = 0; i < c.devices.size(); ++i) {
        const DeviceSpec& d = c.devices[i];
        const std::string P = item_path("linux.devices", i);
        std::string path = sandbox_path(key_path(P, "path"), d.path);
        if (!path.starts_with("/dev/")) fail(key_path(P, "path"), qt(d.path) + " is not under /dev");
        if (d.type == "p") fail(key_path(P, "type"), "FIFO devices are not implemented by hardrun");
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            fail(P, "hardrun binds the host's " + path + " (it never calls mknod): " + errno_text(errno));
        bool is_block = S_ISBLK(st.st_mode), is_char = S_ISCHR(st.st_mode);
        if ((d.type == "b" && !is_block) || (d.type != "b" && !is_char))
            fail(key_path(P, "type"), "the host's " + path + " is not a " + (d.type == "b" ? "block" : "character") + " device");
        if (static_cast<std::int64_t>(major(st.st_rdev)) != *d.major || static_cast<std::int64_t>(minor(st.st_rdev)) != *d.minor)
            fail(P, "the host's " + path + " is " + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev)) +
                        ", not " + std::to_string(*d.major) + ":" + std::to_string(*d.minor));
        if (d.file_mode && (st.st_mode & 0777) != *d.file_mode)
            fail(key_path(P, "fileMode"), "differs from the host's " + path + " (hardrun binds the host node and cannot change it)");
        if ((d.uid && st.st_uid != *d.uid) || (d.gid && st.st_gid != *d.gid))
            fail(key_path(P, "uid"), "uid/gid differ from the host's " + path + " (hardrun binds the host node and cannot change it)");
        static const std::set<std::string> builtin = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};
        if (builtin.count(path)) continue;  // already in hardrun's /dev
        Mount m;
        m.kind = MountKind::Bind;
        // the node itself (udev's /dev names may be symlinks): the bind is made without following any
        char real[PATH_MAX];
        m.source = ::realpath(path.c_str(), real) ? std::string(real) : path;
        m.destination = path;
        m.recursive = false;
        m.nodev = false;
        m.noexec = true;
        m.nosuid = true;
        p.mounts.push_back(m);
    }
}

void map_namespaces(const Config& c, const PlanContext& ctx, LaunchPlan& p) {
    Namespaces& n = p.namespaces;
    n = Namespaces{};
    n.user = n.mount = n.pid = n.ipc = n.uts = n.net = n.cgroup = false;
    for (std::size_t i = 0; i < c.namespaces.size(); ++i) {
        const auto& s = c.namespaces[i];
        const std::string P = item_path("linux.namespaces", i);
        if (s.type == "user") n.user = true;
        else if (s.type == "mount") n.mount = true;
        else if (s.type == "pid") n.pid = true;
        else if (s.type == "ipc") n.ipc = true;
        else if (s.type == "uts") n.uts = true;
        else if (s.type == "network") n.net = true;
        else if (s.type == "cgroup") n.cgroup = true;
        if (!s.path.empty()) {
            if (s.type == "mount")
                fail(key_path(P, "path"), "joining another mount namespace is not supported; hardrun needs its own for pivot_root");
            if (s.path.front() != '/') fail(key_path(P, "path"), qt(s.path) + " is not an absolute path");
            struct stat st {};
            if (::stat(s.path.c_str(), &st) != 0) fail(key_path(P, "path"), qt(s.path) + ": " + errno_text(errno));
            n.join[s.type] = s.path;
        }
    }
    if (!n.mount)
        fail("linux.namespaces", "has no mount namespace; hardrun needs one to pivot_root into the rootfs (add {\"type\": \"mount\"})");
    p.network = n.net ? NetworkMode::None : NetworkMode::Host;
    const bool new_user = n.user && !n.join.count("user");
    if (new_user) {
        if (c.uid_mappings.empty() || c.gid_mappings.empty())
            fail("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings");
    } else if (!c.uid_mappings.empty() || !c.gid_mappings.empty()) {
        fail("linux.uidMappings", n.user ? "cannot be combined with joining a user namespace by path"
                                         : "need a user namespace (add {\"type\": \"user\"} to linux.namespaces)");
    }
    for (const auto& m : c.uid_mappings) {
        if (m.size == 0) fail("linux.uidMappings", "a mapping of size 0 maps nothing");
        p.uid_mappings.push_back(IdMap{m.container_id, m.host_id, m.size});
    }
    for (const auto& m : c.gid_mappings) {
        if (m.size == 0) fail("linux.gidMappings", "a mapping of size 0 maps nothing");
        p.gid_mappings.push_back(IdMap{m.container_id, m.host_id, m.size});
    }
    if (ctx.invoker_uid != 0 && !new_user)
        fail("linux.namespaces",
             "running as uid " + std::to_string(ctx.invoker_uid) +
                 " (not root) needs a new user namespace with uid/gid mappings; `hardrun spec --rootless` writes one");
}

bool allowing(const json& rule) {
    const std::string a = rule.value("action", "");
    return a == "SCMP_ACT_ALLOW" || a == "SCMP_ACT_LOG";
}

}  // namespace

json resolve_seccomp_conflicts(const json& seccomp) {
    json out = seccomp;
    if (!out.contains("syscalls")) return out;
    json& rules = out["syscalls"];
    // (name, args) -> index of the first rule naming it
    std::map<std::pair<std::string, std::string>, std::size_t> first;
    std::vector<std::set<std::string>> drop(rules.size());
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const std::string args = rules[i].value("args", json::array()).dump();
        for (const auto& n : rules[i]["names"]) {
            auto key = std::make_pair(n.get<std::string>(), args);
            auto [it, fresh] = first.emplace(key, i);
            if (fresh) continue;
            const std::size_t j = it->second;
            if (allowing(rules[j]) && !allowing(rules[i])) {
                drop[j].insert(key.first);  // the earlier rule allowed what this one refuses: the refusal stays
                it->second = i;
            } else if (!allowing(rules[j]) && allowing(rules[i])) {
                drop[i].insert(key.first);
            }
        }
    }
    json kept = json::array();
    for (std::size_t i = 0; i < rules.size(); ++i) {
        json r = rules[i];
        json names = json::array();
        for (const auto& n : r["names"])
            if (!drop[i].count(n.get<std::string>())) names.push_back(n);
        if (names.empty()) continue;
        r["names"] = names;
        kept.push_back(r);
    }
    rules = kept;
    return out;
}

LaunchPlan to_plan(const Config& c, const PlanContext& ctx) {
    if (!c.refused.empty()) fail(c.refused.front().path, c.refused.front().reason);
    LaunchPlan p;
    // --- root
    if (!c.has_root) fail("root", "is missing; hardrun needs root.path (the rootfs directory of the bundle)");
    p.rootfs = host_path("root.path", ctx.bundle_dir, c.root_path, true);
    if (p.rootfs == "/") fail("root.path", "'/' is the host's own root; give a separate rootfs directory");
    p.readonly_root = c.root_readonly;

    // --- process
    if (!c.process) fail("process", "is missing; hardrun needs process.args and process.cwd to start a container");
    const ProcessSpec& pr = *c.process;
    if (pr.args.empty()) fail("process.args", "is empty; give the program to run");
    if (pr.args[0].empty()) fail("process.args[0]", "is empty");
    p.args = pr.args;
    for (std::size_t i = 0; i < pr.env.size(); ++i) {
        const auto& e = pr.env[i];
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0) fail(item_path("process.env", i), qt(e) + " is not NAME=VALUE");
    }
    p.env = pr.env;
    p.workdir = sandbox_path("process.cwd", pr.cwd);
    if (p.workdir == "/proc" || p.workdir.starts_with("/proc/"))
        fail("process.cwd", qt(p.workdir) + " is inside /proc; refusing (CVE-2024-21626)");
    if (pr.terminal && !ctx.console_socket)
        fail("process.terminal", "true needs --console-socket (hardrun hands the pty to the caller; it does not proxy a terminal)");
    p.uid = pr.uid;
    p.gid = pr.gid;
    if (pr.umask) {
        if (*pr.umask > 0777) fail("process.user.umask", std::to_string(*pr.umask) + " is not a umask (0..0777)");
        p.umask = static_cast<mode_t>(*pr.umask);
    }
    for (auto g : pr.additional_gids) p.additional_gids.push_back(g);
    const std::string CAPS = "process.capabilities";
    auto set_of = [&](const char* name) {
        auto it = pr.capabilities.find(name);
        return it == pr.capabilities.end() ? CapSet{} : cap_set(it->second, key_path(CAPS, name));
    };
    p.caps.bounding = set_of("bounding");
    p.caps.effective = set_of("effective");
    p.caps.permitted = set_of("permitted");
    p.caps.inheritable = set_of("inheritable");
    p.caps.ambient = set_of("ambient");
    for (int cap = 0; cap < 64; ++cap) {
        // the kernel's rules: effective and ambient need permitted; ambient needs inheritable; all need bounding
        // for the exec to keep them. Contradictions would be silently lost at exec: refuse them.
        auto nm = [&](const char* set) { return key_path(CAPS, set) + ": " + parse::capability_name(cap); };
        if (p.caps.effective.has(cap) && !p.caps.permitted.has(cap)) fail(nm("effective"), "is not in the permitted set");
        if (p.caps.ambient.has(cap) && (!p.caps.permitted.has(cap) || !p.caps.inheritable.has(cap)))
            fail(nm("ambient"), "must be in the permitted and inheritable sets too");
    }
    p.no_new_privs = pr.no_new_privileges.value_or(true);  // absent: on (docs/oci.md); annotation below
    p.rlimits.clear();
    bool core_given = false;
    std::set<std::string> rl_seen;
    for (std::size_t i = 0; i < pr.rlimits.size(); ++i) {
        const auto& r = pr.rlimits[i];
        const std::string P = item_path("process.rlimits", i);
        if (!rl_seen.insert(r.type).second) fail(key_path(P, "type"), qt(r.type) + " is listed twice");
        std::string name = r.type.substr(7);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
        Rlimit rl;
        try {
            rl = parse::ulimit(P, name + "=" + std::to_string(r.soft) + ":" + std::to_string(r.hard));
        } catch (const Error& e) {
            fail(P, e.cause());
        }
        if (rl.resource == RLIMIT_CORE) core_given = true;
        p.rlimits.push_back(rl);
    }
    if (!core_given) p.rlimits.insert(p.rlimits.begin(), Rlimit{RLIMIT_CORE, 0, 0});  // hardrun's default: no core dumps
    if (pr.apparmor_profile) {
        if (*pr.apparmor_profile == "unconfined") p.apparmor.mode = AppArmorChoice::Mode::Unconfined;
        else if (!pr.apparmor_profile->empty()) {
            p.apparmor.mode = AppArmorChoice::Mode::Named;
            p.apparmor.profile = *pr.apparmor_profile;
        }
    }
    std::optional<int> oom = pr.oom_score_adj ? pr.oom_score_adj : c.legacy_oom_score_adj;
    if (oom) {
        if (*oom < -1000 || *oom > 1000)
            fail(pr.oom_score_adj ? "process.oomScoreAdj" : "linux.resources.oomScoreAdj", std::to_string(*oom) + " is not in -1000..1000");
        p.oom_score_adj = oom;
    }

    // --- namespaces and identity
    map_namespaces(c, ctx, p);
    if (c.hostname && !c.hostname->empty()) {
        if (!p.namespaces.uts || p.namespaces.join.count("uts"))
            fail("hostname", "setting it needs a new uts namespace (add {\"type\": \"uts\"} to linux.namespaces)");
        try {
            p.hostname = parse::hostname("hostname", *c.hostname);
        } catch (const Error& e) {
            fail("hostname", e.cause());
        }
    }
    // sysctls: namespaced ones only, each in a namespace of the container's own
    for (const auto& [k, v] : c.sysctl) {
        try {
            sysctl::validate(k, v, p);
        } catch (const Error& e) {
            fail(key_path("linux.sysctl", k), e.cause());
        }
        p.sysctl[k] = v;
    }
    if (c.domainname && !c.domainname->empty()) {
        try {
            sysctl::validate("kernel.domainname", *c.domainname, p);
        } catch (const Error& e) {
            fail("domainname", e.cause());
        }
        p.sysctl["kernel.domainname"] = *c.domainname;
    }

    // --- filesystem
    bool has_dev = false;
    for (std::size_t i = 0; i < c.mounts.size(); ++i) {
        Mount m = to_mount(c.mounts[i], i, ctx.bundle_dir, p.rootfs);
        has_dev |= m.destination == "/dev";
        p.mounts.push_back(m);
    }
    if (!has_dev) {
        // the spec's default devices (null, zero, full, random, urandom, tty, ptmx) must exist: hardrun's /dev
        for (auto& m : default_mounts(false))
            if (m.kind == MountKind::Dev) p.mounts.insert(p.mounts.begin(), m);
    }
    map_devices(c, p);
    order_mounts(p.mounts);
    auto paths = [&](const std::optional<std::vector<std::string>>& list, const char* field, std::vector<std::string> def) {
        if (!list) return def;  // absent: hardrun's defaults (an explicit [] turns them off)
        std::vector<std::string> out;
        for (std::size_t i = 0; i < list->size(); ++i) out.push_back(sandbox_path(item_path(field, i), (*list)[i]));
        return out;
    };
    p.masked_paths = paths(c.masked_paths, "linux.maskedPaths", default_masked_paths());
    p.readonly_paths = paths(c.readonly_paths, "linux.readonlyPaths", default_readonly_paths());
    if (c.rootfs_propagation) {
        std::string v = *c.rootfs_propagation;
        if (v.starts_with("r")) v = v.substr(1);  // rprivate, rshared, rslave, runbindable
        if (v == "shared")
            fail("linux.rootfsPropagation", qt(*c.rootfs_propagation) +
                                                " would propagate the container's mounts to the host; refusing (use rslave to receive the host's mounts)");
        p.root_propagation = v == "slave" ? Propagation::Slave
                             : v == "unbindable" ? Propagation::Unbindable
                                                 : Propagation::Private;
    }

    // --- resources
    map_resources(c, p);
    if (c.cgroups_path && !c.cgroups_path->empty()) {
        const std::string& cp = *c.cgroups_path;
        if (cp.find("..") != std::string::npos) fail("linux.cgroupsPath", qt(cp) + " contains '..'");
        if (cp.find(':') != std::string::npos)
            fail("linux.cgroupsPath", qt(cp) + " is a systemd slice:prefix:name path; hardrun manages cgroupfs paths only");
        auto slash = cp.rfind('/');
        p.cgroup_parent = slash == std::string::npos || slash == 0 ? (slash == 0 ? "/" : "") : cp.substr(0, slash);
    }

    // --- seccomp, Landlock (annotations), hooks
    auto ann = [&](const char* key) -> std::string {
        auto it = c.annotations.find(key);
        return it == c.annotations.end() ? "" : it->second;
    };
    const std::string sc = ann(kAnnotationSeccomp);
    if (sc == "unconfined") {
        if (c.seccomp) fail(std::string("annotations.") + kAnnotationSeccomp, "'unconfined' contradicts linux.seccomp");
        p.seccomp.mode = SeccompChoice::Mode::Unconfined;
    } else if (!sc.empty() && sc != "default") {
        fail(std::string("annotations.") + kAnnotationSeccomp, qt(sc) + " is not 'default' or 'unconfined'");
    } else if (c.seccomp) {
        p.seccomp.mode = SeccompChoice::Mode::Profile;
        p.seccomp.inline_json = resolve_seccomp_conflicts(*c.seccomp).dump();
    }
    const std::string nnp = ann(kAnnotationNoNewPrivs);
    if (nnp == "false") p.no_new_privs = false;
    else if (nnp == "true") p.no_new_privs = true;
    else if (!nnp.empty())
        fail(std::string("annotations.") + kAnnotationNoNewPrivs, qt(nnp) + " is not 'true' or 'false'");
    const std::string ll = ann(kAnnotationLandlock);
    if (ll == "on") p.landlock.mode = LandlockChoice::Mode::On;
    else if (ll == "off") p.landlock.mode = LandlockChoice::Mode::Off;
    else if (!ll.empty() && ll != "auto")
        fail(std::string("annotations.") + kAnnotationLandlock, qt(ll) + " is not 'on', 'off' or 'auto'");
    auto check_hooks = [&](const std::vector<Hook>& list, const char* name) {
        for (std::size_t i = 0; i < list.size(); ++i)
            if (list[i].path.empty() || list[i].path.front() != '/')
                fail(item_path(std::string("hooks.") + name, i) + ".path", qt(list[i].path) + " is not an absolute path");
    };
    check_hooks(c.hooks.prestart, "prestart");
    check_hooks(c.hooks.create_runtime, "createRuntime");
    check_hooks(c.hooks.create_container, "createContainer");
    check_hooks(c.hooks.start_container, "startContainer");
    check_hooks(c.hooks.poststart, "poststart");
    check_hooks(c.hooks.poststop, "poststop");
    p.hooks = c.hooks;
    compute_warnings(p);
    if (!p.namespaces.uts) p.warnings.push_back("namespaces: shares the host's uts namespace (host name)");
    if (!p.namespaces.mount) p.warnings.push_back("namespaces: shares the host's mount namespace");
    return p;
}

Bundle load_bundle(const std::string& dir, const PlanContext& context) {
    Bundle b;
    char buf[PATH_MAX];
    if (dir.empty()) throw UsageError("--bundle", "is empty");
    if (!::realpath(dir.c_str(), buf)) throw Error("bundle", dir, errno_text(errno));
    b.dir = buf;
    struct stat st {};
    if (::stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) throw Error("bundle", dir, "is not a directory");
    b.config = load_config(b.dir);
    PlanContext ctx = context;
    ctx.bundle_dir = b.dir;
    b.plan = to_plan(b.config, ctx);
    if (b.config.cgroups_path && !b.config.cgroups_path->empty()) {
        const std::string& cp = *b.config.cgroups_path;
        b.cgroup_name = cp.substr(cp.rfind('/') == std::string::npos ? 0 : cp.rfind('/') + 1);
    }
    return b;
}

std::vector<std::string> namespace_types() { return {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}; }

}  // namespace hardrun::oci
