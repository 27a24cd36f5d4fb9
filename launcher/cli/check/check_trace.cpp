// The tracer of `hardrun check` (see check_trace.hpp).
#include "hardrun/cli/check/check_trace.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <set>
#include <tuple>

#include "hardrun/support/error.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/layers/seccomp/seccomp_bpf.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::check {

// ------------------------------------------------------------------------------------------------
// pure helpers
// ------------------------------------------------------------------------------------------------

std::string normalize_path(const std::string& path) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        std::string c = path.substr(i, j - i);
        if (c == "..") {
            if (!parts.empty()) parts.pop_back();
        } else if (!c.empty() && c != ".") {
            parts.push_back(c);
        }
        i = j + 1;
    }
    std::string out;
    for (const auto& p : parts) out += "/" + p;
    return out.empty() ? "/" : out;
}

std::string join_path(const std::string& base, const std::string& path) {
    if (!path.empty() && path[0] == '/') return normalize_path(path);
    return normalize_path(base + "/" + path);
}

nlohmann::json to_json(const FailedCall& f) {
    nlohmann::json j = {{"pid", f.pid},     {"syscall", f.syscall}, {"nr", f.nr},       {"errno", f.err},
                        {"paths", f.paths}, {"flags", f.flags},     {"count", f.count}, {"seccomp_denied", f.seccomp_denied}};
    if (f.port) j["port"] = *f.port;
    if (f.family) j["family"] = *f.family;
    if (f.socktype) j["socktype"] = *f.socktype;
    if (f.id) j["id"] = *f.id;
    if (f.dac_allows) j["dac_allows"] = *f.dac_allows;
    return j;
}

FailedCall failed_call_from_json(const nlohmann::json& j) {
    FailedCall f;
    f.pid = j.value("pid", -1);
    f.syscall = j.value("syscall", "");
    f.nr = j.value("nr", -1L);
    f.err = j.value("errno", 0);
    f.paths = j.value("paths", std::vector<std::string>{});
    f.flags = j.value("flags", std::uint64_t{0});
    f.count = j.value("count", 1U);
    f.seccomp_denied = j.value("seccomp_denied", false);
    if (j.contains("port")) f.port = j["port"].get<int>();
    if (j.contains("family")) f.family = j["family"].get<int>();
    if (j.contains("socktype")) f.socktype = j["socktype"].get<int>();
    if (j.contains("id")) f.id = j["id"].get<long>();
    if (j.contains("dac_allows")) f.dac_allows = j["dac_allows"].get<bool>();
    return f;
}

bool dac_permits(const DacSubject& who, mode_t mode, uid_t owner, gid_t group, int want) {
    int bits;
    if (owner == who.fsuid) bits = (mode >> 6) & 7;
    else if (group == who.fsgid || std::find(who.groups.begin(), who.groups.end(), group) != who.groups.end())
        bits = (mode >> 3) & 7;
    else bits = mode & 7;
    return (bits & want) == want;
}

namespace {

// The fsuid, fsgid and groups of a traced process, as the tracer's user namespace sees them (the ids
// stat(2) shows the tracer).
std::optional<DacSubject> dac_subject(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    DacSubject who;
    int found = 0;
    for (std::string line; std::getline(in, line);) {
        std::istringstream l(line);
        std::string key;
        l >> key;
        unsigned long r, e, sv, fs;
        if (key == "Uid:" && l >> r >> e >> sv >> fs) who.fsuid = static_cast<uid_t>(fs), ++found;
        else if (key == "Gid:" && l >> r >> e >> sv >> fs) who.fsgid = static_cast<gid_t>(fs), ++found;
        else if (key == "Groups:")
            while (l >> r) who.groups.push_back(static_cast<gid_t>(r));
    }
    if (found != 2) return std::nullopt;
    return who;
}

// Would the file modes alone let the workload do this call on `path` (as it sees it)? The path is looked up
// through /proc/PID/root, /proc/self through the host's /proc. A call that creates or removes names, or a
// path that does not exist, needs write and search on the directory.
std::optional<bool> dac_allows(pid_t pid, const std::string& syscall, std::uint64_t flags, const std::string& path) {
    if (path.empty() || path[0] != '/') return std::nullopt;
    const std::string ps = std::to_string(pid);
    std::string host = "/proc/" + ps + "/root" + path;
    for (const char* self : {"/proc/self", "/proc/thread-self"})
        if (path == self || path.starts_with(std::string(self) + "/")) host = "/proc/" + ps + path.substr(std::strlen(self));
    auto who = dac_subject(pid);
    if (!who) return std::nullopt;
    static const std::set<std::string> names = {"mkdir", "mkdirat", "mknod", "mknodat", "unlink", "unlinkat", "rmdir",
                                                "rename", "renameat", "renameat2", "link", "linkat", "symlink",
                                                "symlinkat", "creat"};
    struct stat st {};
    bool on_dir = names.count(syscall) > 0;
    if (!on_dir && ::stat(host.c_str(), &st) != 0) {
        if (errno != ENOENT) return std::nullopt;
        on_dir = true;
    }
    if (on_dir) {
        auto slash = host.rfind('/');
        if (::stat(host.substr(0, slash).c_str(), &st) != 0) return std::nullopt;
        return dac_permits(*who, st.st_mode, st.st_uid, st.st_gid, 3);  // write + search
    }
    int want = 2;
    if (syscall == "open" || syscall == "openat" || syscall == "openat2") {
        const int acc = static_cast<int>(flags) & O_ACCMODE;
        want = acc == O_RDONLY ? 4 : acc == O_RDWR ? 6 : 2;
        if (syscall == "openat2") want = 2;
    } else if (syscall.starts_with("exec")) {
        want = 1;
    }
    return dac_permits(*who, st.st_mode, st.st_uid, st.st_gid, want);
}

// ------------------------------------------------------------------------------------------------
// the tracer process
// ------------------------------------------------------------------------------------------------

// Where a syscall's path arguments are: {path argument index, dirfd argument index or -1}.
struct PathArgs {
    std::vector<std::pair<int, int>> paths;
    int fd = -1;        // an fd argument whose file the call is about (fchown...)
    int flags_arg = -1;  // open flags / mode, recorded
};

PathArgs path_args(long nr) {
    switch (nr) {
#ifdef SYS_open
        case SYS_open: return {{{0, -1}}, -1, 1};
        case SYS_creat: return {{{0, -1}}, -1, 1};
        case SYS_mkdir: return {{{0, -1}}, -1, 1};
        case SYS_mknod: return {{{0, -1}}, -1, 1};
        case SYS_unlink: return {{{0, -1}}, -1, -1};
        case SYS_rmdir: return {{{0, -1}}, -1, -1};
        case SYS_rename: return {{{0, -1}, {1, -1}}, -1, -1};
        case SYS_link: return {{{0, -1}, {1, -1}}, -1, -1};
        case SYS_symlink: return {{{1, -1}}, -1, -1};
        case SYS_chmod: return {{{0, -1}}, -1, 1};
        case SYS_chown: return {{{0, -1}}, -1, -1};
        case SYS_lchown: return {{{0, -1}}, -1, -1};
        case SYS_access: return {{{0, -1}}, -1, 1};
        case SYS_utime: return {{{0, -1}}, -1, -1};
        case SYS_stat: case SYS_lstat: case SYS_readlink: return {{{0, -1}}, -1, -1};
        case SYS_utimes: return {{{0, -1}}, -1, -1};
        case SYS_futimesat: return {{{1, 0}}, -1, -1};
#endif
        case SYS_openat: return {{{1, 0}}, -1, 2};
        // the stat family: an EACCES there is a directory on the way the uid cannot search (postgres' key under
        // /etc/ssl/private, 0710 root:ssl-cert): the finding needs the path to name the group
        case SYS_newfstatat: return {{{1, 0}}, -1, -1};
        case SYS_statx: return {{{1, 0}}, -1, -1};
        case SYS_readlinkat: return {{{1, 0}}, -1, -1};
        case SYS_getxattr: case SYS_lgetxattr: return {{{0, -1}}, -1, -1};
        case SYS_openat2: return {{{1, 0}}, -1, -1};
        case SYS_mkdirat: return {{{1, 0}}, -1, 2};
        case SYS_mknodat: return {{{1, 0}}, -1, 2};
        case SYS_unlinkat: return {{{1, 0}}, -1, 2};
        case SYS_renameat: return {{{1, 0}, {3, 2}}, -1, -1};
        case SYS_renameat2: return {{{1, 0}, {3, 2}}, -1, -1};
        case SYS_linkat: return {{{1, 0}, {3, 2}}, -1, -1};
        case SYS_symlinkat: return {{{2, 1}}, -1, -1};
        case SYS_fchmodat: return {{{1, 0}}, -1, 2};
        case SYS_fchownat: return {{{1, 0}}, -1, -1};
        case SYS_faccessat: return {{{1, 0}}, -1, 2};
#ifdef SYS_faccessat2
        case SYS_faccessat2: return {{{1, 0}}, -1, 2};
#endif
        case SYS_utimensat: return {{{1, 0}}, -1, -1};
        case SYS_truncate: return {{{0, -1}}, -1, -1};
        case SYS_setxattr: case SYS_lsetxattr: case SYS_removexattr: case SYS_lremovexattr: return {{{0, -1}}, -1, -1};
        case SYS_execve: return {{{0, -1}}, -1, -1};
        case SYS_execveat: return {{{1, 0}}, -1, -1};
        case SYS_mount: return {{{1, -1}}, -1, -1};
        case SYS_umount2: return {{{0, -1}}, -1, -1};
        case SYS_chroot: return {{{0, -1}}, -1, -1};
        case SYS_chdir: return {{{0, -1}}, -1, -1};
        case SYS_statfs: return {{{0, -1}}, -1, -1};
        case SYS_fchown: case SYS_fchmod: case SYS_ftruncate: case SYS_fsetxattr: case SYS_fremovexattr:
        case SYS_write: case SYS_pwrite64: case SYS_fallocate: case SYS_flock:
            return {{}, 0, -1};
        default: return {};
    }
}

class TracerProcess {
public:
    TracerProcess(bool diagnose, const std::vector<sock_filter>& program) : diagnose_(diagnose), program_(program) {}

    // Returns the result document. `main` is the launched child; the loop ends when it exits.
    nlohmann::json run(pid_t main) {
        main_ = main;
        tracees_[main] = Tracee{};
        tracees_[main].started = true;
        loop();
        nlohmann::json out;
        out["attached"] = true;
        if (evidence_) out["evidence"] = evidence::to_json(*evidence_);
        out["workload"] = workload_;
        out["syscalls"] = syscalls_;
        out["truncated"] = truncated_;
        nlohmann::json fails = nlohmann::json::array();
        for (const auto& f : failures_) fails.push_back(to_json(f));
        out["failures"] = fails;
        return out;
    }

private:
    struct Tracee {
        bool started = false;
        bool in_syscall = false;
        long nr = -1;
        std::uint64_t args[6] = {};
        std::uint32_t arch = 0;
        std::uint64_t ip = 0;
        bool traced_syscalls = false;  // resumed with PTRACE_SYSCALL
    };

    bool diagnose_;
    const std::vector<sock_filter>& program_;
    pid_t main_ = -1, workload_ = -1;
    std::map<pid_t, Tracee> tracees_;
    bool exec_seen_ = false, detaching_ = false;
    std::optional<evidence::Evidence> evidence_;
    std::vector<FailedCall> failures_;
    std::map<std::tuple<std::string, int, std::vector<std::string>>, std::size_t> index_;
    std::uint64_t syscalls_ = 0;
    bool truncated_ = false;

    void resume(pid_t pid, int sig = 0) {
        if (detaching_) {
            ::ptrace(PTRACE_DETACH, pid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig)));
            tracees_.erase(pid);
            return;
        }
        auto& t = tracees_[pid];
        bool follow = diagnose_ && exec_seen_ && pid != main_with_init();
        t.traced_syscalls = follow;
        ::ptrace(follow ? PTRACE_SYSCALL : PTRACE_CONT, pid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig)));
    }

    // With --init, the launched child stays hardrun's reaper: its syscalls are not the workload's.
    pid_t main_with_init() const { return workload_ != main_ && workload_ > 0 ? main_ : -1; }

    void start_detaching() {
        detaching_ = true;
        for (auto& [pid, t] : tracees_) ::ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr);
    }

    void loop() {
        for (;;) {
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, __WALL);
            if (pid < 0) {
                if (errno == EINTR) continue;
                return;  // ECHILD: nothing is traced any more
            }
            if (WIFEXITED(status) || WIFSIGNALED(status)) {
                tracees_.erase(pid);
                if (pid == main_) return;
                if (tracees_.empty() && detaching_) return;
                continue;
            }
            if (!WIFSTOPPED(status)) continue;
            const int sig = WSTOPSIG(status);
            const int event = status >> 16;
            auto it = tracees_.find(pid);
            if (it == tracees_.end()) it = tracees_.emplace(pid, Tracee{}).first;
            Tracee& t = it->second;
            if (sig == (SIGTRAP | 0x80)) {
                on_syscall_stop(pid, t);
                resume(pid);
            } else if (event == PTRACE_EVENT_EXEC) {
                if (!exec_seen_) {
                    exec_seen_ = true;
                    workload_ = pid;
                    evidence_ = evidence::collect(pid);
                    if (!diagnose_) start_detaching();
                }
                t.in_syscall = false;
                resume(pid);
            } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
                unsigned long child = 0;
                ::ptrace(PTRACE_GETEVENTMSG, pid, nullptr, &child);
                if (child) tracees_.try_emplace(static_cast<pid_t>(child));
                resume(pid);
            } else if (event == PTRACE_EVENT_STOP) {
                bool group_stop = t.started && (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU);
                t.started = true;
                if (group_stop && !detaching_) ::ptrace(PTRACE_LISTEN, pid, nullptr, nullptr);
                else resume(pid);
            } else {
                t.started = true;
                resume(pid, sig);  // signal-delivery-stop: deliver it
            }
            if (detaching_ && tracees_.empty()) return;
        }
    }

    void on_syscall_stop(pid_t pid, Tracee& t) {
        struct __ptrace_syscall_info info {};
        long n = ::ptrace(PTRACE_GET_SYSCALL_INFO, pid, reinterpret_cast<void*>(sizeof info), &info);
        if (n <= 0) return;
        if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
            ++syscalls_;
            t.in_syscall = true;
            t.nr = static_cast<long>(info.entry.nr);
            std::memcpy(t.args, info.entry.args, sizeof t.args);
            t.arch = info.arch;
            t.ip = info.instruction_pointer;
        } else if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
            if (!t.in_syscall) return;
            t.in_syscall = false;
            if (!info.exit.is_error) return;
            int err = static_cast<int>(-info.exit.rval);
            bool denied = seccomp_denies(t);
            if (err != EROFS && err != EACCES && err != EPERM && !denied && !(err == ENOENT && creates(t))) return;
            record(pid, t, err, denied);
        }
    }

    // A call that makes a name (a file, a directory, a link): ENOENT there means its directory is missing in the
    // sandbox, which the advice blames on the plan only where the image has it (a tmpfs of the plan hides it).
    // Lookups that fail with ENOENT are every program's probing and are not recorded.
    static bool creates(const Tracee& t) {
        if (t.arch != seccomp::native_arch().audit_arch) return false;  // the SYS_ numbers are the native ABI's
        switch (t.nr) {
#ifdef SYS_open
            case SYS_open: return (t.args[1] & O_CREAT) != 0;
            case SYS_creat:
            case SYS_mkdir:
            case SYS_mknod:
            case SYS_symlink:
            case SYS_link:
            case SYS_rename: return true;
#endif
            case SYS_openat: return (t.args[2] & O_CREAT) != 0;
            case SYS_mkdirat:
            case SYS_mknodat:
            case SYS_symlinkat:
            case SYS_linkat:
            case SYS_renameat:
            case SYS_renameat2: return true;
            default: return false;
        }
    }

    bool seccomp_denies(const Tracee& t) const {
        if (program_.empty()) return false;
        seccomp_data d{};
        d.nr = static_cast<int>(t.nr);
        d.arch = t.arch;
        d.instruction_pointer = t.ip;
        for (int i = 0; i < 6; ++i) d.args[i] = t.args[i];
        auto r = seccomp::simulate(program_, d);
        if (!r.ok) return false;
        std::uint32_t action = r.ret & SECCOMP_RET_ACTION_FULL;
        return action != SECCOMP_RET_ALLOW && action != SECCOMP_RET_LOG;
    }

    std::string read_string(pid_t pid, std::uint64_t addr) const {
        std::string out;
        if (addr == 0) return out;
        char buf[256];
        while (out.size() < 4096) {
            struct iovec local {buf, sizeof buf};
            struct iovec remote {reinterpret_cast<void*>(addr + out.size()), sizeof buf};
            ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
            if (n <= 0) {
                // the last page may end before sizeof buf: fall back to one byte at a time
                char c = 0;
                struct iovec l1 {&c, 1};
                struct iovec r1 {reinterpret_cast<void*>(addr + out.size()), 1};
                if (::process_vm_readv(pid, &l1, 1, &r1, 1, 0) != 1 || c == 0) break;
                out.push_back(c);
                continue;
            }
            const void* nul = std::memchr(buf, 0, static_cast<std::size_t>(n));
            if (nul) {
                out.append(buf, static_cast<const char*>(nul) - buf);
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

    static std::string link(const std::string& path) {
        char buf[4096];
        ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }

    std::string resolve(pid_t pid, const std::string& p, long dirfd) const {
        if (!p.empty() && p[0] == '/') return normalize_path(p);
        std::string base = (dirfd == AT_FDCWD || dirfd < 0)
                               ? link("/proc/" + std::to_string(pid) + "/cwd")
                               : link("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(dirfd));
        if (base.empty() || base[0] != '/') base = "/";
        return join_path(base, p);
    }

    void record(pid_t pid, const Tracee& t, int err, bool denied) {
        FailedCall f;
        f.pid = pid;
        f.nr = t.nr;
        f.err = err;
        f.seccomp_denied = denied;
        f.syscall = seccomp::syscall_name(t.arch, static_cast<std::uint32_t>(t.nr));
        if (f.syscall.empty()) f.syscall = "syscall " + std::to_string(t.nr);
        PathArgs pa = path_args(t.nr);
        for (auto [arg, dirfd] : pa.paths) {
            std::string p = read_string(pid, t.args[arg]);
            if (p.empty() && t.nr == SYS_utimensat) continue;
            long dfd = dirfd >= 0 ? static_cast<long>(static_cast<int>(t.args[dirfd])) : AT_FDCWD;
            f.paths.push_back(resolve(pid, p, dfd));
        }
        if (pa.fd >= 0) {
            std::string p = link("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(static_cast<int>(t.args[pa.fd])));
            if (!p.empty()) f.paths.push_back(p);
        }
        if (pa.flags_arg >= 0) f.flags = t.args[pa.flags_arg];
        if (t.nr == SYS_bind || t.nr == SYS_connect) {
            sockaddr_storage sa{};
            std::size_t len = std::min<std::size_t>(t.args[2], sizeof sa);
            struct iovec local {&sa, len};
            struct iovec remote {reinterpret_cast<void*>(t.args[1]), len};
            if (len >= sizeof(sa_family_t) && ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len)) {
                f.family = sa.ss_family;
                if (sa.ss_family == AF_INET && len >= sizeof(sockaddr_in))
                    f.port = ntohs(reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
                else if (sa.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6))
                    f.port = ntohs(reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
                else if (sa.ss_family == AF_UNIX)
                    f.paths.push_back(reinterpret_cast<sockaddr_un*>(&sa)->sun_path[0]
                                          ? resolve(pid, std::string(reinterpret_cast<sockaddr_un*>(&sa)->sun_path,
                                                                      strnlen(reinterpret_cast<sockaddr_un*>(&sa)->sun_path,
                                                                              sizeof(sockaddr_un::sun_path))), AT_FDCWD)
                                          : "@abstract");
            }
        } else if (t.nr == SYS_socket) {
            f.family = static_cast<int>(t.args[0]);
            f.socktype = static_cast<int>(t.args[1] & 0xf);
        } else if (t.nr == SYS_setuid || t.nr == SYS_setgid || t.nr == SYS_setresuid || t.nr == SYS_setresgid ||
                   t.nr == SYS_setreuid || t.nr == SYS_setregid || t.nr == SYS_setfsuid || t.nr == SYS_setfsgid) {
            f.id = static_cast<long>(static_cast<int>(t.args[0]));
        } else if (t.nr == SYS_chown || t.nr == SYS_fchown || t.nr == SYS_lchown) {
            f.id = static_cast<long>(static_cast<int>(t.args[1]));
        } else if (t.nr == SYS_fchownat) {
            f.id = static_cast<long>(static_cast<int>(t.args[2]));
        }
        if (err == EACCES && !f.paths.empty()) f.dac_allows = dac_allows(pid, f.syscall, f.flags, f.paths[0]);
        auto key = std::make_tuple(f.syscall, f.err, f.paths);
        if (auto it = index_.find(key); it != index_.end()) {
            ++failures_[it->second].count;
            return;
        }
        if (failures_.size() >= 2000) {
            truncated_ = true;
            return;
        }
        index_[key] = failures_.size();
        failures_.push_back(std::move(f));
    }
};

}  // namespace

// ------------------------------------------------------------------------------------------------
// supervisor side
// ------------------------------------------------------------------------------------------------

Tracer::Tracer(bool diagnose, std::vector<sock_filter> seccomp_program)
    : diagnose_(diagnose), program_(std::move(seccomp_program)) {}

Tracer::~Tracer() {
    if (tracer_ > 0) {
        ::kill(tracer_, SIGKILL);
        ::waitpid(tracer_, nullptr, 0);
    }
}

void Tracer::attach(pid_t child) {
    int mfd = ::memfd_create("hardrun-check-trace", MFD_CLOEXEC);
    if (mfd < 0) throw_errno("check", "the tracer's result file", errno);
    result_.reset(mfd);
    Pipe ready = Pipe::make("tracer pipe");
    const pid_t supervisor = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("check", "forking the tracer", errno);
    if (pid == 0) {
        ready.read.reset();
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (::getppid() != supervisor) ::_exit(1);
        const long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                          PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL;
        int err = ::ptrace(PTRACE_SEIZE, child, nullptr, reinterpret_cast<void*>(opts)) == 0 ? 0 : errno;
        (void)!::write(ready.write.get(), &err, sizeof err);
        ready.write.reset();
        if (err) ::_exit(2);
        nlohmann::json out;
        try {
            TracerProcess t(diagnose_, program_);
            out = t.run(child);
        } catch (const std::exception& e) {
            out = {{"attached", true}, {"error", std::string("tracer: ") + e.what()}};
        }
        std::string text = out.dump();
        const char* p = text.data();
        std::size_t left = text.size();
        while (left > 0) {
            ssize_t n = ::write(result_.get(), p, left);
            if (n <= 0) break;
            p += n;
            left -= static_cast<std::size_t>(n);
        }
        ::_exit(0);
    }
    tracer_ = pid;
    ready.write.reset();
    int err = 0;
    ssize_t n;
    do n = ::read(ready.read.get(), &err, sizeof err);
    while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof err)) err = ESRCH;
    if (err) {
        attach_error_ = "ptrace(PTRACE_SEIZE) of the workload: " + errno_text(err);
        ::waitpid(tracer_, nullptr, 0);
        tracer_ = -1;
        if (diagnose_)
            throw Error("check", "tracing the workload (--diagnose)", attach_error_ +
                        (err == EPERM ? "; ptrace is restricted here (kernel.yama.ptrace_scope?)" : ""));
    }
}

TraceResult Tracer::finish() {
    TraceResult r;
    if (tracer_ <= 0) {
        r.error = attach_error_.empty() ? "the tracer was not started" : attach_error_;
        return r;
    }
    int status = 0;
    while (::waitpid(tracer_, &status, 0) < 0 && errno == EINTR) {
    }
    tracer_ = -1;
    std::string text;
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(result_.get(), buf, sizeof buf, off);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        off += n;
    }
    if (text.empty()) {
        r.error = "the tracer ended without a result";
        return r;
    }
    try {
        auto j = parse_json(text, "trace", "the tracer's result");
        r.attached = j.value("attached", false);
        r.error = j.value("error", "");
        if (j.contains("evidence")) r.evidence = evidence::from_json(j["evidence"]);
        r.workload = j.value("workload", -1);
        r.syscalls = j.value("syscalls", std::uint64_t{0});
        r.truncated = j.value("truncated", false);
        for (const auto& f : j.value("failures", nlohmann::json::array())) r.failures.push_back(failed_call_from_json(f));
    } catch (const Error& e) {
        r.error = "the tracer's result is not readable: " + e.cause();
    } catch (const nlohmann::json::exception& e) {
        r.error = "the tracer's result is not readable: " + json_error_text(e);
    } catch (const std::exception& e) {
        r.error = std::string("the tracer's result is not readable: ") + e.what();
    }
    return r;
}

}  // namespace hardrun::check
