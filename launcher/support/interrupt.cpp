#include "hardrun/support/interrupt.hpp"

#include <poll.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

namespace hardrun::interrupt {

namespace {
constexpr int kTerminating[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
volatile sig_atomic_t g_caught = 0;
extern "C" void note_signal(int sig) { g_caught = sig; }
}  // namespace

int wait_fd(int fd, int timeout_ms) {
    // The terminating signals the caller blocked are unblocked only inside ppoll, with a handler that notes
    // them: no fd is made, and a signal already pending is seen at once.
    sigset_t blocked;
    sigprocmask(SIG_BLOCK, nullptr, &blocked);
    sigset_t during = blocked;
    struct sigaction note {}, old[std::size(kTerminating)] {};
    note.sa_handler = note_signal;
    sigfillset(&note.sa_mask);
    bool watched[std::size(kTerminating)] = {};
    g_caught = 0;
    for (std::size_t i = 0; i < std::size(kTerminating); ++i)
        if (sigismember(&blocked, kTerminating[i]) && ::sigaction(kTerminating[i], &note, &old[i]) == 0) {
            watched[i] = true;
            sigdelset(&during, kTerminating[i]);
        }
    struct timespec end {};
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += timeout_ms / 1000;
        end.tv_nsec += (timeout_ms % 1000) * 1'000'000L;
        if (end.tv_nsec >= 1'000'000'000L) end.tv_sec += 1, end.tv_nsec -= 1'000'000'000L;
    }
    int result = 0;
    for (;;) {
        struct timespec left {}, *wait = nullptr;
        if (timeout_ms >= 0) {
            struct timespec now {};
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long ns = (end.tv_sec - now.tv_sec) * 1'000'000'000LL + (end.tv_nsec - now.tv_nsec);
            if (ns < 0) ns = 0;
            left = {static_cast<time_t>(ns / 1'000'000'000LL), static_cast<long>(ns % 1'000'000'000LL)};
            wait = &left;
        }
        struct pollfd p {fd, POLLIN, 0};
        const int r = ::ppoll(&p, 1, wait, &during);
        if (g_caught) {
            result = g_caught;
            break;
        }
        if (r < 0 && errno == EINTR) continue;
        result = r == 0 ? -1 : 0;  // ready, hung up, or an error the caller's read reports
        break;
    }
    for (std::size_t i = 0; i < std::size(kTerminating); ++i)
        if (watched[i]) ::sigaction(kTerminating[i], &old[i], nullptr);
    return result;
}

Error interrupted(int sig, const std::string& doing) {
    const char* name = sigabbrev_np(sig);
    return Error("supervision", doing, std::string("interrupted by SIG") + (name ? name : "?") + "; stopped what it had started",
                 128 + sig);
}

}  // namespace hardrun::interrupt
