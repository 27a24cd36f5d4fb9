#include "hardrun/layers/sysctl.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "hardrun/support/error.hpp"

namespace hardrun::sysctl {

namespace {
std::vector<std::string> components(const std::string& name) {
    const char sep = name.find('/') != std::string::npos ? '/' : '.';
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto pos = name.find(sep, start);
        out.push_back(name.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
        if (pos == std::string::npos) break;
        start = pos + 1;
    }
    return out;
}

// A namespace joined by path is the host's when it is hardrun's own (runc's isHostNetNS): the same nsfs
// inode as /proc/self/ns/<proc_name>. Unknown (a stat fails) counts as the host's: fail closed. This is the
// early check at plan time, for a clear error; the one that holds is refuse_host_namespaces() on the fds.
bool joins_own(const std::string& path, const char* proc_name) {
    struct stat joined {}, self {};
    const std::string mine = std::string("/proc/self/ns/") + proc_name;
    if (::stat(path.c_str(), &joined) != 0 || ::stat(mine.c_str(), &self) != 0) return true;
    return joined.st_dev == self.st_dev && joined.st_ino == self.st_ino;
}

std::string dotted_name(const std::string& name) {
    std::string dotted = to_path(name);
    std::replace(dotted.begin(), dotted.end(), '/', '.');
    return dotted;
}

// The OCI namespace type a namespaced sysctl belongs to, or nullptr.
const char* namespace_of(const std::string& dotted) {
    if (dotted.starts_with("net.")) return "network";
    if (dotted.starts_with("kernel.shm") || dotted.starts_with("kernel.msg") || dotted == "kernel.sem" ||
        dotted.starts_with("fs.mqueue."))
        return "ipc";
    if (dotted == "kernel.hostname" || dotted == "kernel.domainname") return "uts";
    return nullptr;
}
}  // namespace

std::string to_path(const std::string& name) {
    std::string out;
    for (const auto& c : components(name)) out += (out.empty() ? "" : "/") + c;
    return out;
}

void validate(const std::string& name, const std::string& value, const LaunchPlan& plan) {
    if (name.empty()) throw Error("", "", "an empty sysctl name");
    for (const auto& c : components(name)) {
        if (c.empty() || c == "." || c == "..")
            throw Error("", "", "'" + name + "' is not a sysctl name");
        for (char ch : c)
            if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.' || ch == ':'))
                throw Error("", "", "'" + name + "' is not a sysctl name");
    }
    if (value.find('\0') != std::string::npos || value.find('\n') != std::string::npos)
        throw Error("", "", "the value may not contain a newline or NUL");
    const char* type = namespace_of(dotted_name(name));
    if (!type)
        throw Error("", "", "'" + name + "' is not a namespaced sysctl; setting it would change the whole host "
                            "(allowed: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname, kernel.domainname)");
    const Namespaces& n = plan.namespaces;
    const std::string t = type;
    const bool own = t == "network" ? n.net : t == "ipc" ? n.ipc : n.uts;
    if (!own)
        throw Error("", "", "the container shares the host's " + t + " namespace, so this would change the host; refusing "
                            "(add {\"type\": \"" + t + "\"} to linux.namespaces)");
    auto joined = n.join.find(t);
    if (joined != n.join.end() && joins_own(joined->second, namespaces::proc_name(t)))
        throw Error("", "", "the container joins " + joined->second + ", which is hardrun's own (the host's) " + t +
                                " namespace, so this would change the host; refusing");
}

void refuse_host_namespaces(const LaunchPlan& plan, const namespaces::Joined& joined) {
    for (const auto& [name, value] : plan.sysctl) {
        const char* type = namespace_of(dotted_name(name));
        if (type && joined.is_host(type))
            throw Error("sysctl", name + "=" + value,
                        "the container joins " + plan.namespaces.join.at(type) + ", which is the host's " + type +
                            " namespace, so this would change the host; refusing");
    }
}

void apply(Sys& sys, const LaunchPlan& plan) {
    if (plan.sysctl.empty()) return;
    constexpr std::uint64_t kResolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    int proc = sys.openat2(AT_FDCWD, "/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (proc < 0) throw_errno("sysctl", "/proc/sys", -proc, "the container needs a proc mount at /proc to set sysctls");
    struct statfs sfs {};
    if (sys.fstatfs(proc, &sfs) != 0 || sfs.f_type != PROC_SUPER_MAGIC) {
        sys.close(proc);
        throw Error("sysctl", "/proc/sys", "is not on a real procfs; refusing to write sysctls there (CVE-2019-16884)");
    }
    for (const auto& [name, value] : plan.sysctl) {
        const std::string rel = to_path(name);
        int fd = sys.openat2(proc, rel.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0, kResolve);
        if (fd < 0) {
            sys.close(proc);
            throw_errno("sysctl", name + "=" + value, -fd, -fd == ENOENT ? "this kernel has no such sysctl in the container's namespace" : "");
        }
        long n = sys.write(fd, value.data(), value.size());
        sys.close(fd);
        if (n != static_cast<long>(value.size())) {
            sys.close(proc);
            throw_errno("sysctl", name + "=" + value, n < 0 ? static_cast<int>(-n) : EIO);
        }
    }
    sys.close(proc);
}

}  // namespace hardrun::sysctl
