// pasta for -p/--publish (pasta.hpp says what it may reach and why).
#include "hardrun/launch/pasta.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <utility>

#include "hardrun/plan/publish.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/support/interrupt.hpp"
#include "hardrun/support/log.hpp"

namespace hardrun::pasta {

namespace {

constexpr int kReadyTimeoutMs = 10000;

// pasta's own port spec: "127.0.0.1/8080:80" ("::1/8080:80")
std::string spec(const PublishedPort& p) {
    return p.host_ip + "/" + std::to_string(p.host_port) + ":" + std::to_string(p.port);
}

std::string host_text(const PublishedPort& p) {
    const std::string t = parse::publish_text(p);
    return t.substr(0, t.find("->")) + (p.udp ? "/udp" : "/tcp");
}

// bind(2) of the host address and port; 0 or the errno. reuse: SO_REUSEADDR, as pasta binds its TCP listeners
// (so a connection in TIME_WAIT is not taken for a port in use).
int try_bind(const PublishedPort& p, bool reuse) {
    const bool v6 = p.host_ip.find(':') != std::string::npos;
    UniqueFd s(::socket(v6 ? AF_INET6 : AF_INET, (p.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    if (!s) return errno;
    const int one = 1;
    if (reuse) (void)::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(p.host_port);
        ::inet_pton(AF_INET6, p.host_ip.c_str(), &a->sin6_addr);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(p.host_port);
        ::inet_pton(AF_INET, p.host_ip.c_str(), &a->sin_addr);
        len = sizeof *a;
    }
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return errno;
    return 0;
}

// Before pasta starts: each host port must be free (pasta itself only logs a port it cannot bind, and goes on).
void check_free(const std::vector<PublishedPort>& ports) {
    for (const auto& p : ports) {
        const int err = try_bind(p, !p.udp);
        if (err == 0) continue;
        std::string hint;
        if (err == EADDRINUSE) hint = "; another process holds it (pick another host port)";
        else if (err == EACCES) hint = "; a host port below 1024 needs root (or a lower net.ipv4.ip_unprivileged_port_start)";
        throw Error("network", "-p " + parse::publish_text(p), "host port " + host_text(p) + ": " + errno_text(err) + hint);
    }
}

// pasta's last line that says something (it also reports each failed syslog send on stderr).
std::string last_words(int fd) {
    std::string text;
    char buf[4096];
    for (off_t off = 0;;) {
        const ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        off += n;
        if (text.size() > (1U << 20)) break;
    }
    std::istringstream in(text);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty() && !line.starts_with("Failed to send ") && !line.starts_with("Failed to open syslog"))
            last = line;
    return last;
}

std::string status_text(int status) {
    if (WIFEXITED(status)) return "pasta exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = sigabbrev_np(WTERMSIG(status));
        return std::string("pasta was killed by SIG") + (name ? name : "?");
    }
    return "pasta stopped";
}

void kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
}

// In the forked child, before exec: only async-signal-safe calls.
[[noreturn]] void exec_pasta(const char* exe, char* const* argv, const int (&from)[6], bool as_root, pid_t supervisor) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  // kept: pasta changes neither uid nor gains capabilities
    if (::getppid() != supervisor) ::_exit(127);  // the supervisor died before PDEATHSIG was set
    if (as_root) {
        // the bounding set pasta needs to join a network namespace of the host's user namespace, make its tap and
        // bind the host ports: nothing else can ever come back, and no exec may raise privileges
        for (int cap = 0; cap <= 63; ++cap)
            if (cap != CAP_SYS_ADMIN && cap != CAP_NET_ADMIN && cap != CAP_NET_BIND_SERVICE)
                (void)::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    }
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    // fds 0-5 as pasta.hpp numbers them: first moved above 5, so no dup2 overwrites a source still needed
    int moved[6];
    for (int i = 0; i < 6; ++i) {
        moved[i] = from[i] < 0 ? -1 : ::fcntl(from[i], F_DUPFD_CLOEXEC, 10);
        if (from[i] >= 0 && moved[i] < 0) ::_exit(127);
    }
    for (int i = 0; i < 6; ++i)
        if (moved[i] >= 0 && ::dup2(moved[i], i) < 0) ::_exit(127);
    ::close_range(6, ~0U, 0);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(exe, argv);
    const char msg[] = "hardrun: exec of pasta failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
}

}  // namespace

std::vector<std::string> arguments(const std::vector<PublishedPort>& ports, bool userns, bool as_root) {
    const std::string fd = "/proc/self/fd/";
    std::vector<std::string> a = {
        "--foreground", "--quiet",                          // a child of the supervisor, which ends it by PID
        "--netns", fd + std::to_string(kNetnsFd),           // the sandbox's namespace, by the fd the supervisor opened
        "--no-netns-quit",                                  // (nothing to watch: the supervisor says when it ends)
        "--pid", fd + std::to_string(kReadyFd),             // written once the ports are bound: "ready"
        "--ns-ifname", kTapName,                            // its tap in the sandbox, left down (no --config-net)
    };
    if (userns) a.insert(a.end(), {"--userns", fd + std::to_string(kUsernsFd)});
    if (as_root) a.insert(a.end(), {"--runas", "0"});
    bool tcp = false, udp = false;
    for (const auto& p : ports) {
        a.insert(a.end(), {p.udp ? "-u" : "-t", spec(p)});
        (p.udp ? udp : tcp) = true;
    }
    // no other port: without "-u none", pasta also forwards the UDP ports of the TCP ones
    if (!tcp) a.insert(a.end(), {"-t", "none"});
    if (!udp) a.insert(a.end(), {"-u", "none"});
    // inbound only: nothing from the sandbox to the host's ports, no gateway mapped to the host, and no
    // configuration for the tap (no --config-net), no DHCP, NDP, router advertisement or ICMP echo
    a.insert(a.end(), {"-T", "none", "-U", "none", "--no-map-gw", "--no-dhcp", "--no-dhcpv6", "--no-ndp", "--no-ra",
                       "--no-icmp"});
    return a;
}

std::string ports_text(const std::vector<PublishedPort>& ports) {
    std::string t;
    for (const auto& p : ports) t += (t.empty() ? "-p " : ", -p ") + parse::publish_text(p);
    return t;
}

std::string executable(const std::vector<PublishedPort>& ports) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (dir.empty() || dir.front() != '/') continue;
        std::string exe = dir + "/pasta";
        struct stat st {};
        if (::stat(exe.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(exe.c_str(), X_OK) == 0) return exe;
    }
    throw Error("network", ports_text(ports),
                "pasta is not installed (it forwards the published ports); install Debian's passt package "
                "(apt-get install passt)");
}

std::unique_ptr<Forwarder> Forwarder::start(const LaunchPlan& plan, pid_t child, const std::string& exe) {
    const std::string what = ports_text(plan.publish);
    check_free(plan.publish);
    const bool userns = plan.namespaces.user;
    const std::string proc = "/proc/" + std::to_string(child) + "/ns/";
    UniqueFd netns(::open((proc + "net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) throw_errno("network", what, errno, "opening the sandbox's network namespace");
    UniqueFd user;
    if (userns) {
        user.reset(::open((proc + "user").c_str(), O_RDONLY | O_CLOEXEC));
        if (!user) throw_errno("network", what, errno, "opening the sandbox's user namespace");
    }
    Pipe ready = Pipe::make("pasta's ready pipe");
    UniqueFd out(::memfd_create("hardrun-pasta-output", MFD_CLOEXEC));
    if (!out) throw_errno("network", what, errno, "memfd_create for pasta's output");
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null) throw_errno("network", what, errno, "/dev/null");

    const bool as_root = ::geteuid() == 0;
    std::vector<std::string> args = arguments(plan.publish, userns, as_root);
    args.insert(args.begin(), "pasta");
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int from[6] = {null.get(), out.get(), out.get(), netns.get(), user ? user.get() : -1, ready.write.get()};

    const pid_t supervisor = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("network", what, errno, "fork for pasta");
    if (pid == 0) exec_pasta(exe.c_str(), argv.data(), from, as_root, supervisor);
    std::unique_ptr<Forwarder> f(new Forwarder(pid));
    ready.write.reset();

    // ready: pasta writes its PID once every port is bound; EOF without it: pasta ended
    const int sig = interrupt::wait_fd(ready.read.get(), kReadyTimeoutMs);
    if (sig > 0) throw interrupt::interrupted(sig, "starting pasta for " + what);
    if (sig < 0) throw Error("network", what, "pasta did not report its ports bound within " +
                                                  std::to_string(kReadyTimeoutMs / 1000) + " s: " + last_words(out.get()));
    char buf[32];
    ssize_t n;
    do n = ::read(ready.read.get(), buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        f->pid_ = -1;
        const std::string words = last_words(out.get());
        throw Error("network", what, status_text(status) + " before its ports were bound" + (words.empty() ? "" : ": " + words));
    }
    // pasta only logs a port it could not bind: each must be taken now (by pasta, as it was free just before)
    for (const auto& p : plan.publish)
        if (try_bind(p, false) == 0)
            throw Error("network", "-p " + parse::publish_text(p),
                        "pasta did not bind host port " + host_text(p) + (last_words(out.get()).empty() ? "" : ": " + last_words(out.get())));
    if (log::verbose()) log::info("network: pasta (pid " + std::to_string(pid) + ") forwards " + what + ", inbound only");
    return f;
}

void Forwarder::stop() {
    if (pid_ < 0) return;
    const pid_t pid = std::exchange(pid_, -1);
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {}
    if (r == pid) {  // it ended by itself while the workload ran: the ports were closed from then on
        log::warning("network: " + status_text(status) + " while the workload ran; the published ports closed then");
        return;
    }
    ::kill(pid, SIGTERM);
    for (int waited = 0; waited < 2000; waited += 10) {
        while ((r = ::waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {}
        if (r == pid) return;
        const struct timespec ten_ms {0, 10'000'000};
        ::nanosleep(&ten_ms, nullptr);
    }
    kill_and_reap(pid);
}

Forwarder::~Forwarder() {
    if (pid_ >= 0) {
        if (std::uncaught_exceptions() > 0) kill_and_reap(std::exchange(pid_, -1));
        else stop();
    }
}

}  // namespace hardrun::pasta
