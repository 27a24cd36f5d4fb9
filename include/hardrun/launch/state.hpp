// The OCI runtime's state directory: ROOT/ID/state.json (+ exec.fifo while the container is created).
//
// ROOT is --root (default /run/hardrun), mode 0700. Container ids are validated (no '/', no '..', a
// conservative character set), state.json is written atomically (temporary file, fsync, rename), and every
// command that changes a container holds an flock on its directory, so concurrent commands on one container
// are serialized. The container process never inherits a lock fd (locks are released before clone).
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hardrun/support/fd.hpp"
#include "hardrun/plan/plan.hpp"

namespace hardrun::state {

inline constexpr const char* kDefaultRoot = "/run/hardrun";
// /run/hardrun for root; otherwise $XDG_RUNTIME_DIR/hardrun, or /tmp/hardrun-UID when that is unset: made
// 0700 if missing, and refused (Error naming the fix: XDG_RUNTIME_DIR or --root) unless it is a real directory
// of this uid with no group or other bits (another user may have made it first).
std::string default_root();

// Throws UsageError("container id", ...) for an id that is empty, too long, '.', '..', or holds a
// character outside [A-Za-z0-9_.+-] (so never '/').
void validate_id(const std::string& id);

// A process identity that survives pid reuse: the pid and its start time (/proc/PID/stat field 22).
struct ProcessId {
    pid_t pid = 0;
    unsigned long long start_time = 0;
    bool operator==(const ProcessId&) const = default;
};
// The start time of a live (not zombie) process, or nullopt.
std::optional<unsigned long long> start_time(pid_t pid);
bool alive(const ProcessId& p);
// A pidfd of p, opened and then checked against p's start time, so it is that process and no later one that
// reused the pid; an empty fd when p is gone.
UniqueFd pin(const ProcessId& p);
ProcessId identify(pid_t pid);  // throws when pid is not alive

struct Record {
    std::string id;
    std::string bundle;
    std::string rootfs;
    std::string status;        // as last written: creating, created, running (live_status() decides)
    std::string created;       // RFC 3339, UTC
    ProcessId process;         // the container's first process (host pid namespace)
    ProcessId creator;         // the hardrun process that is creating it (status "creating")
    uid_t owner = 0;
    std::string cgroup_path;   // a cgroup hardrun created for it ("" = none)
    std::string systemd_unit;  // its cgroup is this systemd scope's (--systemd-cgroup; "" = cgroupfs)
    std::map<std::string, std::string> annotations;
    Hooks hooks;               // startContainer, poststart and poststop run after create
    bool foreground = false;   // `hardrun run` supervises it (no exec FIFO)
    std::string config;        // the config.json it was created from, as read then (exec plans from it)
};

// A live status whose container process exists (created, running or paused): kill, ps and update act on it.
inline bool has_process(const std::string& status) {
    return status == "created" || status == "running" || status == "paused";
}

class Store {
public:
    // Creates ROOT (0700) if needed; it must be a directory owned by us that nobody else may write to.
    // Throws Error naming the root on failure.
    explicit Store(std::string root);
    const std::string& root() const { return root_; }
    std::string dir(const std::string& id) const { return root_ + "/" + id; }
    std::string fifo_path(const std::string& id) const { return dir(id) + "/exec.fifo"; }

    // An flock on the container's directory; released when destroyed.
    class Lock {
    public:
        Lock() = default;
        explicit Lock(UniqueFd fd) : fd_(std::move(fd)) {}
        int dir_fd() const { return fd_.get(); }
        explicit operator bool() const { return static_cast<bool>(fd_); }
        void release() { fd_.reset(); }

    private:
        UniqueFd fd_;
    };

    // Makes ROOT/ID (atomic mkdir): "container id 'x' is already in use" when it exists. Returns the lock.
    Lock create(const std::string& id);
    // Locks an existing container (exclusive or shared). Throws "container 'x' does not exist".
    Lock lock(const std::string& id, bool exclusive = true) const;
    bool exists(const std::string& id) const;
    Record read(const std::string& id) const;
    void write(const Record& record) const;  // atomic
    void remove(const std::string& id) const;  // the whole directory
    std::vector<std::string> list() const;

    // creating | created | running | paused | stopped, from the record, the live process (pid reuse safe) and
    // the container's cgroup (paused: cgroup.events says frozen 1).
    std::string live_status(const Record& record) const;

private:
    std::string root_;
};

std::string now_rfc3339();

}  // namespace hardrun::state
