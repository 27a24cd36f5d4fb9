// Evidence read back from the kernel about one process (see evidence.hpp).
#include "hardrun/cli/check/evidence.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "hardrun/support/error.hpp"
#include "hardrun/layers/landlock.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/procfs.hpp"

namespace hardrun::evidence {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        out.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

std::vector<std::string> split_ws(std::string_view s) {
    std::vector<std::string> out;
    for (auto f : procfs::fields(s)) out.emplace_back(f);
    return out;
}

std::optional<std::string> read_text(const std::string& path, std::string* error = nullptr) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (error) *error = errno_text(errno);
        return std::nullopt;
    }
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (error) *error = errno_text(errno);
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > (4U << 20)) break;
    }
    ::close(fd);
    return out;
}

std::optional<std::string> read_link(const std::string& path) {
    char buf[512];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}

const char* const kNamespaces[] = {"user", "mnt", "pid", "ipc", "uts", "net", "cgroup", "time"};

}  // namespace

ProcStatus parse_status(std::string_view text) {
    ProcStatus s;
    for (auto line : split_lines(text)) {
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        auto key = line.substr(0, colon);
        auto value = line.substr(colon + 1);
        auto fields = split_ws(value);
        auto cap = [&](CapSet& set) {
            if (!fields.empty())
                if (auto v = parse::number_base<std::uint64_t>(fields[0], 16)) set.bits = *v;
        };
        auto ids = [&](std::array<long, 4>& out) {
            for (std::size_t i = 0; i < 4 && i < fields.size(); ++i)
                if (auto v = parse::number<long>(fields[i])) out[i] = *v;
        };
        if (key == "Name") s.name = fields.empty() ? "" : fields[0];
        else if (key == "State" && !fields.empty()) s.state = fields[0][0];
        else if (key == "Uid") ids(s.uid);
        else if (key == "Gid") ids(s.gid);
        else if (key == "Groups") {
            for (const auto& f : fields)
                if (auto v = parse::number<long>(f)) s.groups.push_back(*v);
        } else if (key == "CapInh") cap(s.inh);
        else if (key == "CapPrm") cap(s.prm);
        else if (key == "CapEff") cap(s.eff);
        else if (key == "CapBnd") cap(s.bnd);
        else if (key == "CapAmb") cap(s.amb);
        else if (key == "NoNewPrivs" && !fields.empty()) s.no_new_privs = parse::number<int>(fields[0]);
        else if (key == "Seccomp" && !fields.empty()) s.seccomp = parse::number<int>(fields[0]);
        else if (key == "Seccomp_filters" && !fields.empty()) s.seccomp_filters = parse::number<int>(fields[0]);
    }
    return s;
}

bool MountEntry::has(std::string_view option) const {
    return std::find(options.begin(), options.end(), option) != options.end();
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
    std::vector<MountEntry> out;
    for (auto& info : procfs::parse_mountinfo(text)) {
        MountEntry m;
        m.root = std::move(info.root);
        m.mount_point = std::move(info.mount_point);
        m.fstype = std::move(info.fstype);
        m.source = std::move(info.source);
        // the per-mount flags decide: superblock "rw" does not undo a read-only mount
        m.readonly = info.has_option("ro");
        m.nosuid = info.has_option("nosuid");
        m.nodev = info.has_option("nodev");
        m.noexec = info.has_option("noexec");
        m.options = std::move(info.options);
        m.options.insert(m.options.end(), info.super_options.begin(), info.super_options.end());
        out.push_back(std::move(m));
    }
    return out;
}

const MountEntry* covering_mount(const std::vector<MountEntry>& mounts, const std::string& path) {
    const MountEntry* best = nullptr;
    for (const auto& m : mounts) {
        const auto& mp = m.mount_point;
        bool covers = mp == "/" || path == mp || (path.size() > mp.size() && path.compare(0, mp.size(), mp) == 0 &&
                                                  path[mp.size()] == '/');
        if (covers) best = &m;  // later mounts stack on top of earlier ones
    }
    return best;
}

std::string parse_cgroup_v2_path(std::string_view text) {
    for (auto line : split_lines(text))
        if (line.starts_with("0::")) return std::string(line.substr(3));
    return "";
}

std::vector<IdMap> parse_id_map(std::string_view text) {
    std::vector<IdMap> out;
    for (auto line : split_lines(text)) {
        auto f = split_ws(line);
        if (f.size() != 3) continue;
        auto a = parse::number<std::uint32_t>(f[0]), b = parse::number<std::uint32_t>(f[1]), c = parse::number<std::uint32_t>(f[2]);
        if (a && b && c) out.push_back(IdMap{*a, *b, *c});
    }
    return out;
}

std::optional<long> inside_id(const std::vector<IdMap>& map, long outside) {
    for (const auto& m : map)
        if (outside >= static_cast<long>(m.outside) && outside - static_cast<long>(m.outside) < static_cast<long>(m.count))
            return static_cast<long>(m.inside) + (outside - static_cast<long>(m.outside));
    return std::nullopt;
}

std::vector<std::string> parse_net_dev(std::string_view text) {
    std::vector<std::string> out;
    for (auto line : split_lines(text)) {
        auto colon = line.find(':');
        if (colon == std::string_view::npos || line.find('|') != std::string_view::npos) continue;
        out.push_back(trim(std::string(line.substr(0, colon))));
    }
    return out;
}

std::map<std::string, std::pair<std::string, std::string>> parse_limits(std::string_view text) {
    std::map<std::string, std::pair<std::string, std::string>> out;
    for (auto line : split_lines(text)) {
        if (line.starts_with("Limit") || line.size() < 27) continue;
        // "Max core file size        0                    unlimited            bytes"
        std::string name = trim(std::string(line.substr(0, 26)));
        auto f = split_ws(line.substr(26));
        if (f.size() >= 2) out[name] = {f[0], f[1]};
    }
    return out;
}

std::string caps_text(const CapSet& caps) {
    std::string out;
    for (int c = 0; c < 64; ++c)
        if (caps.has(c)) out += (out.empty() ? "" : ",") + (c <= parse::last_capability() ? parse::capability_name(c) : "cap" + std::to_string(c));
    return out.empty() ? "none" : out;
}

Evidence collect(pid_t pid) {
    Evidence e;
    e.pid = pid;
    const std::string base = "/proc/" + std::to_string(pid) + "/";
    std::string err;
    if (auto t = read_text(base + "status", &err)) e.status = parse_status(*t);
    else e.notes.push_back("status: " + err);
    if (auto t = read_text(base + "uid_map")) e.uid_map = parse_id_map(*t);
    if (auto t = read_text(base + "gid_map")) e.gid_map = parse_id_map(*t);
    for (const char* ns : kNamespaces) {
        if (auto l = read_link(base + "ns/" + ns)) e.ns[ns] = *l;
        if (auto l = read_link(std::string("/proc/self/ns/") + ns)) e.ns_hardrun[ns] = *l;
    }
    if (e.ns.empty()) e.notes.push_back("namespaces: /proc/" + std::to_string(pid) + "/ns is not readable (the process exited)");
    e.own_user_namespace = e.ns.count("user") && e.ns_hardrun.count("user") && e.ns["user"] != e.ns_hardrun["user"];
    // the LSM label: AppArmor's own file first (kernel 5.8+ with stacking), then the generic one
    for (const char* f : {"attr/apparmor/current", "attr/current"}) {
        if (auto t = read_text(base + f, &err)) {
            e.lsm_label = trim(*t);
            break;
        }
    }
    const std::string lsm_error = e.lsm_label ? "" : err;
    if (auto t = read_text(base + "mountinfo", &err)) e.mounts = parse_mountinfo(*t);
    if (e.mounts.empty()) e.notes.push_back("mounts: /proc/" + std::to_string(pid) + "/mountinfo is empty or unreadable");
    if (auto t = read_text(base + "net/dev")) e.interfaces = parse_net_dev(*t);
    if (auto t = read_text(base + "limits")) e.limits = parse_limits(*t);
    if (auto t = read_text(base + "cgroup")) e.cgroup = parse_cgroup_v2_path(*t);
    // the cgroup2 mount on hardrun's side
    if (!e.cgroup.empty()) {
        if (auto mi = read_text("/proc/self/mountinfo")) {
            for (const auto& m : parse_mountinfo(*mi)) {
                if (m.fstype != "cgroup2") continue;
                std::string rel = e.cgroup;
                if (m.root != "/" && rel.starts_with(m.root)) rel = rel.substr(m.root.size());
                e.cgroup_dir = m.mount_point + (rel == "/" ? "" : rel);
                break;
            }
        }
        if (!e.cgroup_dir.empty())
            for (const char* f : {"memory.max", "memory.swap.max", "memory.low", "memory.peak", "memory.current",
                                  "pids.max", "pids.current", "cpu.max", "cpu.weight", "io.max", "cgroup.controllers"})
                if (auto t = read_text(e.cgroup_dir + "/" + f)) e.cgroup_files[f] = trim(*t);
    }
    e.landlock_abi = landlock::abi_version();
    if (auto t = read_text("/sys/module/apparmor/parameters/enabled")) e.apparmor_enabled = !t->empty() && (*t)[0] == 'Y';
    if (!lsm_error.empty() && e.apparmor_enabled) e.notes.push_back("AppArmor label: " + lsm_error);
    return e;
}

nlohmann::json to_json(const Evidence& e) {
    using nlohmann::json;
    json j;
    j["pid"] = e.pid;
    j["notes"] = e.notes;
    if (e.status) {
        const auto& s = *e.status;
        j["status"] = {{"name", s.name},
                       {"state", std::string(1, s.state)},
                       {"uid", s.uid},
                       {"gid", s.gid},
                       {"groups", s.groups},
                       {"CapInh", s.inh.bits},
                       {"CapPrm", s.prm.bits},
                       {"CapEff", s.eff.bits},
                       {"CapBnd", s.bnd.bits},
                       {"CapAmb", s.amb.bits}};
        if (s.no_new_privs) j["status"]["NoNewPrivs"] = *s.no_new_privs;
        if (s.seccomp) j["status"]["Seccomp"] = *s.seccomp;
        if (s.seccomp_filters) j["status"]["Seccomp_filters"] = *s.seccomp_filters;
    }
    auto maps = [](const std::vector<IdMap>& m) {
        json a = json::array();
        for (const auto& x : m) a.push_back({x.inside, x.outside, x.count});
        return a;
    };
    j["uid_map"] = maps(e.uid_map);
    j["gid_map"] = maps(e.gid_map);
    j["own_user_namespace"] = e.own_user_namespace;
    if (e.lsm_label) j["lsm_label"] = *e.lsm_label;
    j["ns"] = e.ns;
    j["ns_hardrun"] = e.ns_hardrun;
    json mounts = json::array();
    for (const auto& m : e.mounts)
        mounts.push_back({{"root", m.root}, {"mount_point", m.mount_point}, {"fstype", m.fstype}, {"source", m.source},
                          {"options", m.options}, {"readonly", m.readonly}, {"nosuid", m.nosuid}, {"nodev", m.nodev},
                          {"noexec", m.noexec}});
    j["mounts"] = mounts;
    j["cgroup"] = e.cgroup;
    j["cgroup_dir"] = e.cgroup_dir;
    j["cgroup_files"] = e.cgroup_files;
    j["interfaces"] = e.interfaces;
    json limits = json::object();
    for (const auto& [k, v] : e.limits) limits[k] = {v.first, v.second};
    j["limits"] = limits;
    j["landlock_abi"] = e.landlock_abi;
    j["apparmor_enabled"] = e.apparmor_enabled;
    return j;
}

Evidence from_json(const nlohmann::json& j) {
    Evidence e;
    e.pid = j.value("pid", -1);
    e.notes = j.value("notes", std::vector<std::string>{});
    if (j.contains("status")) {
        const auto& s = j["status"];
        ProcStatus p;
        p.name = s.value("name", "");
        p.state = s.value("state", std::string("?"))[0];
        p.uid = s.value("uid", std::array<long, 4>{-1, -1, -1, -1});
        p.gid = s.value("gid", std::array<long, 4>{-1, -1, -1, -1});
        p.groups = s.value("groups", std::vector<long>{});
        p.inh.bits = s.value("CapInh", std::uint64_t{0});
        p.prm.bits = s.value("CapPrm", std::uint64_t{0});
        p.eff.bits = s.value("CapEff", std::uint64_t{0});
        p.bnd.bits = s.value("CapBnd", std::uint64_t{0});
        p.amb.bits = s.value("CapAmb", std::uint64_t{0});
        if (s.contains("NoNewPrivs")) p.no_new_privs = s["NoNewPrivs"].get<int>();
        if (s.contains("Seccomp")) p.seccomp = s["Seccomp"].get<int>();
        if (s.contains("Seccomp_filters")) p.seccomp_filters = s["Seccomp_filters"].get<int>();
        e.status = p;
    }
    auto maps = [&](const char* key) {
        std::vector<IdMap> out;
        for (const auto& a : j.value(key, nlohmann::json::array()))
            out.push_back(IdMap{a[0].get<std::uint32_t>(), a[1].get<std::uint32_t>(), a[2].get<std::uint32_t>()});
        return out;
    };
    e.uid_map = maps("uid_map");
    e.gid_map = maps("gid_map");
    e.own_user_namespace = j.value("own_user_namespace", false);
    if (j.contains("lsm_label")) e.lsm_label = j["lsm_label"].get<std::string>();
    e.ns = j.value("ns", std::map<std::string, std::string>{});
    e.ns_hardrun = j.value("ns_hardrun", std::map<std::string, std::string>{});
    for (const auto& m : j.value("mounts", nlohmann::json::array())) {
        MountEntry x;
        x.root = m.value("root", "");
        x.mount_point = m.value("mount_point", "");
        x.fstype = m.value("fstype", "");
        x.source = m.value("source", "");
        x.options = m.value("options", std::vector<std::string>{});
        x.readonly = m.value("readonly", false);
        x.nosuid = m.value("nosuid", false);
        x.nodev = m.value("nodev", false);
        x.noexec = m.value("noexec", false);
        e.mounts.push_back(std::move(x));
    }
    e.cgroup = j.value("cgroup", "");
    e.cgroup_dir = j.value("cgroup_dir", "");
    e.cgroup_files = j.value("cgroup_files", std::map<std::string, std::string>{});
    e.interfaces = j.value("interfaces", std::vector<std::string>{});
    const nlohmann::json limits = j.value("limits", nlohmann::json::object());
    for (const auto& [k, v] : limits.items()) e.limits[k] = {v[0].get<std::string>(), v[1].get<std::string>()};
    e.landlock_abi = j.value("landlock_abi", 0);
    e.apparmor_enabled = j.value("apparmor_enabled", false);
    return e;
}

}  // namespace hardrun::evidence
