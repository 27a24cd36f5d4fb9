#include "hardrun/layers/namespaces.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"

namespace hardrun::namespaces {

namespace {
struct NsType {
    const char* name;  // OCI type name
    std::uint64_t flag;
};
constexpr NsType kTypes[] = {
    {"user", CLONE_NEWUSER}, {"mount", CLONE_NEWNS}, {"pid", CLONE_NEWPID},       {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"network", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
};

void write_file(const std::string& path, const std::string& content) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) throw_errno("namespaces", path, errno);
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
        throw_errno("namespaces", "writing '" + content.substr(0, content.find('\n')) + "' to " + path, errno);
}

std::string map_text(const std::vector<IdMap>& maps) {
    std::string s;
    for (const auto& m : maps)
        s += std::to_string(m.inside) + " " + std::to_string(m.outside) + " " + std::to_string(m.count) + "\n";
    return s;
}
}  // namespace

std::uint64_t clone_flags(const LaunchPlan& p) {
    const auto& n = p.namespaces;
    std::uint64_t f = 0;
    if (n.user) f |= CLONE_NEWUSER;
    if (n.mount) f |= CLONE_NEWNS;
    if (n.pid) f |= CLONE_NEWPID;
    if (n.ipc) f |= CLONE_NEWIPC;
    if (n.uts) f |= CLONE_NEWUTS;
    if (n.net) f |= CLONE_NEWNET;
    if (n.cgroup) f |= CLONE_NEWCGROUP;
    for (const auto& t : kTypes)
        if (n.join.count(t.name)) f &= ~t.flag;
    return f;
}

std::uint64_t flag_of(const std::string& type) {
    for (const auto& t : kTypes)
        if (type == t.name) return t.flag;
    return 0;
}

const char* proc_name(const std::string& type) {
    if (type == "network") return "net";
    if (type == "mount") return "mnt";
    for (const auto& t : kTypes)
        if (type == t.name) return t.name;
    return "";
}

Joined Joined::open(const LaunchPlan& plan) {
    Joined j;
    for (const auto& [type, path] : plan.namespaces.join) {
        const std::string what = "joining " + type + " namespace " + path;
        const std::uint64_t flag = flag_of(type);
        if (!flag) throw Error("namespaces", what, "unknown namespace type");
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
        if (!fd) throw_errno("namespaces", what, errno);
        const int kind = ::ioctl(fd.get(), NS_GET_NSTYPE);
        if (kind < 0) throw_errno("namespaces", what, errno, "not a namespace file (nsfs)");
        if (static_cast<std::uint64_t>(kind) != flag) throw Error("namespaces", what, "is a namespace of another type");
        j.view_[type] = fd.get();
        j.owned_[type] = std::move(fd);
    }
    return j;
}

int Joined::fd(const std::string& type) const {
    auto it = view_.find(type);
    return it == view_.end() ? -1 : it->second;
}

bool Joined::is_host(const std::string& type) const {
    const int f = fd(type);
    if (f < 0) return false;
    struct stat joined {};
    if (::fstat(f, &joined) != 0) return true;
    auto same_as = [&](const std::string& path, bool unknown) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return unknown;
        return st.st_dev == joined.st_dev && st.st_ino == joined.st_ino;
    };
    const std::string name = proc_name(type);
    // /proc/1/ns may be unreadable (PID 1 not ptrace-readable by us): then hardrun's own namespace decides
    return same_as("/proc/self/ns/" + name, true) || same_as("/proc/1/ns/" + name, false);
}

PidNamespaceForChildren::PidNamespaceForChildren(int pid_ns_fd) {
    if (pid_ns_fd < 0) return;
    own_.reset(::open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
    if (!own_) throw_errno("namespaces", "/proc/self/ns/pid_for_children", errno);
    if (::setns(pid_ns_fd, CLONE_NEWPID) != 0) {
        const int err = errno;
        own_.reset();
        throw_errno("namespaces", "joining the pid namespace", err);
    }
}

void PidNamespaceForChildren::restore() noexcept {
    if (!own_) return;
    (void)::setns(own_.get(), CLONE_NEWPID);  // back to our own (the active one: always allowed)
    own_.reset();
}

void join(Sys& sys, const LaunchPlan& p, const std::map<std::string, int>& fds) {
    // user first (it grants the rights to join the others), mount last (paths change after it)
    static const char* order[] = {"user", "ipc", "uts", "network", "cgroup", "mount"};
    for (const char* name : order) {
        auto it = p.namespaces.join.find(name);
        if (it == p.namespaces.join.end()) continue;
        const std::string what = "joining " + std::string(name) + " namespace " + it->second;
        auto fd = fds.find(name);
        if (fd == fds.end()) throw Error("namespaces", what, "was not opened by the supervisor");
        if (int r = sys.setns(fd->second, static_cast<int>(flag_of(name))); r < 0) throw_errno("namespaces", what, -r);
    }
}

void write_id_maps(pid_t child, const LaunchPlan& p) {
    const std::string base = "/proc/" + std::to_string(child) + "/";
    if (::geteuid() != 0) write_file(base + "setgroups", "deny");
    write_file(base + "uid_map", map_text(p.uid_mappings));
    write_file(base + "gid_map", map_text(p.gid_mappings));
}

void default_rootless_maps(LaunchPlan& p, uid_t invoker_uid, gid_t invoker_gid) {
    p.uid_mappings = {IdMap{p.uid, invoker_uid, 1}};
    p.gid_mappings = {IdMap{p.gid, invoker_gid, 1}};
}

}  // namespace hardrun::namespaces
