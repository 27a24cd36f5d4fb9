// Namespaced sysctls (OCI linux.sysctl, and domainname): validated against the plan's namespaces in the
// supervisor, written by the child into its own /proc/sys before /proc/sys is made read-only.
#pragma once
#include <string>

#include "hardrun/layers/namespaces.hpp"
#include "hardrun/plan/plan.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::sysctl {

// Refuses (Error with the cause only; the caller names the field) a sysctl that is not namespaced, or
// whose namespace the container shares with the host: writing it would change the host.
// Namespaced: net.* (network), kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* (ipc),
// kernel.hostname, kernel.domainname (uts).
void validate(const std::string& name, const std::string& value, const LaunchPlan& plan);
// Supervisor, before clone, on the namespaces as opened (the fds the child will join, not their paths):
// refuses every sysctl whose joined namespace is the host's. Throws Error naming the sysctl.
void refuse_host_namespaces(const LaunchPlan& plan, const namespaces::Joined& joined);
// "net.ipv4.ip_forward" -> "net/ipv4/ip_forward"; a name with '/' is taken as a path already (interface
// names may contain dots: "net/ipv4/conf/eth0.100/forwarding").
std::string to_path(const std::string& name);
// Child, after the mounts and before mounts::finalize(): writes each value to /proc/sys (a real procfs,
// no symlinks followed). Throws Error.
void apply(Sys& sys, const LaunchPlan& plan);

}  // namespace hardrun::sysctl
