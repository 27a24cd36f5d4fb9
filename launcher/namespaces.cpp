#include "hardrun/namespaces.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "hardrun/error.hpp"
#include "hardrun/fd.hpp"

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

void join(Sys& sys, const LaunchPlan& p) {
    // user first (it grants the rights to join the others), mount last (paths change after it)
    static const char* order[] = {"user", "pid", "ipc", "uts", "network", "cgroup", "mount"};
    for (const char* name : order) {
        auto it = p.namespaces.join.find(name);
        if (it == p.namespaces.join.end()) continue;
        std::uint64_t flag = 0;
        for (const auto& t : kTypes)
            if (std::string(t.name) == name) flag = t.flag;
        const std::string what = "joining " + std::string(name) + " namespace " + it->second;
        const int fd = sys.openat(AT_FDCWD, it->second.c_str(), O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) throw_errno("namespaces", what, -fd);
        const int r = sys.setns(fd, static_cast<int>(flag));
        sys.close(fd);
        if (r < 0) throw_errno("namespaces", what, -r);
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
