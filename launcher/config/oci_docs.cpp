// The documents hardrun writes as an OCI runtime: `features`, `spec` (a hardened config.json) and the state.
#include <fcntl.h>
#include <seccomp.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "hardrun/layers/apparmor.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/config/oci.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/procfs.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::oci {

using json = nlohmann::json;

namespace {

bool cgroup2_mounted() {
    std::ifstream mi("/proc/self/mountinfo");
    const std::string text((std::istreambuf_iterator<char>(mi)), std::istreambuf_iterator<char>());
    for (const auto& m : procfs::parse_mountinfo(text))
        if (m.fstype == "cgroup2") return true;
    return false;
}

bool apparmor_enabled() {
    std::ifstream f("/sys/module/apparmor/parameters/enabled");
    std::string v;
    return (f >> v) && v == "Y";
}

}  // namespace

json features() {
    json f;
    f["ociVersionMin"] = kOciVersionMin;
    f["ociVersionMax"] = kOciVersionMax;
    f["hooks"] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};
    // every option to_mount() accepts: applied, or (access times, "defaults", "private") accepted as no-ops
    f["mountOptions"] = {"async",     "atime",     "bind",        "defaults",     "dev",        "diratime",   "exec",
                         "lazytime",  "noatime",   "nodev",       "nodiratime",   "noexec",     "nolazytime", "nomand",
                         "norelatime", "nostrictatime", "nosuid", "private",      "ratime",     "rbind",      "rdev",
                         "rdiratime", "relatime",  "rexec",       "rnoatime",     "rnodev",     "rnodiratime", "rnoexec",
                         "rnorelatime", "rnostrictatime", "rnosuid", "ro",        "rprivate",   "rrelatime",  "rro",
                         "rrw",       "rstrictatime", "rsuid",    "rw",           "strictatime", "suid",      "tmpcopyup"};
    json linux;
    linux["namespaces"] = namespace_types();
    json caps = json::array();
    for (int c = 0; c <= parse::last_capability(); ++c) caps.push_back(parse::capability_name(c));
    linux["capabilities"] = caps;
    linux["cgroup"] = {{"v1", false}, {"v2", cgroup2_mounted()}, {"systemd", cgroup2_mounted()}, {"systemdUser", false}, {"rdma", false}};
    json sc;
    sc["enabled"] = true;
    json actions = json::array();
    const auto avail = seccomp::kernel_actions();
    // SCMP_ACT_NOTIFY is not listed: it needs linux.seccomp.listenerPath, which hardrun refuses
    for (auto kind : {seccomp::ActionKind::Allow, seccomp::ActionKind::Errno, seccomp::ActionKind::KillProcess,
                      seccomp::ActionKind::KillThread, seccomp::ActionKind::Trap, seccomp::ActionKind::Log,
                      seccomp::ActionKind::Trace}) {
        if (!avail.count(kind)) continue;
        actions.push_back(seccomp::action_json_name(kind));
        if (kind == seccomp::ActionKind::KillThread) actions.push_back("SCMP_ACT_KILL");
    }
    std::sort(actions.begin(), actions.end());
    sc["actions"] = actions;
    sc["operators"] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"};
    json archs = json::array();
    for (const char* a : {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS",
                          "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
                          "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC",
                          "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                          "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"})
        if (seccomp::find_arch(a)) archs.push_back(a);
    sc["archs"] = archs;
    sc["knownFlags"] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    json supported = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    supported.push_back("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
#endif
    sc["supportedFlags"] = supported;
    linux["seccomp"] = sc;
    linux["apparmor"] = {{"enabled", apparmor_enabled()}};
    linux["selinux"] = {{"enabled", false}};
    linux["intelRdt"] = {{"enabled", false}};
    linux["mountExtensions"] = {{"idmap", {{"enabled", false}}}};
    linux["netDevices"] = {{"enabled", false}};
    f["linux"] = linux;
    const unsigned maj = seccomp_version()->major, min = seccomp_version()->minor, mic = seccomp_version()->micro;
    f["annotations"] = {{"io.github.seccomp.libseccomp.version",
                         std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(mic)},
                        {"org.hardrun.version", HARDRUN_VERSION},
                        // the runc verbs this build implements (docs/oci.md); the others are refused by name
                        {"org.hardrun.verbs", "create,delete,events,exec,features,kill,list,pause,ps,resume,run,spec,start,state,update"}};
    // annotations that can weaken a container: an engine should not let untrusted users set them
    f["potentiallyUnsafeConfigAnnotations"] = {kAnnotationSeccomp, kAnnotationLandlock, kAnnotationNoNewPrivs};
    return f;
}

json spec(bool rootless, uid_t invoker_uid, gid_t invoker_gid, const json& seccomp_profile) {
    json c;
    c["ociVersion"] = kOciVersionMax;
    c["process"] = {
        {"terminal", false},
        {"user", {{"uid", kDefaultUid}, {"gid", kDefaultGid}, {"umask", 022}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", json::array()}, {"effective", json::array()}, {"permitted", json::array()},
                          {"inheritable", json::array()}, {"ambient", json::array()}}},
        {"rlimits", {{{"type", "RLIMIT_CORE"}, {"hard", 0}, {"soft", 0}},
                     {{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}};
    c["root"] = {{"path", "rootfs"}, {"readonly", true}};
    c["hostname"] = "hardrun";
    json mounts = json::array();
    mounts.push_back({{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid", "noexec", "nodev"}}});
    mounts.push_back({{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                      {"options", {"nosuid", "noexec", "strictatime", "mode=755", "size=65536k"}}});
    mounts.push_back({{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
                      {"options", rootless ? json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
                                           : json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}});
    mounts.push_back({{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
                      {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}});
    mounts.push_back({{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}, {"options", {"nosuid", "noexec", "nodev"}}});
    mounts.push_back({{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"nosuid", "noexec", "nodev", "ro"}}});
    mounts.push_back({{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                      {"options", {"nosuid", "nodev", "noexec", "mode=1777", "size=65536k"}}});
    c["mounts"] = mounts;
    json linux;
    json ns = json::array();
    for (const char* t : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) ns.push_back({{"type", t}});
    if (rootless) {
        ns.push_back({{"type", "user"}});
        linux["uidMappings"] = {{{"containerID", kDefaultUid}, {"hostID", invoker_uid}, {"size", 1}}};
        linux["gidMappings"] = {{{"containerID", kDefaultGid}, {"hostID", invoker_gid}, {"size", 1}}};
    }
    linux["namespaces"] = ns;
    linux["maskedPaths"] = default_masked_paths();
    linux["readonlyPaths"] = default_readonly_paths();
    if (!seccomp_profile.is_null() && !seccomp_profile.empty()) linux["seccomp"] = seccomp_profile;
    c["linux"] = linux;
    return c;
}

json default_seccomp_object() {
    using namespace seccomp;
    Profile profile = load_profile(default_profile_path());
    LaunchPlan plan;  // the spec's process: no capabilities, no_new_privs
    Target target = target_for(plan);
    Resolved r = resolve(profile, target);
    json o;
    o["defaultAction"] = action_json_name(r.default_action.kind);
    if (r.default_action.kind == ActionKind::Errno) o["defaultErrnoRet"] = r.default_action.value;
    json arches = json::array();
    for (const auto* a : r.arches) arches.push_back(a->scmp_name);
    o["architectures"] = arches;
    // one OCI rule per distinct (action, arguments), names in the profile's order
    json rules = json::array();
    std::vector<std::pair<std::string, std::size_t>> index;  // key -> rules position
    for (const auto& rule : r.rules) {
        json args = json::array();
        for (const auto& a : rule.args) {
            json aj = {{"index", a.index}, {"value", a.value}, {"op", op_json_name(a.op)}};
            if (a.op == Op::MaskedEqual) aj["valueTwo"] = a.value_two;
            args.push_back(aj);
        }
        std::string key = describe(rule.action) + args.dump();
        auto it = std::find_if(index.begin(), index.end(), [&](const auto& p) { return p.first == key; });
        if (it == index.end()) {
            json j = {{"names", json::array()}, {"action", action_json_name(rule.action.kind)}};
            if (rule.action.kind == ActionKind::Errno) j["errnoRet"] = rule.action.value;
            if (!args.empty()) j["args"] = args;
            rules.push_back(j);
            index.emplace_back(key, rules.size() - 1);
            it = index.end() - 1;
        }
        rules[it->second]["names"].push_back(rule.name);
    }
    o["syscalls"] = rules;
    return o;
}

json state_json(const StateDoc& s) {
    json j = {{"ociVersion", kOciVersionMax}, {"id", s.id}, {"status", s.status}, {"bundle", s.bundle}};
    if (s.pid > 0) j["pid"] = s.pid;
    if (!s.annotations.empty()) j["annotations"] = s.annotations;
    return j;
}

}  // namespace hardrun::oci
