// Namespaces: which to create, joining existing ones, user-namespace id maps (supervisor side).
#pragma once
#include <sys/types.h>

#include <map>
#include <string>

#include "hardrun/support/fd.hpp"
#include "hardrun/plan/plan.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::namespaces {

// The namespaces a plan joins by path (OCI linux.namespaces[].path), each opened exactly once, in the
// supervisor before clone, and checked to be a namespace of that type (NS_GET_NSTYPE). Every later check
// (is it the host's?) is made on these fds and the child joins these same fds, never the path again: a path
// swapped after the check cannot send the container anywhere else.
class Joined {
public:
    static Joined open(const LaunchPlan& plan);  // throws Error naming the namespace and the path
    // type name ("pid", "network", ...) -> fd; empty when the plan joins nothing
    const std::map<std::string, int>& fds() const { return view_; }
    int fd(const std::string& type) const;  // -1 when not joined
    // The joined namespace of this type is the host's: the same namespace as /proc/1/ns/<proc_name> (where
    // readable) or as hardrun's own. Unknown (an fstat fails) counts as the host's.
    bool is_host(const std::string& type) const;

private:
    std::map<std::string, UniqueFd> owned_;
    std::map<std::string, int> view_;
};

// The /proc/PID/ns/<name> entry of an OCI namespace type ("network" -> "net", "mount" -> "mnt").
const char* proc_name(const std::string& type);

// Supervisor: while alive, the processes it creates are born in the joined pid namespace (setns with
// CLONE_NEWPID changes only where the caller's children go, so the container process must be created after
// it, as runc and crun fork after joining). The destructor puts the supervisor's own children back.
class PidNamespaceForChildren {
public:
    explicit PidNamespaceForChildren(int pid_ns_fd);  // -1: nothing to do; throws Error
    PidNamespaceForChildren(const PidNamespaceForChildren&) = delete;
    PidNamespaceForChildren& operator=(const PidNamespaceForChildren&) = delete;
    ~PidNamespaceForChildren() { restore(); }
    void restore() noexcept;

private:
    UniqueFd own_;
};

// CLONE_NEW* flags for the namespaces the plan creates (joined ones are excluded).
std::uint64_t clone_flags(const LaunchPlan& plan);
// Child, first step: setns() into every namespace the plan joins by path, on the fds Joined opened (type ->
// fd). The pid namespace is not joined here: the child was born in it (PidNamespaceForChildren).
void join(Sys& sys, const LaunchPlan& plan, const std::map<std::string, int>& fds);
// Supervisor: write /proc/PID/{setgroups,uid_map,gid_map} for a child in a new user namespace.
void write_id_maps(pid_t child, const LaunchPlan& plan);
// The id maps for an unprivileged invoker: workload uid/gid -> invoker uid/gid (one line each).
void default_rootless_maps(LaunchPlan& plan, uid_t invoker_uid, gid_t invoker_gid);

}  // namespace hardrun::namespaces
