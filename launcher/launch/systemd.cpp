// systemd integration: NOTIFY_SOCKET into the sandbox (or READY=1 from hardrun) and socket activation.
#include "hardrun/launch/systemd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/plan/parse.hpp"

extern char** environ;

namespace hardrun::systemd {

namespace {

constexpr std::size_t kMaxSunPath = sizeof(sockaddr_un::sun_path) - 1;

socklen_t make_sockaddr(const NotifyAddress& a, sockaddr_un& sa) {
    sa = {};
    sa.sun_family = AF_UNIX;
    if (a.kind == NotifyAddress::Kind::Path) {
        std::memcpy(sa.sun_path, a.name.data(), a.name.size());
        return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + a.name.size() + 1);
    }
    std::memcpy(sa.sun_path + 1, a.name.data(), a.name.size());  // sun_path[0] = '\0': abstract
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + a.name.size());
}

std::string describe(const NotifyAddress& a) {
    return "NOTIFY_SOCKET=" + std::string(a.kind == NotifyAddress::Kind::Abstract ? "@" : "") + a.name;
}

void set_env(std::vector<std::string>& env, const std::string& key, const std::string& value) {
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(key + "="); });
    env.push_back(key + "=" + value);
}

void unset_env(std::vector<std::string>& env, const std::string& key) {
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(key + "="); });
}

std::optional<std::string> get(const Environment& env, const std::string& key) {
    auto it = env.find(key);
    if (it == env.end()) return std::nullopt;
    return it->second;
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
}

void add_notify_mount(LaunchPlan& plan, const std::string& source) {
    for (const auto& m : plan.mounts)
        if (m.destination == kSandboxNotifyPath)
            throw UsageError("--volume", std::string("a mount at ") + m.destination + " hides systemd's notify socket at " +
                                             kSandboxNotifyPath + "; move it, or use --sd-notify=ignore");
    Mount m;
    m.kind = MountKind::Bind;
    // the service manager's socket (or hardrun's relay) by its real name: binds follow no symlink (mounts.cpp)
    char real[PATH_MAX];
    m.source = ::realpath(source.c_str(), real) ? std::string(real) : source;
    m.destination = kSandboxNotifyPath;
    m.readonly = true;  // connect() needs write permission on the socket inode, not a writable mount
    m.recursive = false;
    m.noexec = true;
    plan.mounts.push_back(m);
    order_mounts(plan.mounts);
}

}  // namespace

NotifyMode parse_notify_mode(const std::string& option, const std::string& value) {
    if (value.empty() || value == "workload") return NotifyMode::Workload;
    if (value == "hardrun") return NotifyMode::Hardrun;
    if (value == "ignore") return NotifyMode::Ignore;
    throw UsageError(option, "'" + value + "' is not a mode (workload, hardrun, ignore)");
}

NotifyAddress parse_notify_socket(const std::string& value) {
    const std::string option = "NOTIFY_SOCKET";
    NotifyAddress a;
    if (value.starts_with("/")) {
        a.kind = NotifyAddress::Kind::Path;
        a.name = value;
    } else if (value.starts_with("@") && value.size() > 1) {
        a.kind = NotifyAddress::Kind::Abstract;
        a.name = value.substr(1);
    } else {
        throw UsageError(option, "'" + value +
                                     "' is neither an absolute socket path nor an @abstract name (vsock: and relative "
                                     "paths are not supported); use --sd-notify=ignore");
    }
    if (a.name.size() > kMaxSunPath)
        throw UsageError(option, "'" + value + "' is longer than a unix socket address (" +
                                     std::to_string(kMaxSunPath) + " bytes)");
    if (a.name.find('\0') != std::string::npos) throw UsageError(option, "contains a NUL byte");
    return a;
}

int notify(const NotifyAddress& address, const std::string& message) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return -errno;
    sockaddr_un sa{};
    socklen_t len = make_sockaddr(address, sa);
    ssize_t n = ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
    if (n < 0) return -errno;
    return n == static_cast<ssize_t>(message.size()) ? 0 : -EMSGSIZE;
}

Environment current_environment() {
    Environment env;
    for (char** e = environ; e && *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq == std::string::npos) continue;
        env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return env;
}

std::optional<Activation> listen_fds(const Environment& env, pid_t self) {
    auto pid = get(env, "LISTEN_PID");
    auto fds = get(env, "LISTEN_FDS");
    if (!pid || !fds) return std::nullopt;
    const auto pid_value = all_digits(*pid) ? parse::number<pid_t>(*pid) : std::nullopt;
    if (!pid_value) throw UsageError("LISTEN_PID", "'" + *pid + "' is not a pid");
    if (*pid_value != self) return std::nullopt;  // meant for another process (sd_listen_fds(3))
    const auto count_value = all_digits(*fds) ? parse::number<int>(*fds) : std::nullopt;
    if (!count_value) throw UsageError("LISTEN_FDS", "'" + *fds + "' is not a number of fds");
    int count = *count_value;
    if (count == 0) return std::nullopt;
    if (count > 1000) throw UsageError("LISTEN_FDS", "'" + *fds + "' fds is more than hardrun passes (1000)");
    Activation a;
    a.count = count;
    a.names = get(env, "LISTEN_FDNAMES").value_or("");
    if (!a.names.empty()) {
        auto n = 1 + std::count(a.names.begin(), a.names.end(), ':');
        if (n != count)
            throw UsageError("LISTEN_FDNAMES", "names " + std::to_string(n) + " fds but LISTEN_FDS is " + *fds);
    }
    return a;
}

Adapted adapt_plan(LaunchPlan& plan, NotifyMode mode, const Environment& env,
                   const std::optional<Activation>& activation, const std::string& proxy_socket_path) {
    Adapted out;
    auto notify_value = get(env, "NOTIFY_SOCKET");
    if (notify_value && !notify_value->empty() && mode != NotifyMode::Ignore) {
        NotifyAddress addr = parse_notify_socket(*notify_value);
        // WatchdogSec=: systemd sets WATCHDOG_USEC (and WATCHDOG_PID, checked by the caller) for hardrun
        std::optional<std::uint64_t> watchdog;
        if (auto usec = get(env, "WATCHDOG_USEC"); usec && !usec->empty()) {
            watchdog = parse::number<std::uint64_t>(*usec);
            if (!watchdog || *watchdog == 0)
                throw UsageError("WATCHDOG_USEC", "'" + *usec + "' is not a number of microseconds (1.." +
                                                      std::to_string(UINT64_MAX) + ")");
        }
        if (mode == NotifyMode::Hardrun) {
            out.upstream = addr;
            out.hardrun_sends_ready = true;
            out.watchdog_usec = watchdog;  // the workload cannot ping: hardrun does, while it runs
        } else if (watchdog) {
            // the workload pings itself: sd_watchdog_enabled(3) wants WATCHDOG_PID to be its own pid, which
            // only exec_workload() knows (1, or 2 behind --init; rewritten there like LISTEN_PID)
            set_env(plan.env, "WATCHDOG_USEC", std::to_string(*watchdog));
            set_env(plan.env, "WATCHDOG_PID", plan.init ? "2" : "1");
        }
        if (mode == NotifyMode::Hardrun) {
            // the workload is not told about the socket
        } else if (addr.kind == NotifyAddress::Kind::Path) {
            add_notify_mount(plan, addr.name);
            set_env(plan.env, "NOTIFY_SOCKET", kSandboxNotifyPath);
        } else {
            // Abstract names live in a network namespace (the sandbox has its own), and Landlock's
            // abstract-socket scoping refuses them even with --network=host: relay through a socket file.
            out.upstream = addr;
            out.needs_proxy = true;
            if (proxy_socket_path.empty())
                throw Error("systemd notify", describe(addr), "no relay socket for an abstract notify socket");
            add_notify_mount(plan, proxy_socket_path);
            set_env(plan.env, "NOTIFY_SOCKET", kSandboxNotifyPath);
        }
    }
    if (activation) {
        if (!plan.preserve_fds.empty())
            throw Error("socket activation", "LISTEN_FDS=" + std::to_string(activation->count),
                        "cannot be combined with other preserved fds");
        if (!plan.namespaces.pid || plan.namespaces.join.count("pid"))
            throw Error("socket activation", "LISTEN_PID",
                        "the workload's pid is only known in a new pid namespace; do not share or join one");
        for (int i = 0; i < activation->count; ++i) plan.preserve_fds.push_back(3 + i);
        set_env(plan.env, "LISTEN_FDS", std::to_string(activation->count));
        // PID 1 in the new pid namespace, or 2: the first child of hardrun's --init reaper
        set_env(plan.env, "LISTEN_PID", plan.init ? "2" : "1");
        if (activation->names.empty()) unset_env(plan.env, "LISTEN_FDNAMES");
        else set_env(plan.env, "LISTEN_FDNAMES", activation->names);
    }
    return out;
}

// A datagram socket file bound in a private directory, bind-mounted into the sandbox; a thread relays
// what the workload sends (with any fds, e.g. FDSTORE=1) to systemd's abstract socket.

namespace {
// A thread that never takes a signal: the supervisor forwards signals from its main thread.
template <class F>
std::thread signal_free_thread(F&& body) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    std::thread t(std::forward<F>(body));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return t;
}
}  // namespace

class NotifyProxy {
public:
    explicit NotifyProxy(NotifyAddress upstream) : upstream_(std::move(upstream)) {
        std::string base = "/tmp";
        if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && x[0] == '/' && ::access(x, W_OK) == 0) base = x;
        else if (::geteuid() == 0 && ::access("/run", W_OK) == 0) base = "/run";
        std::string tmpl = base + "/hardrun-notify-XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw_errno("systemd notify", "relay directory " + tmpl, errno);
        dir_ = tmpl;
        path_ = dir_ + "/notify";
        sock_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!sock_) throw_errno("systemd notify", "relay socket", errno);
        NotifyAddress local{NotifyAddress::Kind::Path, path_};
        if (path_.size() > kMaxSunPath) throw Error("systemd notify", path_, "relay socket path too long");
        sockaddr_un sa{};
        socklen_t len = make_sockaddr(local, sa);
        if (::bind(sock_.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0)
            throw_errno("systemd notify", "binding relay socket " + path_, errno);
        // the workload runs as another uid: connect() needs write permission on the socket
        if (::chmod(path_.c_str(), 0666) != 0) throw_errno("systemd notify", "chmod " + path_, errno);
        up_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!up_) throw_errno("systemd notify", "upstream socket", errno);
        stop_.reset(::eventfd(0, EFD_CLOEXEC));
        if (!stop_) throw_errno("systemd notify", "eventfd", errno);
    }
    NotifyProxy(const NotifyProxy&) = delete;
    NotifyProxy& operator=(const NotifyProxy&) = delete;

    ~NotifyProxy() {
        if (thread_.joinable()) {
            std::uint64_t one = 1;
            (void)!::write(stop_.get(), &one, sizeof one);
            thread_.join();
        }
        sock_.reset();
        if (!path_.empty()) ::unlink(path_.c_str());
        if (!dir_.empty()) ::rmdir(dir_.c_str());
    }

    const std::string& socket_path() const { return path_; }

    void start() {
        if (!thread_.joinable()) thread_ = signal_free_thread([this] { run(); });
    }

private:
    void run() {
        for (;;) {
            pollfd p[2] = {{sock_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
            if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
            relay_pending();
            if (p[1].revents & POLLIN) return;  // drained above: the workload's last words were relayed
        }
    }

    void relay_pending() {
        for (;;) {
            char buf[4097];
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253)];
            iovec iov{buf, sizeof buf};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            ssize_t n = ::recvmsg(sock_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (n < 0) return;
            std::vector<UniqueFd> fds;
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
                std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (std::size_t i = 0; i < count; ++i) {
                    int fd;
                    std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                    fds.emplace_back(fd);
                }
            }
            if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n == static_cast<ssize_t>(sizeof buf)) {
                warn_once("a notify message from the workload was too large; dropped");
                continue;
            }
            forward(std::string(buf, static_cast<std::size_t>(n)), fds);
        }
    }

    void forward(const std::string& text, const std::vector<UniqueFd>& fds) {
        // MAINPID= from inside names a pid in the sandbox's namespace: systemd's main pid stays hardrun
        std::string out;
        std::size_t i = 0;
        while (i < text.size()) {
            std::size_t j = text.find('\n', i);
            if (j == std::string::npos) j = text.size();
            std::string line = text.substr(i, j - i);
            if (!line.empty() && !line.starts_with("MAINPID=")) out += line + "\n";
            i = j + 1;
        }
        if (out.empty() && fds.empty()) return;
        sockaddr_un sa{};
        socklen_t len = make_sockaddr(upstream_, sa);
        iovec iov{out.data(), out.size()};
        msghdr msg{};
        msg.msg_name = &sa;
        msg.msg_namelen = len;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        std::vector<char> control;
        if (!fds.empty()) {
            control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
            msg.msg_control = control.data();
            msg.msg_controllen = control.size();
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
            for (std::size_t k = 0; k < fds.size(); ++k) {
                int fd = fds[k].get();
                std::memcpy(CMSG_DATA(c) + k * sizeof(int), &fd, sizeof fd);
            }
        }
        if (::sendmsg(up_.get(), &msg, MSG_NOSIGNAL) < 0)
            warn_once("relaying a notify message to " + describe(upstream_) + ": " + errno_text(errno));
    }

    void warn_once(const std::string& text) {
        if (warned_) return;
        warned_ = true;
        log::warning("systemd notify: " + text);
    }

    NotifyAddress upstream_;
    std::string dir_, path_;
    UniqueFd sock_, up_, stop_;
    std::thread thread_;
    bool warned_ = false;
};

// --sd-notify=hardrun under WatchdogSec=: hardrun sends WATCHDOG=1 every half interval (sd_watchdog_enabled(3)
// advice) from a thread, from the workload's exec until the workload is gone.
class WatchdogPinger {
public:
    WatchdogPinger(NotifyAddress upstream, std::uint64_t usec) : upstream_(std::move(upstream)), usec_(usec) {
        stop_.reset(::eventfd(0, EFD_CLOEXEC));
        if (!stop_) throw_errno("systemd watchdog", "eventfd", errno);
    }
    WatchdogPinger(const WatchdogPinger&) = delete;
    WatchdogPinger& operator=(const WatchdogPinger&) = delete;
    ~WatchdogPinger() {
        if (!thread_.joinable()) return;
        std::uint64_t one = 1;
        (void)!::write(stop_.get(), &one, sizeof one);
        thread_.join();
    }
    void start() {
        if (!thread_.joinable()) thread_ = signal_free_thread([this] { run(); });
    }

private:
    void run() {
        const std::uint64_t half = std::max<std::uint64_t>(usec_ / 2, 1);
        const timespec interval{static_cast<time_t>(half / 1000000), static_cast<long>((half % 1000000) * 1000)};
        bool warned = false;
        for (;;) {
            if (int r = notify(upstream_, "WATCHDOG=1"); r < 0 && !warned) {
                warned = true;
                log::warning("systemd watchdog: sending WATCHDOG=1 to " + describe(upstream_) + ": " + errno_text(-r));
            }
            pollfd p{stop_.get(), POLLIN, 0};
            int n = ::ppoll(&p, 1, &interval, nullptr);
            if (n > 0 || (n < 0 && errno != EINTR)) return;
        }
    }

    NotifyAddress upstream_;
    std::uint64_t usec_;
    UniqueFd stop_;
    std::thread thread_;
};

std::unique_ptr<Integration> Integration::prepare(LaunchPlan& plan, NotifyMode mode, const Environment& given_env,
                                                  pid_t self) {
    auto activation = listen_fds(given_env, self);
    // WATCHDOG_PID names the process systemd expects pings from: not hardrun, then not ours to pass on
    Environment env = given_env;
    if (auto wpid = get(env, "WATCHDOG_PID"); wpid && parse::number<pid_t>(*wpid) != std::optional<pid_t>(self)) {
        env.erase("WATCHDOG_USEC");
        env.erase("WATCHDOG_PID");
    }
    auto notify_value = get(env, "NOTIFY_SOCKET");
    const bool notify_on = notify_value && !notify_value->empty() && mode != NotifyMode::Ignore;
    if (!activation && !notify_on) return nullptr;

    if (activation)
        for (int i = 0; i < activation->count; ++i)
            if (::fcntl(3 + i, F_GETFD) < 0)
                throw Error("socket activation", "fd " + std::to_string(3 + i),
                            "LISTEN_FDS=" + std::to_string(activation->count) + " but the fd is not open");

    std::unique_ptr<Integration> in(new Integration);
    std::string proxy_path;
    if (notify_on) {
        NotifyAddress addr = parse_notify_socket(*notify_value);
        if (mode == NotifyMode::Workload && addr.kind == NotifyAddress::Kind::Path) {
            struct stat st {};
            if (::stat(addr.name.c_str(), &st) != 0) throw_errno("systemd notify", describe(addr), errno);
            if (!S_ISSOCK(st.st_mode)) throw Error("systemd notify", describe(addr), "not a unix socket");
        }
        if (mode == NotifyMode::Workload && addr.kind == NotifyAddress::Kind::Abstract) {
            in->proxy_ = std::make_unique<NotifyProxy>(addr);
            proxy_path = in->proxy_->socket_path();
        }
    }
    in->adapted_ = adapt_plan(plan, mode, env, activation, proxy_path);
    if (in->adapted_.hardrun_sends_ready && in->adapted_.upstream && in->adapted_.watchdog_usec)
        in->pinger_ = std::make_unique<WatchdogPinger>(*in->adapted_.upstream, *in->adapted_.watchdog_usec);
    return in;
}

void Integration::on_exec(pid_t child) {
    if (proxy_) proxy_->start();
    if (adapted_.hardrun_sends_ready && adapted_.upstream) {
        std::string msg = "READY=1\nSTATUS=hardrun: workload running (pid " + std::to_string(child) + ")\n";
        if (int r = notify(*adapted_.upstream, msg); r < 0)
            log::warning("systemd notify: sending READY=1 to " + describe(*adapted_.upstream) + ": " + errno_text(-r));
    }
    if (pinger_) pinger_->start();
}

Integration::~Integration() = default;

}  // namespace hardrun::systemd
