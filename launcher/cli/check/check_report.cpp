// The report of `hardrun check`: each layer asked/applied/read back, the verdict, and the three renderings
// (terminal, JSON, JUnit XML).
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "hardrun/cli/check/check.hpp"
#include "hardrun/launch/pasta.hpp"
#include "hardrun/layers/landlock.hpp"
#include "hardrun/plan/parse.hpp"

namespace hardrun::check {

std::string status_name(Status s) {
    switch (s) {
        case Status::Ok: return "ok";
        case Status::Warning: return "warning";
        case Status::Failed: return "failed";
        case Status::NotApplicable: return "n/a";
    }
    return "?";
}

namespace {

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
    return s;
}

std::string ids_text(const std::array<long, 4>& ids, const evidence::Evidence& ev, const std::vector<IdMap>& map,
                     long* effective_inside) {
    std::vector<std::string> parts;
    bool translated = ev.own_user_namespace && !map.empty();
    for (std::size_t i = 0; i < 4; ++i) {
        long v = ids[i];
        if (translated) {
            auto in = evidence::inside_id(map, v);
            v = in ? *in : 65534;
        }
        if (i == 1 && effective_inside) *effective_inside = v;
        parts.push_back(std::to_string(v));
    }
    std::string s = join(parts, "/");
    if (translated) s += " (host " + std::to_string(ids[1]) + ")";
    return s;
}

const char* const kRlimitNames[][2] = {
    {"core", "Max core file size"}, {"nofile", "Max open files"},   {"nproc", "Max processes"},
    {"as", "Max address space"},    {"memlock", "Max locked memory"}, {"stack", "Max stack size"},
    {"cpu", "Max cpu time"},        {"fsize", "Max file size"},      {"data", "Max data size"},
    {"rss", "Max resident set"},    {"locks", "Max file locks"},     {"sigpending", "Max pending signals"},
    {"msgqueue", "Max msgqueue size"}, {"nice", "Max nice priority"}, {"rtprio", "Max realtime priority"},
    {"rttime", "Max realtime timeout"},
};

int rlimit_number(const char* name) {
    static const std::map<std::string, int> m = {
        {"core", RLIMIT_CORE},     {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},   {"as", RLIMIT_AS},
        {"memlock", RLIMIT_MEMLOCK}, {"stack", RLIMIT_STACK},   {"cpu", RLIMIT_CPU},       {"fsize", RLIMIT_FSIZE},
        {"data", RLIMIT_DATA},     {"rss", RLIMIT_RSS},         {"locks", RLIMIT_LOCKS},   {"sigpending", RLIMIT_SIGPENDING},
        {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},   {"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME}};
    auto it = m.find(name);
    return it == m.end() ? -1 : it->second;
}

std::string limit_text(std::uint64_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

std::string layer_of_warning(const std::string& w) {
    auto colon = w.find(':');
    std::string p = colon == std::string::npos ? "" : w.substr(0, colon);
    if (p == "no_new_privs" || p == "seccomp" || p == "apparmor" || p == "landlock" || p == "user" || p == "capabilities" ||
        p == "filesystem" || p == "network" || p == "namespaces")
        return p == "network" ? "network" : p;
    return "";
}

std::string seconds(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f s", s);
    return b;
}

std::string xml_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&apos;"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') o += ' ';
                else o += c;
        }
    }
    return o;
}

std::string shell_words(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) {
        bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`;&|<>*?()[]{}!#~") == std::string::npos;
        std::string q = plain ? a : "'" + a + "'";
        if (!plain) {
            std::string t = "'";
            for (char c : a) t += c == '\'' ? std::string("'\\''") : std::string(1, c);
            q = t + "'";
        }
        s += (s.empty() ? "" : " ") + q;
    }
    return s;
}

}  // namespace

std::vector<Layer> assess(const LaunchPlan& plan, const evidence::Evidence& ev) {
    std::vector<Layer> layers;
    const bool have_status = ev.status.has_value();
    const evidence::ProcStatus st = ev.status.value_or(evidence::ProcStatus{});
    const std::string unread = "not read back" + (ev.notes.empty() ? std::string() : ": " + ev.notes.front());
    auto unverified = [&](Layer& l) {
        l.evidence = unread;
        if (l.status == Status::Ok) {
            l.status = Status::Warning;
            l.warnings.push_back(l.name + ": could not be read back from the kernel");
        }
    };

    // --- user
    {
        Layer l{"user", "", "", "", Status::Ok, {}, {}};
        l.asked = "uid " + std::to_string(plan.uid) + " gid " + std::to_string(plan.gid);
        std::vector<std::string> g;
        for (auto x : plan.additional_gids) g.push_back(std::to_string(x));
        l.asked += g.empty() ? ", no supplementary groups" : ", groups " + join(g, ",");
        l.applied = plan.namespaces.user ? "setresuid/setresgid inside a user namespace (rootless)" : "setresuid/setresgid, setgroups";
        if (have_status) {
            long euid = -1, egid = -1;
            std::string u = ids_text(st.uid, ev, ev.uid_map, &euid);
            std::string gg = ids_text(st.gid, ev, ev.gid_map, &egid);
            std::vector<std::string> groups;
            for (auto x : st.groups) groups.push_back(std::to_string(x));
            l.evidence = "Uid " + u + ", Gid " + gg + ", Groups " + (groups.empty() ? "none" : join(groups, ","));
            bool all_uid = true, all_gid = true;
            for (std::size_t i = 0; i < 4; ++i) {
                long v = st.uid[i], w = st.gid[i];
                if (ev.own_user_namespace && !ev.uid_map.empty()) {
                    v = evidence::inside_id(ev.uid_map, v).value_or(-1);
                    w = evidence::inside_id(ev.gid_map, w).value_or(-1);
                }
                all_uid = all_uid && v == static_cast<long>(plan.uid);
                all_gid = all_gid && w == static_cast<long>(plan.gid);
            }
            if (!all_uid || !all_gid) {
                l.status = Status::Failed;
                l.warnings.push_back("user: the workload does not run as uid " + std::to_string(plan.uid) + " gid " +
                                     std::to_string(plan.gid) + " in all four id slots");
            }
        } else {
            unverified(l);
        }
        layers.push_back(l);
    }
    // --- capabilities
    {
        Layer l{"capabilities", "", "", "", Status::Ok, {}, {}};
        const auto& c = plan.caps;
        if (c.bounding == c.effective && c.bounding == c.permitted && c.bounding == c.inheritable && c.bounding == c.ambient)
            l.asked = evidence::caps_text(c.bounding) + (c.bounding.empty() ? " (all five sets empty)" : " in all five sets");
        else
            l.asked = "bounding " + evidence::caps_text(c.bounding) + ", effective " + evidence::caps_text(c.effective) +
                      ", permitted " + evidence::caps_text(c.permitted) + ", inheritable " + evidence::caps_text(c.inheritable) +
                      ", ambient " + evidence::caps_text(c.ambient);
        l.applied = "bounding set dropped, then capset and the ambient set (libcap-ng)";
        if (have_status) {
            auto hex = [](const CapSet& s) {
                char b[24];
                std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(s.bits));
                return std::string(b);
            };
            l.evidence = "CapInh " + hex(st.inh) + " CapPrm " + hex(st.prm) + " CapEff " + hex(st.eff) + " CapBnd " +
                         hex(st.bnd) + " CapAmb " + hex(st.amb);
            std::vector<std::string> bad;
            if (st.inh != c.inheritable) bad.push_back("inheritable " + evidence::caps_text(st.inh));
            if (st.prm != c.permitted) bad.push_back("permitted " + evidence::caps_text(st.prm));
            if (st.eff != c.effective) bad.push_back("effective " + evidence::caps_text(st.eff));
            if (st.bnd != c.bounding) bad.push_back("bounding " + evidence::caps_text(st.bnd));
            if (st.amb != c.ambient) bad.push_back("ambient " + evidence::caps_text(st.amb));
            if (!bad.empty()) {
                l.status = Status::Failed;
                l.warnings.push_back("capabilities: the workload holds " + join(bad, "; ") + " (not what was asked)");
            }
        } else {
            unverified(l);
        }
        layers.push_back(l);
    }
    // --- no_new_privs
    {
        Layer l{"no_new_privs", plan.no_new_privs ? "on" : "off", plan.no_new_privs ? "prctl(PR_SET_NO_NEW_PRIVS)" : "not set",
                "", Status::Ok, {}, {}};
        if (have_status && st.no_new_privs) {
            l.evidence = "NoNewPrivs " + std::to_string(*st.no_new_privs);
            if (plan.no_new_privs && *st.no_new_privs != 1) {
                l.status = Status::Failed;
                l.warnings.push_back("no_new_privs: asked, but NoNewPrivs is 0");
            }
        } else {
            unverified(l);
        }
        layers.push_back(l);
    }
    // --- seccomp
    {
        Layer l{"seccomp", "", "", "", Status::Ok, {}, {}};
        const bool filtered = !(plan.seccomp.mode == SeccompChoice::Mode::Unconfined && plan.seccomp.inline_json.empty());
        if (!plan.seccomp.inline_json.empty()) l.asked = "the bundle's linux.seccomp";
        else if (plan.seccomp.mode == SeccompChoice::Mode::Default) l.asked = "hardrun's default profile";
        else if (plan.seccomp.mode == SeccompChoice::Mode::Profile) l.asked = "profile " + plan.seccomp.profile_path;
        else l.asked = "unconfined";
        l.applied = filtered ? "a BPF filter loaded last, right before execve" : "no filter";
        if (have_status && st.seccomp) {
            l.evidence = "Seccomp " + std::to_string(*st.seccomp) + (*st.seccomp == 2 ? " (filter)" : *st.seccomp == 0 ? " (off)" : "");
            if (st.seccomp_filters) l.evidence += ", " + std::to_string(*st.seccomp_filters) + " filter(s)";
            if (filtered && *st.seccomp != 2) {
                l.status = Status::Failed;
                l.warnings.push_back("seccomp: asked, but the workload has no filter (Seccomp " + std::to_string(*st.seccomp) + ")");
            }
        } else {
            unverified(l);
        }
        layers.push_back(l);
    }
    // --- apparmor
    {
        Layer l{"apparmor", "", "", "", Status::Ok, {}, {}};
        switch (plan.apparmor.mode) {
            case AppArmorChoice::Mode::Default: l.asked = "hardrun-default where AppArmor is enabled"; break;
            case AppArmorChoice::Mode::Named: l.asked = "profile " + plan.apparmor.profile; break;
            case AppArmorChoice::Mode::Unconfined: l.asked = "unconfined"; break;
        }
        if (!ev.apparmor_enabled) {
            l.applied = "nothing: AppArmor is not enabled on this host";
            l.evidence = ev.lsm_label ? "label '" + *ev.lsm_label + "'" : "no AppArmor label";
            if (plan.apparmor.mode == AppArmorChoice::Mode::Named) l.status = Status::Failed;
            else if (plan.apparmor.mode == AppArmorChoice::Mode::Default) l.status = Status::NotApplicable;
        } else {
            l.applied = plan.apparmor.mode == AppArmorChoice::Mode::Unconfined ? "none" : "exec label set before execve";
            if (ev.lsm_label) {
                l.evidence = "label '" + *ev.lsm_label + "'";
                bool unconfined = ev.lsm_label->starts_with("unconfined");
                if (plan.apparmor.mode != AppArmorChoice::Mode::Unconfined && unconfined) {
                    l.status = Status::Failed;
                    l.warnings.push_back("apparmor: asked, but the workload is unconfined");
                }
            } else {
                unverified(l);
            }
        }
        layers.push_back(l);
    }
    // --- landlock
    {
        Layer l{"landlock", "", "", "", Status::Ok, {}, {}};
        switch (plan.landlock.mode) {
            case LandlockChoice::Mode::Auto: l.asked = "on where the kernel supports it"; break;
            case LandlockChoice::Mode::On: l.asked = "on"; break;
            case LandlockChoice::Mode::Off: l.asked = "off"; break;
        }
        std::vector<std::string> ports;
        for (auto p : plan.landlock.allow_bind) ports.push_back("bind " + std::to_string(p));
        for (auto p : plan.landlock.allow_connect) ports.push_back("connect " + std::to_string(p));
        if (!ports.empty()) l.asked += ", TCP " + join(ports);
        l.applied = landlock::describe(plan);
        l.evidence = "kernel Landlock ABI " + std::to_string(ev.landlock_abi) +
                     " (no /proc file shows a process's Landlock domain; the probes test it)";
        if (plan.landlock.mode == LandlockChoice::Mode::Off) l.status = Status::Warning;
        else if (ev.landlock_abi == 0) l.status = Status::NotApplicable;
        layers.push_back(l);
    }
    // --- cgroup
    {
        Layer l{"cgroup", "", "", "", Status::Ok, {}, {}};
        const auto& r = plan.resources;
        std::vector<std::pair<std::string, std::string>> want;  // file -> value
        if (r.memory_max) want.emplace_back("memory.max", std::to_string(*r.memory_max));
        if (r.memory_swap_max) want.emplace_back("memory.swap.max", *r.memory_swap_max < 0 ? "max" : std::to_string(*r.memory_swap_max));
        if (r.pids_max) want.emplace_back("pids.max", *r.pids_max < 0 ? "max" : std::to_string(*r.pids_max));
        if (r.cpu_max) want.emplace_back("cpu.max", std::to_string(r.cpu_max->quota_us) + " " + std::to_string(r.cpu_max->period_us));
        if (r.cpu_weight) want.emplace_back("cpu.weight", std::to_string(*r.cpu_weight));
        std::vector<std::string> asked;
        for (const auto& [f, v] : want) asked.push_back(f + "=" + v);
        // not a warning (nothing was weakened: there is no default limit to weaken), but `hardrun lint` flags it
        if (!r.memory_max) l.notes.push_back("no memory limit (--memory): `hardrun lint` flags it as limits.memory");
        if (!r.pids_max) l.notes.push_back("no pids limit (--pids-limit): `hardrun lint` flags it as limits.pids");
        if (r.empty()) {
            l.asked = "no resource limit (add --memory and --pids-limit)";
            l.applied = "no cgroup";
            l.evidence = ev.cgroup.empty() ? "-" : "cgroup " + ev.cgroup;
            l.status = Status::NotApplicable;
        } else {
            l.asked = asked.empty() ? "device rules / io limits" : join(asked);
            l.applied = "a cgroup v2 of its own, entered with clone3(CLONE_INTO_CGROUP)";
            std::vector<std::string> seen, bad;
            for (const auto& [f, v] : want) {
                auto it = ev.cgroup_files.find(f);
                if (it == ev.cgroup_files.end()) {
                    bad.push_back(f + " unreadable");
                    continue;
                }
                seen.push_back(f + "=" + it->second);
                if (it->second != v) bad.push_back(f + " is " + it->second + ", not " + v);
            }
            l.evidence = "cgroup " + (ev.cgroup.empty() ? std::string("?") : ev.cgroup) + (seen.empty() ? "" : ": " + join(seen));
            if (!bad.empty()) {
                l.status = Status::Failed;
                l.warnings.push_back("cgroup: " + join(bad, "; "));
            }
        }
        layers.push_back(l);
    }
    // --- namespaces
    {
        Layer l{"namespaces", "", "", "", Status::Ok, {}, {}};
        const auto& n = plan.namespaces;
        const std::vector<std::tuple<std::string, bool, std::string>> kinds = {
            {"user", n.user, "user"}, {"mnt", n.mount, "mount"}, {"pid", n.pid, "pid"}, {"ipc", n.ipc, "ipc"},
            {"uts", n.uts, "uts"},    {"net", n.net, "network"}, {"cgroup", n.cgroup, "cgroup"}};
        std::vector<std::string> asked, seen, bad;
        for (const auto& [k, want_new, oci] : kinds) {
            bool joined = n.join.count(oci) > 0;
            asked.push_back(k + (joined ? " joined" : want_new ? " new" : " shared"));
            auto a = ev.ns.find(k), b = ev.ns_hardrun.find(k);
            if (a == ev.ns.end() || b == ev.ns_hardrun.end()) continue;
            bool differs = a->second != b->second;
            seen.push_back(k + (differs ? " own" : " shared"));
            if (want_new && !joined && !differs) bad.push_back(k + " is shared with hardrun");
        }
        l.asked = join(asked);
        l.applied = "clone3 with CLONE_NEW* (joined ones with setns)";
        if (seen.empty()) {
            unverified(l);
        } else {
            l.evidence = "/proc/PID/ns vs hardrun's: " + join(seen);
            if (!bad.empty()) {
                l.status = Status::Failed;
                l.warnings.push_back("namespaces: " + join(bad, "; "));
            }
        }
        layers.push_back(l);
    }
    // --- filesystem
    {
        Layer l{"filesystem", "", "", "", Status::Ok, {}, {}};
        std::vector<std::string> asked;
        asked.push_back(plan.readonly_root ? "read-only root" : "WRITABLE root");
        for (const auto& m : plan.mounts)
            if (m.kind == MountKind::Tmpfs)
                asked.push_back("tmpfs " + m.destination + (m.noexec ? " noexec" : " exec") + (m.readonly ? " ro" : ""));
            else if (m.kind == MountKind::Bind)
                asked.push_back("volume " + m.destination + (m.readonly ? " ro" : " rw"));
        asked.push_back(std::to_string(plan.masked_paths.size()) + " masked paths");
        if (!plan.readonly_paths.empty()) asked.push_back("read-only " + join(plan.readonly_paths, " "));
        l.asked = join(asked);
        l.applied = "pivot_root into the rootfs, mounts with the new mount API, masked and read-only paths";
        if (ev.mounts.empty()) {
            unverified(l);
        } else {
            std::vector<std::string> seen, bad;
            const evidence::MountEntry* root = evidence::covering_mount(ev.mounts, "/");
            if (root) {
                seen.push_back(std::string("/ ") + (root->readonly ? "ro" : "rw"));
                if (plan.readonly_root && !root->readonly) bad.push_back("/ is writable");
            }
            for (const auto& m : plan.mounts) {
                if (m.kind != MountKind::Tmpfs && m.kind != MountKind::Bind) continue;
                const evidence::MountEntry* e = nullptr;
                for (const auto& x : ev.mounts)
                    if (x.mount_point == m.destination) e = &x;
                if (!e) {
                    bad.push_back(m.destination + " is not mounted");
                    continue;
                }
                seen.push_back(m.destination + " " + e->fstype + (e->readonly ? " ro" : " rw") + (e->noexec ? ",noexec" : "") +
                               (e->nosuid ? ",nosuid" : "") + (e->nodev ? ",nodev" : ""));
                if (m.noexec && !e->noexec) bad.push_back(m.destination + " allows exec");
                if (m.readonly && !e->readonly) bad.push_back(m.destination + " is writable");
                if (m.nosuid && !e->nosuid) bad.push_back(m.destination + " allows setuid");
            }
            int masked = 0;
            for (const auto& p : plan.masked_paths)
                for (const auto& x : ev.mounts)
                    if (x.mount_point == p) {
                        ++masked;
                        break;
                    }
            seen.push_back(std::to_string(masked) + " masked paths mounted over (absent ones are skipped)");
            for (const auto& p : plan.readonly_paths) {
                const evidence::MountEntry* e = evidence::covering_mount(ev.mounts, p);
                if (e && e->mount_point == p) seen.push_back(p + (e->readonly ? " ro" : " rw"));
                if (e && e->mount_point == p && !e->readonly) bad.push_back(p + " is writable");
            }
            l.evidence = "mountinfo: " + join(seen);
            if (!bad.empty()) {
                l.status = Status::Failed;
                l.warnings.push_back("filesystem: " + join(bad, "; "));
            }
        }
        layers.push_back(l);
    }
    // --- network
    {
        Layer l{"network", plan.network == NetworkMode::None ? "none (loopback only)" : "host", "", "", Status::Ok, {}, {}};
        l.applied = plan.network == NetworkMode::None ? "a network namespace with lo up" : "the host's network namespace";
        if (!plan.publish.empty()) {  // -p: pasta's tap (down, no address, no route) is the one other interface
            l.asked += "; published: " + pasta::ports_text(plan.publish);
            l.applied += "; pasta forwards the host's loopback ports in (inbound only: no route out), tap " +
                         std::string(pasta::kTapName) + " down";
        }
        if (ev.interfaces.empty() && ev.ns.empty()) {
            unverified(l);
        } else {
            l.evidence = "interfaces: " + (ev.interfaces.empty() ? std::string("none") : join(ev.interfaces));
            if (plan.network == NetworkMode::None && plan.namespaces.net && plan.namespaces.join.count("network") == 0)
                for (const auto& i : ev.interfaces)
                    if (i != "lo" && !(i == pasta::kTapName && !plan.publish.empty())) {
                        l.status = Status::Failed;
                        l.warnings.push_back("network: interface " + i + " is visible");
                    }
        }
        layers.push_back(l);
    }
    // --- rlimits
    {
        Layer l{"rlimits", "", "setrlimit before the uid switch", "", Status::Ok, {}, {}};
        std::vector<std::string> asked, seen, bad;
        for (const auto& r : plan.rlimits) {
            const char* name = nullptr;
            const char* proc_name = nullptr;
            for (const auto& n : kRlimitNames)
                if (rlimit_number(n[0]) == r.resource) {
                    name = n[0];
                    proc_name = n[1];
                }
            if (!name) continue;
            asked.push_back(std::string(name) + "=" + limit_text(r.soft) + ":" + limit_text(r.hard));
            auto it = ev.limits.find(proc_name);
            if (it == ev.limits.end()) continue;
            seen.push_back(std::string(name) + "=" + it->second.first + ":" + it->second.second);
            if (it->second.first != limit_text(r.soft) || it->second.second != limit_text(r.hard))
                bad.push_back(std::string(name) + " is " + it->second.first + ":" + it->second.second);
        }
        l.asked = asked.empty() ? "none" : join(asked);
        if (ev.limits.empty()) unverified(l);
        else l.evidence = "/proc/PID/limits: " + (seen.empty() ? std::string("-") : join(seen));
        if (!bad.empty()) {
            l.status = Status::Failed;
            l.warnings.push_back("rlimits: " + join(bad, "; "));
        }
        layers.push_back(l);
    }
    // plan.warnings (weakened choices) go to their layer
    for (const auto& w : plan.warnings) {
        std::string name = layer_of_warning(w);
        for (auto& l : layers)
            if (l.name == name) {
                l.warnings.push_back(w);
                if (l.status == Status::Ok || l.status == Status::NotApplicable) l.status = Status::Warning;
            }
    }
    return layers;
}

OutcomeView view_of(const Outcome& out) {
    OutcomeView v;
    v.status = out.status;
    v.signal = out.signal;
    v.oom_killed = out.oom_killed;
    v.error = out.error;
    v.error_step = out.error_step;
    v.exit_code = out.exit_code;
    v.wall_seconds = static_cast<double>(out.wall.count()) / 1e6;
    v.user_cpu_seconds = static_cast<double>(out.user_cpu_us) / 1e6;
    v.sys_cpu_seconds = static_cast<double>(out.sys_cpu_us) / 1e6;
    v.max_rss_kib = out.max_rss_kib;
    if (out.cgroup) {
        v.memory_peak = out.cgroup->memory_peak;
        v.pids_limit_hit = out.cgroup->pids_limit_hit;
        if (out.cgroup->oom_killed) v.oom_killed = true;
    }
    return v;
}

namespace {

// "every probe was blocked", or "29 probes blocked, 2 not applicable here"
std::string probes_phrase(const Report& r) {
    const auto blocked = std::count_if(r.probes.begin(), r.probes.end(), [](const ProbeResult& p) { return p.verdict == "blocked"; });
    const auto na = std::count_if(r.probes.begin(), r.probes.end(), [](const ProbeResult& p) { return p.verdict == "not-applicable"; });
    if (na == 0) return "every probe was blocked";
    return std::to_string(blocked) + " probe(s) blocked, " + std::to_string(na) + " not applicable here";
}

// "; note: no memory limit ..., no pids limit ..." from the layers' notes ("" when none)
std::string notes_phrase(const Report& r) {
    std::vector<std::string> notes;
    for (const auto& l : r.layers) notes.insert(notes.end(), l.notes.begin(), l.notes.end());
    return notes.empty() ? "" : "; note: " + join(notes, "; ");
}

}  // namespace

void classify(Report& r) {
    const bool failed_layer = std::any_of(r.layers.begin(), r.layers.end(), [](const Layer& l) { return l.status == Status::Failed; });
    const bool probe_failed = std::any_of(r.probes.begin(), r.probes.end(), [](const ProbeResult& p) { return !p.passed; });
    const std::size_t not_blocked =
        static_cast<std::size_t>(std::count_if(r.probes.begin(), r.probes.end(), [](const ProbeResult& p) { return p.verdict == "not-blocked"; }));
    std::vector<std::string> why;
    if (failed_layer) why.push_back("a layer was not applied as asked");
    if (not_blocked) why.push_back(std::to_string(not_blocked) + " probe(s) not blocked");
    else if (probe_failed) why.push_back("a probe could not run");
    if (r.ran_workload && r.outcome) {
        const auto& o = *r.outcome;
        bool success = !o.error && o.status && *o.status == 0;
        if (r.serve && r.serve->stopped && !r.serve->killed && !o.error) {
            // check stopped it: an exit on SIGTERM (the signal, 143, or 0 after a clean shutdown) is no failure
            success = (o.signal && (*o.signal == SIGTERM || *o.signal == SIGINT)) ||
                      (o.status && (*o.status == 0 || *o.status == 143 || *o.status == 130));
        }
        if (r.serve && r.serve->killed)
            r.notes.push_back("the workload did not exit within 10 s of SIGTERM and was killed (SIGKILL); the findings "
                              "below may say why (a server that cannot save its state on the way out)");
        if (r.serve && r.serve->exercise_status && *r.serve->exercise_status != 0) {
            success = false;
            r.notes.push_back("the exercise `" + r.serve->exercise + "` exited " + std::to_string(*r.serve->exercise_status));
        }
        if (o.error && o.error_step == "exec") {
            r.exit_code = 2;
            r.verdict = "the workload failed on its own: " + *o.error;
            return;
        }
        if (!success) {
            if (!r.findings.empty() || o.error) {
                r.exit_code = 1;
                r.verdict = "the workload failed because of the hardening (" + std::to_string(r.findings.size()) +
                            " finding(s), each with its fix)";
            } else {
                r.exit_code = 2;
                std::string how = o.signal ? "killed by signal " + std::to_string(*o.signal)
                                           : "exit status " + std::to_string(o.status.value_or(-1));
                if (r.serve && r.serve->killed) how = "it did not stop on SIGTERM and was killed";
                else if (r.serve && r.serve->exercise_status && *r.serve->exercise_status != 0)
                    how = "the exercise `" + r.serve->exercise + "` exited " + std::to_string(*r.serve->exercise_status);
                r.verdict = "the workload failed on its own (" + how + "): nothing the hardening refused was seen" +
                            (r.diagnose ? "" : " (run with --diagnose to trace failing syscalls)");
            }
            if (!why.empty()) r.verdict += "; also: " + join(why, "; ");
            return;
        }
        // it succeeded, but a limit refused it something on the way (failed forks it tolerated)
        if (std::any_of(r.findings.begin(), r.findings.end(), [](const Finding& f) { return f.kind == "pids" || f.kind == "memory"; }))
            why.push_back("the workload exited 0 but hit a resource limit");
    }
    if (!why.empty()) {
        r.exit_code = 1;
        r.verdict = join(why, "; ");
        return;
    }
    if (!r.warnings.empty()) {
        r.exit_code = 1;
        r.verdict = (r.ran_workload ? std::string("the workload succeeded") : probes_phrase(r)) + ", but with " +
                    std::to_string(r.warnings.size()) + " layer(s) weakened (warnings above)" + notes_phrase(r);
        return;
    }
    r.exit_code = 0;
    r.verdict = r.ran_workload ? "the workload succeeded under full hardening" : probes_phrase(r) + " under full hardening";
    if (r.ran_workload && !r.probes.empty()) r.verdict += ", and " + probes_phrase(r);
    r.verdict += notes_phrase(r);
}

std::string render_human(const Report& r, bool color) {
    auto paint = [&](const std::string& s, const char* code) { return color ? std::string("\033[") + code + "m" + s + "\033[0m" : s; };
    auto status_tag = [&](Status s) {
        std::string t = status_name(s);
        t.resize(8, ' ');
        switch (s) {
            case Status::Ok: return paint(t, "32");
            case Status::Warning: return paint(t, "33");
            case Status::Failed: return paint(t, "31;1");
            default: return paint(t, "2");
        }
    };
    std::ostringstream o;
    if (!r.command.empty()) o << "hardrun check: " << shell_words(r.command) << "\n";
    if (!r.layers.empty()) {
        o << "\nLayers (asked -> applied -> read back from the workload's own process)\n";
        for (const auto& l : r.layers) {
            std::string name = l.name;
            name.resize(13, ' ');
            o << "  " << status_tag(l.status) << " " << name << " asked:    " << l.asked << "\n";
            o << "                         applied:  " << l.applied << "\n";
            o << "                         evidence: " << l.evidence << "\n";
            for (const auto& n : l.notes) o << "                         note:     " << n << "\n";
        }
    }
    if (!r.warnings.empty()) {
        o << "\nWarnings (layers turned off or weakened)\n";
        for (const auto& w : r.warnings) o << "  " << paint("!", "33") << " " << w << "\n";
    }
    if (r.outcome) {
        const auto& x = *r.outcome;
        o << "\nOutcome\n  ";
        if (x.error) o << "not started: " << *x.error;
        else if (x.oom_killed) o << "killed by the OOM killer";
        else if (x.signal) o << "killed by signal " << *x.signal;
        else o << "exit status " << x.status.value_or(-1);
        o << "\n  time " << seconds(x.wall_seconds) << ", CPU " << seconds(x.user_cpu_seconds) << " user + "
          << seconds(x.sys_cpu_seconds) << " system, peak memory "
          << (x.memory_peak ? parse::human_size(*x.memory_peak) + " (cgroup)" : parse::human_size(static_cast<std::uint64_t>(x.max_rss_kib) * 1024) + " (max RSS)")
          << (x.pids_limit_hit ? ", pids limit hit" : "") << "\n";
    }
    if (!r.findings.empty()) {
        o << "\nFindings (what the hardening refused, and the fix)\n";
        for (const auto& f : r.findings) {
            o << "  " << paint(f.kind, "1") << ": " << f.message << (f.count > 1 ? " (x" + std::to_string(f.count) + ")" : "") << "\n";
            o << "      fix: " << f.fix << "\n";
        }
    }
    if (!r.probes.empty()) {
        std::map<std::string, int> counts;
        for (const auto& p : r.probes) ++counts[p.verdict];
        o << "\nEscape probes (" << r.probes.size() << ":";
        bool first = true;
        for (const auto& [k, n] : counts) {
            o << (first ? " " : ", ") << n << " " << k;
            first = false;
        }
        o << ")\n";
        for (const auto& p : r.probes) {
            std::string tag = p.verdict;
            tag.resize(15, ' ');
            const char* code = p.verdict == "blocked" ? "32" : p.verdict == "not-applicable" ? "2" : "31;1";
            std::string name = p.name;
            name.resize(19, ' ');
            o << "  " << paint(tag, code) << name << p.title << "\n";
            o << "                                  expected: " << p.expected << "\n";
            o << "                                  observed: " << p.op << (p.err.empty() ? "" : " -> " + p.err)
              << (p.detail.empty() ? "" : ": " + p.detail) << "\n";
        }
    }
    for (const auto& n : r.notes) o << "\nnote: " << n;
    if (!r.notes.empty()) o << "\n";
    o << "\n" << (r.exit_code == 0 ? paint("PASS", "32;1") : paint(r.exit_code == 1 ? "HARDENING" : "WORKLOAD", "31;1"))
      << " (exit " << r.exit_code << "): " << r.verdict << "\n";
    return o.str();
}

nlohmann::json render_json(const Report& r) {
    using nlohmann::json;
    json j;
    j["hardrun"] = HARDRUN_VERSION;
    j["command"] = r.command;
    j["diagnose"] = r.diagnose;
    json layers = json::array();
    for (const auto& l : r.layers)
        layers.push_back({{"name", l.name}, {"asked", l.asked}, {"applied", l.applied}, {"evidence", l.evidence},
                          {"status", status_name(l.status)}, {"warnings", l.warnings}, {"notes", l.notes}});
    j["layers"] = layers;
    j["warnings"] = r.warnings;
    j["notes"] = r.notes;
    if (r.outcome) {
        const auto& x = *r.outcome;
        json o = {{"exit_code", x.exit_code},        {"oom_killed", x.oom_killed},     {"wall_seconds", x.wall_seconds},
                  {"user_cpu_seconds", x.user_cpu_seconds}, {"sys_cpu_seconds", x.sys_cpu_seconds},
                  {"max_rss_kib", x.max_rss_kib},   {"pids_limit_hit", x.pids_limit_hit}};
        o["status"] = x.status ? json(*x.status) : json(nullptr);
        o["signal"] = x.signal ? json(*x.signal) : json(nullptr);
        o["error"] = x.error ? json(*x.error) : json(nullptr);
        if (x.error) o["error_step"] = x.error_step;
        o["memory_peak"] = x.memory_peak ? json(*x.memory_peak) : json(nullptr);
        j["outcome"] = o;
    } else {
        j["outcome"] = nullptr;
    }
    json findings = json::array();
    for (const auto& f : r.findings)
        findings.push_back({{"kind", f.kind}, {"layer", f.layer}, {"message", f.message}, {"fix", f.fix}, {"count", f.count}});
    j["findings"] = findings;
    json probes = json::array();
    for (const auto& p : r.probes)
        probes.push_back({{"name", p.name},   {"title", p.title},   {"expected", p.expected}, {"verdict", p.verdict},
                          {"op", p.op},       {"errno", p.err},     {"detail", p.detail},     {"passed", p.passed}});
    j["probes"] = probes;
    j["exit_code"] = r.exit_code;
    if (r.serve) {
        json sv = {{"stopped_by_check", r.serve->stopped}, {"killed", r.serve->killed}, {"served_seconds", r.serve->seconds}};
        if (!r.serve->exercise.empty()) {
            sv["exercise"] = r.serve->exercise;
            sv["exercise_status"] = r.serve->exercise_status ? json(*r.serve->exercise_status) : json(nullptr);
        }
        j["serve"] = sv;
    }
    j["verdict"] = r.verdict;
    return j;
}

std::string render_junit(const Report& r) {
    struct Case {
        std::string classname, name, kind, message, text;  // kind: "", "failure", "skipped", "error"
    };
    std::vector<Case> cases;
    for (const auto& l : r.layers) {
        Case c{"hardrun.check.layer", l.name, "", "", ""};
        std::string text = "asked: " + l.asked + "\napplied: " + l.applied + "\nevidence: " + l.evidence;
        if (l.status == Status::Failed || l.status == Status::Warning) {
            c.kind = "failure";
            c.message = l.warnings.empty() ? status_name(l.status) : join(l.warnings, "; ");
        } else if (l.status == Status::NotApplicable) {
            c.kind = "skipped";
            c.message = l.applied;
        }
        c.text = text;
        cases.push_back(c);
    }
    if (r.ran_workload && r.outcome) {
        Case c{"hardrun.check.workload", shell_words(r.command), "", "", ""};
        std::string text;
        for (const auto& f : r.findings) text += f.kind + ": " + f.message + "\n  fix: " + f.fix + "\n";
        if (r.outcome->error || !r.outcome->status || *r.outcome->status != 0) {
            c.kind = "failure";
            c.message = r.verdict;
        }
        c.text = text;
        cases.push_back(c);
    }
    for (const auto& p : r.probes) {
        Case c{"hardrun.check.probe", p.name, "", "", "expected: " + p.expected + "\nobserved: " + p.op +
                                                       (p.err.empty() ? "" : " -> " + p.err) + ": " + p.detail};
        if (p.verdict == "not-blocked") {
            c.kind = "failure";
            c.message = "not blocked: " + p.detail;
        } else if (p.verdict == "not-applicable") {
            c.kind = "skipped";
            c.message = p.detail;
        } else if (p.verdict != "blocked") {
            c.kind = "error";
            c.message = p.detail;
        }
        cases.push_back(c);
    }
    int failures = 0, errors = 0, skipped = 0;
    for (const auto& c : cases) {
        failures += c.kind == "failure";
        errors += c.kind == "error";
        skipped += c.kind == "skipped";
    }
    std::ostringstream o;
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    o << "<testsuites name=\"hardrun check\" tests=\"" << cases.size() << "\" failures=\"" << failures << "\" errors=\""
      << errors << "\" skipped=\"" << skipped << "\">\n";
    o << "  <testsuite name=\"hardrun check\" tests=\"" << cases.size() << "\" failures=\"" << failures << "\" errors=\""
      << errors << "\" skipped=\"" << skipped << "\">\n";
    for (const auto& c : cases) {
        o << "    <testcase classname=\"" << xml_escape(c.classname) << "\" name=\"" << xml_escape(c.name) << "\"";
        if (c.kind.empty()) {
            o << ">\n      <system-out>" << xml_escape(c.text) << "</system-out>\n    </testcase>\n";
            continue;
        }
        o << ">\n      <" << c.kind << " message=\"" << xml_escape(c.message) << "\">" << xml_escape(c.text) << "</" << c.kind
          << ">\n    </testcase>\n";
    }
    o << "  </testsuite>\n</testsuites>\n";
    return o.str();
}

}  // namespace hardrun::check
