// hardrun run -t: the pty relay (terminal.hpp).
#include "hardrun/launch/terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "hardrun/support/error.hpp"
#include "hardrun/support/fd_passing.hpp"

namespace hardrun::terminal {

namespace {
bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf {fd, POLLOUT, 0};
            (void)::poll(&pf, 1, 100);
            continue;
        }
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}
}  // namespace

Relay::Relay() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("tty", "the pty's socketpair", errno);
    parent_.reset(sv[0]);
    child_.reset(sv[1]);
    stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_) throw_errno("tty", "the relay's eventfd", errno);
    if (::isatty(0)) {
        struct termios t {};
        if (::tcgetattr(0, &t) == 0) {
            saved_ = t;
            ::cfmakeraw(&t);
            if (::tcsetattr(0, TCSANOW, &t) != 0) throw_errno("tty", "putting your terminal into raw mode", errno);
        }
    }
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
        thread_ = std::thread([this] { run(); });
    } catch (...) {
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if (saved_) ::tcsetattr(0, TCSANOW, &*saved_);
        throw;
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

Relay::~Relay() {
    finish();
    if (saved_) {
        // a hardrun in a background process group must not be stopped by the restore
        sigset_t ttou, old;
        sigemptyset(&ttou);
        sigaddset(&ttou, SIGTTOU);
        ::pthread_sigmask(SIG_BLOCK, &ttou, &old);
        ::tcsetattr(0, TCSADRAIN, &*saved_);
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
}

void Relay::copy_window_size() {
    const int m = master_.load();
    struct winsize ws {};
    if (m >= 0 && ::isatty(0) && ::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(m, TIOCSWINSZ, &ws);
}

bool Relay::on_signal(int sig) {
    if (sig != SIGWINCH || master_.load() < 0) return false;
    copy_window_size();  // the kernel sends SIGWINCH to the pty's foreground process group
    return true;
}

void Relay::finish() {
    if (!thread_.joinable()) return;
    const std::uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
}

void Relay::run() {
    // 1. the master, from the child (or EOF: it is gone without one)
    for (;;) {
        struct pollfd p[2] = {{parent_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[0].revents) break;
        if (p[1].revents) return;
    }
    master_owned_ = fdpass::receive(parent_.get());
    parent_.reset();
    if (!master_owned_) return;
    master_.store(master_owned_.get());
    copy_window_size();
    // 2. stdin -> master, master -> stdout, until the other side is closed (EIO) or, once stopped, 2 s at most
    bool in_open = true, stopping = false;
    auto deadline = std::chrono::steady_clock::time_point::max();
    char buf[16384];
    for (;;) {
        struct pollfd p[3] = {{master_owned_.get(), POLLIN, 0}, {stop_.get(), stopping ? short(0) : short(POLLIN), 0},
                              {in_open ? 0 : -1, POLLIN, 0}};
        int timeout = -1;
        if (stopping) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            timeout = static_cast<int>(left.count());
        }
        const int r = ::poll(p, 3, timeout);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        if (r == 0) break;  // stopping and nothing more came
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = ::read(master_owned_.get(), buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) break;  // EIO: every fd of the pty's other side is closed
            if (!write_all(1, buf, static_cast<std::size_t>(n))) break;
            continue;
        }
        if (p[1].revents & POLLIN) {
            stopping = true;
            deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        }
        if (in_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
            const ssize_t n = ::read(0, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) {
                in_open = false;  // the invoker's stdin ended: the workload keeps its terminal
                continue;
            }
            if (!write_all(master_owned_.get(), buf, static_cast<std::size_t>(n))) in_open = false;
        }
    }
    master_.store(-1);
}

}  // namespace hardrun::terminal
