// The second stage of the OCI front end: a parsed Config -> LaunchPlan (to_plan), and load_bundle. See
// oci.hpp for the two stages and docs/oci.md for the table of every field.
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
#include "hardrun/plan/parse.hpp"
#include "hardrun/layers/sysctl.hpp"
#include "oci_json.hpp"

namespace hardrun::oci {

using json = nlohmann::json;
using namespace detail;

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
    if (m.kind != MountKind::Bind) m.source = ms.source;  // what mountinfo shows (e.g. "shm"), as the config says
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
        if (parse::mount_flag(opt, m)) continue;
        if (opt == "bind" || opt == "rbind") continue;
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
    // hugetlb: a limit of 0 is a real limit (no huge pages of that size), which kubelet sends for every size
    // a pod does not request; the OCI pageSize (2MB, 64KB, 1GB) is the name cgroup v2 gives the file
    for (std::size_t i = 0; i < r.hugepage_limits.size(); ++i) {
        const auto& [size, limit] = r.hugepage_limits[i];
        for (const auto& h : out.hugetlb)
            if (h.page_size == size) fail(item_path("linux.resources.hugepageLimits", i), "lists page size " + qt(size) + " twice");
        out.hugetlb.push_back({size, limit});
    }
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
    map_devices(c, p);  // the device nodes: binds onto /dev, after it
    // mounts[] in the listed order, as the spec requires (MUST): no depth sort, so a config that mounts a
    // parent over its child gets exactly what it wrote, as with runc
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
        if (cp.find(':') != std::string::npos) {
            p.systemd_cgroups_path = cp;  // the runtime's --systemd-cgroup decides (cgroups/systemd.hpp)
        } else {
            auto slash = cp.rfind('/');
            p.cgroup_parent = slash == std::string::npos || slash == 0 ? (slash == 0 ? "/" : "") : cp.substr(0, slash);
        }
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

namespace detail {
void map_resources_of(const Config& c, LaunchPlan& p) { map_resources(c, p); }
}  // namespace detail

}  // namespace hardrun::oci

