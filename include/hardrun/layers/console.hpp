// The container's terminal (OCI process.terminal with --console-socket, the runc protocol engines such as
// conmon and containerd speak): a pty pair is allocated inside the container's own devpts, the slave becomes
// the workload's controlling terminal and stdio, and the master is sent to the engine over a unix socket.
//
// The invoker's terminal and stdio (hardrun run, OCI create/run): fds 0-2 are handed to the workload, so a
// directory or an O_PATH fd there is refused, and the terminal settings the workload may change (stty -echo,
// raw mode) are put back when it is gone.
#pragma once
#include <sys/types.h>
#include <termios.h>

#include <string>
#include <vector>

#include "hardrun/support/fd.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::console {

// Supervisor, before clone: connects to the engine's socket (a host path the child cannot reach later).
UniqueFd connect_socket(const std::string& path);
// Child, after its /dev/pts is mounted, as root in its namespaces, before the uid switch: opens
// /dev/pts/ptmx, makes the slave (owned by uid) its controlling terminal and fds 0-2, sends the master
// over socket_fd with SCM_RIGHTS and closes the socket. Every kernel call goes through sys. Throws Error.
void attach(Sys& sys, int socket_fd, uid_t uid);

// Front end, before anything is set up: a directory (O_DIRECTORY or O_PATH) or any O_PATH fd as fd 0, 1 or 2
// would give the workload an fd into the host's tree past pivot_root (fchdir, openat, /proc/self/fd/N).
// Throws Error("stdio", "fd N (stdin)", ...). Regular files, ttys, pipes, sockets and devices are fine; a
// closed fd is left to the launch.
void refuse_unsafe_stdio();

// Saves the settings of every terminal among fds 0-2 and restores them when destroyed (after the workload
// exited, was killed, or the launch failed), unless they are unchanged. The restore blocks SIGTTOU, so a
// hardrun in a background process group is not stopped by it.
class TerminalGuard {
public:
    TerminalGuard();
    ~TerminalGuard();
    TerminalGuard(const TerminalGuard&) = delete;
    TerminalGuard& operator=(const TerminalGuard&) = delete;

private:
    struct Saved {
        int fd;
        struct termios attr;
    };
    std::vector<Saved> saved_;
};

}  // namespace hardrun::console
