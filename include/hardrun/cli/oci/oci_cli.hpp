// The OCI runtime CLI's entry points used outside cmd_oci.cpp.
#pragma once
#include <functional>

#include "hardrun/config/flags.hpp"
#include "hardrun/launch/launch.hpp"

namespace hardrun::commands {

// `hardrun run --bundle DIR [ID]` (runc run): the container runs in the foreground under the OCI lifecycle
// (state under --root, hooks, --console-socket, --pid-file, -d). Returns hardrun's exit code.
// `prepare`, when given, adapts the bundle's plan and the launch options right before the foreground launch
// (cmd_run.cpp: systemd's NOTIFY_SOCKET and LISTEN_FDS, systemd.hpp).
using PrepareLaunch = std::function<void(LaunchPlan& plan, LaunchOptions& options)>;
int run_bundle(const RunFlags& flags, bool verbose, bool quiet, const PrepareLaunch& prepare = {});

// `hardrun run --rootfs DIR` with --name, -d, --pid-file, --preserve-fds or --keep: the flags' plan runs as a
// container under --root (no bundle, no config.json), so `hardrun ps/kill/state/delete NAME` find it; -d creates and
// starts it, prints its name and returns. True when the run's flags ask for that (docker's --rm, -i and -t are
// checked here too: honoured or refused).
bool rootfs_run_is_a_container();
// -t (docker's --tty) on a plain foreground run --rootfs: the workload gets a pty of its own (terminal.hpp).
bool rootfs_run_wants_tty();
int run_rootfs(LaunchPlan plan, bool verbose, bool quiet, const PrepareLaunch& prepare = {});

}  // namespace hardrun::commands
