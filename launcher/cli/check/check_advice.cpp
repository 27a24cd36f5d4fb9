// What the hardening refused, and the fix for each: from the failing syscalls the tracer saw (--diagnose), the
// seccomp filter's denials (user-notification report) and the outcome (OOM, pids limit, setup errors).
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <set>
#include <vector>
#include <optional>

#include "hardrun/cli/check/check.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/support/files.hpp"

namespace hardrun::check {

namespace {

std::string dirname_of(const std::string& p) {
    auto slash = p.rfind('/');
    if (slash == std::string::npos || slash == 0) return "/";
    return p.substr(0, slash);
}

// A directory as the image resolves it: its symlinks followed inside the rootfs (/var/run -> /run), so the fix
// names a path hardrun can mount on (mount targets never run through a symlink). The path itself where the
// rootfs cannot be read; for a path that does not exist, its longest existing parent is resolved.
std::string image_path(const LaunchPlan& plan, const std::string& dir) {
    if (plan.rootfs.empty() || dir.empty() || dir[0] != '/') return dir;
    UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return dir;
    std::string head = dir, tail;
    for (;;) {
        if (UniqueFd fd = files::open_in_root(root.get(), head, O_PATH)) {
            char buf[4096];
            const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd.get())).c_str(), buf, sizeof buf - 1);
            const std::string real = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
            if (real == plan.rootfs) return tail.empty() ? "/" : tail;
            if (real.starts_with(plan.rootfs + "/")) return real.substr(plan.rootfs.size()) + tail;
            return dir;
        }
        if (errno != ENOENT || head == "/") return dir;
        const auto slash = head.rfind('/');
        tail = head.substr(slash) + tail;
        head = slash == 0 ? "/" : head.substr(0, slash);
    }
}

// What the image has at a directory (resolved inside the rootfs): nothing, an empty directory, or entries.
enum class ImageDir { Missing, Empty, Entries, Unknown };
ImageDir image_dir(const LaunchPlan& plan, const std::string& dir) {
    if (plan.rootfs.empty()) return ImageDir::Unknown;
    UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return ImageDir::Unknown;
    UniqueFd fd = files::open_in_root(root.get(), dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return errno == ENOENT ? ImageDir::Missing : ImageDir::Unknown;
    DIR* d = ::fdopendir(fd.get());
    if (!d) return ImageDir::Unknown;
    fd.release();  // closedir closes it
    ImageDir state = ImageDir::Empty;
    while (const dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
            state = ImageDir::Entries;
            break;
        }
    ::closedir(d);
    return state;
}

// Where to mount for a failed write: the directory written to. A mkdir's own path is that directory unless its
// parent is an empty directory of the image (nginx makes body, proxy, fastcgi... in /var/lib/nginx): a tmpfs
// there covers them all in one run instead of one leaf per run.
std::string write_target(const LaunchPlan& plan, const FailedCall& f, const std::string& path) {
    const bool mkdir = f.syscall == "mkdir" || f.syscall == "mkdirat";
    if (!mkdir) return image_path(plan, dirname_of(path));
    std::string parent = image_path(plan, dirname_of(path));
    if (parent != "/" && image_dir(plan, parent) == ImageDir::Empty) return parent;
    return image_path(plan, path);
}

// Can the workload's uid write the image's directory (its owner, group and mode, as a copy keeps them)?
bool image_dir_writable(const LaunchPlan& plan, const std::string& dir) {
    if (plan.rootfs.empty()) return true;
    UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return true;
    UniqueFd fd = files::open_in_root(root.get(), dir, O_PATH | O_DIRECTORY);
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) return true;
    if (plan.uid == 0) return true;
    if (st.st_uid == plan.uid) return (st.st_mode & S_IWUSR) != 0;
    const bool group = st.st_gid == plan.gid ||
                       std::find(plan.additional_gids.begin(), plan.additional_gids.end(), st.st_gid) != plan.additional_gids.end();
    return (st.st_mode & (group ? S_IWGRP : S_IWOTH)) != 0;
}

// The --tmpfs flag for a directory: tmpcopyup where the image has files there (a bare tmpfs would hide them), and
// uid= where the copy, which keeps the image's owner and mode, would not let the workload's uid write (nginx's
// pid file in Debian's root-owned /run)
std::string tmpfs_flag(const LaunchPlan& plan, const std::string& dir) {
    if (image_dir(plan, dir) != ImageDir::Entries) return "--tmpfs " + dir;
    return "--tmpfs " + dir + ":tmpcopyup" + (image_dir_writable(plan, dir) ? "" : ",uid=" + std::to_string(plan.uid));
}

// The group of a directory on the way to `path` (or of the file) that the workload's uid lacks and that would
// let it through: /etc/ssl/private is 0710 root:ssl-cert, so postgres reads its key with --group-add ssl-cert.
struct GroupAccess {
    std::string dir, name;
    gid_t gid = 0;
    bool named = false;
    bool owner = false;  // only the owner gets in: run as it (uid, and gid its passwd entry's)
    uid_t uid = 0;
};
std::optional<GroupAccess> group_that_opens(const LaunchPlan& plan, const std::string& path) {
    if (plan.rootfs.empty() || path.empty() || path[0] != '/') return std::nullopt;
    auto in_groups = [&](gid_t g) {
        return g == plan.gid || std::find(plan.additional_gids.begin(), plan.additional_gids.end(), g) != plan.additional_gids.end();
    };
    // the image's account named by an id, from its passwd or group file: name, and (passwd) primary gid
    auto account = [&](const char* file, std::uint32_t id) {
        const auto text = files::read_in_root_if_readable(plan.rootfs, file);
        return text ? files::account_entry(*text, 2, std::to_string(id)) : std::nullopt;
    };
    UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return std::nullopt;
    for (std::size_t i = 1;;) {
        const auto j = path.find('/', i);
        const std::string prefix = path.substr(0, j);
        UniqueFd fd = files::open_in_root(root.get(), prefix, O_PATH);
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0) return std::nullopt;
        const mode_t want = S_ISDIR(st.st_mode) ? S_IXOTH : S_IROTH;  // search a directory, read the file
        const bool outsider = st.st_uid != plan.uid && !in_groups(st.st_gid) && !(st.st_mode & want);
        GroupAccess g;
        g.dir = prefix;
        g.gid = st.st_gid;
        if (outsider && !(st.st_mode & (want << 3)) && (st.st_mode & (want << 6)) && st.st_uid != 0) {
            // only its owner gets in: the image's service user (postgres' data directory is 0700 postgres)
            g.owner = true;
            g.uid = st.st_uid;
            g.name = std::to_string(st.st_uid);
            if (auto e = account("/etc/passwd", st.st_uid); e && e->size() > 3) {
                g.name = (*e)[0];
                g.named = true;
                if (auto gid = parse::number<std::uint32_t>((*e)[3])) g.gid = *gid;
            }
            return g;
        }
        if (outsider && (st.st_mode & (want << 3))) {  // its group gets in
            g.name = std::to_string(st.st_gid);
            if (auto e = account("/etc/group", st.st_gid)) {
                g.name = (*e)[0];
                g.named = true;
            }
            return g;
        }
        if (j == std::string::npos) return std::nullopt;
        i = j + 1;
    }
}

std::string errno_name(int err) {
    const char* n = ::strerrorname_np(err);
    return n ? n : "errno " + std::to_string(err);
}

// The plan's mount that covers a path inside the sandbox (nullptr: the root itself).
const Mount* plan_mount(const LaunchPlan& plan, const std::string& path) {
    const Mount* best = nullptr;
    std::size_t best_len = 0;
    for (const auto& m : plan.mounts) {
        const auto& d = m.destination;
        bool covers = path == d || (path.size() > d.size() && path.compare(0, d.size(), d) == 0 && path[d.size()] == '/');
        if (covers && d.size() >= best_len) {
            best = &m;
            best_len = d.size();
        }
    }
    return best;
}

// `path` is `dir` or below it.
bool below(const std::string& dir, const std::string& path) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

// The plan's read-only path (readonlyPaths, e.g. /proc/bus) that covers `path`, if any.
const std::string* readonly_path(const LaunchPlan& plan, const std::string& path) {
    for (const auto& p : plan.readonly_paths)
        if (below(p, path)) return &p;
    return nullptr;
}

bool writes(const FailedCall& f) {
    const std::string& s = f.syscall;
    if (s == "open" || s == "openat" || s == "openat2") {
        if (s == "openat2") return true;  // flags live in a struct; the error tells the story
        const int acc = static_cast<int>(f.flags) & O_ACCMODE;
        return acc == O_WRONLY || acc == O_RDWR || (f.flags & (O_CREAT | O_TRUNC));
    }
    if (s == "access" || s == "faccessat" || s == "faccessat2") return (f.flags & 2) != 0;  // W_OK
    static const std::set<std::string> w = {"creat", "mkdir", "mkdirat", "mknod", "mknodat", "unlink", "unlinkat",
                                            "rmdir", "rename", "renameat", "renameat2", "link", "linkat", "symlink",
                                            "symlinkat", "chmod", "fchmodat", "fchmod", "chown", "lchown", "fchownat",
                                            "fchown", "truncate", "ftruncate", "utime", "utimes", "utimensat",
                                            "futimesat", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
                                            "lremovexattr", "fremovexattr", "write", "pwrite64", "fallocate"};
    return w.count(s) > 0;
}


// A capability a refused syscall needs: {cap, fix}.
struct CapNeed {
    int cap;
    std::string what, fix;
};

std::optional<CapNeed> capability_need(const FailedCall& f, const LaunchPlan& plan) {
    const std::string& s = f.syscall;
    const std::string id = f.id ? std::to_string(*f.id) : "?";
    const std::string path = f.paths.empty() ? "" : f.paths[0];
    if ((s == "bind") && f.err == EACCES && f.port && *f.port > 0 && *f.port < 1024)
        return CapNeed{CAP_NET_BIND_SERVICE, "bind to port " + std::to_string(*f.port) + " needs CAP_NET_BIND_SERVICE",
                       "add --cap-add NET_BIND_SERVICE, or listen on a port above 1023"};
    if (f.err != EPERM && !(s == "socket" && f.err == EACCES)) return std::nullopt;
    if (s == "chown" || s == "lchown" || s == "fchown" || s == "fchownat")
        return CapNeed{CAP_CHOWN, s + "(" + path + ", " + id + ") needs CAP_CHOWN",
                       "set the ownership in the image (or run as the owner with --user); only if it must: --cap-add CHOWN"};
    if (s == "chmod" || s == "fchmod" || s == "fchmodat")
        return CapNeed{CAP_FOWNER, s + "(" + path + ") on a file uid " + std::to_string(plan.uid) + " does not own needs CAP_FOWNER",
                       "set the mode in the image, or make the file belong to uid " + std::to_string(plan.uid)};
    if (s == "setuid" || s == "setresuid" || s == "setreuid" || s == "setfsuid")
        return CapNeed{CAP_SETUID, s + "(" + id + ") needs CAP_SETUID: the workload tries to switch users",
                       "start it as the target user (--user UID) instead of letting it switch; or --cap-add SETUID"};
    if (s == "setgid" || s == "setresgid" || s == "setregid" || s == "setfsgid" || s == "setgroups")
        return CapNeed{CAP_SETGID, s + "(" + id + ") needs CAP_SETGID: the workload tries to switch groups",
                       "start it with the target group (--user UID:GID); or --cap-add SETGID"};
    if (s == "socket" && f.socktype && (*f.socktype == SOCK_RAW || (f.family && *f.family == AF_PACKET)))
        return CapNeed{CAP_NET_RAW, "a raw or packet socket needs CAP_NET_RAW",
                       "use an unprivileged ICMP socket (SOCK_DGRAM, IPPROTO_ICMP) if it is ping; only if it must: --cap-add NET_RAW"};
    if (s == "mknod" || s == "mknodat")
        return CapNeed{CAP_MKNOD, "mknod(" + path + ") needs CAP_MKNOD",
                       "use the device nodes hardrun provides in /dev; only if it must: --cap-add MKNOD and a tmpfs with dev"};
    if (s == "sethostname" || s == "setdomainname")
        return CapNeed{CAP_SYS_ADMIN, s + " needs CAP_SYS_ADMIN", "set the name with --hostname instead"};
    if (s == "chroot")
        return CapNeed{CAP_SYS_CHROOT, "chroot(" + path + ") needs CAP_SYS_CHROOT", "do not chroot inside the sandbox; or --cap-add SYS_CHROOT"};
    if (s == "setpriority" || s == "sched_setscheduler" || s == "sched_setparam" || s == "sched_setattr" || s == "nice")
        return CapNeed{CAP_SYS_NICE, s + " (raising the priority) needs CAP_SYS_NICE", "do not raise the priority; or --cap-add SYS_NICE"};
    if (s == "setrlimit" || s == "prlimit64")
        return CapNeed{CAP_SYS_RESOURCE, s + " (raising a hard limit) needs CAP_SYS_RESOURCE",
                       "set the limit with --ulimit NAME=SOFT:HARD instead"};
    if (s == "mlock" || s == "mlock2" || s == "mlockall")
        return CapNeed{CAP_IPC_LOCK, s + " needs CAP_IPC_LOCK (or a larger RLIMIT_MEMLOCK)", "raise --ulimit memlock=BYTES"};
    if (s == "ptrace" || s == "process_vm_readv" || s == "process_vm_writev")
        return CapNeed{CAP_SYS_PTRACE, s + " needs CAP_SYS_PTRACE", "do not trace other processes in production; or --cap-add SYS_PTRACE"};
    if (s == "clock_settime" || s == "settimeofday" || s == "adjtimex" || s == "clock_adjtime")
        return CapNeed{CAP_SYS_TIME, s + " needs CAP_SYS_TIME (and changes the host's clock)", "let the host keep the time"};
    if (s == "mount" || s == "umount2" || s == "pivot_root" || s == "unshare" || s == "setns")
        return CapNeed{CAP_SYS_ADMIN, s + " needs CAP_SYS_ADMIN", "let hardrun set up mounts and namespaces (--tmpfs, -v); avoid --cap-add SYS_ADMIN"};
    if (s == "kill" || s == "tkill" || s == "tgkill")
        return CapNeed{CAP_KILL, s + " of a process of another user needs CAP_KILL", "signal only the workload's own processes"};
    return std::nullopt;
}

// What allowing a refused syscall opens to the workload, for the fix (b: advice never weakens a layer silently).
std::string what_allowing_opens(const std::string& name) {
    static const std::map<std::string, std::string> opens = {
        {"clone3", "new namespaces: seccomp cannot read clone3's flags, so clone3(CLONE_NEWUSER) would create a user namespace with every capability inside it"},
        {"unshare", "new namespaces (a user namespace has every capability inside it)"},
        {"setns", "joining other namespaces"},
        {"mount", "mounts"}, {"umount2", "unmounts"}, {"pivot_root", "changing the root mount"},
        {"keyctl", "the kernel keyrings, which are not namespaced (the host's keys)"},
        {"add_key", "the kernel keyrings, which are not namespaced (the host's keys)"},
        {"request_key", "the kernel keyrings, which are not namespaced (the host's keys)"},
        {"bpf", "loading BPF into the kernel"}, {"perf_event_open", "perf events (kernel attack surface, side channels)"},
        {"userfaultfd", "userfaultfd (used to win kernel races)"},
        {"io_uring_setup", "io_uring, which seccomp cannot filter once a ring exists"},
        {"ptrace", "reading and writing other processes' memory"},
        {"open_by_handle_at", "opening any inode of a filesystem by handle (the shocker escape)"},
        {"syslog", "the kernel log (kernel addresses, the host's messages)"},
    };
    auto it = opens.find(name);
    return it != opens.end() ? it->second : name + " to the workload";
}

}  // namespace

bool expected_refusal(const std::string& name, int err) {
    // hardrun's profiles answer ENOSYS on purpose (clone3, syscalls newer than the profile): libc falls back to an
    // older call (clone, close, faccessat...) that the filter can check, as on an older kernel
    (void)name;
    return err == ENOSYS;
}

std::vector<Finding> advise(const LaunchPlan& plan, const std::vector<FailedCall>& failures,
                            const std::vector<seccomp::Denial>& denials, const OutcomeView& outcome) {
    std::vector<Finding> out;
    const std::string uid = std::to_string(plan.uid);
    // seccomp first: the denials report, then what the tracer saw the filter refuse
    std::map<std::string, unsigned> denied;
    for (const auto& d : denials)
        if (!expected_refusal(d.name, d.error))
            denied[d.name.empty() ? "syscall " + std::to_string(d.nr) : d.name] += static_cast<unsigned>(d.count);
    for (const auto& f : failures)
        if (f.seccomp_denied && !denials.size() && !expected_refusal(f.syscall, f.err)) denied[f.syscall] += f.count;
    for (const auto& [name, count] : denied) {
        Finding x;
        x.kind = "seccomp";
        x.layer = "seccomp";
        x.message = "the seccomp filter denied syscall " + name;
        x.fix = name == "clone3"
                    ? "refuse clone3 with ENOSYS in the profile (SCMP_ACT_ERRNO, errnoRet 38) so that libc falls back to clone; do not allow it: that would open " + what_allowing_opens(name)
                    : "only if the workload needs it: allow " + name + " in a profile of your own (this opens " +
                          what_allowing_opens(name) + "), or record one with `hardrun seccomp record`";
        x.count = count;
        out.push_back(x);
    }
    // directory -> finding index, to give one piece of advice per directory
    std::map<std::string, std::size_t> per_dir;
    std::map<std::string, std::size_t> per_key;
    auto merge = [&](std::map<std::string, std::size_t>& idx, const std::string& key, Finding f) {
        if (auto it = idx.find(key); it != idx.end()) {
            out[it->second].count += f.count;
            return;
        }
        idx[key] = out.size();
        out.push_back(std::move(f));
    };
    for (const auto& f : failures) {
        if (f.seccomp_denied) continue;
        const std::string path = f.paths.empty() ? "" : f.paths[0];
        if (auto need = capability_need(f, plan)) {
            Finding x;
            x.kind = "capability";
            x.layer = "capabilities";
            x.message = need->what;
            x.fix = need->fix;
            x.count = f.count;
            merge(per_key, "cap:" + parse::capability_name(need->cap) + ":" + need->what, x);
            continue;
        }
        if ((f.syscall == "execve" || f.syscall == "execveat") && f.err == EACCES && !path.empty()) {
            const Mount* m = plan_mount(plan, path);
            Finding x;
            x.kind = "exec";
            x.count = f.count;
            if (m && m->noexec) {
                x.layer = "filesystem";
                x.message = "execve(" + path + ") failed with EACCES: " + m->destination + " is mounted noexec";
                x.fix = "run programs from the read-only image; only if it must: mount " + m->destination +
                        " with exec (--tmpfs " + m->destination + ":exec)";
            } else {
                x.layer = "user";
                x.message = "execve(" + path + ") failed with EACCES: not executable for uid " + uid;
                x.fix = "make it executable for uid " + uid + " in the image";
            }
            merge(per_key, "exec:" + path, x);
            continue;
        }
        if (!path.empty() && path[0] == '/' && writes(f) && (f.err == EROFS || f.err == EACCES)) {
            std::string dir = write_target(plan, f, path);
            Finding x;
            x.kind = "filesystem";
            x.count = f.count;
            const std::string head = f.syscall + "(" + path + ") failed with " + errno_name(f.err) + ": ";
            if (f.err == EROFS) {
                x.layer = "filesystem";
                x.message = head + "the root filesystem is read-only";
                x.fix = "mount a tmpfs or a volume at " + dir + " (" + tmpfs_flag(plan, dir) + " or -v HOSTDIR:" + dir + ")";
                const Mount* m = plan_mount(plan, path);
                if (below("/proc/sys", path)) {
                    // a mount there would hide the kernel's settings, not change them: hardrun refuses it
                    std::string name = path.size() > 10 ? path.substr(10) : "";
                    std::replace(name.begin(), name.end(), '/', '.');
                    if (name.empty()) name = "NAME";
                    x.message = head + "/proc/sys is read-only in the sandbox: it holds kernel settings, most of them "
                                       "for the whole host";
                    x.fix = "set " + name + " on the host (sysctl -w " + name + "=VALUE, or /etc/sysctl.d), not from the "
                            "workload; a namespaced one (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) can be "
                            "set for the sandbox alone in the bundle's config.json (linux.sysctl)";
                } else if (below("/sys", path) || (m && m->kind == MountKind::Sysfs)) {
                    x.message = head + "/sys is never writable in the sandbox (it is the host kernel's state)";
                    x.fix = "make the change on the host, before the workload starts; the workload cannot be given it";
                } else if (const std::string* ro = readonly_path(plan, path)) {
                    x.message = head + *ro + " is kept read-only in the sandbox (a kernel interface)";
                    x.fix = "make the change on the host; the workload cannot be given it";
                } else if (m && m->kind == MountKind::Bind && m->readonly) {
                    x.message = head + m->destination + " is a read-only volume (" + m->source + ")";
                    x.fix = "if the workload is meant to write there, mount it read-write: -v " + m->source + ":" +
                            m->destination + ":rw (instead of :ro)";
                } else if (m && m->readonly) {
                    x.message = head + m->destination + " is mounted read-only";
                    x.fix = "if the workload is meant to write there, mount " + m->destination +
                            " read-write (--tmpfs " + m->destination + ")";
                } else if (m) {
                    x.message = head + "the filesystem at " + m->destination + " is read-only";
                    x.fix = "mount a writable tmpfs or volume at " + dir;
                }
            } else if (plan.landlock.mode != LandlockChoice::Mode::Off && f.dac_allows.value_or(false)) {
                // the file modes allow it and the mount is writable (EACCES, not EROFS): Landlock refused it
                x.layer = "landlock";
                x.message = head + "Landlock refused it (the file modes let uid " + uid + " write there, and the mount "
                                   "is not read-only)";
                x.fix = "Landlock allows writes only below the writable mounts of the plan (tmpfs, volumes): write "
                        "below one of them (" + tmpfs_flag(plan, dir) + ", or -v HOSTDIR:" + dir + "); --landlock off "
                        "only if nothing else works";
            } else {
                x.layer = "user";
                x.message = head + dir + " is not writable for uid " + uid;
                const Mount* m = plan_mount(plan, dir);
                if (m && m->kind == MountKind::Tmpfs && m->copy_up && m->destination == dir && !m->uid) {
                    // a tmpcopyup tmpfs takes the image's owner of the directory: give the tmpfs itself to uid
                    x.message = head + dir + " is a tmpcopyup tmpfs, which keeps the image's owner and mode there, "
                                           "and they do not let uid " + uid + " write";
                    x.fix = "give the tmpfs to uid " + uid + " and keep the image's files: --tmpfs " + dir +
                            ":tmpcopyup,uid=" + uid;
                } else {
                    // (no tmpcopyup: the copies keep the owners that refuse uid now)
                    x.fix = "mount a tmpfs (--tmpfs " + dir + ") or a volume owned by uid " + uid + " at " + dir +
                            ", or give " + dir + " to uid " + uid + " in the image";
                }
            }
            merge(per_dir, std::to_string(f.err) + ":" + x.layer + ":" + dir, x);
            continue;
        }
        if (f.err == ENOENT) {
            // a name made where its directory is missing in the sandbox: the plan's fault only where the image has
            // that directory and a tmpfs of the plan, mounted above it, hides it (postgres' /run/postgresql under a
            // bare --tmpfs /run); where the image lacks it too, the workload fails as it would anywhere
            if (path.empty() || path[0] != '/') continue;
            std::string dir = image_path(plan, dirname_of(path));
            const Mount* m = plan_mount(plan, dir);
            if (!m || m->kind != MountKind::Tmpfs || m->copy_up) continue;
            // the deepest directory on the way that the image has (mkdir /run/app/sub/x: /run/app)
            while (dir != m->destination && below(m->destination, dir) && image_dir(plan, dir) == ImageDir::Missing)
                dir = dirname_of(dir);
            if (dir == m->destination || !below(m->destination, dir)) continue;
            if (image_dir(plan, dir) == ImageDir::Missing || image_dir(plan, dir) == ImageDir::Unknown) continue;
            Finding x;
            x.kind = "filesystem";
            x.layer = "filesystem";
            x.count = f.count;
            x.message = f.syscall + "(" + path + ") failed with ENOENT: " + dir + " is in the image, but the tmpfs at " +
                        m->destination + " hides it";
            x.fix = "fill that tmpfs with the image's files there: --tmpfs " + m->destination + ":tmpcopyup (or mount a "
                    "tmpfs or a volume at " + dir + " itself)";
            merge(per_dir, "enoent:" + m->destination, x);
            continue;
        }
        if ((f.syscall == "bind" || f.syscall == "connect") && (f.err == EACCES || f.err == EPERM) && f.port) {
            Finding x;
            x.kind = "permission";
            x.layer = "landlock";
            x.count = f.count;
            const bool bind = f.syscall == "bind";
            x.message = f.syscall + " to TCP port " + std::to_string(*f.port) + " failed with " + errno_name(f.err) +
                        (plan.landlock.mode != LandlockChoice::Mode::Off ? " (Landlock network rules)" : "");
            x.fix = std::string(bind ? "--allow-bind " : "--allow-connect ") + std::to_string(*f.port);
            merge(per_key, f.syscall + ":" + std::to_string(*f.port), x);
            continue;
        }
        if (f.err == EACCES || f.err == EPERM || f.err == EROFS) {
            Finding x;
            x.kind = "permission";
            x.layer = f.err == EROFS ? "filesystem" : "user";
            x.count = f.count;
            x.message = f.syscall + (path.empty() ? "" : "(" + path + ")") + " failed with " + errno_name(f.err);
            if (f.err == EACCES && !path.empty()) {
                x.fix = "make " + path + " accessible to uid " + uid + " in the image, or mount what it needs there";
                if (auto g = group_that_opens(plan, path); g && g->owner) {
                    x.message += ": " + g->dir + " lets in only its owner " + g->name + " (uid " + std::to_string(g->uid) + ")";
                    x.fix = "-u " + std::to_string(g->uid) + ":" + std::to_string(g->gid) + " (run as " + g->name +
                            ", the image's owner of " + g->dir + ")";
                } else if (g) {
                    x.message += ": " + g->dir + " lets in its group " + g->name + " (gid " + std::to_string(g->gid) +
                                 "), not uid " + uid;
                    x.fix = "--group-add " + (g->named ? g->name : std::to_string(g->gid)) +
                            " (a supplementary group of the workload, as the image intends)";
                }
            }
            else if (f.err == EROFS)
                x.fix = "mount a tmpfs or a volume at " + dirname_of(path);
            else
                x.fix = "see which capability " + f.syscall + "(2) needs (man 7 capabilities): avoid the call, or add it with --cap-add";
            merge(per_key, f.syscall + ":" + std::to_string(f.err) + ":" + path, x);
        }
    }
    if (outcome.oom_killed) {
        Finding x;
        x.kind = "memory";
        x.layer = "cgroup";
        std::string limit = plan.resources.memory_max ? parse::human_size(*plan.resources.memory_max) : "?";
        std::string peak = outcome.memory_peak ? parse::human_size(*outcome.memory_peak) : "unknown";
        x.message = "killed by the OOM killer: the memory limit " + limit + " was reached (peak " + peak + ")";
        x.fix = "raise --memory above the peak the workload needs, or make it use less";
        out.push_back(x);
    }
    if (outcome.pids_limit_hit) {
        Finding x;
        x.kind = "pids";
        x.layer = "cgroup";
        std::string limit = plan.resources.pids_max ? std::to_string(*plan.resources.pids_max) : "?";
        x.message = "fork failed: the pids limit " + limit + " was reached";
        x.fix = "raise --pids-limit, or make the workload start fewer processes or threads";
        out.push_back(x);
    }
    if (outcome.signal && *outcome.signal == SIGSYS) {
        Finding x;
        x.kind = "seccomp";
        x.layer = "seccomp";
        x.message = "killed by SIGSYS: the seccomp filter kills on a syscall the workload made";
        x.fix = "record a profile with `hardrun seccomp record`, or change the profile's action to errno";
        out.push_back(x);
    }
    if (outcome.error && outcome.error_step != "exec") {
        Finding x;
        x.kind = "setup";
        x.layer = outcome.error_step;
        x.message = "hardrun could not apply the hardening: " + *outcome.error;
        x.fix = "fix what the error names; every layer fails closed rather than running without it";
        out.push_back(x);
    }
    return out;
}

}  // namespace hardrun::check
