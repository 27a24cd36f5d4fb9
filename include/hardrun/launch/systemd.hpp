// systemd integration for `hardrun run` under a unit: the notify protocol (Type=notify) and socket
// activation (LISTEN_FDS). Both are read from hardrun's own environment, as systemd sets it.
//
// Notify (NOTIFY_SOCKET), by --sd-notify mode:
//   workload (default): the workload speaks the protocol. A socket path is bind-mounted read-only at
//       /dev/.hardrun-notify (on hardrun's own /dev tmpfs: the image is never written) and NOTIFY_SOCKET
//       is rewritten to it. An abstract socket ("@name") lives in
//       the host's network namespace, which the sandbox does not see (and Landlock's scoping refuses
//       abstract sockets outside the sandbox anyway): hardrun then binds a private socket there and relays each datagram (and any fds) to systemd itself.
//   hardrun: the workload is not told; hardrun sends READY=1 once the workload has been exec'ed, and under
//       WatchdogSec= (WATCHDOG_USEC) WATCHDOG=1 every half interval while the workload runs.
// Watchdog, workload mode: WATCHDOG_USEC is passed on and WATCHDOG_PID set to the workload's own pid (when
// systemd's WATCHDOG_PID named hardrun).
//   ignore: NOTIFY_SOCKET is neither passed nor used.
// Socket activation: when LISTEN_PID is hardrun's pid, the LISTEN_FDS fds (3, 4, ...) and only those
// reach the workload, renumbered from 3, with LISTEN_PID rewritten to the workload's pid inside its pid
// namespace (1, or 2 with --init) and LISTEN_FDNAMES passed on.
#pragma once
#include <sys/types.h>

#include <map>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>

#include "hardrun/plan/plan.hpp"

namespace hardrun::systemd {

enum class NotifyMode { Workload, Hardrun, Ignore };

// "workload", "hardrun" or "ignore"; throws UsageError.
NotifyMode parse_notify_mode(const std::string& option, const std::string& value);

// Where the workload finds the notify socket inside the sandbox: on hardrun's own /dev tmpfs, so no mount
// point is created in the image (which may be read-only) and /run stays the image's.
inline constexpr const char* kSandboxNotifyPath = "/dev/.hardrun-notify";

struct NotifyAddress {
    enum class Kind { Path, Abstract } kind = Kind::Path;
    std::string name;  // the path, or the abstract name without its leading '@'
    bool operator==(const NotifyAddress&) const = default;
};

// Parses a NOTIFY_SOCKET value: "/path" or "@abstract". Anything else (vsock:, relative paths, too long)
// throws UsageError naming NOTIFY_SOCKET.
NotifyAddress parse_notify_socket(const std::string& value);

// Sends one datagram (e.g. "READY=1") to the address. Returns 0 or -errno.
int notify(const NotifyAddress& address, const std::string& message);

using Environment = std::map<std::string, std::string>;
Environment current_environment();

// Socket activation meant for this process (LISTEN_PID == self), or nullopt. Throws UsageError for
// malformed values.
struct Activation {
    int count = 0;          // fds 3 .. 3+count-1
    std::string names;      // LISTEN_FDNAMES, may be empty
    bool operator==(const Activation&) const = default;
};
std::optional<Activation> listen_fds(const Environment& env, pid_t self);

// Pure part of the adaptation (unit-tested): rewrites plan.env, plan.mounts and plan.preserve_fds for
// the given mode, environment and activation. The proxy socket path (for an abstract NOTIFY_SOCKET) is
// given by the caller. Returns the address hardrun itself notifies (Hardrun mode)
// or relays to (proxy), if any.
struct Adapted {
    std::optional<NotifyAddress> upstream;  // systemd's socket
    bool hardrun_sends_ready = false;
    bool needs_proxy = false;
    std::optional<std::uint64_t> watchdog_usec;  // Hardrun mode under WatchdogSec=: hardrun pings WATCHDOG=1
};
Adapted adapt_plan(LaunchPlan& plan, NotifyMode mode, const Environment& env,
                   const std::optional<Activation>& activation, const std::string& proxy_socket_path);

class NotifyProxy;
class WatchdogPinger;

// Owns what a launch under systemd needs while it runs (the relay for abstract sockets).
class Integration {
public:
    // Reads the environment, validates (the notify socket is a socket, the LISTEN fds are open) and adapts
    // the plan. Returns nullptr when hardrun does not run under systemd's notify or activation protocols.
    static std::unique_ptr<Integration> prepare(LaunchPlan& plan, NotifyMode mode, const Environment& env,
                                                pid_t self);
    // LaunchHooks::on_exec: the workload was exec'ed. Hardrun mode: sends READY=1; proxy: starts relaying.
    void on_exec(pid_t child);
    ~Integration();
    Integration(const Integration&) = delete;
    Integration& operator=(const Integration&) = delete;

private:
    Integration() = default;
    Adapted adapted_;
    std::unique_ptr<NotifyProxy> proxy_;
    std::unique_ptr<WatchdogPinger> pinger_;
};

}  // namespace hardrun::systemd
