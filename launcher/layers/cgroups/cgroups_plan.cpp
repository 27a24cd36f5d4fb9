// cgroup v2, the pure part: what the host's mount table says, where the workload's cgroup goes, what is
// written and what must be read back. No side effects here (unit-tested in tests/unit/test_cgroups.cpp).
#include <algorithm>
#include <cctype>
#include <sstream>

#include "hardrun/plan/parse.hpp"
#include "hardrun/layers/cgroups/cgroups.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/procfs.hpp"

namespace hardrun::cgroups {

namespace {

std::vector<std::string> split_ws(std::string_view s) {
    std::vector<std::string> out;
    for (auto f : procfs::fields(s)) out.emplace_back(f);
    return out;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
    return std::string(s);
}

std::string strip_slashes(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
}

std::string dirname_of(const std::string& p) {
    auto slash = p.rfind('/');
    if (slash == std::string::npos || slash == 0) return "/";
    return p.substr(0, slash);
}

std::string basename_of(const std::string& p) {
    auto slash = p.rfind('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string round_pages(std::uint64_t bytes, std::uint64_t page) {
    return std::to_string(page ? bytes / page * page : bytes);
}

// The flags that ask for each controller, for the "or drop ..." part of a message.
std::string flags_for(const std::string& controller) {
    if (controller == "memory") return "--memory/--memory-swap/--memory-reservation";
    if (controller == "cpu") return "--cpus/--cpu-shares";
    if (controller == "pids") return "--pids-limit";
    if (controller == "io") return "the io limits";
    return "the limit";
}

}  // namespace

MountFacts parse_mountinfo(std::string_view text) {
    MountFacts f;
    for (const auto& m : procfs::parse_mountinfo(text)) {
        if (m.fstype == "cgroup2") {
            if (!f.v2_mount) {
                f.v2_mount = m.mount_point;
                f.v2_root = m.root;
            }
        } else if (m.fstype == "cgroup") {
            for (const auto& o : m.super_options)
                if (o != "rw" && o != "ro" && !o.starts_with("name=") && !f.v1.count(o)) f.v1[o] = m.mount_point;
        }
    }
    return f;
}

std::optional<std::string> parse_own_cgroup(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("0::")) return line.substr(3);
    return std::nullopt;
}

std::set<std::string> needed_controllers(const Resources& r) {
    std::set<std::string> c;
    if (r.memory_max || r.memory_swap_max || r.memory_low) c.insert("memory");
    if (r.cpu_max || r.cpu_weight) c.insert("cpu");
    if (r.pids_max) c.insert("pids");
    if (!r.io_max.empty()) c.insert("io");
    if (!r.hugetlb.empty()) c.insert("hugetlb");
    return c;
}

std::vector<LimitWrite> limit_writes(const Resources& r, std::uint64_t page) {
    std::vector<LimitWrite> w;
    if (r.memory_max) {
        w.push_back({"memory.max", std::to_string(*r.memory_max), round_pages(*r.memory_max, page)});
        // one OOM kill takes the whole workload down, so "killed by the OOM killer" is the whole story
        w.push_back({"memory.oom.group", "1", "1"});
    }
    if (r.memory_swap_max) {
        if (*r.memory_swap_max < 0) w.push_back({"memory.swap.max", "max", "max"});
        else {
            auto v = static_cast<std::uint64_t>(*r.memory_swap_max);
            w.push_back({"memory.swap.max", std::to_string(v), round_pages(v, page)});
        }
    }
    if (r.memory_low) w.push_back({"memory.low", std::to_string(*r.memory_low), round_pages(*r.memory_low, page)});
    if (r.cpu_max) {
        std::string v = std::to_string(r.cpu_max->quota_us) + " " + std::to_string(r.cpu_max->period_us);
        w.push_back({"cpu.max", v, v});
    }
    if (r.cpu_weight) w.push_back({"cpu.weight", std::to_string(*r.cpu_weight), std::to_string(*r.cpu_weight)});
    if (r.pids_max) {
        std::string v = *r.pids_max < 0 ? "max" : std::to_string(*r.pids_max);
        w.push_back({"pids.max", v, v});
    }
    for (const auto& io : r.io_max) {
        std::string v = io.device, expect = io.device;
        for (auto [key, val] : {std::pair{"rbps", io.rbps}, {"wbps", io.wbps}, {"riops", io.riops}, {"wiops", io.wiops}}) {
            if (val) v += std::string(" ") + key + "=" + std::to_string(*val);
            expect += std::string(" ") + key + "=" + (val ? std::to_string(*val) : "max");
        }
        w.push_back({"io.max", v, expect});
    }
    for (const auto& h : r.hugetlb) {
        // the kernel keeps whole huge pages: a limit that is not a multiple of the page reads back rounded down
        // (the OCI parser checked the page size's form: digits, then K, M or G, then B)
        const std::string_view unit(h.page_size);
        const std::uint64_t bytes = parse::size("hugepageLimits pageSize", unit.substr(0, unit.size() - 1));
        const std::uint64_t kept = bytes ? h.limit / bytes * bytes : h.limit;
        w.push_back({"hugetlb." + h.page_size + ".max", std::to_string(h.limit), std::to_string(kept)});
    }
    return w;
}

bool readback_ok(const LimitWrite& w, std::string_view read) {
    if (w.file != "io.max") return trim(read) == w.expect;
    // io.max lists one line per configured device: "8:0 rbps=1048576 wbps=max riops=max wiops=max"
    auto want = split_ws(w.expect);
    std::istringstream in{std::string(read)};
    std::string line;
    while (std::getline(in, line)) {
        auto got = split_ws(line);
        if (got.empty() || got[0] != want[0]) continue;
        for (std::size_t i = 1; i < want.size(); ++i)
            if (std::find(got.begin(), got.end(), want[i]) == got.end()) return false;
        return true;
    }
    return false;
}

Placement place(const PlacementInput& in) {
    Placement p;
    const std::string mount = strip_slashes(in.mount);
    if (in.own) {
        std::string rel = *in.own;
        const std::string root = strip_slashes(in.mount_root);
        if (root != "/") {
            if (rel == root) rel = "/";
            else if (rel.starts_with(root + "/")) rel = rel.substr(root.size());
            else rel.clear();  // our cgroup is outside what this mount shows
        }
        if (!rel.empty() && rel.front() == '/' && rel.find("/../") == std::string::npos)
            p.own_dir = rel == "/" ? mount : mount + rel;
    }

    if (!in.cgroup_parent.empty()) {
        std::string cp = in.cgroup_parent;
        for (std::size_t pos = 0; pos <= cp.size();) {
            auto next = cp.find('/', pos);
            if (next == std::string::npos) next = cp.size();
            std::string part = cp.substr(pos, next - pos);
            if (part == ".." || part == ".")
                throw UsageError("--cgroup-parent", "'" + cp + "' must not contain . or .. components");
            pos = next + 1;
        }
        if (cp == mount || cp.starts_with(mount + "/")) p.parent = strip_slashes(cp);
        else p.parent = strip_slashes(mount + (cp.front() == '/' ? "" : "/") + cp);
        p.anchor = in.euid == 0 ? mount : p.parent;
        p.source = "--cgroup-parent";
        return p;
    }

    if (!p.own_dir.empty() && p.own_dir != mount) {
        std::string d = p.own_dir;
        bool in_leaf = basename_of(d) == kSupervisorLeaf;
        if (in_leaf) d = dirname_of(d);
        if (d != mount && in.delegated && in.delegated(d)) {
            p.parent = d;
            p.anchor = d;
            p.move_self_to = in_leaf ? "" : d + "/" + kSupervisorLeaf;
            p.source = "delegated";
            return p;
        }
    }

    if (in.euid != 0) {
        throw Error("cgroups", "resource limits",
                    "running rootless and this process's cgroup " + in.own.value_or("(unknown)") +
                        " is not delegated to uid " + std::to_string(in.euid) +
                        ", so hardrun may not create a cgroup; run it in a delegated scope "
                        "(systemd-run --user --scope -p Delegate=yes hardrun run ...), pass --cgroup-parent with a "
                        "cgroup delegated to you, run as root, or drop the resource limits");
    }
    p.parent = mount + "/" + kDefaultParent;
    p.anchor = mount;
    p.source = "default";
    return p;
}

std::string missing_controller_reason(const std::string& c, const std::string& where, const MountFacts& facts,
                                      const Placement& pl) {
    const std::string mount = facts.v2_mount.value_or("");
    const std::string drop = "or run without " + flags_for(c);
    if (strip_slashes(where) == strip_slashes(mount)) {
        auto v1 = facts.v1.find(c);
        if (v1 != facts.v1.end())
            return "cgroup v2 " + c + " controller not available: this host mounts cgroup v1 (hybrid hierarchy) and " +
                   c + " is bound to the v1 hierarchy at " + v1->second +
                   "; boot with systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all for cgroup v2 limits, " + drop;
        return "cgroup v2 " + c + " controller not available: " + mount +
               "/cgroup.controllers does not list it (kernel built without it, or disabled with cgroup_disable=); " + drop;
    }
    if (pl.source == "delegated")
        return "cgroup v2 " + c + " controller is not delegated to " + where +
               " (missing from its cgroup.controllers); set Delegate=yes (or list " + c +
               ") on the unit or scope that runs hardrun, " + drop;
    return "cgroup v2 " + c + " controller is not available in " + where +
           " (missing from its cgroup.controllers): enable it in the parent's cgroup.subtree_control, pick another "
           "--cgroup-parent, " + drop;
}

}  // namespace hardrun::cgroups
