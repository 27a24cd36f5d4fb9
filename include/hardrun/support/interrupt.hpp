// Interrupting a launch before its workload runs. From just before clone the supervisor blocks the signals
// it forwards; until the workload is exec'ed there is nobody to forward them to, so SIGINT, SIGTERM, SIGHUP
// and SIGQUIT then end the launch instead: every wait of that phase (the child's report, the seccomp listener,
// an OCI creation hook) also watches for them, and the caller kills and reaps what it started.
#pragma once
#include <string>

#include "hardrun/support/error.hpp"

namespace hardrun::interrupt {

// Waits until fd is readable or hung up (0), timeout_ms passed (-1; a negative timeout waits forever), or a
// terminating signal is pending (its number; taken, so it is not delivered again). The signals must be
// blocked by the caller (they are unblocked only inside the wait); when they are not, they act as usual.
int wait_fd(int fd, int timeout_ms = -1);

// The error for a launch ended by `sig` while it was `doing` something: exit code 128 + sig, like docker.
Error interrupted(int sig, const std::string& doing);

}  // namespace hardrun::interrupt
