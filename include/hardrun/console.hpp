// The container's terminal (OCI process.terminal with --console-socket, the runc protocol engines such as
// conmon and containerd speak): a pty pair is allocated inside the container's own devpts, the slave becomes
// the workload's controlling terminal and stdio, and the master is sent to the engine over a unix socket.
#pragma once
#include <sys/types.h>

#include <string>

#include "hardrun/fd.hpp"

namespace hardrun::console {

// Supervisor, before clone: connects to the engine's socket (a host path the child cannot reach later).
UniqueFd connect_socket(const std::string& path);
// Child, after its /dev/pts is mounted, as root in its namespaces, before the uid switch: opens
// /dev/pts/ptmx, makes the slave (owned by uid) its controlling terminal and fds 0-2, sends the master
// over socket_fd with SCM_RIGHTS and closes the socket. Throws Error.
void attach(int socket_fd, uid_t uid);

}  // namespace hardrun::console
