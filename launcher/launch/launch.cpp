// The launch. The supervisor prepares everything that can fail without side effects (seccomp compile,
// AppArmor decision, cgroup), clones the child into its namespaces and cgroup, and then supervises.
// The child runs the hardening story in child_main(), one module per kernel feature, in a fixed order.
#include "hardrun/launch/launch.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <string_view>

#include "hardrun/layers/apparmor.hpp"
#include "hardrun/layers/capabilities.hpp"
#include "hardrun/layers/console.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/fd_passing.hpp"
#include "hardrun/support/footprint.hpp"
#include "hardrun/layers/harden.hpp"
#include "hardrun/layers/identity.hpp"
#include "hardrun/support/interrupt.hpp"
#include "hardrun/layers/landlock.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/layers/mounts.hpp"
#include "hardrun/layers/namespaces.hpp"
#include "hardrun/launch/pasta.hpp"
#include "hardrun/launch/runtime.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/sys_fd.hpp"
#include "hardrun/layers/sysctl.hpp"

namespace hardrun {

namespace {

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

// What the child writes on the report pipe: one message, atomic (< PIPE_BUF).
struct ChildMessage {
    char kind = 'E';  // 'E' error before exec, 'R' ready and waiting for `start` (detached)
    int exit_code = kExitHardrunError;
    char step[32] = {};
    char text[1024] = {};
};
static_assert(sizeof(ChildMessage) < PIPE_BUF);

void send_message(Sys& sys, int fd, char kind, int code, const std::string& step, const std::string& text) {
    if (fd < 0) {  // detached, after `start`: nobody reads the report pipe any more, so say it on stderr
        log::error(text);  // with the journal's priority prefix when stderr is the journal
        return;
    }
    ChildMessage m;
    m.kind = kind;
    m.exit_code = code;
    std::strncpy(m.step, step.c_str(), sizeof m.step - 1);
    std::strncpy(m.text, text.c_str(), sizeof m.text - 1);
    (void)sys.write(fd, &m, sizeof m);
}

void send_message(int fd, char kind, int code, const std::string& step, const std::string& text) {
    send_message(real_sys(), fd, kind, code, step, text);
}

// The child dies with the supervisor (unless detached). PDEATHSIG is cleared by a credential change, so it is
// set again after the uid switch, and the sync pipe tells whether the parent died in between.
// Rootless: the supervisor wrote "deny" to /proc/<child>/setgroups, so setgroups(2) is refused here. (Our own
// euid cannot tell: with --user 0 it is 0 inside the user namespace.)
bool setgroups_denied(Sys& sys) {
    const int fd = sys.openat(AT_FDCWD, "/proc/self/setgroups", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return false;
    SysFd f(sys, fd);
    char buf[16] = {};
    const long n = sys.read(f.get(), buf, sizeof buf - 1);
    std::string_view v(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    if (v.ends_with('\n')) v.remove_suffix(1);
    return v == "deny";
}

void tie_to_parent(Sys& sys, const ChildContext& c) {
    if (c.detached) return;
    if (int r = sys.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); r < 0) throw_errno("supervision", "PR_SET_PDEATHSIG", -r);
    struct pollfd p {c.sync_fd, POLLIN, 0};
    if (sys.poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) ::_exit(kExitHardrunError);
}

void close_inherited_fds(Sys& sys, ChildContext& c) {
    // Only 0-2 (and explicitly preserved fds, renumbered from 3) reach the workload (CVE-2024-21626).
    // The report pipe stays open until execve closes it (it is CLOEXEC).
    const auto& keep = c.plan->preserve_fds;
    unsigned next = 3;
    for (int fd : keep) {
        if (int r = sys.dup2(fd, static_cast<int>(next)); r < 0) throw_errno("fds", "preserving fd " + std::to_string(fd), -r);
        ++next;
    }
    int report = c.report_fd;
    if (report >= 0 && report < static_cast<int>(next)) {  // move it out of the way of the preserved range
        int moved = sys.fcntl_dupfd_cloexec(report, static_cast<int>(next));
        if (moved < 0) throw_errno("fds", "moving the report pipe", -moved);
        report = moved;
        c.report_fd = moved;
    }
    // everything from `next` on is closed but the report pipe, the socket the seccomp listener goes through
    // and the exec FIFO (all close-on-exec: the workload gets none of them)
    std::vector<int> keep_open;
    for (int k : {report, c.fd_socket, c.exec_fifo_fd})
        if (k >= static_cast<int>(next)) keep_open.push_back(k);
    std::sort(keep_open.begin(), keep_open.end());
    unsigned from = next;
    for (int k : keep_open) {
        if (static_cast<unsigned>(k) > from)
            if (int r = sys.close_range(from, static_cast<unsigned>(k) - 1, 0); r < 0)
                throw_errno("fds", "close_range", -r);
        from = static_cast<unsigned>(k) + 1;
    }
    if (int r = sys.close_range(from, ~0U, 0); r < 0) throw_errno("fds", "close_range", -r);
}

void enter_workdir(Sys& sys, const LaunchPlan& plan) {
    // resolved inside the root, no symlink escapes and never a /proc/self/fd/N magic link (CVE-2024-21626)
    int fd = sys.openat2(AT_FDCWD, plan.workdir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                         RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) throw_errno("workdir", plan.workdir, -fd, "the working directory must exist inside the rootfs");
    int r = sys.fchdir(fd);
    sys.close(fd);
    if (r < 0) throw_errno("workdir", plan.workdir, -r);
}

// A new user namespace whose maps include uid and gid 0 (OCI uidMappings given to hardrun running as root):
// the child starts as an unmapped id there and must become the namespace's root before it creates files.
bool maps_root(const LaunchPlan& plan) {
    if (!plan.namespaces.user || plan.namespaces.join.count("user")) return false;
    auto has0 = [](const std::vector<IdMap>& maps) {
        for (const auto& m : maps)
            if (m.inside == 0 && m.count > 0) return true;
        return false;
    };
    return has0(plan.uid_mappings) && has0(plan.gid_mappings);
}

// OCI create: tell the supervisor we are ready, then block until `hardrun start` writes to the exec FIFO.
// The `create` process is gone by then: later errors go to stderr (send_message with fd -1). The FIFO's read
// end stays open (close-on-exec) until the workload's execve: `start` waits for that before its poststart
// hooks, so they run after the startContainer hooks and the exec, as the spec orders them.
void wait_for_start(Sys& sys, ChildContext& c) {
    send_message(sys, c.report_fd, 'R', 0, "", "");
    sys.close(c.report_fd);
    c.report_fd = -1;
    if (c.exec_fifo_fd < 0) return;  // exec --detach: ready is all the supervisor waits for
    struct pollfd p {c.exec_fifo_fd, POLLIN, 0};
    for (;;) {
        if (int r = sys.poll(&p, 1, -1); r < 0) {
            if (r == -EINTR) continue;
            throw_errno("start", "waiting on the exec FIFO", -r);
        }
        char byte = 0;
        const long n = sys.read(c.exec_fifo_fd, &byte, 1);
        if (n == 1) break;
        if (n == -EAGAIN || n == -EINTR) continue;
        throw Error("start", "exec FIFO", "closed without the start byte; not starting");
    }
}

// The state JSON for the startContainer hooks: sent by the supervisor right after the go byte.
std::string read_hook_state(int sync_fd) {
    std::uint32_t len = 0;
    if (::read(sync_fd, &len, sizeof len) != sizeof len || len > (1U << 20)) ::_exit(kExitHardrunError);
    std::string state(len, '\0');
    for (std::size_t got = 0; got < len;) {
        ssize_t n = ::read(sync_fd, state.data() + got, len - got);
        if (n <= 0) ::_exit(kExitHardrunError);  // the supervisor died
        got += static_cast<std::size_t>(n);
    }
    return state;
}

// OCI startContainer hooks, run by the container process itself after every hardening step (seccomp too):
// each is forked from here, so it holds exactly the workload's uid, capabilities, no_new_privs, LSM label,
// Landlock domain, seccomp filter, namespaces and cgroup, and its path resolves inside the container. The
// first that fails (or times out) stops the container before the workload runs.
void run_start_hooks(const LaunchPlan& plan, const std::string& state) {
    const auto& hooks = plan.hooks.start_container;
    for (std::size_t i = 0; i < hooks.size(); ++i) {
        const Hook& h = hooks[i];
        const std::string what = "startContainer[" + std::to_string(i) + "] " + h.path;
        int in[2];
        if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("hooks", what, errno, "pipe (does the seccomp profile allow pipe2?)");
        UniqueFd rd(in[0]), wr(in[1]);
        const pid_t pid = ::fork();
        if (pid < 0) throw_errno("hooks", what, errno, "fork (does the seccomp profile allow it?)");
        if (pid == 0) {
            wr.reset();
            oci::exec_hook(h, rd.get(), what);
        }
        rd.reset();
        {
            struct sigaction ign {}, old {};  // a hook that does not read its stdin must not kill us with SIGPIPE
            ign.sa_handler = SIG_IGN;
            ::sigaction(SIGPIPE, &ign, &old);
            (void)!::write(wr.get(), state.data(), state.size());
            ::sigaction(SIGPIPE, &old, nullptr);
            wr.reset();
        }
        // no pidfd here (the filter may refuse pidfd_open): a timeout polls waitpid every 10 ms
        int status = 0;
        const long limit_ms = h.timeout ? *h.timeout * 1000L : -1;
        bool timed_out = false;
        for (long waited = 0;; waited += 10) {
            const pid_t r = ::waitpid(pid, &status, limit_ms < 0 ? 0 : WNOHANG);
            if (r == pid) break;
            if (r < 0 && errno != EINTR) throw_errno("hooks", what, errno, "waitpid");
            if (limit_ms >= 0 && waited >= limit_ms) {
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
                timed_out = true;
                break;
            }
            const struct timespec ten_ms {0, 10'000'000};
            if (limit_ms >= 0) ::nanosleep(&ten_ms, nullptr);
        }
        oci::check_hook_end(what, status, timed_out, h.timeout.value_or(0));
    }
}

// PID 1 stays a reaper with --init, and also whenever an AppArmor exec label is applied: the kernel clears
// PDEATHSIG on that secure exec, so the workload alone would survive a kill -9 of hardrun; the reaper never
// execs, keeps PDEATHSIG, and its death ends the whole pid namespace.
bool keeps_reaper(const LaunchPlan& plan, const apparmor::Decision& aa, bool detached) {
    return plan.init || (aa.apply && !detached);
}

// --init: PID 1 stays a tiny reaper that forwards signals to the workload and exits with its status.
// Called with every signal already blocked (before the fork), so a SIGCHLD from a workload that exits at
// once is kept pending instead of being discarded by the default disposition.
[[noreturn]] void run_init_reaper(pid_t workload) {
    sigset_t all;
    sigfillset(&all);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    for (;;) {
        int status = 0;
        pid_t p;
        while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (p == workload) {
                if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
                ::_exit(128 + WTERMSIG(status));
            }
        }
        siginfo_t si{};
        int sig = sigwaitinfo(&all, &si);
        if (sig > 0 && sig != SIGCHLD) ::kill(workload, sig);
    }
}

void exec_workload(const ChildContext& c) {
    const auto& plan = *c.plan;
    std::vector<char*> argv, envp;
    for (const auto& a : plan.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // socket activation and the systemd watchdog: LISTEN_PID and WATCHDOG_PID name the process the fds and the
    // pings are for, i.e. the workload itself (1, or 2 behind the reaper)
    const std::string listen_pid = "LISTEN_PID=" + std::to_string(::getpid());
    const std::string watchdog_pid = "WATCHDOG_PID=" + std::to_string(::getpid());
    for (const auto& e : plan.env)
        envp.push_back(const_cast<char*>(e.starts_with("LISTEN_PID=")     ? listen_pid.c_str()
                                         : e.starts_with("WATCHDOG_PID=") ? watchdog_pid.c_str()
                                                                          : e.c_str()));
    envp.push_back(nullptr);
    // PATH lookup uses the workload's PATH (execvpe reads it from hardrun's environment: set it)
    for (const auto& e : plan.env)
        if (e.starts_with("PATH=")) ::setenv("PATH", e.c_str() + 5, 1);
    ::execvpe(argv[0], argv.data(), envp.data());
    int err = errno;
    int code = (err == ENOENT || err == ENOTDIR) ? kExitNotFound : kExitCannotExecute;
    std::string hint;
    if (err == ENOENT) hint = "not found in the rootfs (or a missing interpreter or dynamic loader)";
    else if (err == EACCES) hint = "not executable, or on a noexec mount";
    else if (err == ENOEXEC) hint = "not a valid executable for this machine";
    send_message(c.report_fd, 'E', code, "exec", "exec " + plan.args[0] + ": " + errno_text(err) + (hint.empty() ? "" : "; " + hint));
    ::_exit(code);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The hardening story. Every step throws hardrun::Error naming the step, the object and the cause;
// the first failure stops the launch before the workload runs (fail closed).
// ---------------------------------------------------------------------------------------------
int harden(Sys& sys, ChildContext& c) {
    const LaunchPlan& plan = *c.plan;
    tie_to_parent(sys, c);                           // 1. die with the supervisor (PDEATHSIG)
    if (plan.oom_score_adj) {                        //    (before we become non-dumpable: /proc/self turns root-owned)
        const std::string v = std::to_string(*plan.oom_score_adj);
        const int fd = sys.openat(AT_FDCWD, "/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC, 0);
        const long n = fd < 0 ? fd : sys.write(fd, v.data(), v.size());
        if (fd >= 0) sys.close(fd);
        if (n < 0) throw_errno("oom_score_adj", v, static_cast<int>(-n), "cannot write /proc/self/oom_score_adj");
    }
    // CVE-2019-5736: until execve nothing may open /proc/<us>/exe or /proc/<us>/mem (execve resets it)
    if (int r = sys.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); r < 0) throw_errno("supervision", "PR_SET_DUMPABLE", -r);
    static const std::map<std::string, int> kNone;
    namespaces::join(sys, plan, c.join_fds ? *c.join_fds : kNone);  // 2. namespaces to join by path (OCI)
    if (maps_root(plan)) {                           //    OCI uidMappings with 0 (hardrun run as root): be that root,
        if (int r = sys.setresgid(0); r < 0) throw_errno("identity", "setresgid(0) in the user namespace", -r);
        if (int r = sys.setresuid(0); r < 0) throw_errno("identity", "setresuid(0) in the user namespace", -r);
    }                                                //    so what the setup creates belongs to a mapped id
    if (int r = sys.setsid(); r < 0) throw_errno("session", "setsid", -r);  // no TIOCSTI into our parent
    // a session keyring of its own (as runc and crun): the invoker's keys never depend on seccomp denying keyctl
    if (plan.new_session_keyring)
        if (long r = sys.join_session_keyring(); r < 0 && r != -ENOSYS)
            throw_errno("session", "a new session keyring", static_cast<int>(-r));
    if (!plan.enters_container) {                    //    (exec: the container's root is built already)
        mounts::setup(sys, plan);                    // 3. private propagation, rootfs, mounts, pivot_root
        if (plan.namespaces.net && !plan.namespaces.join.count("network"))
            if (int r = sys.loopback_up(); r < 0) throw_errno("network", "bringing up lo", -r);
        sysctl::apply(sys, plan);                    //    namespaced sysctls (OCI), before /proc/sys turns read-only
        mounts::finalize(sys, plan);                 //    masked + read-only paths, read-only root
    }
    if (c.console_fd >= 0) console::attach(sys, c.console_fd, plan.uid);  // OCI terminal: pty slave as stdio
    identity::set_hostname(sys, plan);               // 4. hostname and rlimits
    identity::apply_rlimits(sys, plan);
    // 5. cgroup limits: clone3(CLONE_INTO_CGROUP) put us in the workload's cgroup before our first instruction
    capabilities::drop_bounding(sys, plan);          // 6. bounding set while we still hold CAP_SETPCAP
    identity::switch_user(sys, plan, plan.namespaces.user && setgroups_denied(sys) && !plan.uid_mappings.empty());
    tie_to_parent(sys, c);                           //    (the uid switch cleared PDEATHSIG)
    capabilities::apply(sys, plan);                  // 7. effective/permitted/inheritable/ambient
    if (plan.no_new_privs)                           // 8. no_new_privs, AppArmor exec label, Landlock
        if (int r = sys.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); r < 0) throw_errno("no_new_privs", "prctl", -r);
    apparmor::apply(sys, *c.apparmor);
    landlock::apply(sys, plan);
    enter_workdir(sys, plan);
    if (plan.umask) sys.umask(*plan.umask);
    sigset_t none;
    sigemptyset(&none);
    (void)sys.sigprocmask(SIG_SETMASK, &none, nullptr);
    if (c.detached) wait_for_start(sys, c);               //    OCI create: wait for `start` (before the FIFO fd is closed)
    close_inherited_fds(sys, c);                     //    only 0-2 (+ preserved) reach the workload
    if (c.dumpable_for_handoff) {                     //    the supervisor takes the listener as our own user:
        // alone in a new PID namespace (start_child refuses otherwise), so nothing but that user sees us; execve
        // makes the workload dumpable anyway
        if (int r = sys.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); r < 0) throw_errno("seccomp", "PR_SET_DUMPABLE for the listener handoff", -r);
    }
    return seccomp::load(sys, *c.filter, c.fd_socket);  // 9. seccomp last, then execve
}

namespace {

[[noreturn]] void child_main(ChildContext& c) {
    const LaunchPlan& plan = *c.plan;
    try {
        // 0. wait until the supervisor has written our uid/gid maps (user namespace) and tied us to it
        char go = 0;
        if (::read(c.sync_fd, &go, 1) != 1) ::_exit(kExitHardrunError);  // the supervisor died
        const std::string hook_state = plan.hooks.start_container.empty() ? std::string() : read_hook_state(c.sync_fd);
        const int listener = harden(real_sys(), c);
        if (listener >= 0) {
            // Handoff::Take: a notification, answered with success by the supervisor once it holds the listener
            if (int r = fdpass::send(c.fd_socket, listener, {}, seccomp::kHandoffSendFlags); r < 0)
                throw_errno("seccomp", "passing the listener to the supervisor", -r);
            ::close(listener);
        }
        if (c.fd_socket >= 0) ::close(c.fd_socket);
        run_start_hooks(plan, hook_state);  // OCI startContainer: with the workload's privileges, nothing more
        const bool reaper = keeps_reaper(plan, *c.apparmor, c.detached);
        if (reaper) {
            sigset_t all, old;
            sigfillset(&all);
            sigprocmask(SIG_BLOCK, &all, &old);
            pid_t pid = ::fork();
            if (pid < 0) throw_errno("init", "fork", errno);
            if (pid == 0) sigprocmask(SIG_SETMASK, &old, nullptr);
            if (pid > 0) {
                ::close(c.report_fd);  // EOF at the supervisor comes from the workload's execve
                ::close(c.sync_fd);
                if (c.exec_fifo_fd >= 0) ::close(c.exec_fifo_fd);  // and `start` sees the exec the same way
                run_init_reaper(pid);
            }
        }
        exec_workload(c);
    } catch (const Error& e) {
        send_message(c.report_fd, 'E', e.exit_code(), e.step(), e.what());
    } catch (const std::exception& e) {
        send_message(c.report_fd, 'E', kExitHardrunError, "setup", e.what());
    }
    ::_exit(kExitHardrunError);
}

std::string userns_hint(int err) {
    if (err != EPERM && err != EACCES && err != ENOSPC && err != EINVAL) return {};
    std::string hint;
    std::ifstream restrict_aa("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    int v = 0;
    if (restrict_aa >> v && v == 1)
        return "AppArmor restricts unprivileged user namespaces here (kernel.apparmor_restrict_unprivileged_userns=1); "
               "run as root, or allow it with an AppArmor profile for hardrun";
    std::ifstream clone_ok("/proc/sys/kernel/unprivileged_userns_clone");
    if (clone_ok >> v && v == 0)
        return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0); run as root or enable them";
    std::ifstream max_ns("/proc/sys/user/max_user_namespaces");
    if (max_ns >> v && v == 0) return "user.max_user_namespaces is 0; run as root or raise it";
    return "creating namespaces needs root, or unprivileged user namespaces";
}

// Everything the supervisor holds for one child.
struct Started {
    pid_t pid = -1;
    UniqueFd report;     // read end
    UniqueFd sync;       // write end: kept open for the child's lifetime (its lifeline)
    UniqueFd fd_socket;  // supervisor end
    std::unique_ptr<cgroups::Cgroup> cgroup;
    std::unique_ptr<pasta::Forwarder> net;  // -p: ended by PID once the workload has ended
    sigset_t old_mask{};
};

// seccomp Handoff::Take: may this supervisor take a non-dumpable child's fd (CAP_SYS_PTRACE effective)?
// (capget itself, not libcap-ng: its process-wide state holds the workload's capability set)
bool may_take_fds_of_nondumpable() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return false;
    return (data[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective & CAP_TO_MASK(CAP_SYS_PTRACE)) != 0;
}

// Handoff::Take without CAP_SYS_PTRACE: the child is dumpable from just before its filter until execve (which
// makes the workload dumpable in any case). Only where nothing but the invoking user can see it then: alone in
// a PID namespace of its own, with no reaper (PID 1 would stay dumpable and never exec) and no start hooks.
bool dumpable_for_handoff(const LaunchPlan& plan, const seccomp::Prepared& filter, bool reaper) {
    if (filter.handoff != seccomp::Handoff::Take || may_take_fds_of_nondumpable()) return false;
    const char* why = !plan.namespaces.pid || plan.namespaces.join.count("pid") ? "its own PID namespace"
                      : reaper                                                 ? "no --init (a reaper as PID 1)"
                      : !plan.hooks.start_container.empty()                    ? "no startContainer hooks"
                                                                               : nullptr;
    if (why)
        throw Error("seccomp", "--report under a profile that refuses sendmsg",
                    std::string("without CAP_SYS_PTRACE hardrun takes the listener from a child that is alone, which "
                                "needs ") + why + "; allow sendmsg in the profile, or run as root");
    return true;
}

Started start_child(const LaunchPlan& plan, const LaunchOptions& options, const seccomp::Prepared& filter,
                    const apparmor::Decision& aa, bool detached, const std::string& pasta_exe = {}) {
    const bool reaper = keeps_reaper(plan, aa, detached);
    apparmor::refuse_ptrace_of_unconfined_reaper(plan, aa, reaper);
    const bool dumpable_handoff = dumpable_for_handoff(plan, filter, reaper);
    if (reaper) {
        if (const std::string refused = seccomp::refused_reaper_calls(filter); !refused.empty())
            throw Error("init", filter.description,
                        "refuses " + refused + ", which hardrun's PID 1 reaper makes under the filter (" +
                            (plan.init ? std::string("--init); allow them (record the profile with --init) or drop --init")
                                       : std::string("kept while AppArmor confines the workload); allow them, e.g. record "
                                                     "the profile with --init")));
    }
    // CVE-2019-5736: a privileged hardrun is never dumpable, so no process can open /proc/<hardrun>/exe or mem
    if (::geteuid() == 0) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    Started s;
    const std::string cg_name = options.cgroup_name.empty() ? "hardrun-" + std::to_string(::getpid()) : options.cgroup_name;
    s.cgroup = cgroups::Cgroup::create(plan, cg_name);

    Pipe report = Pipe::make("report pipe");
    Pipe sync = Pipe::make("sync pipe");
    UniqueFd sock_parent, sock_child;
    if (filter.wants_listener()) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("prepare", "socketpair", errno);
        sock_parent.reset(sv[0]);
        sock_child.reset(sv[1]);
    }
    UniqueFd exec_cgroup;  // exec: the container's own cgroup, which the new process is cloned into
    if (!options.cgroup_dir.empty()) {
        exec_cgroup.reset(::open(options.cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!exec_cgroup) throw_errno("cgroups", "the container's cgroup " + options.cgroup_dir, errno);
    }
    UniqueFd exec_fifo, console_socket;  // host paths the child cannot reach after pivot_root: opened here
    if (detached && !options.exec_fifo.empty()) {
        exec_fifo.reset(::open(options.exec_fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        if (!exec_fifo) throw_errno("create", "exec FIFO " + options.exec_fifo, errno);
    }
    if (!options.console_socket.empty()) console_socket = console::connect_socket(options.console_socket);
    else if (options.console_fd >= 0) {
        console_socket.reset(::fcntl(options.console_fd, F_DUPFD_CLOEXEC, 3));
        if (!console_socket) throw_errno("tty", "the pty's socket", errno);
    }

    sigset_t block;
    sigemptyset(&block);
    for (int sig : kForwarded) sigaddset(&block, sig);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &s.old_mask);

    // namespaces joined by path: opened once, checked on the fds, and those fds are what the child joins
    const namespaces::Joined joined = namespaces::Joined::open(plan);
    if (options.enter_pidfd >= 0) {  // exec: those are the container process's namespaces only if it still lives
        struct pollfd alive {options.enter_pidfd, POLLIN, 0};
        if (::poll(&alive, 1, 0) != 0) {
            sigprocmask(SIG_SETMASK, &s.old_mask, nullptr);
            throw Error("exec", "the container's process", "exited while its namespaces were being opened (container not running)");
        }
    }
    sysctl::refuse_host_namespaces(plan, joined);
    namespaces::PidNamespaceForChildren in_pid_ns(joined.fd("pid"));  // the child is born in a joined pid ns

    struct clone_args args {};
    args.flags = namespaces::clone_flags(plan);
    args.exit_signal = SIGCHLD;
    if (s.cgroup) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<std::uint64_t>(s.cgroup->dir_fd());
    } else if (exec_cgroup) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<std::uint64_t>(exec_cgroup.get());
    }
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid != 0) in_pid_ns.restore();  // our own later children (hooks) run in the runtime's pid namespace
    if (pid < 0) {
        int err = errno;
        sigprocmask(SIG_SETMASK, &s.old_mask, nullptr);
        throw_errno("namespaces", "clone3 into new namespaces", err, plan.namespaces.user ? userns_hint(err) : "");
    }
    if (pid == 0) {
        report.read.reset();
        sync.write.reset();
        sock_parent.reset();
        ChildContext c{&plan, &filter, &aa, report.write.get(), sync.read.get(),
                       sock_child ? sock_child.get() : -1, detached, exec_fifo ? exec_fifo.get() : -1,
                       console_socket ? console_socket.get() : -1, &joined.fds()};
        c.dumpable_for_handoff = dumpable_handoff;
        child_main(c);
    }
    s.pid = static_cast<pid_t>(pid);
    if (s.cgroup) s.cgroup->child_placed();  // systemd driver: the scope holds the container now, and only it
    report.write.reset();
    sync.read.reset();
    sock_child.reset();
    s.report = std::move(report.read);
    s.sync = std::move(sync.write);
    s.fd_socket = std::move(sock_parent);
    try {
        if (plan.namespaces.user && !plan.uid_mappings.empty() && !plan.namespaces.join.count("user"))
            namespaces::write_id_maps(s.pid, plan);  // a joined user namespace has its maps
        if (options.hooks.on_clone) options.hooks.on_clone(s.pid);
        // -p: the sandbox's network namespace exists; its ports are open before the child's first step
        if (!plan.publish.empty()) s.net = pasta::Forwarder::start(plan, s.pid, pasta_exe);
    } catch (...) {
        ::kill(s.pid, SIGKILL);
        ::waitpid(s.pid, nullptr, 0);
        sigprocmask(SIG_SETMASK, &s.old_mask, nullptr);
        throw;
    }
    std::string go = "g";
    if (!plan.hooks.start_container.empty()) {  // the startContainer hooks' state, read by the child after "g"
        const std::string state = options.hooks.start_hook_state
                                      ? options.hooks.start_hook_state(s.pid)
                                      : R"({"ociVersion":"1.0.2","status":"created","pid":)" + std::to_string(s.pid) + "}";
        const auto len = static_cast<std::uint32_t>(state.size());
        go.append(reinterpret_cast<const char*>(&len), sizeof len);
        go += state;
    }
    for (std::size_t done = 0; done < go.size();) {
        const ssize_t n = ::write(s.sync.get(), go.data() + done, go.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("prepare", "releasing the child", errno);
        done += static_cast<std::size_t>(n);
    }
    return s;
}

// Until the workload runs: waits for fd; a terminating signal first kills and reaps the child (its pid
// namespace and hooks go with it) and throws interrupt::interrupted: the caller's RAII removes the cgroup,
// its callers the state.
void wait_during_setup(Started& s, int fd) {
    if (int sig = interrupt::wait_fd(fd); sig > 0) {
        ::kill(s.pid, SIGKILL);
        while (::waitpid(s.pid, nullptr, 0) < 0 && errno == EINTR) {}
        sigprocmask(SIG_SETMASK, &s.old_mask, nullptr);
        throw interrupt::interrupted(sig, "setting up the container");
    }
}

// seccomp Handoff::Take: the listener, taken by the supervisor (seccomp::take_listener); on an error the child
// is killed and reaped before the Error goes on.
UniqueFd take_listener(Started& s, const seccomp::Prepared& filter) {
    try {
        return seccomp::take_listener(s.pid, s.fd_socket.get(), filter);
    } catch (...) {
        ::kill(s.pid, SIGKILL);
        while (::waitpid(s.pid, nullptr, 0) < 0 && errno == EINTR) {}
        sigprocmask(SIG_SETMASK, &s.old_mask, nullptr);
        throw;
    }
}

// Reads the child's report: nullopt when the pipe closed without one (the workload was exec'ed).
std::optional<ChildMessage> read_report(Started& s) {
    wait_during_setup(s, s.report.get());
    ChildMessage m;
    ssize_t n;
    do n = ::read(s.report.get(), &m, sizeof m);
    while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof m)) return m;
    return std::nullopt;
}

}  // namespace

Outcome launch(const LaunchPlan& plan, const LaunchOptions& options) {
    const auto t0 = std::chrono::steady_clock::now();
    // 1. everything that can be decided or compiled is done before clone: the child does no parsing
    const seccomp::Prepared filter =
        options.seccomp_prepared ? *options.seccomp_prepared : seccomp::prepare(plan, options.seccomp_mode);
    const apparmor::Decision aa = apparmor::decide(plan);
    const std::string pasta_exe = plan.publish.empty() ? std::string() : pasta::executable(plan.publish);
    Started s = start_child(plan, options, filter, aa, false, pasta_exe);

    Outcome out;
    if (s.fd_socket) {
        wait_during_setup(s, s.fd_socket.get());
        UniqueFd listener =
            filter.handoff == seccomp::Handoff::Take ? take_listener(s, filter) : fdpass::receive(s.fd_socket.get());
        if (listener && options.hooks.on_listener) options.hooks.on_listener(std::move(listener), s.pid);
    }
    std::optional<ChildMessage> failure = read_report(s);
    if (failure) {
        out.error = std::string(failure->text);
        out.error_step = failure->step;
        out.exit_code = failure->exit_code;
    } else if (options.hooks.on_exec) {
        options.hooks.on_exec(s.pid);
    }
    // supervise: forward signals, reap. A workload still running after 50 ms is a long one: the supervisor
    // then gives back the memory start-up used (short ones exit first and never pay for it; performance.md)
    bool trimmed = failure.has_value();
    int status = 0;
    struct rusage ru {};
    for (;;) {
        pid_t r = ::wait4(s.pid, &status, WNOHANG, &ru);
        if (r == s.pid) break;
        sigset_t set;
        sigemptyset(&set);
        for (int sig : kForwarded) sigaddset(&set, sig);
        sigaddset(&set, SIGCHLD);
        siginfo_t si{};
        const struct timespec trim_after {0, 50'000'000};
        int sig = trimmed ? sigwaitinfo(&set, &si) : sigtimedwait(&set, &si, &trim_after);
        if (sig < 0 && errno == EAGAIN) {
            footprint::release_startup_memory();
            trimmed = true;
        }
        if (sig > 0 && sig != SIGCHLD && !(options.hooks.on_signal && options.hooks.on_signal(sig))) ::kill(s.pid, sig);
    }
    if (s.net) s.net->stop();  // the workload has ended: pasta goes, by its PID
    sigprocmask(SIG_SETMASK, &s.old_mask, nullptr);
    out.wall = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    out.user_cpu_us = ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec;
    out.sys_cpu_us = ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
    out.max_rss_kib = ru.ru_maxrss;
    if (!out.error) {
        if (WIFEXITED(status)) {
            out.status = WEXITSTATUS(status);
            out.exit_code = *out.status;
        } else if (WIFSIGNALED(status)) {
            out.signal = WTERMSIG(status);
            out.exit_code = 128 + *out.signal;
        }
    }
    if (s.cgroup) {
        out.cgroup = s.cgroup->collect();
        if (out.cgroup->oom_killed && !out.error) {
            out.oom_killed = true;
            out.exit_code = 137;
        }
    }
    s.cgroup.reset();  // kills leftovers, removes the cgroup
    if (options.hooks.on_exit) options.hooks.on_exit(out);
    return out;
}

Detached launch_detached(const LaunchPlan& plan, const LaunchOptions& options) {
    if (!plan.publish.empty())  // pasta is the supervisor's child, ended when the workload ends: no detached supervisor
        throw Error("network", pasta::ports_text(plan.publish),
                    "-p needs hardrun in the foreground as the workload's supervisor; run without -d/--name (under "
                    "systemd for a service)");
    const seccomp::Prepared filter =
        options.seccomp_prepared ? *options.seccomp_prepared : seccomp::prepare(plan, options.seccomp_mode);
    const apparmor::Decision aa = apparmor::decide(plan);
    Started s = start_child(plan, options, filter, aa, true);
    std::optional<ChildMessage> m = read_report(s);
    sigprocmask(SIG_SETMASK, &s.old_mask, nullptr);
    if (!m || m->kind != 'R') {
        int status = 0;
        ::waitpid(s.pid, &status, 0);
        if (!m) throw Error("create", "", "the container process exited during setup");
        throw Error("", "", m->text, m->exit_code);  // the child's text names its step already
    }
    Detached d;
    d.pid = s.pid;
    if (s.cgroup) {
        d.cgroup_path = s.cgroup->path();
        d.systemd_unit = s.cgroup->systemd_unit();
        s.cgroup->disown();  // kept for `delete`
    }
    return d;
}

std::vector<std::string> describe(const LaunchPlan& p) {
    std::vector<std::string> out;
    std::string ns;
    for (auto [on, name] : {std::pair{p.namespaces.user, "user"}, {p.namespaces.mount, "mount"}, {p.namespaces.pid, "pid"},
                            {p.namespaces.ipc, "ipc"}, {p.namespaces.uts, "uts"}, {p.namespaces.net, "net"},
                            {p.namespaces.cgroup, "cgroup"}})
        if (on) ns += (ns.empty() ? "" : ",") + std::string(name);
    out.push_back("namespaces: " + ns);
    std::string writes;
    if (p.root_writes == RootWrites::Layer)
        writes = p.readonly_root ? ", never written (a tmpfs layer holds what the launch adds)"
                                 : " (writes go to a " + parse::human_size(p.root_layer_size) + " tmpfs layer, discarded at exit)";
    else if (!p.readonly_root) writes = " (writes go into the directory itself)";
    out.push_back("rootfs: " + p.rootfs + (p.readonly_root ? " (read-only)" : " (writable)") + writes + ", pivot_root");
    for (const auto& [path, content] : p.layer_files) out.push_back("rootfs layer: " + path + " (the image's has no entry or does not fit)");
    for (const auto& m : p.mounts) {
        if (m.kind == MountKind::Tmpfs)
            out.push_back("tmpfs: " + m.destination + " size=" + parse::human_size(m.size.value_or(0)) +
                          (m.noexec ? ",noexec" : "") + (m.nosuid ? ",nosuid" : "") + (m.nodev ? ",nodev" : ""));
        else if (m.kind == MountKind::Bind)
            out.push_back("volume: " + m.source + " -> " + m.destination + (m.readonly ? " (ro)" : " (rw)"));
    }
    out.push_back("user: uid " + std::to_string(p.uid) + " gid " + std::to_string(p.gid) + ", " +
                  identity::groups_summary(p, identity::kept_supplementary_groups(p)));
    std::string caps;
    for (int c = 0; c <= parse::last_capability(); ++c)
        if (p.caps.bounding.has(c)) caps += (caps.empty() ? "" : ",") + parse::capability_name(c);
    out.push_back("capabilities: " + (caps.empty() ? std::string("none (all five sets empty)") : caps));
    out.push_back(std::string("no_new_privs: ") + (p.no_new_privs ? "on" : "OFF"));
    switch (p.seccomp.mode) {
        case SeccompChoice::Mode::Default: out.push_back("seccomp: hardrun default profile"); break;
        case SeccompChoice::Mode::Profile: out.push_back("seccomp: " + p.seccomp.profile_path); break;
        case SeccompChoice::Mode::Unconfined: out.push_back("seccomp: UNCONFINED"); break;
    }
    switch (p.apparmor.mode) {
        case AppArmorChoice::Mode::Default: out.push_back("apparmor: hardrun-default where AppArmor is enabled"); break;
        case AppArmorChoice::Mode::Named: out.push_back("apparmor: " + p.apparmor.profile); break;
        case AppArmorChoice::Mode::Unconfined: out.push_back("apparmor: UNCONFINED"); break;
    }
    out.push_back(landlock::describe(p));
    out.push_back(std::string("network: ") + (p.network == NetworkMode::Host ? "HOST"
                                              : p.publish.empty()           ? "none (loopback only)"
                                                                            : "loopback only; published by pasta, inbound only: " +
                                                                                  pasta::ports_text(p.publish)));
    out.push_back("hostname: " + p.hostname);
    if (!p.resources.empty()) {
        std::string r;
        if (p.resources.memory_max) r += " memory.max=" + parse::human_size(*p.resources.memory_max);
        if (p.resources.cpu_max)
            r += " cpu.max=" + std::to_string(p.resources.cpu_max->quota_us) + "/" + std::to_string(p.resources.cpu_max->period_us);
        if (p.resources.pids_max) r += " pids.max=" + std::to_string(*p.resources.pids_max);
        out.push_back("cgroup v2:" + r);
    }
    return out;
}

}  // namespace hardrun
