// Seccomp profiles: parsing (Docker current/old, OCI), architectures and syscall names, resolution.
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hardrun/support/data_file.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/plan/parse.hpp"

namespace hardrun::seccomp {

using nlohmann::json;

// ==== actions =============================================================================================

namespace {
struct ActionName {
    const char* json;
    ActionKind kind;
};
constexpr ActionName kActionNames[] = {
    {"SCMP_ACT_ALLOW", ActionKind::Allow},          {"SCMP_ACT_ERRNO", ActionKind::Errno},
    {"SCMP_ACT_KILL_PROCESS", ActionKind::KillProcess}, {"SCMP_ACT_KILL_THREAD", ActionKind::KillThread},
    {"SCMP_ACT_KILL", ActionKind::KillThread},     {"SCMP_ACT_TRAP", ActionKind::Trap},
    {"SCMP_ACT_LOG", ActionKind::Log},              {"SCMP_ACT_NOTIFY", ActionKind::Notify},
    {"SCMP_ACT_TRACE", ActionKind::Trace},
};
}  // namespace

std::string action_json_name(ActionKind kind) {
    for (const auto& a : kActionNames)
        if (a.kind == kind) return a.json;
    return "?";
}

std::string action_kernel_name(ActionKind kind) {
    switch (kind) {
        case ActionKind::Allow: return "allow";
        case ActionKind::Errno: return "errno";
        case ActionKind::KillProcess: return "kill_process";
        case ActionKind::KillThread: return "kill_thread";
        case ActionKind::Trap: return "trap";
        case ActionKind::Log: return "log";
        case ActionKind::Notify: return "user_notif";
        case ActionKind::Trace: return "trace";
    }
    return "?";
}

std::string describe(const Action& a) {
    switch (a.kind) {
        case ActionKind::Allow: return "ALLOW";
        case ActionKind::Errno: {
            const char* name = strerrorname_np(static_cast<int>(a.value));
            return "ERRNO(" + (name ? std::string(name) : std::to_string(a.value)) + ")";
        }
        case ActionKind::KillProcess: return "KILL_PROCESS";
        case ActionKind::KillThread: return "KILL_THREAD";
        case ActionKind::Trap: return "TRAP";
        case ActionKind::Log: return "LOG";
        case ActionKind::Notify: return "NOTIFY";
        case ActionKind::Trace: return "TRACE(" + std::to_string(a.value) + ")";
    }
    return "?";
}

std::uint32_t to_scmp(const Action& a) {
    switch (a.kind) {
        case ActionKind::Allow: return SCMP_ACT_ALLOW;
        case ActionKind::Errno: return SCMP_ACT_ERRNO(a.value);
        case ActionKind::KillProcess: return SCMP_ACT_KILL_PROCESS;
        case ActionKind::KillThread: return SCMP_ACT_KILL_THREAD;
        case ActionKind::Trap: return SCMP_ACT_TRAP;
        case ActionKind::Log: return SCMP_ACT_LOG;
        case ActionKind::Notify: return SCMP_ACT_NOTIFY;
        case ActionKind::Trace: return SCMP_ACT_TRACE(a.value);
    }
    return SCMP_ACT_KILL_PROCESS;
}

std::uint32_t to_ret(const Action& a) {
    switch (a.kind) {
        case ActionKind::Allow: return SECCOMP_RET_ALLOW;
        case ActionKind::Errno: return SECCOMP_RET_ERRNO | (a.value & SECCOMP_RET_DATA);
        case ActionKind::KillProcess: return SECCOMP_RET_KILL_PROCESS;
        case ActionKind::KillThread: return SECCOMP_RET_KILL_THREAD;
        case ActionKind::Trap: return SECCOMP_RET_TRAP;
        case ActionKind::Log: return SECCOMP_RET_LOG;
        case ActionKind::Notify: return SECCOMP_RET_USER_NOTIF;
        case ActionKind::Trace: return SECCOMP_RET_TRACE | (a.value & SECCOMP_RET_DATA);
    }
    return SECCOMP_RET_KILL_PROCESS;
}

Action from_ret(std::uint32_t ret) {
    const std::uint32_t data = ret & SECCOMP_RET_DATA;
    switch (ret & SECCOMP_RET_ACTION_FULL) {
        case SECCOMP_RET_ALLOW: return {ActionKind::Allow, 0};
        case SECCOMP_RET_ERRNO: return {ActionKind::Errno, data};
        case SECCOMP_RET_KILL_THREAD: return {ActionKind::KillThread, 0};
        case SECCOMP_RET_TRAP: return {ActionKind::Trap, 0};
        case SECCOMP_RET_LOG: return {ActionKind::Log, 0};
        case SECCOMP_RET_USER_NOTIF: return {ActionKind::Notify, 0};
        case SECCOMP_RET_TRACE: return {ActionKind::Trace, data};
        default: return {ActionKind::KillProcess, 0};
    }
}

bool is_allowing(ActionKind kind) { return kind == ActionKind::Allow || kind == ActionKind::Log; }

// ==== operators ===========================================================================================

namespace {
struct OpName {
    const char* json;
    Op op;
    const char* symbol;
};
constexpr OpName kOps[] = {
    {"SCMP_CMP_NE", Op::NotEqual, "!="},     {"SCMP_CMP_LT", Op::Less, "<"},
    {"SCMP_CMP_LE", Op::LessEqual, "<="},    {"SCMP_CMP_EQ", Op::Equal, "=="},
    {"SCMP_CMP_GE", Op::GreaterEqual, ">="}, {"SCMP_CMP_GT", Op::Greater, ">"},
    {"SCMP_CMP_MASKED_EQ", Op::MaskedEqual, "=="},
};

std::string hex(std::uint64_t v) {
    std::ostringstream s;
    s << (v < 10 ? std::dec : std::hex) << (v < 10 ? "" : "0x") << v;
    return s.str();
}
}  // namespace

std::string op_json_name(Op op) {
    for (const auto& o : kOps)
        if (o.op == op) return o.json;
    return "?";
}

std::string describe(const ArgCmp& c) {
    std::string a = "a" + std::to_string(c.index);
    for (const auto& o : kOps)
        if (o.op == c.op) {
            if (c.op == Op::MaskedEqual) return a + " & " + hex(c.value) + " == " + hex(c.value_two);
            return a + " " + o.symbol + " " + hex(c.value);
        }
    return a + " ?";
}

std::string format_name(Format f) {
    switch (f) {
        case Format::Docker: return "Docker";
        case Format::DockerOld: return "Docker (old single-name)";
        case Format::Oci: return "OCI linux.seccomp";
    }
    return "?";
}

// ==== parsing =============================================================================================

namespace {

class Parser {
public:
    Parser(std::string source, bool oci) : source_(std::move(source)), oci_(oci) {}

    [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
        throw Error("seccomp", source_, (path.empty() ? "" : path + ": ") + problem);
    }

    Profile parse(const json& j) {
        Profile p;
        p.source = source_;
        if (!j.is_object()) fail("", "the profile must be a JSON object, not " + std::string(j.type_name()));
        bool any_name = false, any_names = false, docker_only = false;
        for (const auto& [key, value] : j.items()) {
            if (key == "defaultAction" || key == "defaultErrnoRet" || key == "syscalls" || key == "architectures" ||
                key == "flags" || key == "listenerPath" || key == "listenerMetadata")
                continue;
            if (key == "archMap") {
                if (oci_) fail("archMap", "not part of the OCI format (Docker profiles only)");
                docker_only = true;
                continue;
            }
            if (key == "comment") continue;
            p.warnings.push_back(key + ": unknown key, ignored");
        }
        if (!j.contains("defaultAction")) fail("defaultAction", "missing");
        std::uint32_t default_errno = EPERM;
        if (j.contains("defaultErrnoRet")) default_errno = errno_value(j.at("defaultErrnoRet"), "defaultErrnoRet");
        p.default_action = action(j.at("defaultAction"), "defaultAction");
        if (j.contains("defaultErrnoRet") && !has_value(p.default_action.kind))
            fail("defaultErrnoRet", "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return value, the default action is " +
                                        action_json_name(p.default_action.kind));
        if (p.default_action.kind == ActionKind::Errno) p.default_action.value = default_errno;
        if (p.default_action.kind == ActionKind::Trace && j.contains("defaultErrnoRet"))
            p.default_action.value = default_errno;

        if (j.contains("architectures") && !j.at("architectures").is_null())
            p.architectures = arch_list(j.at("architectures"), "architectures");
        if (j.contains("archMap") && !j.at("archMap").is_null()) {
            const json& m = j.at("archMap");
            if (!m.is_array()) fail("archMap", "must be a list");
            for (std::size_t i = 0; i < m.size(); ++i) {
                std::string path = "archMap[" + std::to_string(i) + "]";
                const json& e = m[i];
                if (!e.is_object()) fail(path, "must be an object with architecture and subArchitectures");
                ArchMapEntry entry;
                if (!e.contains("architecture")) fail(path + ".architecture", "missing");
                entry.architecture = arch_name(e.at("architecture"), path + ".architecture");
                if (e.contains("subArchitectures") && !e.at("subArchitectures").is_null())
                    entry.sub_architectures = arch_list(e.at("subArchitectures"), path + ".subArchitectures");
                p.arch_map.push_back(std::move(entry));
            }
        }
        if (j.contains("flags") && !j.at("flags").is_null()) {
            const json& f = j.at("flags");
            if (!f.is_array()) fail("flags", "must be a list of SECCOMP_FILTER_FLAG_* names");
            for (std::size_t i = 0; i < f.size(); ++i) {
                std::string path = "flags[" + std::to_string(i) + "]";
                std::string s = string(f[i], path);
                if (s != "SECCOMP_FILTER_FLAG_TSYNC" && s != "SECCOMP_FILTER_FLAG_LOG" &&
                    s != "SECCOMP_FILTER_FLAG_SPEC_ALLOW" && s != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
                    fail(path, "'" + s + "' is not a seccomp filter flag (SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW, "
                                         "_WAIT_KILLABLE_RECV)");
                p.flags.push_back(s);
            }
        }
        if (j.contains("listenerPath")) p.listener_path = string(j.at("listenerPath"), "listenerPath");
        if (j.contains("listenerMetadata")) p.listener_metadata = string(j.at("listenerMetadata"), "listenerMetadata");

        if (j.contains("syscalls") && !j.at("syscalls").is_null()) {
            const json& s = j.at("syscalls");
            if (!s.is_array()) fail("syscalls", "must be a list of rules");
            for (std::size_t i = 0; i < s.size(); ++i) {
                std::string path = "syscalls[" + std::to_string(i) + "]";
                Rule r = rule(s[i], path, p.warnings);
                if (s[i].contains("name")) any_name = true;
                if (s[i].contains("names")) any_names = true;
                if (s[i].contains("includes") || s[i].contains("excludes")) docker_only = true;
                p.rules.push_back(std::move(r));
            }
        }
        if (oci_) p.format = Format::Oci;
        else if (any_name && !any_names && !docker_only) p.format = Format::DockerOld;
        else p.format = Format::Docker;
        return p;
    }

private:
    std::string source_;
    bool oci_;

    static bool has_value(ActionKind k) { return k == ActionKind::Errno || k == ActionKind::Trace; }

    std::string string(const json& v, const std::string& path) const {
        if (!v.is_string()) fail(path, std::string("must be a string, not ") + v.type_name());
        return v.get<std::string>();
    }

    std::uint64_t unsigned64(const json& v, const std::string& path) const {
        if (v.is_number_unsigned()) return v.get<std::uint64_t>();
        if (v.is_number_integer()) {
            if (v.get<std::int64_t>() < 0) fail(path, std::to_string(v.get<std::int64_t>()) + " is negative; must be an unsigned 64-bit integer");
            return static_cast<std::uint64_t>(v.get<std::int64_t>());
        }
        fail(path, std::string("must be an unsigned integer, not ") + (v.is_number_float() ? "a fraction" : v.type_name()));
    }

    std::uint32_t errno_value(const json& v, const std::string& path) const {
        if (!v.is_number_integer() && !v.is_number_unsigned())
            fail(path, std::string("must be an integer errno, not ") + (v.is_number_float() ? "a fraction" : v.type_name()));
        if (v.is_number_integer() && v.get<std::int64_t>() < 0)
            fail(path, std::to_string(v.get<std::int64_t>()) + " is out of range (0-65535)");
        std::uint64_t n = v.get<std::uint64_t>();
        if (n > SECCOMP_RET_DATA) fail(path, std::to_string(n) + " is out of range (0-65535)");
        return static_cast<std::uint32_t>(n);
    }

    Action action(const json& v, const std::string& path) const {
        std::string s = string(v, path);
        for (const auto& a : kActionNames)
            if (s == a.json) {
                Action act{a.kind, 0};
                if (a.kind == ActionKind::Errno) act.value = EPERM;
                return act;
            }
        fail(path, "'" + s + "' is not an action (SCMP_ACT_ALLOW, _ERRNO, _KILL_PROCESS, _KILL_THREAD, _KILL, _TRAP, _LOG, "
                             "_NOTIFY, _TRACE)");
    }

    std::string arch_name(const json& v, const std::string& path) const {
        std::string s = string(v, path);
        if (!s.starts_with("SCMP_ARCH_") || s.size() == 10) fail(path, "'" + s + "' is not an SCMP_ARCH_* name");
        return s;
    }

    std::vector<std::string> arch_list(const json& v, const std::string& path) const {
        if (!v.is_array()) fail(path, "must be a list of SCMP_ARCH_* names");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < v.size(); ++i) out.push_back(arch_name(v[i], path + "[" + std::to_string(i) + "]"));
        return out;
    }

    std::vector<std::string> string_list(const json& v, const std::string& path) const {
        if (!v.is_array()) fail(path, "must be a list of strings");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < v.size(); ++i) out.push_back(string(v[i], path + "[" + std::to_string(i) + "]"));
        return out;
    }

    Condition condition(const json& v, const std::string& path) const {
        if (oci_) fail(path, "not part of the OCI format (Docker profiles only)");
        Condition c;
        if (v.is_null()) return c;
        if (!v.is_object()) fail(path, "must be an object with arches, caps and/or minKernel");
        for (const auto& [key, value] : v.items()) {
            if (key == "arches") c.arches = string_list(value, path + ".arches");
            else if (key == "caps") c.caps = string_list(value, path + ".caps");
            else if (key == "minKernel") {
                c.min_kernel = string(value, path + ".minKernel");
                if (!parse_kernel_version(c.min_kernel))
                    fail(path + ".minKernel", "'" + c.min_kernel + "' is not a kernel version (e.g. \"4.8\")");
            } else fail(path + "." + key, "unknown condition (arches, caps, minKernel)");
        }
        return c;
    }

    ArgCmp arg(const json& v, const std::string& path) const {
        if (!v.is_object()) fail(path, "must be an object with index, value, valueTwo and op");
        ArgCmp c;
        for (const auto& [key, value] : v.items())
            if (key != "index" && key != "value" && key != "valueTwo" && key != "op")
                fail(path + "." + key, "unknown key (index, value, valueTwo, op)");
        if (!v.contains("index")) fail(path + ".index", "missing");
        std::uint64_t index = unsigned64(v.at("index"), path + ".index");
        if (index > 5) fail(path + ".index", std::to_string(index) + " is not an argument index (0-5)");
        c.index = static_cast<unsigned>(index);
        if (!v.contains("op")) fail(path + ".op", "missing");
        std::string op = string(v.at("op"), path + ".op");
        bool found = false;
        for (const auto& o : kOps)
            if (op == o.json) {
                c.op = o.op;
                found = true;
            }
        if (!found) fail(path + ".op", "'" + op + "' is not an operator (SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ)");
        if (v.contains("value")) c.value = unsigned64(v.at("value"), path + ".value");
        if (v.contains("valueTwo")) c.value_two = unsigned64(v.at("valueTwo"), path + ".valueTwo");
        if (c.op != Op::MaskedEqual) c.value_two = 0;  // only SCMP_CMP_MASKED_EQ uses it
        return c;
    }

    Rule rule(const json& v, const std::string& path, std::vector<std::string>& warnings) const {
        if (!v.is_object()) fail(path, "must be an object");
        Rule r;
        r.path = path;
        for (const auto& [key, value] : v.items()) {
            if (key == "name" || key == "names" || key == "action" || key == "args" || key == "errnoRet" ||
                key == "comment" || key == "includes" || key == "excludes")
                continue;
            warnings.push_back(path + "." + key + ": unknown key, ignored");
        }
        if (v.contains("name") && v.contains("names")) fail(path, "has both 'name' and 'names'; use one");
        if (v.contains("name")) {
            if (oci_) fail(path + ".name", "not part of the OCI format (use names)");
            std::string n = string(v.at("name"), path + ".name");
            if (n.empty()) fail(path + ".name", "empty syscall name");
            r.names.push_back(n);
            r.single_name = true;
        } else if (v.contains("names")) {
            const json& names = v.at("names");
            if (!names.is_array()) fail(path + ".names", "must be a list of syscall names");
            if (names.empty()) fail(path + ".names", "empty list; a rule needs at least one syscall name");
            for (std::size_t i = 0; i < names.size(); ++i) {
                std::string p = path + ".names[" + std::to_string(i) + "]";
                std::string n = string(names[i], p);
                if (n.empty()) fail(p, "empty syscall name");
                if (std::find(r.names.begin(), r.names.end(), n) != r.names.end())
                    fail(p, "'" + n + "' is listed twice in this rule");
                r.names.push_back(n);
            }
        } else {
            fail(path, "no syscall names (give 'names')");
        }
        if (!v.contains("action")) fail(path + ".action", "missing");
        r.action = action(v.at("action"), path + ".action");
        if (v.contains("errnoRet") && !v.at("errnoRet").is_null()) {
            if (!has_value(r.action.kind))
                fail(path + ".errnoRet", "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return value, not " +
                                             action_json_name(r.action.kind));
            r.action.value = errno_value(v.at("errnoRet"), path + ".errnoRet");
        }
        if (v.contains("args") && !v.at("args").is_null()) {
            const json& a = v.at("args");
            if (!a.is_array()) fail(path + ".args", "must be a list of argument comparisons");
            if (a.size() > 6) fail(path + ".args", std::to_string(a.size()) + " comparisons; a syscall has at most 6 arguments");
            for (std::size_t i = 0; i < a.size(); ++i) {
                ArgCmp c = arg(a[i], path + ".args[" + std::to_string(i) + "]");
                for (const auto& prev : r.args)
                    if (prev.index == c.index)
                        fail(path + ".args[" + std::to_string(i) + "].index",
                             "argument " + std::to_string(c.index) + " is compared twice in one rule (libseccomp cannot combine them)");
                r.args.push_back(c);
            }
            std::sort(r.args.begin(), r.args.end(), [](const ArgCmp& x, const ArgCmp& y) { return x.index < y.index; });
        }
        if (v.contains("includes")) r.includes = condition(v.at("includes"), path + ".includes");
        if (v.contains("excludes")) r.excludes = condition(v.at("excludes"), path + ".excludes");
        if (v.contains("comment") && v.at("comment").is_string()) r.comment = v.at("comment").get<std::string>();
        return r;
    }
};

// The parser checks each value's type before it reads it; should a library exception still escape a walk of
// the document, it is one line naming the profile too.
Profile walk(const json& object, const std::string& source, bool oci) {
    try {
        return Parser(source, oci).parse(object);
    } catch (const json::exception& e) {
        throw Error("seccomp", source, json_error_text(e));
    }
}

}  // namespace

Profile parse_profile_json(const json& object, const std::string& source) { return walk(object, source, false); }

Profile parse_oci(const json& object, const std::string& source) { return walk(object, source, true); }

Profile parse_profile(std::string_view text, const std::string& source) {
    return parse_profile_json(parse_json(text, "seccomp", source), source);
}

std::string read_profile_file(const std::string& path) {
    constexpr std::size_t kMaxProfile = 64 << 20;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) throw Error("seccomp", path, "cannot read the profile: " + errno_text(errno));
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error("seccomp", path, "cannot read the profile: " + errno_text(errno));
        if (n == 0) return text;
        if (text.size() + static_cast<std::size_t>(n) > kMaxProfile)
            throw Error("seccomp", path, "cannot read the profile: larger than 64 MiB");
        text.append(buf, static_cast<std::size_t>(n));
    }
}

Profile load_profile(const std::string& path) { return parse_profile(read_profile_file(path), path); }

std::string default_profile_path() { return data_file("seccomp/default.json"); }

// ==== architectures =======================================================================================

namespace {
constexpr std::uint32_t kX32Bit = 0x40000000U;

const std::vector<ArchInfo>& arch_table() {
    static const std::vector<ArchInfo> t = {
        {SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64, "x86_64", "SCMP_ARCH_X86_64", 0},
        {SCMP_ARCH_X86, AUDIT_ARCH_I386, "x86", "SCMP_ARCH_X86", 0},
        {SCMP_ARCH_X32, AUDIT_ARCH_X86_64, "x32", "SCMP_ARCH_X32", kX32Bit},
        {SCMP_ARCH_AARCH64, AUDIT_ARCH_AARCH64, "aarch64", "SCMP_ARCH_AARCH64", 0},
        {SCMP_ARCH_ARM, AUDIT_ARCH_ARM, "arm", "SCMP_ARCH_ARM", 0},
        {SCMP_ARCH_MIPS, AUDIT_ARCH_MIPS, "mips", "SCMP_ARCH_MIPS", 4000},
        {SCMP_ARCH_MIPSEL, AUDIT_ARCH_MIPSEL, "mipsel", "SCMP_ARCH_MIPSEL", 4000},
        {SCMP_ARCH_MIPS64, AUDIT_ARCH_MIPS64, "mips64", "SCMP_ARCH_MIPS64", 5000},
        {SCMP_ARCH_MIPSEL64, AUDIT_ARCH_MIPSEL64, "mipsel64", "SCMP_ARCH_MIPSEL64", 5000},
        {SCMP_ARCH_MIPS64N32, AUDIT_ARCH_MIPS64N32, "mips64n32", "SCMP_ARCH_MIPS64N32", 6000},
        {SCMP_ARCH_MIPSEL64N32, AUDIT_ARCH_MIPSEL64N32, "mipsel64n32", "SCMP_ARCH_MIPSEL64N32", 6000},
        {SCMP_ARCH_PPC, AUDIT_ARCH_PPC, "ppc", "SCMP_ARCH_PPC", 0},
        {SCMP_ARCH_PPC64, AUDIT_ARCH_PPC64, "ppc64", "SCMP_ARCH_PPC64", 0},
        {SCMP_ARCH_PPC64LE, AUDIT_ARCH_PPC64LE, "ppc64le", "SCMP_ARCH_PPC64LE", 0},
        {SCMP_ARCH_S390, AUDIT_ARCH_S390, "s390", "SCMP_ARCH_S390", 0},
        {SCMP_ARCH_S390X, AUDIT_ARCH_S390X, "s390x", "SCMP_ARCH_S390X", 0},
        {SCMP_ARCH_PARISC, AUDIT_ARCH_PARISC, "parisc", "SCMP_ARCH_PARISC", 0},
        {SCMP_ARCH_PARISC64, AUDIT_ARCH_PARISC64, "parisc64", "SCMP_ARCH_PARISC64", 0},
        {SCMP_ARCH_RISCV64, AUDIT_ARCH_RISCV64, "riscv64", "SCMP_ARCH_RISCV64", 0},
    };
    return t;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Syscalls newer than the libseccomp hardrun was built against (2.5.4 stops at futex_requeue, 456). From
// 424 on, every architecture numbers new syscalls alike (plus its base: MIPS 4000/5000/6000, x32 0x40000000).
// Only the native ABI can use them: libseccomp translates other ABIs' rules by name.
struct NewerSyscall {
    const char* name;
    int nr;                 // the common number, or the number on `only`
    std::uint32_t only = 0; // 0: every arch; else this arch only
};
constexpr NewerSyscall kNewerSyscalls[] = {
    {"statmount", 457},     {"listmount", 458},      {"lsm_get_self_attr", 459}, {"lsm_set_self_attr", 460},
    {"lsm_list_modules", 461}, {"mseal", 462},       {"setxattrat", 463},     {"getxattrat", 464},
    {"listxattrat", 465},   {"removexattrat", 466},  {"open_tree_attr", 467}, {"file_getattr", 468},
    {"file_setattr", 469},  {"listns", 470},
    {"uretprobe", 335, SCMP_ARCH_X86_64},
    {"riscv_hwprobe", 258, SCMP_ARCH_RISCV64},
};

const NewerSyscall* newer_syscall(std::string_view name) {
    for (const auto& s : kNewerSyscalls)
        if (name == s.name) return &s;
    return nullptr;
}

int newer_number(const ArchInfo& arch, const NewerSyscall& s) {
    if (s.only != 0) return s.only == arch.token ? s.nr : -1;
    return static_cast<int>(arch.nr_base) + s.nr;
}
}  // namespace

const ArchInfo* find_arch(std::string_view name) {
    std::string n = lower(name);
    if (n.starts_with("scmp_arch_")) n = n.substr(10);
    if (n == "amd64") n = "x86_64";
    else if (n == "386" || n == "i386" || n == "i686") n = "x86";
    else if (n == "arm64") n = "aarch64";
    else if (n == "mipsle") n = "mipsel";
    else if (n == "mips64le") n = "mipsel64";
    else if (n == "mips64len32" || n == "mips3l64n32") n = "mipsel64n32";
    for (const auto& a : arch_table())
        if (a.name == n) return &a;
    return nullptr;
}

const ArchInfo* find_arch(std::uint32_t token) {
    for (const auto& a : arch_table())
        if (a.token == token) return &a;
    return nullptr;
}

const ArchInfo& native_arch() {
    static const ArchInfo* a = find_arch(seccomp_arch_native());
    if (!a) throw Error("seccomp", "native architecture", "libseccomp reports an architecture hardrun does not know");
    return *a;
}

int syscall_number(const ArchInfo& arch, std::string_view name) {
    std::string n(name);
    int r = seccomp_syscall_resolve_name_arch(arch.token, n.c_str());
    if (r >= 0) return r;
    if (r <= -100 && r > -10000) return r;  // multiplexed (socketcall/ipc on 32-bit x86): libseccomp handles it
    if (r == __NR_SCMP_ERROR && arch.token == seccomp_arch_native())
        if (const NewerSyscall* s = newer_syscall(name)) return newer_number(arch, *s);
    return -1;
}

bool syscall_known(std::string_view name) {
    std::string n(name);
    if (seccomp_syscall_resolve_name(n.c_str()) != __NR_SCMP_ERROR) return true;
    return newer_syscall(name) != nullptr;
}

const ArchInfo* arch_of(std::uint32_t audit_arch, std::uint32_t nr) {
    if (audit_arch == AUDIT_ARCH_X86_64) return find_arch((nr & kX32Bit) ? SCMP_ARCH_X32 : SCMP_ARCH_X86_64);
    for (const auto& a : arch_table())
        if (a.audit_arch == audit_arch) return &a;
    return nullptr;
}

std::string syscall_name(std::uint32_t audit_arch, std::uint32_t nr) {
    const ArchInfo* a = arch_of(audit_arch, nr);
    if (!a) return {};
    if (char* s = seccomp_syscall_resolve_num_arch(a->token, static_cast<int>(nr))) {
        std::string out = s;
        std::free(s);
        return out;
    }
    if (a->token == seccomp_arch_native())
        for (const auto& s : kNewerSyscalls)
            if (newer_number(*a, s) == static_cast<int>(nr)) return s.name;
    return {};
}

// ==== kernel ==============================================================================================

std::optional<KernelVersion> parse_kernel_version(std::string_view text) {
    KernelVersion v;
    int* parts[] = {&v.major, &v.minor, &v.patch};
    std::size_t i = 0, n = 0;
    for (; n < 3; ++n) {
        if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) break;
        long value = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            value = value * 10 + (text[i] - '0');
            if (value > 100000) return std::nullopt;
            ++i;
        }
        *parts[n] = static_cast<int>(value);
        if (i < text.size() && text[i] == '.') ++i;
        else {
            ++n;
            break;
        }
    }
    if (n < 2) return std::nullopt;  // at least "X.Y"
    return v;
}

KernelVersion running_kernel() {
    struct utsname u {};
    if (::uname(&u) != 0) return {};
    return parse_kernel_version(u.release).value_or(KernelVersion{});
}

std::set<ActionKind> kernel_actions() {
    std::set<ActionKind> out;
    std::ifstream f("/proc/sys/kernel/seccomp/actions_avail");
    std::string word;
    bool any = false;
    while (f >> word) {
        any = true;
        for (ActionKind k : {ActionKind::Allow, ActionKind::Errno, ActionKind::KillProcess, ActionKind::KillThread,
                             ActionKind::Trap, ActionKind::Log, ActionKind::Notify, ActionKind::Trace})
            if (word == action_kernel_name(k)) out.insert(k);
    }
    if (any) return out;
    // no /proc (or an old kernel): libseccomp's API level says what the kernel supports
    const unsigned api = seccomp_api_get();
    out = {ActionKind::Allow, ActionKind::Errno, ActionKind::KillThread, ActionKind::Trap, ActionKind::Trace};
    if (api >= 3) out.insert({ActionKind::Log, ActionKind::KillProcess});
    if (api >= 5) out.insert(ActionKind::Notify);
    return out;
}

Target target_for(const LaunchPlan& plan) {
    Target t;
    t.native = &native_arch();
    t.caps.bits = plan.caps.permitted.bits | plan.caps.effective.bits | plan.caps.ambient.bits;
    if (!plan.no_new_privs) t.caps.bits |= plan.caps.bounding.bits;
    t.kernel = running_kernel();
    t.available = kernel_actions();
    t.strict = plan.seccomp.strict_profile;
    return t;
}

// ==== resolution ==========================================================================================

bool Resolved::uses(ActionKind kind) const {
    if (default_action.kind == kind) return true;
    return std::any_of(rules.begin(), rules.end(), [&](const ResolvedRule& r) { return r.action.kind == kind; });
}

namespace {

constexpr std::uint32_t kMaxErrno = 4094;  // libseccomp refuses 4095 and above (the kernel caps at 4095)

[[noreturn]] void fail(const Profile& p, const std::string& path, const std::string& problem) {
    throw Error("seccomp", p.source, path + ": " + problem);
}

std::string available_text(const std::set<ActionKind>& avail) {
    std::string s;
    for (ActionKind k : avail) s += (s.empty() ? "" : " ") + action_kernel_name(k);
    return s;
}

void check_available(const Profile& p, const Target& t, const Action& a, const std::string& path) {
    if (!t.available.count(a.kind))
        fail(p, path, action_json_name(a.kind) + " is not available on this kernel (it supports: " +
                          available_text(t.available) + ")");
}

// Whether the capability named `name` is held. Unknown names: not held (warned once).
bool holds(const Target& t, const std::string& name, const std::string& path, std::vector<std::string>& warnings) {
    int cap;
    try {
        cap = parse::capability("caps", name);
    } catch (const Error&) {
        warnings.push_back(path + ": '" + name + "' is not a capability hardrun knows; treated as not held");
        return false;
    }
    return cap >= 0 && t.caps.has(cap);
}

bool arch_matches(const Target& t, const std::vector<std::string>& arches) {
    for (const auto& a : arches) {
        const ArchInfo* info = find_arch(a);
        if (info && info->token == t.native->token) return true;
    }
    return false;
}

// Docker's semantics: a rule applies unless an excludes entry matches (native arch listed, ANY listed capability
// held, kernel at least minKernel) and only if every includes entry matches (native arch listed, ALL listed
// capabilities held, kernel at least minKernel).
bool rule_applies(const Rule& r, const Target& t, std::vector<std::string>& warnings) {
    const Condition& ex = r.excludes;
    if (!ex.arches.empty() && arch_matches(t, ex.arches)) return false;
    for (std::size_t i = 0; i < ex.caps.size(); ++i)
        if (holds(t, ex.caps[i], r.path + ".excludes.caps[" + std::to_string(i) + "]", warnings)) return false;
    if (!ex.min_kernel.empty() && t.kernel >= *parse_kernel_version(ex.min_kernel)) return false;
    const Condition& in = r.includes;
    if (!in.arches.empty() && !arch_matches(t, in.arches)) return false;
    for (std::size_t i = 0; i < in.caps.size(); ++i)
        if (!holds(t, in.caps[i], r.path + ".includes.caps[" + std::to_string(i) + "]", warnings)) return false;
    if (!in.min_kernel.empty() && t.kernel < *parse_kernel_version(in.min_kernel)) return false;
    return true;
}

unsigned flag_bits(const Profile& p, const Target&, std::vector<std::string>& warnings) {
    unsigned bits = 0;
    for (const auto& f : p.flags) {
        if (f == "SECCOMP_FILTER_FLAG_LOG") bits |= SECCOMP_FILTER_FLAG_LOG;
        else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
            bits |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
            warnings.push_back("flags: SECCOMP_FILTER_FLAG_SPEC_ALLOW turns off the speculative store bypass mitigation");
        }
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        else if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") bits |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
#endif
        // TSYNC: the workload's process is single-threaded when the filter is loaded; nothing to sync
    }
    return bits;
}

// Highest syscall number on `arch` whose name the profile mentions (placeable ones only), or -1.
int highest_known(const ArchInfo& arch, const std::set<std::string>& names) {
    int best = -1;
    const std::uint32_t span = arch.token == SCMP_ARCH_X32 ? 512 : 1024;  // x32's own calls start at 512
    for (std::uint32_t i = 0; i < span; ++i) {
        const int nr = static_cast<int>(arch.nr_base + i);
        char* s = seccomp_syscall_resolve_num_arch(arch.token, nr);
        if (!s) continue;
        if (names.count(s)) best = std::max(best, nr);
        std::free(s);
    }
    for (const auto& n : names)
        if (seccomp_syscall_resolve_name(n.c_str()) == __NR_SCMP_ERROR) {
            int nr = syscall_number(arch, n);
            if (nr >= 0) best = std::max(best, nr);
        }
    return best;
}

}  // namespace

Resolved resolve(const Profile& p, const Target& target_in) {
    Target t = target_in;
    if (!t.native) t.native = &native_arch();
    if (t.available.empty()) t.available = kernel_actions();
    Resolved r;
    r.source = p.source;
    r.format = p.format;
    r.default_action = p.default_action;
    r.listener_path = p.listener_path;
    r.listener_metadata = p.listener_metadata;
    r.warnings = p.warnings;
    check_available(p, t, p.default_action, "defaultAction");
    if (r.default_action.kind == ActionKind::Errno && r.default_action.value > kMaxErrno) {
        r.warnings.push_back("defaultErrnoRet: " + std::to_string(r.default_action.value) +
                             " is not an errno (libseccomp takes at most 4094); using 4094");
        r.default_action.value = kMaxErrno;
    }

    // architectures: the native one always (libseccomp's filter starts with it), plus what the profile lists
    r.arches.push_back(t.native);
    auto add_arch = [&](const std::string& name, const std::string& path) {
        const ArchInfo* a = find_arch(name);
        if (!a) {
            r.warnings.push_back(path + ": '" + name + "' is not supported by this libseccomp; ignored");
            return;
        }
        if (std::find(r.arches.begin(), r.arches.end(), a) == r.arches.end()) r.arches.push_back(a);
    };
    if (!p.architectures.empty()) {
        for (std::size_t i = 0; i < p.architectures.size(); ++i)
            add_arch(p.architectures[i], "architectures[" + std::to_string(i) + "]");
    } else {
        for (std::size_t i = 0; i < p.arch_map.size(); ++i) {
            const ArchInfo* a = find_arch(p.arch_map[i].architecture);
            if (a != t.native) continue;
            for (std::size_t j = 0; j < p.arch_map[i].sub_architectures.size(); ++j)
                add_arch(p.arch_map[i].sub_architectures[j],
                         "archMap[" + std::to_string(i) + "].subArchitectures[" + std::to_string(j) + "]");
        }
    }
    r.filter_flags = flag_bits(p, t, r.warnings);

    // rules
    struct Seen {
        Action action;
        std::string path;
    };
    std::map<std::pair<std::string, std::vector<ArgCmp>>, Seen> seen;
    for (const Rule& rule : p.rules) {
        const bool active = rule_applies(rule, t, r.warnings);
        for (std::size_t j = 0; j < rule.names.size(); ++j) {
            const std::string& name = rule.names[j];
            const std::string path = rule.path + (rule.single_name ? ".name" : ".names[" + std::to_string(j) + "]");
            if (!syscall_known(name)) {
                std::string msg = "unknown syscall '" + name + "'";
                if (t.strict) fail(p, path, msg + " (--strict-profile)");
                r.warnings.push_back(path + ": " + msg + " (newer than this libseccomp, or a typo); ignored");
                continue;
            }
            r.names_known.insert(name);
            // a value the kernel cannot see in that argument (bits above an int's 32): refused on every host,
            // whether or not the rule applies here
            for (const ArgCmp& c : rule.args)
                if (std::string misfit = argument_misfit(name, c); !misfit.empty()) fail(p, path, misfit);
            if (!active) continue;
            ResolvedRule rr;
            rr.name = name;
            rr.action = rule.action;
            rr.args = rule.args;
            rr.path = path;
            for (const ArchInfo* a : r.arches) {
                int nr = syscall_number(*a, name);
                if (nr >= 0 || (nr <= -100 && nr > -10000)) rr.numbers[a->token] = nr;
            }
            if (rr.numbers.empty()) continue;  // not a syscall of these architectures (e.g. s390_* on x86)
            auto key = std::make_pair(name, rule.args);
            if (auto it = seen.find(key); it != seen.end()) {
                if (it->second.action == rule.action) continue;  // the same rule twice: harmless
                fail(p, path, "'" + name + "' conflicts with " + it->second.path + ": " + describe(rule.action) +
                                  " vs " + describe(it->second.action) + " for the same arguments");
            }
            seen.emplace(key, Seen{rule.action, path});
            if (rule.action == p.default_action) continue;  // what the default does anyway (libseccomp refuses it)
            if (rr.action.kind == ActionKind::Errno && rr.action.value > kMaxErrno) {
                r.warnings.push_back(rule.path + ".errnoRet: " + std::to_string(rr.action.value) +
                                     " is not an errno (libseccomp takes at most 4094); using 4094");
                rr.action.value = kMaxErrno;
            }
            check_available(p, t, rule.action, rule.path + ".action");
            r.rules.push_back(std::move(rr));
        }
    }
    // libseccomp keeps an unconditional rule and silently drops conditional ones of another action for the same
    // syscall (or refuses them, depending on the order): say so instead of compiling something else
    std::map<std::string, const Seen*> unconditional;
    for (const auto& [key, s] : seen)
        if (key.second.empty()) unconditional[key.first] = &s;
    for (const auto& [key, s] : seen) {
        if (key.second.empty()) continue;
        auto u = unconditional.find(key.first);
        if (u != unconditional.end() && !(u->second->action == s.action))
            fail(p, s.path, "'" + key.first + "' " + describe(s.action) + " with argument conditions can never apply: " +
                                u->second->path + " gives it " + describe(u->second->action) + " unconditionally");
    }
    for (const ArchInfo* a : r.arches) r.max_known[a->token] = highest_known(*a, r.names_known);
    return r;
}

}  // namespace hardrun::seccomp
