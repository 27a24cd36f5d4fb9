#include "hardrun/interrupt.hpp"

#include <poll.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "hardrun/fd.hpp"

namespace hardrun::interrupt {

namespace {
constexpr int kTerminating[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
}

int wait_fd(int fd, int timeout_ms) {
    sigset_t set, blocked;
    sigemptyset(&set);
    sigprocmask(SIG_BLOCK, nullptr, &blocked);
    for (int s : kTerminating)
        if (sigismember(&blocked, s)) sigaddset(&set, s);
    UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    struct pollfd p[2] = {{fd, POLLIN, 0}, {sfd.get(), POLLIN, 0}};
    for (;;) {
        const int r = ::poll(p, sfd ? 2 : 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) return -1;
        if (r < 0) return 0;  // let the caller's read report the error
        if (sfd && (p[1].revents & POLLIN)) {
            signalfd_siginfo si{};
            if (::read(sfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) return static_cast<int>(si.ssi_signo);
        }
        if (p[0].revents) return 0;
    }
}

Error interrupted(int sig, const std::string& doing) {
    const char* name = sigabbrev_np(sig);
    return Error("supervision", doing, std::string("interrupted by SIG") + (name ? name : "?") + "; stopped what it had started",
                 128 + sig);
}

}  // namespace hardrun::interrupt
