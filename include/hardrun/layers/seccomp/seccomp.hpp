// Seccomp: profiles (Docker and OCI formats) compiled with libseccomp in the supervisor before clone,
// loaded by the child as the very last step before execve.
//
// Modes:
//   Enforce  the profile as written; no supervisor involvement.
//   Report   (--report, check) every return of ERRNO in the program becomes SECCOMP_RET_USER_NOTIF: the
//            supervisor (seccomp_notify.hpp) records the syscall and answers with the errno the profile asks
//            for, found by running the profile's own program in hardrun's BPF interpreter.
//   Record   (seccomp record) ALLOW/LOG/ERRNO returns notify: the supervisor records every syscall and lets
//            allowed ones continue (SECCOMP_USER_NOTIF_FLAG_CONTINUE); refusals are answered as in Report.
// In Report/Record the child hands the listener to the supervisor with one sendmsg(2) right after loading;
// a short rule in front of the program lets exactly that call through (its socket fd and the unusual flag
// combination kHandoffSendFlags), so the handoff cannot wait on a supervisor that has no listener yet.
// Report under a profile that refuses sendmsg (a recorded one, often): the supervisor takes the listener itself
// with pidfd_getfd(2) and answers that sendmsg, now a notification, with success (Handoff::Take).
#pragma once
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hardrun/plan/plan.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/support/sys.hpp"

namespace hardrun::seccomp {

struct Resolved;

enum class Mode {
    Enforce,  // the profile as written
    Report,   // denials go to the supervisor through a user-notification listener (--report)
    Record,   // everything notifies and continues; the supervisor records (seccomp record)
};

// The flags the child's listener handoff uses with sendmsg(2); the Report/Record program lets exactly
// sendmsg(<handoff socket>, msg, kHandoffSendFlags) through.
inline constexpr int kHandoffSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT | MSG_EOR | MSG_CONFIRM;

// How the listener of a Report/Record filter reaches the supervisor.
enum class Handoff {
    None,     // no listener (Enforce)
    Sendmsg,  // the child sends it (SCM_RIGHTS) right after loading; the stub rule lets that one call through
    Take,     // Report under a profile that refuses sendmsg with an errno: before loading, the child writes the
              // number its listener will get; the supervisor takes that fd with pidfd_getfd(2), then answers the
              // child's handoff sendmsg (a notification now, as the profile refuses it) with success. No stub rule:
              // nothing is let through that the profile refuses, and the profile needs nothing more.
};

struct Prepared {
    std::vector<sock_filter> program;  // empty: no filter (unconfined)
    unsigned load_flags = 0;           // SECCOMP_FILTER_FLAG_*; NEW_LISTENER when a supervisor listens
    std::string description;           // e.g. "profile default.json, 312 rules, x86_64"
    bool wants_listener() const;

    Mode mode = Mode::Enforce;
    std::vector<sock_filter> enforce;  // the profile's own program (Report/Record: what the supervisor answers)
    std::size_t enosys_stub = 0;       // instructions of hardrun's ENOSYS rule at the start of `enforce`
    int handoff_fd_insn = -1;          // Report/Record: instruction whose k is the child's handoff socket fd
    int handoff_ret_insn = -1;         // ... and the return for that call (patched in load())
    int handoff_sendmsg_nr = -1;       // sendmsg's number on the native ABI
    Handoff handoff = Handoff::None;
    std::uint32_t native_arch = 0;     // libseccomp token of the native ABI
    std::string listener_path, listener_metadata;  // OCI listenerPath/listenerMetadata (Enforce with NOTIFY)
    std::shared_ptr<const Resolved> resolved;      // the profile as resolved (null when unconfined)
    std::vector<std::string> warnings;             // already printed by prepare()
};

// Reads a profile file whole (seccomp::read_profile_file by default; the unit tests pass their own).
using ProfileReader = std::function<std::string(const std::string& path)>;

// Supervisor, before clone: resolve plan.seccomp (default profile, a file, an OCI inline object) for
// the capability set the workload will really have, and compile it. Throws Error naming the profile.
// plan.seccomp.inline_json (an OCI linux.seccomp object) wins over the mode/profile_path.
// The profile file is read exactly once, with `read`: the filter cache key (filter_cache.hpp) and the program
// come from the same bytes, so a file swapped during the launch cannot store one profile's program under
// another's key.
Prepared prepare(const LaunchPlan& plan, Mode mode = Mode::Enforce, const ProfileReader& read = {});
// Child, last step before execve. Returns the listener fd (or -1). Throws Error.
// `handoff_socket`: the socket the listener will be sent over (Report/Record; patched into the program).
// Handoff::Take: first writes the number the listener will get (a HandoffOffer) on that socket.
int load(Sys& sys, const Prepared& prepared, int handoff_socket = -1);

// hardrun's PID 1 reaper (--init; AppArmor without detach) forks the workload and then forwards signals and
// reaps, all under the workload's filter. The syscalls it needs that the prepared profile refuses, e.g.
// "clone, wait4" ("" when none): a recorded profile without --init has none of them, and the reaper would fail
// after the filter, where hardrun can no longer even report it.
std::string refused_reaper_calls(const Prepared& prepared);
// Those syscalls by name (seccomp record allows them in a profile recorded with a reaper: kill, which forwards
// a signal, is made only when one comes)
inline constexpr const char* kReaperCalls[] = {"rt_sigprocmask", "clone", "wait4", "rt_sigtimedwait", "kill", "exit_group"};

// Handoff::Take: what the child writes on the handoff socket right before loading its filter.
struct HandoffOffer {
    std::int32_t listener_fd = -1;  // the lowest free fd, which seccomp(2) gives the new listener
    std::int32_t socket_fd = -1;    // the child's end of the handoff socket: arg 0 of its handoff sendmsg
};

// Supervisor, Handoff::Take (load()'s other half): reads the child's HandoffOffer from `sock`, takes the offered
// fd with pidfd_getfd once the child's filter made it, makes sure it is a seccomp listener, and answers the
// child's handoff sendmsg (the filter's first notification) with success. Empty when the child failed before
// (its report says why). Throws Error; the caller ends the child.
UniqueFd take_listener(pid_t child, int sock, const Prepared& prepared);

// One notification and its answer, each as large as the kernel says (SECCOMP_GET_NOTIF_SIZES: its structures may
// be larger than our headers'). clear() zeroes both before the next SECCOMP_IOCTL_NOTIF_RECV.
class NotifyBuffers {
public:
    NotifyBuffers();
    seccomp_notif* req() { return reinterpret_cast<seccomp_notif*>(req_.data()); }
    seccomp_notif_resp* resp() { return reinterpret_cast<seccomp_notif_resp*>(resp_.data()); }
    void clear();

private:
    std::vector<unsigned char> req_, resp_;
};

}  // namespace hardrun::seccomp
