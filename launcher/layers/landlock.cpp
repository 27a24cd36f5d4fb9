// Landlock: the MAC layer that works unprivileged and where AppArmor is absent.
//
// compute() is pure (it sees the filesystem through FsView) so the rule placement is unit-tested; apply()
// runs it on the sandbox's real view after pivot_root and enforces the result with landlock_restrict_self.
#include "hardrun/layers/landlock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "hardrun/support/error.hpp"
#include "hardrun/support/sys_fd.hpp"

namespace hardrun::landlock {

namespace {

using namespace access;

// struct landlock_ruleset_attr (ABI 6 layout; the kernel accepts a larger struct whose unknown tail is 0)
struct RulesetAttr {
    std::uint64_t handled_access_fs;
    std::uint64_t handled_access_net;
    std::uint64_t scoped;
};
struct __attribute__((packed)) PathBeneathAttr {
    std::uint64_t allowed_access;
    std::int32_t parent_fd;
};
struct NetPortAttr {
    std::uint64_t allowed_access;
    std::uint64_t port;
};
constexpr unsigned kCreateRulesetVersion = 1U << 0;
constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;

// The device nodes hardrun's minimal /dev (MountKind::Dev) bind-mounts from the host (mounts.cpp).
constexpr const char* kDevNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
constexpr std::uint64_t kDeviceRights = kReadFile | kWriteFile | kTruncate | kIoctlDev;

std::string normalize(const std::string& p) {
    std::string out;
    std::size_t i = 0;
    while (i < p.size()) {
        while (i < p.size() && p[i] == '/') ++i;
        std::size_t j = p.find('/', i);
        if (j == std::string::npos) j = p.size();
        if (j > i) {
            std::string comp = p.substr(i, j - i);
            if (comp != ".") out += "/" + comp;
        }
        i = j;
    }
    return out.empty() ? "/" : out;
}

bool strictly_below(const std::string& dir, const std::string& p) {
    if (dir == "/") return p != "/";
    return p.size() > dir.size() && p.compare(0, dir.size(), dir) == 0 && p[dir.size()] == '/';
}

std::string join(const std::string& dir, const std::string& name) { return dir == "/" ? "/" + name : dir + "/" + name; }

std::uint64_t mount_rights(const Mount& m) {
    switch (m.kind) {
        case MountKind::Proc:
        case MountKind::Sysfs:
        case MountKind::Dev:  // the directory itself; its device nodes get their own rules
            return kRead;
        case MountKind::Devpts:
            return kRead | kWriteFile | kTruncate | kIoctlDev;
        default:
            break;
    }
    std::uint64_t r = kRead;
    if (!m.readonly) r |= kWrite;
    if (!m.noexec) r |= kExecute;
    if (!m.nodev) r |= kIoctlDev;
    return r;
}

struct Node {
    std::string path;
    std::uint64_t rights;
};

// Every path the plan says something about, with the rights its subtree gets. Later entries (deeper mounts,
// then secrets, masked and read-only paths, applied after the mounts) override earlier ones at the same path.
std::vector<Node> plan_nodes(const LaunchPlan& plan) {
    std::vector<Node> nodes;
    auto set = [&](const std::string& path, std::uint64_t rights) {
        const std::string p = normalize(path);
        for (auto& n : nodes)
            if (n.path == p) {
                n.rights = rights;
                return;
            }
        nodes.push_back({p, rights});
    };
    set("/", kRead | kExecute | (plan.readonly_root ? 0 : kWrite));
    for (const auto& m : plan.mounts) {
        set(m.destination, mount_rights(m));
        if (m.kind == MountKind::Dev)
            for (const char* node : kDevNodes) set(join(normalize(m.destination), node), kDeviceRights);
    }
    if (!plan.secrets.empty()) set("/run/secrets", kRead);
    for (const auto& p : plan.masked_paths) set(p, kRead);
    for (const auto& p : plan.readonly_paths) set(p, kRead);
    return nodes;
}

std::uint64_t rights_at(const std::vector<Node>& nodes, const std::string& path) {
    const Node* best = nullptr;
    for (const auto& n : nodes)
        if ((n.path == path || strictly_below(n.path, path)) && (!best || n.path.size() > best->path.size())) best = &n;
    return best ? best->rights : 0;
}

class Planner {
public:
    Planner(std::vector<Node> nodes, std::uint64_t mask, FsView& view, Ruleset& out)
        : nodes_(std::move(nodes)), mask_(mask), view_(view), out_(out) {}

    std::uint64_t work() const { return work_; }

    void cover(const std::string& path) {
        if (!visited_.insert(path).second) return;
        work_ += nodes_.size();
        const std::uint64_t want = rights_at(nodes_, path) & mask_;
        auto type = view_.type(path);
        if (!type || *type == EntryType::Symlink) {
            // missing (e.g. a masked path this rootfs lacks) or a symlink: nothing to grant here, but a
            // planned path below it may still exist
            for (const auto& n : top_nodes_below(path)) cover(n);
            return;
        }
        if (*type != EntryType::Directory) {
            add(path, want & kFileRights);
            return;
        }
        std::uint64_t common = want;
        work_ += nodes_.size();
        for (const auto& n : nodes_) {
            if (!strictly_below(path, n.path)) continue;
            std::uint64_t tolerated = n.rights & mask_;
            // a file (e.g. a device node) cannot be listed or hold entries: directory rights do not concern it
            if (auto t = view_.type(n.path); t && *t != EntryType::Directory) tolerated |= ~kFileRights;
            common &= tolerated;
        }
        if (common == want) {
            // every planned path below wants at least this: one rule covers the subtree, deeper planned paths
            // add their own extra rights
            add(path, want);
            for (const auto& n : top_nodes_below(path))
                if (differs_at_or_below(n, want)) cover(n);
            return;
        }
        // Something below must not inherit part of `want` (e.g. /tmp is noexec under an executable root): grant
        // only what everything below tolerates here, and place `want` on each entry that holds no planned path.
        add(path, common);
        if (auto entries = view_.list(path)) {
            for (const auto& [name, et] : *entries) {
                ++work_;
                const std::string child = join(path, name);
                if (has_node_at_or_below(child)) cover(child);
                else if (et == EntryType::Directory) add(child, want);
                else if (et == EntryType::File) add(child, want & kFileRights);
                // symlinks: what they point to is covered where it lives
            }
        }
        for (const auto& n : top_nodes_below(path)) cover(n);  // not listable, or hidden from the listing
    }

private:
    void add(const std::string& path, std::uint64_t access) {
        if (access == 0) return;
        ++work_;
        // an index of the rules placed so far: a search through them per rule made the planner quadratic in
        // the entries of a listed directory (100,000 files in / took 41 s)
        auto [it, inserted] = index_.try_emplace(path, out_.paths.size());
        if (!inserted) {
            out_.paths[it->second].access |= access;
            return;
        }
        out_.paths.push_back({path, access});
    }

    // Whether a planned path at or below p wants something other than `want` (else the rule above suffices).
    bool differs_at_or_below(const std::string& p, std::uint64_t want) const {
        work_ += nodes_.size();
        return std::any_of(nodes_.begin(), nodes_.end(), [&](const Node& n) {
            return (n.path == p || strictly_below(p, n.path)) && (n.rights & mask_) != want;
        });
    }

    bool has_node_at_or_below(const std::string& p) const {
        work_ += nodes_.size();
        return std::any_of(nodes_.begin(), nodes_.end(),
                           [&](const Node& n) { return n.path == p || strictly_below(p, n.path); });
    }

    // Planned paths below `path` with no other planned path in between.
    std::vector<std::string> top_nodes_below(const std::string& path) const {
        std::vector<std::string> out;
        work_ += nodes_.size() * nodes_.size();
        for (const auto& n : nodes_) {
            if (!strictly_below(path, n.path)) continue;
            bool top = std::none_of(nodes_.begin(), nodes_.end(), [&](const Node& m) {
                return strictly_below(path, m.path) && strictly_below(m.path, n.path);
            });
            if (top) out.push_back(n.path);
        }
        return out;
    }

    std::vector<Node> nodes_;
    std::uint64_t mask_;
    FsView& view_;
    Ruleset& out_;
    std::set<std::string> visited_;
    std::unordered_map<std::string, std::size_t> index_;  // path -> its rule in out_.paths
    mutable std::uint64_t work_ = 0;  // compute()'s `work`: steps taken (see landlock.hpp)
};

// ---- the real kernel

// openat2 without following any symlink; the fd (or -errno) is closed through the seam
SysFd open_path(Sys& sys, const std::string& path, int flags) {
    return SysFd(sys, sys.openat2(AT_FDCWD, path.c_str(), static_cast<std::uint64_t>(flags) | O_CLOEXEC | O_NOFOLLOW, 0,
                                  RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
}

EntryType type_of(mode_t mode) {
    if (S_ISDIR(mode)) return EntryType::Directory;
    if (S_ISLNK(mode)) return EntryType::Symlink;
    return EntryType::File;
}

// The planner's view of the sandbox's tree: the real kernel (real_sys()) even under a test's fake Sys, which
// cannot answer what a directory holds; compute() is unit-tested with views of its own.
class RealView : public FsView {
public:
    // The planner asks for the same paths many times (once per planned path below each directory it
    // covers); nothing changes the tree while it plans, so each path is looked at once (performance.md)
    std::optional<EntryType> type(const std::string& path) override {
        if (auto it = types_.find(path); it != types_.end()) return it->second;
        SysFd fd = open_path(sys_, path, O_PATH);
        struct stat st {};
        std::optional<EntryType> t;
        if (fd && sys_.fstat(fd.get(), &st) == 0) t = type_of(st.st_mode);
        types_.emplace(path, t);
        return t;
    }
    std::optional<std::vector<std::pair<std::string, EntryType>>> list(const std::string& dir) override {
        SysFd fd = open_path(sys_, dir, O_RDONLY | O_DIRECTORY);
        if (!fd) return std::nullopt;
        DIR* d = ::fdopendir(fd.get());  // readdir(3) on the real fd: this view is the real kernel's
        if (!d) return std::nullopt;
        const int dfd = fd.release();
        std::vector<std::pair<std::string, EntryType>> out;
        while (struct dirent* e = ::readdir(d)) {
            const std::string name = e->d_name;
            if (name == "." || name == "..") continue;
            EntryType t = EntryType::File;
            if (e->d_type == DT_DIR) t = EntryType::Directory;
            else if (e->d_type == DT_LNK) t = EntryType::Symlink;
            else if (e->d_type == DT_UNKNOWN) {
                struct stat st {};
                if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                t = type_of(st.st_mode);
            }
            out.emplace_back(name, t);
        }
        ::closedir(d);
        return out;
    }

private:
    Sys& sys_ = real_sys();
    std::map<std::string, std::optional<EntryType>> types_;
};

std::string ports_text(const std::vector<std::uint16_t>& ports) {
    std::string s;
    for (auto p : ports) s += (s.empty() ? "" : ",") + std::to_string(p);
    return s;
}

bool has_cap_sys_admin(Sys& sys) {
    // CapEff bit 21 of this thread, without libcap: capget through prctl is not available, read status
    SysFd fd(sys, sys.openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC, 0));
    if (!fd) return false;
    char buf[4096];
    const long n = sys.read(fd.get(), buf, sizeof buf - 1);
    if (n <= 0) return false;
    buf[n] = '\0';
    const char* p = std::strstr(buf, "CapEff:");
    if (!p) return false;
    unsigned long long eff = std::strtoull(p + 7, nullptr, 16);
    return ((eff >> 21) & 1ULL) != 0;
}

// systemd's NOTIFY_SOCKET passed in as an abstract address (--network host): the workload must reach it, so
// abstract unix sockets cannot be scoped (a path socket is bind-mounted in and is not affected).
bool passes_abstract_notify_socket(const LaunchPlan& plan) {
    return std::any_of(plan.env.begin(), plan.env.end(), [](const std::string& e) { return e.starts_with("NOTIFY_SOCKET=@"); });
}

}  // namespace

std::uint64_t fs_rights_for_abi(int abi) {
    if (abi < 1) return 0;
    std::uint64_t r = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
    if (abi >= 2) r |= kRefer;
    if (abi >= 3) r |= kTruncate;
    if (abi >= 5) r |= kIoctlDev;
    return r;
}

std::uint64_t planned_rights(const LaunchPlan& plan, const std::string& path) {
    return rights_at(plan_nodes(plan), normalize(path));
}

Ruleset compute(const LaunchPlan& plan, int abi, FsView& view, std::uint64_t* work) {
    Ruleset rs;
    rs.abi = abi;
    rs.handled_fs = fs_rights_for_abi(abi);
    if (abi < 1) return rs;
    Planner planner(plan_nodes(plan), rs.handled_fs, view, rs);
    planner.cover("/");
    if (work) *work = planner.work();
    if (abi >= 4) {
        if (!plan.landlock.allow_bind.empty()) rs.handled_net |= kNetBindTcp;
        if (!plan.landlock.allow_connect.empty()) rs.handled_net |= kNetConnectTcp;
        for (auto p : plan.landlock.allow_bind) rs.ports.emplace_back(p, kNetBindTcp);
        for (auto p : plan.landlock.allow_connect) rs.ports.emplace_back(p, kNetConnectTcp);
    }
    if (abi >= 6) rs.scoped = kScopeSignal | (passes_abstract_notify_socket(plan) ? 0 : kScopeAbstractUnix);
    return rs;
}

int abi_version(Sys& sys) {
    long v = sys.landlock_create_ruleset(nullptr, 0, kCreateRulesetVersion);
    return v < 0 ? 0 : static_cast<int>(v);
}

int abi_version() { return abi_version(real_sys()); }

std::string describe(const LaunchPlan& plan) {
    if (plan.landlock.mode == LandlockChoice::Mode::Off) return "landlock: OFF";
    const int abi = abi_version();
    if (abi == 0)
        return plan.landlock.mode == LandlockChoice::Mode::On
                   ? "landlock: asked for, but this kernel has no Landlock (the launch fails)"
                   : "landlock: not supported by this kernel (skipped)";
    if (!plan.no_new_privs && plan.landlock.mode == LandlockChoice::Mode::Auto && !plan.caps.effective.has(21))
        return "landlock: skipped (needs no_new_privs, which is turned off)";
    std::string s = "landlock: ABI " + std::to_string(abi) + ", filesystem rules from the mount plan";
    if (abi >= 4) {
        s += plan.landlock.allow_bind.empty() ? ", tcp bind any" : ", tcp bind " + ports_text(plan.landlock.allow_bind);
        s += plan.landlock.allow_connect.empty() ? ", tcp connect any"
                                                  : ", tcp connect " + ports_text(plan.landlock.allow_connect);
    } else if (!plan.landlock.allow_bind.empty() || !plan.landlock.allow_connect.empty()) {
        s += ", TCP rules need ABI 4 (the launch fails)";
    }
    if (abi >= 6)
        s += passes_abstract_notify_socket(plan) ? ", scoped: signals (abstract unix sockets stay reachable for NOTIFY_SOCKET)"
                                                 : ", scoped: abstract unix sockets and signals";
    return s;
}

std::string apply(Sys& sys, const LaunchPlan& plan) {
    using Mode = LandlockChoice::Mode;
    if (plan.landlock.mode == Mode::Off) return "";
    const bool asked = plan.landlock.mode == Mode::On;
    const int abi = abi_version(sys);
    if (abi == 0) {
        if (!asked) return "";
        throw Error("landlock", "landlock_create_ruleset",
                    "this kernel has no Landlock (not built in, or not in the lsm= boot list); use --landlock=off");
    }
    const bool wants_ports = !plan.landlock.allow_bind.empty() || !plan.landlock.allow_connect.empty();
    if (wants_ports && abi < 4)
        throw Error("landlock", "--allow-bind/--allow-connect",
                    "TCP rules need Landlock ABI 4 (Linux 6.7); this kernel has ABI " + std::to_string(abi));
    if (sys.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 && !has_cap_sys_admin(sys)) {
        if (!asked && !wants_ports) return "";  // Auto with no_new_privs turned off: warned about at plan time
        throw Error("landlock", "landlock_restrict_self",
                    "Landlock needs no_new_privs (turned off with --security-opt no-new-privileges=false) or "
                    "CAP_SYS_ADMIN; use --landlock=off");
    }

    RealView view;
    const Ruleset rs = compute(plan, abi, view);
    const RulesetAttr attr{rs.handled_fs, rs.handled_net, rs.scoped};
    const long rfd = sys.landlock_create_ruleset(&attr, sizeof attr, 0);
    if (rfd < 0) throw_errno("landlock", "landlock_create_ruleset", static_cast<int>(-rfd));
    const SysFd ruleset(sys, static_cast<int>(rfd));  // closed through the seam

    for (const auto& r : rs.paths) {
        const SysFd fd = open_path(sys, r.path, O_PATH);
        // The rootfs may change under us (a shared rootfs): a path that vanished or now runs through a symlink
        // gets no rule, one that became a symlink gets none either, one that is no longer a directory gets file
        // rights only. Each means less access, never more.
        if (!fd && (fd.get() == -ENOENT || fd.get() == -ELOOP || fd.get() == -ENOTDIR)) continue;
        if (!fd) throw_errno("landlock", "rule for " + r.path, -fd.get(), "cannot open it in the sandbox");
        struct stat st {};
        if (int e = sys.fstat(fd.get(), &st); e < 0) throw_errno("landlock", "rule for " + r.path, -e);
        std::uint64_t access = S_ISDIR(st.st_mode) ? r.access : r.access & kFileRights;
        if (S_ISLNK(st.st_mode) || access == 0) continue;
        PathBeneathAttr pb{access, fd.get()};
        if (int e = sys.landlock_add_rule(ruleset.get(), kRulePathBeneath, &pb, 0); e < 0)
            throw_errno("landlock", "rule for " + r.path, -e);
    }
    // The workload's stdio (and preserved fds) may be host files or terminals outside the sandbox's tree:
    // allow reopening exactly those files (/dev/stdout, /proc/self/fd/N) with the access they were opened
    // with. Pipes and sockets are not subject to Landlock, so a refusal here only means no extra rule.
    std::vector<int> fds{0, 1, 2};
    fds.insert(fds.end(), plan.preserve_fds.begin(), plan.preserve_fds.end());
    for (int fd : fds) {
        struct stat st {};
        const int fl = sys.fcntl_getfl(fd);
        if (fl < 0 || sys.fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || (fl & O_PATH)) continue;
        std::uint64_t a = 0;
        if ((fl & O_ACCMODE) == O_RDONLY || (fl & O_ACCMODE) == O_RDWR) a |= kReadFile;
        if ((fl & O_ACCMODE) == O_WRONLY || (fl & O_ACCMODE) == O_RDWR) a |= kWriteFile | kTruncate;
        if (S_ISCHR(st.st_mode)) a |= kIoctlDev;
        PathBeneathAttr pb{a & rs.handled_fs, fd};
        if (pb.allowed_access) (void)sys.landlock_add_rule(ruleset.get(), kRulePathBeneath, &pb, 0);
    }
    for (const auto& [port, right] : rs.ports) {
        NetPortAttr np{right, port};
        if (int e = sys.landlock_add_rule(ruleset.get(), kRuleNetPort, &np, 0); e < 0)
            throw_errno("landlock", "TCP port rule " + std::to_string(port), -e);
    }
    if (int e = sys.landlock_restrict_self(ruleset.get(), 0); e < 0)
        throw_errno("landlock", "landlock_restrict_self", -e);
    return describe(plan) + " (" + std::to_string(rs.paths.size()) + " path rules)";
}

}  // namespace hardrun::landlock
