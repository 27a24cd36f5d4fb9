// The launch: supervisor + the child's fixed sequence of hardening steps (launch.cpp tells the story).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hardrun/layers/cgroups/cgroups.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/plan/plan.hpp"
#include "hardrun/layers/seccomp/seccomp.hpp"

namespace hardrun {

// What happened to the workload.
struct Outcome {
    int exit_code = 0;               // what hardrun exits with (docker semantics)
    std::optional<int> status;       // the workload's own exit status
    std::optional<int> signal;       // killed by this signal
    bool oom_killed = false;
    std::optional<std::string> error;  // a hardrun error before exec (one line)
    std::string error_step;            // its step
    std::chrono::microseconds wall{0};
    std::optional<cgroups::Stats> cgroup;
    long user_cpu_us = 0, sys_cpu_us = 0, max_rss_kib = 0;  // from wait4
};

// Optional hooks for the harness, recorder and OCI front ends. All run in the supervisor.
struct LaunchHooks {
    // The child exists (in its namespaces and cgroup) and waits, before its first hardening step, until this
    // returns: `hardrun check` attaches its tracer here. Throwing kills the child and fails the launch.
    std::function<void(pid_t child)> on_clone;
    // The child passed its seccomp user-notification listener (seccomp Mode Report/Record).
    std::function<void(UniqueFd listener, pid_t child)> on_listener;
    // Every hardening step succeeded and the workload was exec'ed (with --init: the init's child was).
    // /proc/PID/* of a process that already exited stays readable until it is reaped after this returns.
    std::function<void(pid_t child)> on_exec;
    std::function<void(const Outcome&)> on_exit;
    // OCI startContainer hooks (plan.hooks.start_container): the state JSON they read on stdin, for the
    // container process `child`. The container process runs them itself after its whole setup (seccomp
    // included), right before the workload, so a hook never holds more privilege than the workload.
    std::function<std::string(pid_t child)> start_hook_state;
    // A signal the supervisor forwards to the workload arrived: true when it was handled here instead (hardrun
    // run -t turns SIGWINCH into the pty's new size, terminal.hpp).
    std::function<bool(int sig)> on_signal;
};

struct LaunchOptions {
    seccomp::Mode seccomp_mode = seccomp::Mode::Enforce;
    // A filter compiled beforehand (seccomp::Supervisor shares its own); null: launch() compiles one.
    std::shared_ptr<const seccomp::Prepared> seccomp_prepared;
    std::string cgroup_name;          // default: hardrun-<pid>
    // OCI create: the supervisor opens this FIFO for reading before clone; the child reports ready and
    // blocks before seccomp and execve until `hardrun start` writes one byte to it. The supervisor does not
    // wait for that and returns the child's pid.
    std::string exec_fifo;
    // OCI process.terminal: a unix socket (connected before clone); the child makes a pty in its own devpts
    // its controlling terminal and stdio and sends the master here (console.hpp).
    std::string console_socket;
    // The same protocol over a socket already connected (hardrun run -t: the relay's socketpair, terminal.hpp);
    // -1: none. The launch uses its own duplicate.
    int console_fd = -1;
    // OCI exec (plan.enters_container): the container's cgroup directory to clone the process into (no
    // cgroup is created), and a pidfd of the container's process, checked to be alive after its namespaces
    // were opened (so they cannot be another process's that reused its pid).
    std::string cgroup_dir;
    int enter_pidfd = -1;
    LaunchHooks hooks;
};

// Runs the plan to completion: forwards signals, reaps, cleans up, and returns the outcome.
// Throws Error for failures before the child exists; child failures come back in Outcome::error.
Outcome launch(const LaunchPlan& plan, const LaunchOptions& options = {});

// Detached (OCI create): sets the container up and returns the pid of its process, which waits on
// options.exec_fifo. The cgroup (if any) is left in place for `delete`.
struct Detached {
    pid_t pid = -1;
    std::string cgroup_path;
    std::string systemd_unit;  // the systemd driver's scope ("" = a cgroupfs cgroup)
};
Detached launch_detached(const LaunchPlan& plan, const LaunchOptions& options);

// A one-line summary of each layer the plan asks for (the `--verbose` print and the demo).
std::vector<std::string> describe(const LaunchPlan& plan);

}  // namespace hardrun
