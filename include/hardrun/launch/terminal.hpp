// hardrun run -t (docker's --tty): the workload gets a pty of its own, as docker and podman give it, and hardrun
// is the engine that holds its master. The child makes the pty in the sandbox's own devpts (console::attach) and
// sends the master over one end of a socketpair (LaunchOptions::console_fd); the relay receives it, gives it the
// invoker's window size, puts the invoker's terminal (when stdin is one) into raw mode, and copies stdin to the
// master and the master to stdout until the workload's side is closed. ^C, ^Z and the like are bytes to the pty,
// whose line discipline signals the workload's foreground group; a SIGWINCH hardrun gets becomes the pty's new
// size (on_signal).
#pragma once
#include <termios.h>

#include <atomic>
#include <optional>
#include <thread>

#include "hardrun/support/fd.hpp"

namespace hardrun::terminal {

class Relay {
public:
    // The socketpair, raw mode on a terminal stdin, and the relay thread (every signal blocked in it, so the
    // supervisor's sigwait still sees them all). Throws Error("tty", ...).
    Relay();
    ~Relay();  // finish(), and the terminal's settings put back
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    // The child's end of the socketpair: LaunchOptions::console_fd.
    int child_socket() const { return child_.get(); }
    // A forwarded signal: SIGWINCH sets the pty's size from the invoker's terminal (true: handled here).
    bool on_signal(int sig);
    // After the workload ended: relays what it wrote last (until the pty's other side is closed, at most 2 s), then
    // stops the thread. Idempotent.
    void finish();

private:
    void run();
    void copy_window_size();

    UniqueFd parent_, child_, stop_;
    std::atomic<int> master_{-1};
    UniqueFd master_owned_;
    std::optional<struct termios> saved_;
    std::thread thread_;
};

}  // namespace hardrun::terminal
