// -p/--publish: pasta (Debian's passt package) forwards ports of the host's loopback into the sandbox's own
// network namespace. The supervisor starts it once the namespace exists and before the child's hardening
// begins, runs it in the foreground as a child of its own, and ends it by PID when the workload has ended.
//
// What the sandbox gets is inbound only: pasta is attached without --config-net (its tap interface stays
// down, with no address and no route), with no namespace-to-host forwarding (-T none -U none), no gateway
// mapping and none of its DHCP/NDP/RA/ICMP handlers, so connections to the host's published ports are
// spliced onto the sandbox's loopback and nothing leaves the sandbox. pasta is not the workload: hardrun's
// seccomp, Landlock and AppArmor do not confine it (it sandboxes itself); rootless it runs as the invoking
// user, joining the sandbox's user namespace; as root it keeps uid 0 (it could not enter a network namespace
// of the host's user namespace as nobody) with a bounding set of CAP_SYS_ADMIN, CAP_NET_ADMIN and
// CAP_NET_BIND_SERVICE and no_new_privs, and drops to the first and last of them itself.
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "hardrun/plan/plan.hpp"

namespace hardrun::pasta {

// The fds pasta finds the sandbox by, and the pipe it writes its PID to once its ports are bound.
inline constexpr int kNetnsFd = 3, kUsernsFd = 4, kReadyFd = 5;
// The name of pasta's tap interface in the sandbox (down, no address, no route: nothing goes out through it).
inline constexpr const char* kTapName = "pasta0";

// pasta's arguments after argv[0] for these ports. userns: join the sandbox's user namespace too (rootless);
// as_root: keep uid 0 (--runas 0; see above).
std::vector<std::string> arguments(const std::vector<PublishedPort>& ports, bool userns, bool as_root);

// The pasta executable on PATH, or an Error (step "network") naming the package to install.
std::string executable(const std::vector<PublishedPort>& ports);

// "-p 127.0.0.1:8080->80/tcp, -p ..." for messages.
std::string ports_text(const std::vector<PublishedPort>& ports);

// One running pasta, owned by the supervisor: its destructor ends it by PID (SIGTERM, then SIGKILL) and reaps it.
class Forwarder {
public:
    // Starts pasta for the network (and, with a user namespace, user) namespace of `child`, the supervisor's
    // own unreaped child, and waits until pasta reports its ports bound, checking that each is. Throws Error
    // (step "network", the port spec, the cause: a port in use, pasta's own last line...).
    static std::unique_ptr<Forwarder> start(const LaunchPlan& plan, pid_t child, const std::string& exe);
    ~Forwarder();
    Forwarder(const Forwarder&) = delete;
    Forwarder& operator=(const Forwarder&) = delete;
    pid_t pid() const { return pid_; }
    // Ends pasta now; a pasta that had already exited by itself is reported as a warning.
    void stop();

private:
    explicit Forwarder(pid_t pid) : pid_(pid) {}
    pid_t pid_ = -1;
};

}  // namespace hardrun::pasta
