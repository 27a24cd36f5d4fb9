// cgroup v2: a cgroup per launch with memory/cpu/pids/io limits and device rules, entered with
// CLONE_INTO_CGROUP. docs/cgroups.md explains where the cgroup goes and why a launch fails closed.
//
// The pure parts (parsing mountinfo and /proc/self/cgroup, choosing the parent, the values written and
// read back, the device BPF program) are free functions below so the unit tests can check them without
// a cgroup hierarchy; Cgroup::create() strings them together against the real kernel.
#pragma once
#include <linux/bpf.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hardrun/support/fd.hpp"
#include "hardrun/plan/plan.hpp"

namespace hardrun::cgroups {

struct Stats {
    bool oom_killed = false;            // memory.events oom_kill grew
    std::uint64_t oom_kills = 0;
    bool pids_limit_hit = false;        // pids.events max grew
    std::optional<std::uint64_t> memory_peak;  // bytes
    std::optional<std::uint64_t> cpu_usage_usec, cpu_throttled_usec, nr_throttled;
};

// Removes a cgroup when the process that created it dies without removing it (kill -9): a tiny process
// outside the workload's cgroup (double-forked, own session, no PDEATHSIG, every fd but its own closed)
// that waits on this process's pidfd. On that death it kills what is left in the cgroup (cgroup.kill),
// waits for cgroup.events "populated 0" and removes the directory: only the one whose inode watch()
// named (or, killed before that, one carrying this process's owner record), never anything else.
// dismiss() (the destructor of Cgroup, disown()) makes it exit at once and waits for that.
class Reaper {
public:
    Reaper() = default;
    Reaper(Reaper&& o) noexcept
        : ctl_(std::move(o.ctl_)), ack_(std::move(o.ack_)), start_us_(o.start_us_), mid_(std::exchange(o.mid_, -1)) {}
    Reaper& operator=(Reaper&& o) noexcept {
        if (this != &o) {
            dismiss();
            ctl_ = std::move(o.ctl_);
            ack_ = std::move(o.ack_);
            start_us_ = o.start_us_;
            mid_ = std::exchange(o.mid_, -1);
        }
        return *this;
    }
    ~Reaper() { dismiss(); }
    // Starts one for the cgroup `name` about to be created in `parent`. Never throws: without a reaper
    // (fork failed), the next launch's gc() still collects the cgroup.
    static Reaper start(const std::string& parent, const std::string& name);
    void watch(int cgroup_fd);  // the cgroup exists now: this is its directory
    void dismiss();
    bool running() const { return static_cast<bool>(ctl_); }
    long long start_us() const { return start_us_; }  // what starting it cost

private:
    UniqueFd ctl_;  // write end: 'i'+inode, 'd' = dismissed; our death = "clean up"
    UniqueFd ack_;  // read end: EOF when the reaper has exited
    long long start_us_ = 0;
    pid_t mid_ = -1;  // the middle child of the double fork, collected by dismiss()
};

// Owns one cgroup directory hardrun created; the destructor kills what is left in it (cgroup.kill)
// and removes it. A kill -9 of hardrun skips the destructor: for that, create() also starts a Reaper.
class Cgroup {
    // only create() can make one (a passkey: std::make_unique needs a public constructor)
    struct Key {
        explicit Key() = default;
    };

public:
    Cgroup(Key, std::string path, UniqueFd dir, const Resources& limits);
    // Creates and configures the workload's cgroup, or returns nullptr when the plan asks for no
    // resource limit. Throws Error (fail closed) when limits were asked and cannot be applied here.
    // Before creating it, removes stale cgroups earlier hardrun processes left behind (see gc()).
    static std::unique_ptr<Cgroup> create(const LaunchPlan& plan, const std::string& name);
    ~Cgroup();
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;

    int dir_fd() const { return dir_.get(); }  // for clone3 CLONE_INTO_CGROUP
    const std::string& path() const { return path_; }
    Stats collect() const;  // after the workload exits
    void kill_all() const;  // cgroup.kill
    // Hands the cgroup over to whoever outlives this process (a detached container's `delete`): the
    // destructor then closes the directory fd and leaves the cgroup in place.
    void disown() {
        disowned_ = true;
        reaper_.dismiss();
    }
    // The systemd driver (plan.systemd_unit): the scope systemd made ("" = a cgroupfs cgroup). Its cgroup was
    // made with a placeholder process in it (a scope cannot start empty); child_placed(), called once the
    // container was cloned into it, ends that process so the scope holds only the container.
    const std::string& systemd_unit() const { return unit_; }
    void child_placed();

private:
    static std::unique_ptr<Cgroup> create_scope(const LaunchPlan& plan);
    std::string unit_;
    pid_t holder_ = -1;
    std::string path_;
    UniqueFd dir_;
    Resources limits_;
    bool disowned_ = false;
    Reaper reaper_;  // declared last: dismissed after the destructor's own cleanup
};

// One line for the run report: "memory peak 12 MiB, cpu 340 ms (throttled 120 ms in 3 periods), ...".
std::string summary(const Stats& stats);

// Removes what hardrun processes that died without cleaning up (kill -9) left behind: every empty cgroup
// named hardrun-<pid> under `parent` whose creator is gone (the xattr user.hardrun.owner records
// "pid starttime pidns", so a reused pid does not keep it alive; without the record the pid decides).
// Populated ones stay (a detached container's creator exits on purpose). Returns the paths removed.
// Never throws.
std::vector<std::string> gc(const std::string& parent);

// What ~Cgroup does, for a cgroup this process does not own (an OCI container's, at `delete`): kills what
// is left in it (cgroup.kill; SIGKILL to each process on kernels before 5.14), waits for it to empty and
// removes it. 0 (also when it is already gone) or the errno of the failure. Never throws.
int kill_and_remove(const std::string& path);

// ------------------------------------------------------------------------------------------------
// Pure pieces (unit-tested)
// ------------------------------------------------------------------------------------------------

// What /proc/self/mountinfo says about cgroups.
struct MountFacts {
    std::optional<std::string> v2_mount;  // first cgroup2 mount point
    std::string v2_root = "/";            // its root inside the hierarchy (field 4)
    std::map<std::string, std::string> v1;  // controller -> mount point of a cgroup v1 hierarchy
};
MountFacts parse_mountinfo(std::string_view mountinfo);

// The "0::/path" line of /proc/self/cgroup.
std::optional<std::string> parse_own_cgroup(std::string_view proc_self_cgroup);

// Controllers the limits need in the parent's subtree_control ("cpu", "io", "memory", "pids").
std::set<std::string> needed_controllers(const Resources& r);

// One limit file: the value written and the value the kernel must read back.
struct LimitWrite {
    std::string file;
    std::string value;
    std::string expect;  // exact text read back (trimmed); for io.max the device's line
};
std::vector<LimitWrite> limit_writes(const Resources& r, std::uint64_t page_size);
// True when `read` (the file's content) shows the value took effect.
bool readback_ok(const LimitWrite& w, std::string_view read);

// Where the workload's cgroup goes.
struct PlacementInput {
    std::string mount;          // cgroup2 mount point, e.g. /sys/fs/cgroup
    std::string mount_root = "/";
    std::optional<std::string> own;  // our cgroup, as /proc/self/cgroup shows it
    std::string cgroup_parent;  // --cgroup-parent (plan.cgroup_parent)
    uid_t euid = 0;
    // Is this directory delegated to us (xattr trusted.delegate/user.delegate = 1, or owned by euid
    // when euid != 0)? Only asked about our own cgroup.
    std::function<bool(const std::string& dir)> delegated;
};
struct Placement {
    std::string parent;      // absolute directory the workload's cgroup is created in
    std::string anchor;      // highest directory whose cgroup.subtree_control hardrun may change
    std::string own_dir;     // our own cgroup as a directory ("" when not visible)
    std::string move_self_to;  // delegated: the leaf hardrun moves itself into first ("" = none)
    std::string source;      // "--cgroup-parent", "delegated", "default"
};
// Throws Error when nothing may be used (rootless without delegation, a bad --cgroup-parent).
Placement place(const PlacementInput& in);

// The name of the leaf a delegated hardrun moves itself into (the "no internal processes" rule).
inline constexpr const char* kSupervisorLeaf = "hardrun-supervisor";
// The default parent under the cgroup2 mount when root and not delegated.
inline constexpr const char* kDefaultParent = "hardrun";

// The one-line reason a controller is missing, with the fix. `where` is the directory whose
// cgroup.controllers lacks it.
std::string missing_controller_reason(const std::string& controller, const std::string& where,
                                      const MountFacts& facts, const Placement& placement);

// A BPF_PROG_TYPE_CGROUP_DEVICE program enforcing the rules: the last matching rule decides (like the
// OCI and docker lists), an allow rule matches when it grants every access asked, a deny rule when it
// covers any of them, and nothing matching is denied.
std::vector<struct bpf_insn> device_program(const std::vector<DeviceRule>& rules);
// The devices every container may use (the OCI spec's defaults, which are hardrun's /dev): null, zero, full,
// random, urandom, tty, ptmx and the pty slaves. Everything else is denied.
std::vector<DeviceRule> default_device_rules();
// The rules a cgroup made for these limits enforces: the plan's own, or else the default-deny set (a cgroup
// always carries a device policy, even one made only for memory or cpu limits). Empty: none can be loaded
// (rootless: loading a cgroup device program needs CAP_BPF or CAP_SYS_ADMIN; there nodev mounts are the guard).
std::vector<DeviceRule> enforced_device_rules(const Resources& res, bool privileged);
// Loads device_program(rules) and attaches it to the cgroup (BPF_CGROUP_DEVICE); throws Error.
void attach_device_program(int cgroup_fd, const std::string& cgroup_path, const std::vector<DeviceRule>& rules);

}  // namespace hardrun::cgroups
