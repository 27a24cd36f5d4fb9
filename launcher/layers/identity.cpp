#include "hardrun/layers/identity.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>

#include "hardrun/support/error.hpp"
#include "hardrun/plan/parse.hpp"

namespace hardrun::identity {

namespace {
const char* rlimit_name(int r) {
    switch (r) {
        case RLIMIT_CORE: return "core";
        case RLIMIT_NOFILE: return "nofile";
        case RLIMIT_NPROC: return "nproc";
        case RLIMIT_STACK: return "stack";
        case RLIMIT_CPU: return "cpu";
        case RLIMIT_AS: return "as";
        case RLIMIT_FSIZE: return "fsize";
        case RLIMIT_MEMLOCK: return "memlock";
        default: return "limit";
    }
}
}  // namespace

void set_hostname(Sys& sys, const LaunchPlan& plan) {
    if (!plan.namespaces.uts || plan.namespaces.join.count("uts")) return;
    if (int r = sys.sethostname(plan.hostname); r < 0) throw_errno("hostname", plan.hostname, -r);
}

void apply_rlimits(Sys& sys, const LaunchPlan& plan) {
    for (const auto& rl : plan.rlimits) {
        if (int r = sys.setrlimit(rl.resource, rl.soft, rl.hard); r < 0) {
            std::string hint;
            if (-r == EPERM)
                hint = "raising a hard limit needs CAP_SYS_RESOURCE, which hardrun does not hold here; keep the "
                       "hard limit at or below hardrun's own (ulimit -H)";
            throw_errno("rlimits", std::string(rlimit_name(rl.resource)) + "=" + std::to_string(rl.soft) + ":" +
                                       std::to_string(rl.hard),
                        -r, hint);
        }
    }
}

void switch_user(Sys& sys, const LaunchPlan& plan, bool in_rootless_userns) {
    // keep the permitted set across the uid change so capabilities.apply() can set the final sets
    if (int r = sys.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0); r < 0) throw_errno("identity", "PR_SET_KEEPCAPS", -r);
    if (!in_rootless_userns) {
        if (int r = sys.setgroups(plan.additional_gids); r < 0)
            throw_errno("identity", "clearing supplementary groups", -r);
    }
    if (int r = sys.setresgid(plan.gid); r < 0) throw_errno("identity", "setresgid(" + std::to_string(plan.gid) + ")", -r,
                                                            in_rootless_userns ? "the gid is not mapped in the user namespace" : "");
    if (int r = sys.setresuid(plan.uid); r < 0) throw_errno("identity", "setresuid(" + std::to_string(plan.uid) + ")", -r,
                                                            in_rootless_userns ? "the uid is not mapped in the user namespace" : "");
}

std::vector<gid_t> kept_supplementary_groups(const LaunchPlan& plan) {
    // as root, switch_user() clears them; joining an existing user namespace is the joiner's business
    if (::geteuid() == 0 || !plan.namespaces.user || plan.namespaces.join.count("user")) return {};
    int n = ::getgroups(0, nullptr);
    if (n <= 0) return {};
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    n = ::getgroups(n, groups.data());
    if (n < 0) return {};
    groups.resize(static_cast<std::size_t>(n));
    const gid_t primary = ::getegid();
    std::erase_if(groups, [&](gid_t g) { return g == primary || g == ::getgid(); });
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    return groups;
}

namespace {
// "4 (adm), 27 (sudo)": names from the host's /etc/group, read directly (no NSS: hardrun may be linked
// statically, where getgrgid(3) needs glibc's shared NSS modules at run time).
std::string group_list(const std::vector<gid_t>& groups) {
    std::map<gid_t, std::string> names;
    std::ifstream in("/etc/group");
    for (std::string line; std::getline(in, line);) {
        auto a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
        auto c = b == std::string::npos ? b : line.find(':', b + 1);
        if (c == std::string::npos) continue;
        if (auto gid = parse::number<gid_t>(std::string_view(line).substr(b + 1, c - b - 1)))
            names.emplace(*gid, line.substr(0, a));
    }
    std::string out;
    for (gid_t g : groups) {
        if (!out.empty()) out += ", ";
        out += std::to_string(g);
        if (auto it = names.find(g); it != names.end() && !it->second.empty()) out += " (" + it->second + ")";
    }
    return out;
}
}  // namespace

std::optional<std::string> kept_groups_warning(const std::vector<gid_t>& groups) {
    if (groups.empty()) return std::nullopt;
    return "user: the workload keeps the invoker's supplementary groups " + group_list(groups) +
           ": a rootless user namespace cannot drop them without root (they show as 65534 inside but still grant "
           "file access); run hardrun as root, or as a user without those groups";
}

std::string groups_summary(const LaunchPlan& plan, const std::vector<gid_t>& kept) {
    if (!kept.empty())
        return "KEEPS the invoker's supplementary groups " + group_list(kept) + " (rootless: they cannot be dropped without root)";
    if (plan.additional_gids.empty()) return "no supplementary groups";
    std::string out = "supplementary groups ";
    for (std::size_t i = 0; i < plan.additional_gids.size(); ++i)
        out += (i ? "," : "") + std::to_string(plan.additional_gids[i]);
    return out;
}

}  // namespace hardrun::identity
