// Pieces of the OCI runtime CLI (cmd_oci.cpp) that are worth testing on their own: lifecycle hooks,
// signal names, and finding a container's processes.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "hardrun/plan/plan.hpp"
#include "hardrun/launch/state.hpp"

namespace hardrun::oci {

// Runs each hook in order with state_json on its stdin, its stdout and stderr on hardrun's stderr, only
// hook.env as its environment, killed after hook.timeout seconds. enter > 0: the hook runs in the
// namespaces of that process (createContainer, startContainer), else in hardrun's (the runtime namespace).
// Throws Error("hooks", "<kind>[i] <path>", cause) on the first failure.
void run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state_json, pid_t enter = 0);
// The same, but a failure is logged as a warning and the others still run (poststart, poststop).
void run_hooks_warn(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state_json);

// In a forked child: stdin from stdin_fd, stdout onto stderr, then execve(hook.path) with exactly hook.args
// (or the path alone) and hook.env. On failure it says so on stderr (one line, as `what`) and exits 127.
[[noreturn]] void exec_hook(const Hook& hook, int stdin_fd, const std::string& what);

// A hook's end: returns for exit status 0, else throws Error("hooks", label, "exited with status N" or
// "killed by signal NAME"). timed_out (after `timeout` seconds): "timed out after N s and was killed".
void check_hook_end(const std::string& label, int wait_status, bool timed_out = false, int timeout = 0);

// "TERM", "SIGTERM", "term", "15" -> 15. Throws UsageError.
int parse_signal(const std::string& name);

// The container's processes, init first: those in its cgroup when it has one (cgroup_path), else those in the
// pid namespace init created. When init did not create its pid namespace (the config has none, or joins one by
// path), only init and its descendants: never every process of a shared namespace such as the host's.
std::vector<pid_t> container_pids(pid_t init, const std::string& cgroup_path);

// Sends sig to the process if it is still the one recorded (pidfd, so a reused pid is never hit).
// Returns false when it is gone.
bool send_signal(const state::ProcessId& process, int sig);
// Waits up to timeout_ms for the process to exit. Returns true when it is gone.
bool wait_gone(const state::ProcessId& process, int timeout_ms);

}  // namespace hardrun::oci
