// The tracer of `hardrun check`: a small process forked from the supervisor that PTRACE_SEIZEs the child while it
// still waits before its first hardening step (LaunchHooks::on_clone). It lets the hardening run untouched and
// stops the workload right after its execve, where it reads the evidence (/proc/PID/...) of the workload's own
// process, which is then still alive whatever it does next. Without --diagnose it detaches there; with it, it
// follows every syscall of the workload and its children and records those that fail with EROFS, EACCES or EPERM
// (or that the seccomp filter refuses) with their decoded arguments: paths, ports, socket types.
//
// A separate process, not a thread: the supervisor's wait4() would otherwise see the ptrace stops. The tracer
// dies with the supervisor (PDEATHSIG), and its tracees die with it (PTRACE_O_EXITKILL).
#pragma once
#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hardrun/cli/check/evidence.hpp"
#include "hardrun/support/fd.hpp"

namespace hardrun::check {

// One failing syscall, deduplicated on (syscall, errno, paths); `count` says how often it happened.
struct FailedCall {
    pid_t pid = -1;
    std::string syscall;             // "openat"
    long nr = -1;
    int err = 0;                     // positive errno
    std::vector<std::string> paths;  // absolute, as the workload sees them
    std::uint64_t flags = 0;         // open(2) flags, or the mode/flags argument of the call
    std::optional<int> port;         // bind/connect
    std::optional<int> family, socktype;  // socket
    std::optional<long> id;          // setuid & co: the id asked for
    bool seccomp_denied = false;     // the seccomp filter refuses this call with these arguments
    // EACCES on a path: would the file mode alone let the workload's fsuid/fsgid/groups write it (or create
    // in its directory)? Then something else refused it (Landlock). Unknown when the tracer could not stat it.
    std::optional<bool> dac_allows;
    unsigned count = 1;
};
// Who the kernel's permission check sees: the fsuid, fsgid and supplementary groups of a process.
struct DacSubject {
    uid_t fsuid = 0;
    gid_t fsgid = 0;
    std::vector<gid_t> groups;
};
// The file mode check alone (no capabilities, no ACLs): does `who` get every bit of `want` (r=4 w=2 x=1)?
bool dac_permits(const DacSubject& who, mode_t mode, uid_t owner, gid_t group, int want);

nlohmann::json to_json(const FailedCall& f);
FailedCall failed_call_from_json(const nlohmann::json& j);

struct TraceResult {
    bool attached = false;
    std::string error;                          // why the tracer could not attach
    std::optional<evidence::Evidence> evidence;  // read at the workload's execve
    pid_t workload = -1;
    std::vector<FailedCall> failures;
    std::uint64_t syscalls = 0;                 // syscalls seen (--diagnose)
    bool truncated = false;                     // too many distinct failures: the rest were dropped
};

class Tracer {
public:
    // diagnose: follow syscalls; seccomp_program: the workload's filter, simulated to tell seccomp denials apart.
    Tracer(bool diagnose, std::vector<sock_filter> seccomp_program);
    ~Tracer();
    Tracer(const Tracer&) = delete;
    Tracer& operator=(const Tracer&) = delete;

    // on_clone: forks the tracer and returns once it has seized `child` (or failed to: see finish().error).
    // Throws Error when --diagnose was asked and the workload cannot be traced (fail closed).
    void attach(pid_t child);
    // After launch() returned: the tracer's result (waits for it to finish).
    TraceResult finish();

private:
    bool diagnose_;
    std::vector<sock_filter> program_;
    pid_t tracer_ = -1;
    UniqueFd result_;
    std::string attach_error_;
};

// Pure helpers (unit-tested)
// Lexically normalizes an absolute path: "//a/./b/../c/" -> "/a/c".
std::string normalize_path(const std::string& path);
// Joins a relative path onto a base directory and normalizes; absolute paths are returned normalized.
std::string join_path(const std::string& base, const std::string& path);

}  // namespace hardrun::check
