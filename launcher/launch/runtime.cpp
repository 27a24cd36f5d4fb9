#include "hardrun/launch/runtime.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "hardrun/support/error.hpp"
#include "hardrun/support/interrupt.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/procfs.hpp"

namespace hardrun::oci {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool same_ns(pid_t a, pid_t b, const char* type) {
    struct stat sa {}, sb {};
    std::string pa = a == 0 ? std::string("/proc/self/ns/") + type : "/proc/" + std::to_string(a) + "/ns/" + type;
    std::string pb = "/proc/" + std::to_string(b) + "/ns/" + type;
    // unknown counts as different: the hook then enters that namespace (setns), or fails with a clear error,
    // rather than silently running in the host's
    if (::stat(pa.c_str(), &sa) != 0 || ::stat(pb.c_str(), &sb) != 0) return false;
    return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

// The namespaces of `pid` that differ from ours.
int differing_namespaces(pid_t pid) {
    struct T {
        const char* name;
        int flag;
    };
    static const T types[] = {{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},     {"pid", CLONE_NEWPID},   {"net", CLONE_NEWNET},
                              {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},    {"cgroup", CLONE_NEWCGROUP}};
    int flags = 0;
    for (const auto& t : types)
        if (!same_ns(0, pid, t.name)) flags |= t.flag;
    return flags;
}

[[noreturn]] void child_fail(const std::string& what, int err) {
    log::error("hook " + what + ": " + errno_text(err));
    ::_exit(127);
}

// interruptible: a terminating signal (blocked by the caller during a launch's setup) kills the hook and
// throws interrupt::interrupted (the creation hooks, which fail closed); otherwise signals act as usual.
void run_one(const Hook& h, const std::string& label, const std::string& state, pid_t enter, bool interruptible) {
    UniqueFd enter_fd;
    int ns_flags = 0;
    if (enter > 0) {
        enter_fd.reset(pidfd_open(enter));
        if (!enter_fd) throw_errno("hooks", label, errno, "the container process is gone");
        ns_flags = differing_namespaces(enter);
    }
    Pipe in = Pipe::make("hook stdin");
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("hooks", label, errno, "fork");
    if (pid == 0) {
        in.write.reset();  // only the parent writes: the hook must see EOF after the state
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        if (enter_fd && ns_flags) {
            if (::setns(enter_fd.get(), ns_flags) != 0) child_fail(h.path + " (entering the container's namespaces)", errno);
            if (ns_flags & CLONE_NEWPID) {  // only children enter the pid namespace
                pid_t inner = ::fork();
                if (inner < 0) child_fail(h.path, errno);
                if (inner > 0) {
                    int st = 0;
                    while (::waitpid(inner, &st, 0) < 0 && errno == EINTR) {}
                    ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
                }
                ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            }
        }
        if (in.read.get() != 3 && ::dup2(in.read.get(), 3) < 0) child_fail(h.path, errno);
        ::syscall(SYS_close_range, 4U, ~0U, 0U);
        exec_hook(h, 3, h.path);
    }
    in.read.reset();
    UniqueFd pidfd(pidfd_open(pid));
    {
        // a hook that does not read its stdin must not kill us with SIGPIPE
        struct sigaction ign {}, old {};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ign, &old);
        (void)!::write(in.write.get(), state.data(), state.size());
        ::sigaction(SIGPIPE, &old, nullptr);
        in.write.reset();
    }
    if ((h.timeout || interruptible) && pidfd) {
        const int timeout_ms = h.timeout ? *h.timeout * 1000 : -1;
        int r;
        if (interruptible) {
            r = interrupt::wait_fd(pidfd.get(), timeout_ms);
        } else {
            struct pollfd p {pidfd.get(), POLLIN, 0};
            do r = ::poll(&p, 1, timeout_ms);
            while (r < 0 && errno == EINTR);
            r = r == 0 ? -1 : 0;
        }
        if (r != 0) {
            ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
            if (r > 0) throw interrupt::interrupted(r, "running hook " + label);
            check_hook_end(label, 0, true, *h.timeout);
        }
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) throw_errno("hooks", label, errno, "waitpid");
    }
    check_hook_end(label, st);
}

}  // namespace

void check_hook_end(const std::string& label, int st, bool timed_out, int timeout) {
    if (timed_out) throw Error("hooks", label, "timed out after " + std::to_string(timeout) + " s and was killed");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return;
    if (WIFEXITED(st)) throw Error("hooks", label, "exited with status " + std::to_string(WEXITSTATUS(st)));
    const char* name = sigabbrev_np(WTERMSIG(st));
    throw Error("hooks", label, std::string("killed by signal ") + (name ? name : "?"));
}

void exec_hook(const Hook& h, int stdin_fd, const std::string& what) {
    if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) child_fail(what, errno);
    if (stdin_fd > STDERR_FILENO) ::close(stdin_fd);
    std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = h.env;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    ::execve(h.path.c_str(), argv.data(), envp.data());
    child_fail(what, errno);
}

namespace {

std::string label_of(const std::string& kind, std::size_t i, const Hook& h) {
    return kind + "[" + std::to_string(i) + "] " + h.path;
}

}  // namespace

void run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state_json, pid_t enter) {
    for (std::size_t i = 0; i < hooks.size(); ++i) run_one(hooks[i], label_of(kind, i, hooks[i]), state_json, enter, true);
}

void run_hooks_warn(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state_json) {
    for (std::size_t i = 0; i < hooks.size(); ++i) {
        try {
            run_one(hooks[i], label_of(kind, i, hooks[i]), state_json, 0, false);
        } catch (const Error& e) {
            log::warning(e.what());
        }
    }
}

int parse_signal(const std::string& name) {
    if (name.empty()) throw UsageError("signal", "is empty");
    if (std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); })) {
        int n = name.size() > 3 ? 0 : parse::number<int>(name).value_or(0);
        if (n < 1 || n > SIGRTMAX) throw UsageError("signal", "'" + name + "' is not a signal number (1.." + std::to_string(SIGRTMAX) + ")");
        return n;
    }
    std::string u = name;
    std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return std::toupper(c); });
    if (u.starts_with("SIG")) u = u.substr(3);
    for (int s = 1; s < SIGRTMIN; ++s)
        if (const char* abbrev = sigabbrev_np(s); abbrev && u == abbrev) return s;
    if (u.starts_with("RTMIN")) {
        int off = 0;
        bool ok = u.size() == 5;
        if (u.size() > 6 && u[5] == '+') {
            const auto n = parse::number<int>(std::string_view(u).substr(6), 0);
            ok = n.has_value();
            off = n.value_or(0);
        }
        if (ok && SIGRTMIN + off <= SIGRTMAX) return SIGRTMIN + off;
    }
    throw UsageError("signal", "'" + name + "' is not a signal name (e.g. TERM, KILL, HUP, 15)");
}

namespace {

std::vector<pid_t> all_pids() {
    std::vector<pid_t> out;
    DIR* d = ::opendir("/proc");
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        if (auto p = parse::number<pid_t>(e->d_name, 1)) out.push_back(*p);
    }
    ::closedir(d);
    return out;
}

// The last NSpid of a process: its pid in its own (innermost) pid namespace; 0 when unreadable.
pid_t innermost_pid(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(f, line);)
        if (line.starts_with("NSpid:")) {
            std::istringstream in(line.substr(6));
            pid_t last = 0;
            for (std::string w; in >> w;) last = parse::number<pid_t>(w).value_or(0);
            return last;
        }
    return 0;
}

pid_t parent_of(pid_t pid) {
    auto st = procfs::read_stat(pid);
    return st ? st->ppid : 0;
}

}  // namespace

std::vector<pid_t> container_pids(pid_t init, const std::string& cgroup_path) {
    std::vector<pid_t> out;
    struct stat ns {};
    if (::stat(("/proc/" + std::to_string(init) + "/ns/pid").c_str(), &ns) != 0) return out;
    out.push_back(init);
    if (!cgroup_path.empty()) {  // the container's own cgroup lists exactly its processes
        std::ifstream procs(cgroup_path + "/cgroup.procs");
        for (std::string w; procs >> w;)
            if (auto p = parse::number<pid_t>(w); p && *p != init) out.push_back(*p);
    } else if (innermost_pid(init) == 1) {  // init made the pid namespace: everything in it is the container's
        for (pid_t p : all_pids()) {
            struct stat st {};
            if (p == init || ::stat(("/proc/" + std::to_string(p) + "/ns/pid").c_str(), &st) != 0) continue;
            if (st.st_ino == ns.st_ino && st.st_dev == ns.st_dev) out.push_back(p);
        }
    } else {  // the host's (or a joined) pid namespace: never everything in it, only init's descendants
        std::vector<pid_t> pids = all_pids();
        std::vector<std::pair<pid_t, pid_t>> parent;  // (pid, ppid)
        for (pid_t p : pids) parent.emplace_back(p, parent_of(p));
        for (std::size_t i = 0; i < out.size(); ++i)
            for (const auto& [p, pp] : parent)
                if (pp == out[i] && p != init) out.push_back(p);
    }
    std::sort(out.begin() + 1, out.end());
    out.erase(std::unique(out.begin() + 1, out.end()), out.end());
    return out;
}

bool send_signal(const state::ProcessId& process, int sig) {
    UniqueFd fd(pidfd_open(process.pid));
    if (!fd) return false;
    if (!state::alive(process)) return false;  // the pid now belongs to someone else (or it is a zombie)
    if (::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0) != 0) {
        if (errno == ESRCH) return false;
        throw_errno("kill", "pid " + std::to_string(process.pid), errno);
    }
    return true;
}

bool wait_gone(const state::ProcessId& process, int timeout_ms) {
    UniqueFd fd(pidfd_open(process.pid));
    if (!fd || !state::alive(process)) return true;
    struct pollfd p {fd.get(), POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r > 0 || !state::alive(process);
}

}  // namespace hardrun::oci
