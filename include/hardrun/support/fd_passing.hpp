// Passing one file descriptor over a unix socket (SCM_RIGHTS): the seccomp listener from the child to the
// supervisor, the pty master to an OCI --console-socket.
#pragma once
#include <string>
#include <string_view>

#include "hardrun/support/fd.hpp"

namespace hardrun::fdpass {

// Sends `fd` in one message whose data is `payload` (one byte "F" when empty: a message needs data).
// `flags` go to sendmsg (MSG_NOSIGNAL...). Returns 0, or -errno.
int send(int sock, int fd, std::string_view payload = {}, int flags = 0);

// Receives one message and the fd it carries (close-on-exec). Empty on EOF, on an error (errno tells) or when
// the message carries no fd. `payload`, when given, gets the message's data.
UniqueFd receive(int sock, std::string* payload = nullptr);

}  // namespace hardrun::fdpass
