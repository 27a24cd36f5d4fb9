// The hardening story: every step the cloned child takes between clone3 and execve, in order, through the
// Sys seam (launch.cpp). The unit tests run it against the recording fake (tests/unit/test_harden.cpp), so the
// order and the arguments of a whole launch are checked without privileges.
#pragma once
#include <map>
#include <string>
#include "hardrun/layers/apparmor.hpp"
#include "hardrun/plan/plan.hpp"
#include "hardrun/layers/seccomp/seccomp.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun {

// What the child was handed by the supervisor (all fds are the child's; -1 when absent).
struct ChildContext {
    const LaunchPlan* plan;
    const seccomp::Prepared* filter;
    const apparmor::Decision* apparmor;
    int report_fd;    // write end: CLOEXEC, so EOF at the parent means the workload was exec'ed
    int sync_fd;      // read end: the parent writes one byte when the id maps are in place; EOF = parent died
    int fd_socket;    // unix socket to hand fds (seccomp listener) to the supervisor, or -1
    bool detached;
    int exec_fifo_fd = -1;  // detached: read end of the exec FIFO (opened before clone), `start` writes to it
    int console_fd = -1;    // process.terminal: connected --console-socket, gets the pty master
    // the namespaces to join (type -> fd), opened and checked once by the supervisor (namespaces::Joined)
    const std::map<std::string, int>* join_fds = nullptr;
    // seccomp Handoff::Take by a supervisor without CAP_SYS_PTRACE (rootless): the child is made dumpable right
    // before the filter, so that its own user may take the listener with pidfd_getfd (see start_child)
    bool dumpable_for_handoff = false;
};

// Applies every layer of the plan to the calling process, in the fixed order, failing closed: the first step
// that cannot be applied throws Error naming the step, the object and the cause, and nothing after it runs.
// Seccomp is the last step. Returns the seccomp user-notification listener (--report/record) or -1.
int harden(Sys& sys, ChildContext& c);

}  // namespace hardrun
