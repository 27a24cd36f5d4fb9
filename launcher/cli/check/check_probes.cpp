// The escape probes' catalog: what each tries, and which layers of a plan stop it (the "expected" line of the
// report). The probes themselves are the static program in probes/; cmd_check.cpp runs them.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <map>

#include "hardrun/cli/check/check.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/layers/seccomp/seccomp_bpf.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::check {

const std::vector<ProbeInfo>& probe_catalog() {
    static const std::vector<ProbeInfo> catalog = {
        {"write-root", "write a file into /", "open(/..., O_CREAT)", "EROFS"},
        {"write-etc", "write a file into /etc", "open(/etc/..., O_CREAT)", "EROFS"},
        {"write-usr", "write a file into /usr", "open(/usr/..., O_CREAT)", "EROFS"},
        {"exec-noexec-tmpfs", "drop a binary into a writable directory (tmpfs) and run it", "execve(2) from a writable mount", "EACCES"},
        {"mknod-device", "create and open a device node", "mknod(2)", "EPERM"},
        {"image-device", "use a device node shipped in the image or a volume (the host's disk, memory)", "open(2) of a device node outside hardrun's /dev", "EACCES"},
        {"host-fd", "use a leaked host fd or working directory (Leaky Vessels, CVE-2024-21626)", "an inherited fd or cwd outside the root", "none found"},
        {"setuid-exec", "become root through a setuid binary", "execve(2) of a setuid-root binary", "no privilege gained"},
        {"setuid-root", "become root with setuid(0)", "setresuid(0, 0, 0)", "EPERM"},
        {"gain-capability", "gain a capability", "capset(2) / PR_CAP_AMBIENT_RAISE", "EPERM"},
        {"ptrace", "ptrace a process it does not own", "ptrace(PTRACE_ATTACH) of a non-dumpable process", "EPERM"},
        {"mount", "mount a filesystem", "mount(2)", "EPERM"},
        {"unshare", "create new namespaces (a user namespace grants every capability inside it)", "unshare(2)/clone(2) with CLONE_NEWUSER, clone3(2) with each CLONE_NEW*", "EPERM (clone3: ENOSYS)"},
        {"setns", "join another namespace", "setns(2)", "EPERM"},
        {"pivot-root", "change the root mount", "pivot_root(2)", "EPERM"},
        {"chroot-escape", "escape the root with the chroot trick", "chroot(2) + chdir(\"..\")", "EPERM, or the climb stays inside"},
        {"hostname", "change the host name", "sethostname(2)", "EPERM"},
        {"read-kcore", "read kernel memory", "read /proc/kcore", "masked"},
        {"supervisor-environ", "read the environment of the supervisor or the host's pid 1", "read /proc/PID/environ outside the sandbox", "no outside process visible"},
        {"host-pid-namespace", "see and signal the host's processes from inside its pid namespace", "list /proc for kernel threads", "none visible"},
        {"sys-firmware", "read firmware tables", "list /sys/firmware", "masked (empty)"},
        {"write-proc-sys", "change a host-wide sysctl", "open(/proc/sys/kernel/core_pattern, O_WRONLY)", "EROFS"},
        {"sysrq-trigger", "trigger sysrq (reboot, crash the host)", "open(/proc/sysrq-trigger, O_WRONLY)", "masked"},
        {"proc-exe-write", "overwrite a running binary, e.g. hardrun's (CVE-2019-5736)", "open(/proc/PID/exe, O_WRONLY)", "EROFS/EACCES"},
        {"load-module", "load a kernel module", "init_module(2)", "EPERM"},
        {"raw-socket", "open a raw IP socket (spoofing)", "socket(AF_INET, SOCK_RAW)", "EPERM"},
        {"packet-socket", "open a packet socket (sniffing)", "socket(AF_PACKET, SOCK_RAW)", "EPERM"},
        {"vsock-socket", "talk to the hypervisor over AF_VSOCK", "socket(AF_VSOCK), also with high bits set in the domain", "EPERM"},
        {"host-network", "reach the host's network", "an interface or a route besides loopback", "ENETUNREACH"},
        {"keyctl", "use the kernel keyrings", "add_key(2)/keyctl(2)", "EPERM"},
        {"bpf", "load BPF into the kernel", "bpf(BPF_MAP_CREATE)", "EPERM"},
        {"perf-event-open", "open a perf event (kernel attack surface, side channels)", "perf_event_open(2)", "EPERM"},
        {"userfaultfd", "create a userfaultfd (used to win kernel races)", "userfaultfd(2)", "EPERM"},
        {"io-uring", "use io_uring (large kernel attack surface, bypasses syscall filters)", "io_uring_setup(2)", "EPERM"},
        {"tiocsti", "inject keystrokes into another terminal", "ioctl(TIOCSTI)", "EPERM"},
        {"open-by-handle", "open a host inode by handle (the \"shocker\" escape)", "open_by_handle_at(2)", "EPERM"},
        {"kernel-log", "read the kernel log (addresses, other tenants' messages)", "syslog(SYSLOG_ACTION_READ_ALL)", "EPERM"},
        {"ioperm", "get raw I/O port access", "ioperm(2)", "EPERM"},
        {"memory-limit", "exhaust the host's memory", "allocate past memory.max", "OOM kill"},
        {"pids-limit", "exhaust the host's process table", "fork(2) past pids.max", "EAGAIN"},
        {"fork-bomb", "run a fork bomb", "fork(2) in every process", "EAGAIN"},
    };
    return catalog;
}

const ProbeInfo* find_probe(const std::string& name) {
    for (const auto& p : probe_catalog())
        if (p.name == name) return &p;
    return nullptr;
}

namespace {

int host_sysctl(const char* path, int fallback) {
    std::ifstream f(path);
    int v = fallback;
    if (!(f >> v)) return fallback;
    return v;
}

struct Ctx {
    const LaunchPlan& plan;
    const std::vector<sock_filter>& program;
    std::vector<std::string> out;

    // The filter refuses syscall `name` with these arguments.
    bool filtered(const char* name, std::initializer_list<std::uint64_t> args = {}) const {
        if (program.empty()) return false;
        const auto& arch = seccomp::native_arch();
        int nr = seccomp::syscall_number(arch, name);
        if (nr < 0) return false;
        seccomp_data d{};
        d.nr = nr;
        d.arch = arch.audit_arch;
        int i = 0;
        for (auto a : args) d.args[i++] = a;
        auto r = seccomp::simulate(program, d);
        if (!r.ok) return false;
        std::uint32_t action = r.ret & SECCOMP_RET_ACTION_FULL;
        return action != SECCOMP_RET_ALLOW && action != SECCOMP_RET_LOG;
    }
    void seccomp(std::initializer_list<const char*> names) {
        for (const char* n : names)
            if (!filtered(n)) return;
        out.push_back("seccomp");
    }
    // What survives the workload's execve: the ambient set (no file capabilities: NNP and nosuid images), and for
    // uid 0 its permitted set (plus the bounding set when no_new_privs is off).
    CapSet usable() const {
        CapSet c;
        c.bits = plan.caps.ambient.bits;
        if (plan.uid == 0) c.bits |= plan.caps.permitted.bits | plan.caps.effective.bits;
        if (plan.uid == 0 && !plan.no_new_privs) c.bits |= plan.caps.bounding.bits;
        return c;
    }
    void cap(int c) {
        if (!usable().has(c)) out.push_back("missing " + parse::capability_name(c));
    }
    // Capabilities inside a user namespace do not count for this operation.
    void userns_only() {
        if (plan.namespaces.user) out.push_back("the user namespace (capabilities count only inside it)");
    }
    bool masked(const std::string& p) const {
        return std::find(plan.masked_paths.begin(), plan.masked_paths.end(), p) != plan.masked_paths.end();
    }
    bool readonly_path(const std::string& p) const {
        return std::find(plan.readonly_paths.begin(), plan.readonly_paths.end(), p) != plan.readonly_paths.end();
    }
    void uid() {
        if (plan.uid != 0) out.push_back("uid " + std::to_string(plan.uid) + " (not root)");
    }
    void add(std::string s) { out.push_back(std::move(s)); }
};

// Mounts the workload can write to, and whether each allows exec / device nodes.
struct Writable {
    std::string dest;
    bool noexec, nodev;
};
std::vector<Writable> writable_mounts(const LaunchPlan& p) {
    std::vector<Writable> w;
    if (!p.readonly_root) w.push_back({"/", false, false});
    for (const auto& m : p.mounts) {
        if (m.readonly) continue;
        if (m.kind == MountKind::Tmpfs || m.kind == MountKind::Bind) w.push_back({m.destination, m.noexec, m.nodev});
        // hardrun's /dev tmpfs belongs to root (0755): writable for uid 0 only
        if (m.kind == MountKind::Dev && p.uid == 0) w.push_back({m.destination, m.noexec, true});
    }
    return w;
}

std::string list_text(const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
}

}  // namespace

std::vector<std::string> probe_defenses(const std::string& probe, const LaunchPlan& plan,
                                        const std::vector<sock_filter>& program) {
    Ctx c{plan, program, {}};
    const std::string& n = probe;
    if (n == "write-root" || n == "write-etc" || n == "write-usr") {
        if (plan.readonly_root) c.add("the read-only root");
        c.uid();
    } else if (n == "exec-noexec-tmpfs") {
        auto w = writable_mounts(plan);
        std::vector<std::string> dirs;
        bool all = true;
        for (const auto& m : w) {
            dirs.push_back(m.dest);
            all = all && m.noexec;
        }
        if (all) c.add(w.empty() ? "no writable mount" : "noexec on every writable mount (" + list_text(dirs) + ")");
        // Landlock follows the plan: where a writable mount allows exec, so does it
        if (all && plan.landlock.mode != LandlockChoice::Mode::Off) c.add("Landlock (no execute where the plan says noexec)");
    } else if (n == "mknod-device") {
        c.seccomp({"mknodat", "mknod"});
        c.cap(CAP_MKNOD);
        auto w = writable_mounts(plan);
        if (std::all_of(w.begin(), w.end(), [](const Writable& m) { return m.nodev; })) c.add("nodev on every writable mount");
        if (plan.landlock.mode != LandlockChoice::Mode::Off) c.add("Landlock (no device nodes)");
    } else if (n == "image-device") {
        // the root and every bind are nodev whatever the plan says (mounts.cpp); a tmpfs may ask for dev
        bool all = true;
        for (const auto& m : plan.mounts)
            if (m.kind == MountKind::Tmpfs && !m.nodev) all = false;
        if (all) c.add("nodev on the root and every mount but hardrun's device nodes");
    } else if (n == "host-pid-namespace") {
        if (plan.namespaces.pid) c.add("a new pid namespace");
        else if (plan.namespaces.join.count("pid")) c.add("the joined pid namespace " + plan.namespaces.join.at("pid"));
    } else if (n == "host-fd") {
        c.add("hardrun closes every inherited fd beyond 0-2");
        c.add("the working directory resolved inside the root");
    } else if (n == "setuid-exec") {
        if (plan.no_new_privs) c.add("no_new_privs");
        c.add("nosuid on the root and every volume");  // mounts.cpp, whatever the plan says
    } else if (n == "setuid-root") {
        if (plan.uid != 0) {
            c.seccomp({"setresuid"});
            c.cap(CAP_SETUID);
        }
    } else if (n == "gain-capability") {
        Capabilities none;
        if (plan.caps == none) c.add("all five capability sets empty");
    } else if (n == "ptrace") {
        c.seccomp({"ptrace"});
        c.cap(CAP_SYS_PTRACE);
    } else if (n == "mount") {
        c.seccomp({"mount"});
        c.cap(CAP_SYS_ADMIN);
    } else if (n == "unshare") {
        // clone3's flags are in memory: only a filter that refuses every clone3 stops it
        if (c.filtered("unshare", {CLONE_NEWUSER}) && c.filtered("clone", {CLONE_NEWUSER | SIGCHLD}) && c.filtered("clone3"))
            c.add("seccomp");
        if (host_sysctl("/proc/sys/user/max_user_namespaces", 1) == 0) c.add("user.max_user_namespaces=0");
    } else if (n == "setns") {
        c.seccomp({"setns"});
        c.cap(CAP_SYS_ADMIN);
    } else if (n == "pivot-root") {
        c.seccomp({"pivot_root"});
        c.cap(CAP_SYS_ADMIN);
    } else if (n == "chroot-escape") {
        c.seccomp({"chroot"});
        c.cap(CAP_SYS_CHROOT);
        c.add("pivot_root (the climb ends at the sandbox's root)");
    } else if (n == "hostname") {
        c.seccomp({"sethostname"});
        c.cap(CAP_SYS_ADMIN);
    } else if (n == "read-kcore") {
        if (c.masked("/proc/kcore")) c.add("masking (/proc/kcore is /dev/null)");
        c.cap(CAP_SYS_RAWIO);
    } else if (n == "supervisor-environ") {
        if (plan.namespaces.pid) c.add("the pid namespace (no outside process is visible)");
        c.cap(CAP_SYS_PTRACE);
    } else if (n == "sys-firmware") {
        if (c.masked("/sys/firmware")) c.add("masking (/sys/firmware is an empty tmpfs)");
    } else if (n == "write-proc-sys") {
        if (c.readonly_path("/proc/sys")) c.add("the read-only /proc/sys");
        c.uid();
    } else if (n == "sysrq-trigger") {
        if (c.masked("/proc/sysrq-trigger")) c.add("masking (/proc/sysrq-trigger is /dev/null)");
        c.uid();
    } else if (n == "proc-exe-write") {
        // the pid namespace hides hardrun's supervisor, but the binaries the workload itself runs stay visible
        if (plan.readonly_root) c.add("the read-only root");
        c.uid();
    } else if (n == "load-module") {
        c.seccomp({"init_module", "finit_module"});
        c.cap(CAP_SYS_MODULE);
        c.userns_only();
    } else if (n == "raw-socket") {
        if (c.filtered("socket", {AF_INET, SOCK_RAW})) c.add("seccomp");
        c.cap(CAP_NET_RAW);
    } else if (n == "packet-socket") {
        if (c.filtered("socket", {AF_PACKET, SOCK_RAW})) c.add("seccomp");
        c.cap(CAP_NET_RAW);
    } else if (n == "vsock-socket") {
        // the kernel reads the int domain's low 32 bits: the high-bit variants the probe tries are AF_VSOCK too
        if (c.filtered("socket", {40, SOCK_STREAM}) && c.filtered("socket", {0x100000028ULL, SOCK_STREAM}) &&
            c.filtered("socket", {0xffffffff00000028ULL, SOCK_STREAM}))
            c.add("seccomp");
    } else if (n == "host-network") {
        if (plan.namespaces.net && plan.network == NetworkMode::None) c.add("the network namespace (loopback only)");
    } else if (n == "keyctl") {
        c.seccomp({"add_key", "keyctl"});
    } else if (n == "bpf") {
        c.seccomp({"bpf"});
        if (!c.usable().has(CAP_SYS_ADMIN) && !c.usable().has(CAP_BPF)) {
            if (host_sysctl("/proc/sys/kernel/unprivileged_bpf_disabled", 0) != 0)
                c.add("missing CAP_BPF (kernel.unprivileged_bpf_disabled)");
        }
    } else if (n == "perf-event-open") {
        c.seccomp({"perf_event_open"});
        if (host_sysctl("/proc/sys/kernel/perf_event_paranoid", 2) >= 3 && !c.usable().has(CAP_PERFMON) &&
            !c.usable().has(CAP_SYS_ADMIN))
            c.add("missing CAP_PERFMON (kernel.perf_event_paranoid >= 3)");
    } else if (n == "userfaultfd") {
        c.seccomp({"userfaultfd"});
    } else if (n == "io-uring") {
        c.seccomp({"io_uring_setup"});
        if (host_sysctl("/proc/sys/kernel/io_uring_disabled", 0) == 2) c.add("kernel.io_uring_disabled=2");
    } else if (n == "tiocsti") {
        for (const auto& m : plan.mounts)
            if (m.kind == MountKind::Devpts && m.nodev) c.add("nodev on /dev/pts (no pseudo-terminal can be opened)");
        if (c.filtered("ioctl", {0, TIOCSTI})) c.add("seccomp");
        c.cap(CAP_SYS_ADMIN);
        if (host_sysctl("/proc/sys/dev/tty/legacy_tiocsti", 1) == 0) c.add("dev.tty.legacy_tiocsti=0");
    } else if (n == "open-by-handle") {
        c.seccomp({"open_by_handle_at"});
        c.cap(CAP_DAC_READ_SEARCH);
    } else if (n == "kernel-log") {
        c.seccomp({"syslog"});
        if (host_sysctl("/proc/sys/kernel/dmesg_restrict", 0) != 0) {
            if (!c.usable().has(CAP_SYSLOG) && !c.usable().has(CAP_SYS_ADMIN)) c.add("missing CAP_SYSLOG (kernel.dmesg_restrict)");
            else c.userns_only();
        }
    } else if (n == "ioperm") {
        c.seccomp({"ioperm"});
        c.cap(CAP_SYS_RAWIO);
        c.userns_only();
    } else if (n == "memory-limit") {
        if (plan.resources.memory_max) c.add("memory.max=" + parse::human_size(*plan.resources.memory_max));
    } else if (n == "pids-limit" || n == "fork-bomb") {
        if (plan.resources.pids_max && *plan.resources.pids_max > 0) c.add("pids.max=" + std::to_string(*plan.resources.pids_max));
        for (const auto& r : plan.rlimits)
            if (r.resource == RLIMIT_NPROC && n == "fork-bomb") c.add("RLIMIT_NPROC=" + std::to_string(r.soft));
    }
    return c.out;
}

std::string expected_refusal(const std::string& probe, const LaunchPlan& plan, const std::vector<sock_filter>& program) {
    const Ctx c{plan, program, {}};
    if (probe == "write-root" || probe == "write-etc" || probe == "write-usr") return plan.readonly_root ? "EROFS" : "EACCES";
    if (probe == "mknod-device") {
        if (c.filtered("mknodat") && c.filtered("mknod")) return "EPERM";
        if (plan.landlock.mode != LandlockChoice::Mode::Off) return "EACCES";
        return "EPERM";
    }
    return "";
}

std::string expected_line(const ProbeInfo& info, const std::vector<std::string>& defenses, const std::string& refusal) {
    if (defenses.empty()) return info.op + " -> NOT blocked: no layer of this plan stops it";
    std::string s = info.op + " -> " + (refusal.empty() ? info.refusal : refusal) + ": blocked by ";
    for (std::size_t i = 0; i < defenses.size(); ++i) {
        if (i) s += i + 1 == defenses.size() ? " and by " : ", by ";
        s += defenses[i];
    }
    return s;
}

ProbeResult probe_result(const ProbeInfo& info, const std::string& expected, const std::string& text,
                         const OutcomeView& outcome, const std::string& limit_note) {
    ProbeResult r;
    r.name = info.name;
    r.title = info.title;
    r.expected = expected;
    std::map<std::string, std::string> kv;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        auto eq = line.find('=');
        if (eq != std::string::npos) kv.emplace(line.substr(0, eq), line.substr(eq + 1));
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    r.verdict = kv.count("result") ? kv["result"] : "";
    r.op = kv.count("op") ? kv["op"] : info.op;
    r.err = kv.count("errno") ? kv["errno"] : "";
    r.detail = kv.count("detail") ? kv["detail"] : "";
    if (outcome.error) {
        r.verdict = "error";
        r.detail = *outcome.error;
    } else if (r.verdict.empty()) {
        if (outcome.oom_killed || (outcome.signal && *outcome.signal == SIGKILL && info.name == "memory-limit")) {
            r.verdict = "blocked";
            r.err = "OOM";
            r.detail = "killed by the OOM killer at the memory limit" +
                       (outcome.memory_peak ? " (peak " + parse::human_size(*outcome.memory_peak) + ")" : std::string());
        } else if (outcome.signal && *outcome.signal == SIGSYS) {
            r.verdict = "blocked";
            r.err = "SIGSYS";
            r.detail = "killed by the seccomp filter (SIGSYS)";
        } else {
            r.verdict = "error";
            r.detail = outcome.signal ? "the probe was killed by signal " + std::to_string(*outcome.signal)
                                      : "the probe exited " + std::to_string(outcome.status.value_or(-1)) + " without a verdict";
        }
    }
    if (!limit_note.empty()) r.detail += (r.detail.empty() ? "" : "; ") + limit_note;
    r.passed = r.verdict == "blocked" || r.verdict == "not-applicable";
    return r;
}

}  // namespace hardrun::check
