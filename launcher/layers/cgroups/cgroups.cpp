// cgroup v2 against the real kernel: find the hierarchy, check before writing anything that every controller
// the limits need is there (fail closed with the reason and the fix), create the workload's cgroup, write
// each limit and read it back, attach the device program, and after the exit collect the OOM/peak/CPU
// figures and remove the cgroup. A reaper process removes the cgroup when hardrun is killed (kill -9)
// before it could; stale cgroups it could not remove are collected at the next launch (gc()). The pure
// decisions live in cgroups_plan.cpp.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <thread>

#include "hardrun/layers/cgroups/cgroups.hpp"
#include "hardrun/layers/cgroups/live.hpp"
#include "hardrun/layers/cgroups/systemd.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/procfs.hpp"

namespace hardrun::cgroups {

namespace {

constexpr const char* kOwnerXattr = "user.hardrun.owner";

}  // namespace

Read read_at(int dirfd, const std::string& rel) {
    Read r;
    int fd = ::openat(dirfd, rel.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r.err = errno;
        return r;
    }
    UniqueFd guard(fd);
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            r.err = errno;
            break;
        }
        if (n == 0) break;
        r.text.append(buf, static_cast<std::size_t>(n));
    }
    return r;
}

Read read_path(const std::string& path) { return read_at(AT_FDCWD, path); }

// 0 or errno. One write(2): cgroup files take the whole value in one go.
int write_at(int dirfd, const std::string& rel, const std::string& value) {
    int fd = ::openat(dirfd, rel.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    UniqueFd guard(fd);
    ssize_t n;
    do n = ::write(fd, value.data(), value.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    return n == static_cast<ssize_t>(value.size()) ? 0 : EIO;
}

std::map<std::string, std::uint64_t> keyed(const std::string& text) {
    std::map<std::string, std::uint64_t> m;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream l(line);
        std::string key, value;
        if (!(l >> key >> value)) continue;
        if (auto v = parse::number<std::uint64_t>(value)) m[key] = *v;
    }
    return m;
}

namespace {

std::set<std::string> words(const std::string& text) {
    std::set<std::string> s;
    std::istringstream in(text);
    std::string w;
    while (in >> w) s.insert(w);
    return s;
}

bool populated_at(int dirfd) {
    Read r = read_at(dirfd, "cgroup.events");
    if (r.err) return false;
    auto ev = keyed(r.text);
    return ev.count("populated") && ev["populated"] != 0;
}

// Start time (clock ticks since boot) of a process, from /proc/PID/stat field 22.
std::optional<std::uint64_t> start_time(const std::string& pid) {
    auto st = procfs::read_stat(pid);
    if (!st) return std::nullopt;
    return st->start_time;
}

std::string pidns_id() {
    struct stat st {};
    if (::stat("/proc/self/ns/pid", &st) != 0) return "?";
    return std::to_string(st.st_ino);
}

std::string owner_record() {
    return std::to_string(::getpid()) + " " + std::to_string(start_time("self").value_or(0)) + " " + pidns_id();
}

bool is_delegated(const std::string& dir, uid_t euid) {
    for (const char* attr : {"trusted.delegate", "user.delegate"}) {
        char v[8] = {};
        ssize_t n = ::getxattr(dir.c_str(), attr, v, sizeof v);
        if (n > 0 && v[0] == '1') return true;
    }
    if (euid == 0) return false;
    // the kernel's delegation model: the directory and its cgroup.procs belong to the user
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || st.st_uid != euid) return false;
    return ::faccessat(AT_FDCWD, (dir + "/cgroup.procs").c_str(), W_OK, AT_EACCESS) == 0 &&
           ::faccessat(AT_FDCWD, (dir + "/cgroup.subtree_control").c_str(), W_OK, AT_EACCESS) == 0;
}

std::string common_ancestor(const std::string& a, const std::string& b) {
    std::string c = a;
    while (!(b == c || b.starts_with(c + "/")) && c.size() > 1) c = c.substr(0, c.rfind('/'));
    return c;
}

void make_dir(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        throw_errno("cgroups", "creating " + dir, errno,
                    errno == EACCES || errno == EPERM ? "no permission to create a cgroup there" : "");
}

void enable_controllers(const std::string& dir, const std::set<std::string>& needed, const MountFacts& facts,
                        const Placement& pl) {
    if (needed.empty()) return;
    Read sc = read_path(dir + "/cgroup.subtree_control");
    if (sc.err) throw_errno("cgroups", dir + "/cgroup.subtree_control", sc.err);
    auto enabled = words(sc.text);
    std::string add;
    for (const auto& c : needed)
        if (!enabled.count(c)) add += (add.empty() ? "+" : " +") + c;
    if (add.empty()) return;
    Read avail = read_path(dir + "/cgroup.controllers");
    auto have = words(avail.text);
    for (const auto& c : needed)
        if (!have.count(c)) throw Error("cgroups", "", missing_controller_reason(c, dir, facts, pl));
    int err = write_at(AT_FDCWD, dir + "/cgroup.subtree_control", add);
    if (err == 0) return;
    std::string hint;
    if (err == EBUSY)
        hint = dir + " holds processes of its own, and cgroup v2 enables controllers only for cgroups without "
                     "processes ('no internal processes'); start hardrun as the only process of its delegated unit "
                     "or scope, or pass --cgroup-parent";
    else if (err == EACCES || err == EPERM)
        hint = "no permission to enable controllers there; run as root or delegate that cgroup";
    throw_errno("cgroups", "enabling " + add + " in " + dir + "/cgroup.subtree_control", err, hint);
}

// The directories from the anchor down to the parent, both included.
std::vector<std::string> chain(const std::string& anchor, const std::string& parent) {
    std::vector<std::string> dirs{anchor};
    if (parent == anchor) return dirs;
    std::string rest = parent.substr(anchor.size() + (anchor == "/" ? 0 : 1));
    std::string cur = anchor == "/" ? "" : anchor;
    std::istringstream in(rest);
    std::string part;
    while (std::getline(in, part, '/'))
        if (!part.empty()) dirs.push_back(cur += "/" + part);
    return dirs;
}

bool swap_exists() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb) {
        std::getline(in, unit);
        if (key == "SwapTotal:") return kb != 0;
    }
    return true;
}

}  // namespace

void write_limit(int dirfd, const std::string& path, const LimitWrite& w) {
    int err = write_at(dirfd, w.file, w.value);
    if (err == ENOENT && w.file == "memory.swap.max" && w.value == "0" && !swap_exists())
        return;  // no swap accounting and no swap at all: "no swap" holds anyway
    if (err) {
        std::string hint;
        if (err == ENOENT) hint = "the kernel has no " + w.file + " (controller not enabled, or feature not built)";
        else if (err == EINVAL) hint = "the kernel refused the value";
        else if (err == EACCES || err == EPERM) hint = "no permission to write it";
        throw_errno("cgroups", "writing " + w.file + "=" + w.value + " in " + path, err, hint);
    }
    Read back = read_at(dirfd, w.file);
    if (back.err) throw_errno("cgroups", "reading back " + w.file + " in " + path, back.err);
    if (!readback_ok(w, back.text)) {
        std::string got = back.text;
        while (!got.empty() && got.back() == '\n') got.pop_back();
        throw Error("cgroups", w.file + " in " + path, "wrote '" + w.value + "' but the kernel reports '" + got + "'");
    }
}

namespace {

bool wait_empty(int dirfd, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    auto pause = std::chrono::microseconds(200);
    while (populated_at(dirfd)) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(20000));
    }
    return true;
}

void kill_at(int dirfd) {
    if (write_at(dirfd, "cgroup.kill", "1") != ENOENT) return;
    // kernels before 5.14: kill what cgroup.procs lists until it is empty
    for (int round = 0; round < 100; ++round) {
        Read procs = read_at(dirfd, "cgroup.procs");
        std::istringstream in(procs.text);
        pid_t pid;
        bool any = false;
        while (in >> pid) {
            ::kill(pid, SIGKILL);
            any = true;
        }
        if (!any) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

bool remove_dir(const std::string& path, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return true;
        if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

// The destructor's cleanup: kill what is left, wait for the cgroup to empty, remove it. 0 or errno.
int kill_and_remove_at(int dirfd, const std::string& path) {
    if (populated_at(dirfd)) {
        kill_at(dirfd);
        wait_empty(dirfd, std::chrono::milliseconds(5000));
    }
    return remove_dir(path, std::chrono::milliseconds(2000)) ? 0 : errno;
}

bool pid_alive(const std::string& pid) {
    const auto p = parse::number<pid_t>(pid);
    return p && (::kill(*p, 0) == 0 || errno == EPERM);
}

// ---- the reaper ----------------------------------------------------------------------------------
// It runs in a forked copy of a process that may have threads: raw system calls only, no allocation.

bool events_populated(int events_fd) {
    char buf[256];
    ssize_t n = ::pread(events_fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return false;  // gone (the cgroup was removed) or unreadable
    return ::memmem(buf, static_cast<std::size_t>(n), "populated 1", 11) != nullptr;
}

struct ReaperArgs {
    int ctl = -1;       // read end: 'i' + inode = "this is the cgroup", 'd' = dismissed
    int ack = -1;       // write end, held until the reaper exits
    int pidfd = -1;     // the supervisor's pidfd (-1: kernel without pidfd_open, ctl's EOF decides)
    int parent = -1;    // the directory the cgroup is (about to be) created in
    const char* name = nullptr;
};

[[noreturn]] void reaper_main(const ReaperArgs& a) {
    ::setsid();  // out of the terminal's process group: a Ctrl-C of hardrun does not reach it
    ::prctl(PR_SET_NAME, "hardrun-reaper", 0, 0, 0);
    if (::chdir("/") != 0) ::_exit(1);  // never keep a mount busy
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // stdin/out/err to /dev/null (a caller reading hardrun's output must see EOF when hardrun dies), every
    // other inherited descriptor closed
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0)
        for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
    int keep[] = {a.ctl, a.ack, a.pidfd, a.parent};
    std::sort(std::begin(keep), std::end(keep));
    unsigned from = 3;
    for (int fd : keep) {
        if (fd < 3) continue;
        if (static_cast<unsigned>(fd) > from) ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
        from = static_cast<unsigned>(fd) + 1;
    }
    ::syscall(SYS_close_range, from, ~0U, 0);

    // 1. Wait for the supervisor: 'd' dismisses us; its death (pidfd readable, or ctl's EOF once every
    //    copy of the write end is closed) without 'd' means nobody else will clean up.
    bool known = false;
    ino_t inode = 0;
    struct pollfd pf[2] = {{a.ctl, POLLIN, 0}, {a.pidfd, POLLIN, 0}};
    for (;;) {
        if (::poll(pf, a.pidfd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            ::_exit(1);
        }
        char msg[1 + sizeof(ino_t)];
        ssize_t n = ::read(a.ctl, msg, sizeof msg);  // O_NONBLOCK; every message is one atomic write
        if (n >= 1 && msg[0] == 'd') ::_exit(0);
        if (n == static_cast<ssize_t>(sizeof msg) && msg[0] == 'i') {
            std::memcpy(&inode, msg + 1, sizeof inode);
            known = true;
            continue;
        }
        if (n > 0 || (n < 0 && errno == EAGAIN && !(pf[1].revents & POLLIN))) continue;
        break;  // EOF, or the pidfd says the supervisor is gone
    }

    // 2. The cgroup, if it exists: only the very directory the supervisor made (cgroup inode numbers are
    //    never reused). Killed before it said which one (between its mkdir and the 'i' message), the supervisor
    //    may have made none: a directory of that name can be someone else's, so it is left to the next
    //    launch's gc(), which removes only empty hardrun-<pid> cgroups of dead creators.
    if (!known) ::_exit(0);
    int cg = ::openat(a.parent, a.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cg < 0) ::_exit(0);
    struct stat ours {}, there {};
    if (::fstat(cg, &ours) != 0) ::_exit(1);
    if (ours.st_ino != inode) ::_exit(0);

    // 3. Kill what is left (the workload normally died already: PDEATHSIG, then its pid namespace), wait
    //    until it is empty (cgroup.events "populated 0", notified with POLLPRI), remove it.
    int kill_fd = ::openat(cg, "cgroup.kill", O_WRONLY | O_CLOEXEC);
    if (kill_fd >= 0) {
        (void)!::write(kill_fd, "1", 1);
        ::close(kill_fd);
    }
    int events = ::openat(cg, "cgroup.events", O_RDONLY | O_CLOEXEC);
    if (events < 0) ::_exit(0);  // the cgroup is gone already
    for (int waited_ms = 0; events_populated(events) && waited_ms < 30000; waited_ms += 200) {
        struct pollfd ev = {events, POLLPRI, 0};
        ::poll(&ev, 1, 200);
    }
    for (int tries = 0; tries < 1000; ++tries) {
        if (::fstatat(a.parent, a.name, &there, AT_SYMLINK_NOFOLLOW) != 0 || there.st_ino != ours.st_ino ||
            there.st_dev != ours.st_dev)
            ::_exit(0);
        if (::unlinkat(a.parent, a.name, AT_REMOVEDIR) == 0 || errno != EBUSY) ::_exit(0);
        struct timespec pause = {0, 10 * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
    }
    ::_exit(1);
}

}  // namespace

Reaper Reaper::start(const std::string& parent, const std::string& name) {
    const auto t0 = std::chrono::steady_clock::now();
    Reaper r;
    UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    int ctl[2], ack[2];
    if (!parent_fd || ::pipe2(ctl, O_CLOEXEC) != 0) return r;
    UniqueFd ctl_r(ctl[0]), ctl_w(ctl[1]);
    if (::pipe2(ack, O_CLOEXEC) != 0) return r;
    UniqueFd ack_r(ack[0]), ack_w(ack[1]);
    if (::fcntl(ctl_r.get(), F_SETFL, O_NONBLOCK) != 0) return r;
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
    ReaperArgs a{ctl_r.get(), ack_w.get(), pidfd.get(), parent_fd.get(), name.c_str()};
    pid_t mid = ::fork();
    if (mid < 0) {
        log::warning("could not start the cgroup reaper for " + parent + "/" + name + ": " + errno_text(errno) +
                     " (if hardrun is killed, the next launch removes the cgroup)");
        return r;
    }
    if (mid == 0) {
        // the middle child: it exits at once, so the reaper is nobody's child here (it is not in our
        // process tree, and none of our waits ever sees it)
        pid_t pid = ::fork();
        if (pid == 0) reaper_main(a);
        ::_exit(pid < 0 ? 1 : 0);
    }
    // The middle child is collected in dismiss(), long after it exited: waiting for it here would put two
    // context switches and its fork on the launch's path. (The supervisor waits for its workload by pid, so
    // no wait of ours collects it by accident.)
    r.mid_ = mid;
    r.ctl_ = std::move(ctl_w);
    r.ack_ = std::move(ack_r);
    r.start_us_ = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

void Reaper::watch(int cgroup_fd) {
    struct stat st {};
    if (!ctl_ || ::fstat(cgroup_fd, &st) != 0) return;
    char msg[1 + sizeof(ino_t)];
    msg[0] = 'i';
    std::memcpy(msg + 1, &st.st_ino, sizeof st.st_ino);
    (void)!::write(ctl_.get(), msg, sizeof msg);
}

void Reaper::dismiss() {
    if (mid_ > 0) {
        while (::waitpid(mid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        mid_ = -1;
    }
    if (!ctl_) return;
    char done = 'd';
    (void)!::write(ctl_.get(), &done, 1);
    ctl_.reset();
    // wait (briefly) for its exit, so no process of ours outlives hardrun
    struct pollfd p = {ack_.get(), POLLIN, 0};
    while (::poll(&p, 1, 1000) < 0 && errno == EINTR) {
    }
    ack_.reset();
}

std::vector<std::string> gc(const std::string& parent) {
    std::vector<std::string> removed;
    DIR* d = ::opendir(parent.c_str());
    if (!d) return removed;
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (e->d_type == DT_DIR && n.size() > 8 && n.starts_with("hardrun-") &&
            n.find_first_not_of("0123456789", 8) == std::string::npos && n.size() < 20)
            names.push_back(n);
    }
    ::closedir(d);
    const std::string self = std::to_string(::getpid()), ns = pidns_id();
    for (const auto& n : names) {
        const std::string pid = n.substr(8), path = parent + "/" + n;
        if (pid == self) continue;
        char rec[128] = {};
        ssize_t len = ::getxattr(path.c_str(), kOwnerXattr, rec, sizeof rec - 1);
        int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) continue;
        UniqueFd dir(fd);
        if (len > 0) {
            std::istringstream in(std::string(rec, static_cast<std::size_t>(len)));
            std::string rpid, rstart, rns;
            in >> rpid >> rstart >> rns;
            if (rpid != pid || rns != ns) continue;  // another pid namespace's: not ours to judge
            auto st = start_time(pid);
            if (st && std::to_string(*st) == rstart) continue;  // its creator is alive
        } else if (pid_alive(pid)) {
            continue;  // no record: trust the name
        }
        // Only empty ones go: a killed hardrun's workload died with it (PDEATHSIG, then its pid namespace),
        // and a populated cgroup may be a detached container whose creator exited on purpose.
        if (populated_at(fd)) continue;
        if (remove_dir(path, std::chrono::milliseconds(500))) removed.push_back(path);
    }
    return removed;
}

namespace {
// A process that only waits, so systemd has a pid for the scope before the container exists; dies with us.
pid_t start_holder() {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("cgroups", "forking the scope's placeholder process", errno);
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(0);
        for (;;) ::pause();
    }
    return pid;
}
void end_holder(pid_t& pid) {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
}
}  // namespace

std::unique_ptr<Cgroup> Cgroup::create_scope(const LaunchPlan& plan) {
    const systemd::ScopeName scope{plan.systemd_slice, plan.systemd_unit};
    const std::string object = "systemd scope " + scope.unit;
    Read mi = read_path("/proc/self/mountinfo");
    if (mi.err) throw_errno("cgroups", "/proc/self/mountinfo", mi.err);
    const MountFacts facts = parse_mountinfo(mi.text);
    if (!facts.v2_mount) throw Error("cgroups", object, "no cgroup v2 hierarchy is mounted (hardrun's systemd driver is for cgroup v2)");

    pid_t holder = start_holder();
    try {
        systemd::start_scope(scope, holder, plan.resources);
        // where systemd put it: the holder's cgroup, under our cgroup2 mount
        const auto own = parse_own_cgroup(read_path("/proc/" + std::to_string(holder) + "/cgroup").text);
        if (!own || !own->ends_with("/" + scope.unit))
            throw Error("cgroups", object, "after the job the placeholder process is in " + own.value_or("?") +
                                               ", not in the scope");
        std::string rel = *own;
        if (facts.v2_root != "/") {
            if (!rel.starts_with(facts.v2_root + "/"))
                throw Error("cgroups", object, "its cgroup " + rel + " is outside our cgroup2 mount (root " + facts.v2_root + ")");
            rel = rel.substr(facts.v2_root.size());
        }
        const std::string path = *facts.v2_mount + rel;
        int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw_errno("cgroups", "opening " + path, errno);
        auto cg = std::make_unique<Cgroup>(Key{}, path, UniqueFd(fd), plan.resources);
        cg->unit_ = scope.unit;
        cg->holder_ = std::exchange(holder, -1);
        // Delegate=yes: the scope's own limit files are ours to write, with hardrun's writer and read-back
        const long page = ::sysconf(_SC_PAGESIZE);
        for (const auto& w : limit_writes(plan.resources, page > 0 ? static_cast<std::uint64_t>(page) : 4096))
            write_limit(fd, path, w);
        if (const auto rules = enforced_device_rules(plan.resources, ::geteuid() == 0); !rules.empty())
            attach_device_program(fd, path, rules);
        return cg;
    } catch (...) {
        end_holder(holder);  // the scope, empty, goes (CollectMode=inactive-or-failed)
        throw;
    }
}

void Cgroup::child_placed() { end_holder(holder_); }

std::unique_ptr<Cgroup> Cgroup::create(const LaunchPlan& plan, const std::string& name) {
    if (!plan.systemd_cgroups_path.empty() && plan.systemd_unit.empty())
        throw Error("cgroups", "linux.cgroupsPath '" + plan.systemd_cgroups_path + "'",
                    "is a systemd slice:prefix:name path, for the systemd cgroup driver; pass --systemd-cgroup or "
                    "give a cgroupfs path");
    if (!plan.systemd_unit.empty()) return create_scope(plan);
    if (plan.resources.empty()) return nullptr;
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
        throw Error("cgroups", "cgroup name '" + name + "'", "must be a plain directory name");
    const Resources& res = plan.resources;
    const uid_t euid = ::geteuid();

    Read mi = read_path("/proc/self/mountinfo");
    if (mi.err) throw_errno("cgroups", "/proc/self/mountinfo", mi.err);
    const MountFacts facts = parse_mountinfo(mi.text);
    const std::set<std::string> needed = needed_controllers(res);
    if (!facts.v2_mount) {
        std::string cause = "no cgroup v2 hierarchy is mounted";
        if (!facts.v1.empty()) cause += " (this host mounts only cgroup v1)";
        throw Error("cgroups", "", cause + "; mount cgroup2 (boot with systemd.unified_cgroup_hierarchy=1) or run "
                                           "without resource limits");
    }

    PlacementInput in;
    in.mount = *facts.v2_mount;
    in.mount_root = facts.v2_root;
    in.own = parse_own_cgroup(read_path("/proc/self/cgroup").text);
    in.cgroup_parent = plan.cgroup_parent;
    in.euid = euid;
    in.delegated = [euid](const std::string& dir) { return is_delegated(dir, euid); };
    const Placement pl = place(in);

    // 1. Before anything is written: the anchor must exist and offer every controller the limits need.
    Read avail = read_path(pl.anchor + "/cgroup.controllers");
    if (avail.err)
        throw_errno("cgroups", pl.anchor, avail.err,
                    avail.err == ENOENT ? "this " + pl.source + " cgroup does not exist" : "");
    const auto have = words(avail.text);
    for (const auto& c : needed)
        if (!have.count(c)) throw Error("cgroups", "", missing_controller_reason(c, pl.anchor, facts, pl));

    // 2. Rootless: the kernel moves the workload only if we may write cgroup.procs of the common ancestor
    //    of our cgroup and its (runc CVE-2023-25809 is the other side of this rule).
    if (euid != 0) {
        const std::string from = pl.move_self_to.empty() ? pl.own_dir : pl.move_self_to;
        const std::string common = from.empty() ? pl.parent : common_ancestor(from, pl.parent);
        if (::faccessat(AT_FDCWD, (common + "/cgroup.procs").c_str(), W_OK, AT_EACCESS) != 0)
            throw Error("cgroups", pl.parent,
                        "running rootless, and moving the workload from " + (from.empty() ? "?" : from) + " there needs "
                        "write access to " + common + "/cgroup.procs; run hardrun inside the delegated subtree "
                        "(systemd-run --user --scope -p Delegate=yes hardrun run ...)");
    }

    // 3. Delegated: hardrun moves itself into a leaf first, so its cgroup can hand controllers down.
    if (!pl.move_self_to.empty()) {
        make_dir(pl.move_self_to);
        if (int err = write_at(AT_FDCWD, pl.move_self_to + "/cgroup.procs", std::to_string(::getpid())))
            throw_errno("cgroups", "moving hardrun into " + pl.move_self_to, err);
    }

    // 4. The path from the anchor down to the parent: create what is missing, enable the controllers.
    for (const auto& dir : chain(pl.anchor, pl.parent)) {
        if (dir != pl.anchor) make_dir(dir);
        enable_controllers(dir, needed, facts, pl);
    }

    // 5. Stale cgroups of hardrun processes that were killed (kill -9) go before a new one is made.
    for (const auto& gone : gc(pl.parent)) log::info("removed the stale cgroup " + gone);

    // 6. The reaper first, so a kill -9 from the mkdir on is covered; it removes the cgroup below when this
    //    process dies before the destructor could.
    Reaper reaper = Reaper::start(pl.parent, name);

    // 7. The workload's cgroup, owned by the returned object from here on (its destructor removes it).
    const std::string path = pl.parent + "/" + name;
    if (::mkdir(path.c_str(), 0755) != 0)
        throw_errno("cgroups", "creating " + path, errno, errno == EEXIST ? "a cgroup of that name exists" : "");
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        ::rmdir(path.c_str());
        throw_errno("cgroups", "opening " + path, err);
    }
    reaper.watch(fd);
    if (log::verbose() && reaper.running())
        log::info("cgroup reaper started in " + std::to_string(reaper.start_us()) + " us");
    auto cg = std::make_unique<Cgroup>(Key{}, path, UniqueFd(fd), res);
    cg->reaper_ = std::move(reaper);
    const std::string owner = owner_record();
    (void)::fsetxattr(fd, kOwnerXattr, owner.data(), owner.size(), 0);  // for gc(); optional

    const long page = ::sysconf(_SC_PAGESIZE);
    for (const auto& w : limit_writes(res, page > 0 ? static_cast<std::uint64_t>(page) : 4096))
        write_limit(fd, path, w);
    // a default-deny device policy wherever a cgroup exists (cgroup v2 device programs need no controller)
    if (const auto rules = enforced_device_rules(res, euid == 0); !rules.empty()) attach_device_program(fd, path, rules);
    return cg;
}

Cgroup::Cgroup(Key, std::string path, UniqueFd dir, const Resources& limits)
    : path_(std::move(path)), dir_(std::move(dir)), limits_(limits) {}

Cgroup::~Cgroup() {
    end_holder(holder_);
    if (!dir_ || disowned_) return;
    if (int err = kill_and_remove_at(dir_.get(), path_))
        log::warning("could not remove the cgroup " + path_ + ": " + errno_text(err) +
                     " (the next launch removes it)");
    reaper_.dismiss();  // only now: a kill -9 during the removal above is still covered
}

int kill_and_remove(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : errno;
    UniqueFd dir(fd);
    return kill_and_remove_at(dir.get(), path);
}

Stats Cgroup::collect() const {
    Stats s;
    const int fd = dir_.get();
    if (Read r = read_at(fd, "memory.events"); !r.err) {
        auto ev = keyed(r.text);
        s.oom_kills = ev.count("oom_kill") ? ev["oom_kill"] : 0;
        s.oom_killed = s.oom_kills > 0;
    }
    if (Read r = read_at(fd, "memory.peak"); !r.err) {
        std::string_view t = r.text;
        while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
        if (auto v = parse::number<std::uint64_t>(t)) s.memory_peak = *v;
    }
    if (Read r = read_at(fd, "cpu.stat"); !r.err) {
        auto st = keyed(r.text);
        if (st.count("usage_usec")) s.cpu_usage_usec = st["usage_usec"];
        if (st.count("throttled_usec")) s.cpu_throttled_usec = st["throttled_usec"];
        if (st.count("nr_throttled")) s.nr_throttled = st["nr_throttled"];
    }
    if (Read r = read_at(fd, "pids.events"); !r.err) {
        auto ev = keyed(r.text);
        s.pids_limit_hit = ev.count("max") && ev["max"] > 0;
    }
    return s;
}

void Cgroup::kill_all() const { kill_at(dir_.get()); }

void enable_controllers_above(const std::string& path, const std::set<std::string>& needed) {
    if (needed.empty()) return;
    const auto have = words(read_path(path + "/cgroup.controllers").text);
    if (std::all_of(needed.begin(), needed.end(), [&](const std::string& c) { return have.count(c) != 0; })) return;
    Read mi = read_path("/proc/self/mountinfo");
    if (mi.err) throw_errno("cgroups", "/proc/self/mountinfo", mi.err);
    const MountFacts facts = parse_mountinfo(mi.text);
    if (!facts.v2_mount || !path.starts_with(*facts.v2_mount + "/"))
        throw Error("cgroups", path, "is not under the cgroup v2 hierarchy this process sees");
    Placement pl;  // as create() does for root: from the cgroup2 root down to the cgroup's parent
    pl.anchor = *facts.v2_mount;
    pl.parent = path.substr(0, path.rfind('/'));
    pl.source = "the container's";
    for (const auto& dir : chain(pl.anchor, pl.parent)) enable_controllers(dir, needed, facts, pl);
}

std::string summary(const Stats& s) {
    auto ms = [](std::uint64_t us) { return std::to_string(us / 1000) + " ms"; };
    std::string out;
    auto add = [&](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
    if (s.memory_peak) {
        std::ostringstream m;
        m.setf(std::ios::fixed);
        m.precision(1);
        m << static_cast<double>(*s.memory_peak) / (1024.0 * 1024.0) << " MiB";
        add("memory peak " + m.str());
    }
    if (s.cpu_usage_usec) {
        std::string cpu = "cpu " + ms(*s.cpu_usage_usec);
        if (s.nr_throttled && *s.nr_throttled)
            cpu += " (throttled " + ms(s.cpu_throttled_usec.value_or(0)) + " in " + std::to_string(*s.nr_throttled) + " periods)";
        add(cpu);
    }
    if (s.oom_kills) add("oom kills " + std::to_string(s.oom_kills));
    if (s.pids_limit_hit) add("the pids limit refused a fork");
    return out.empty() ? "no figures" : out;
}

}  // namespace hardrun::cgroups
