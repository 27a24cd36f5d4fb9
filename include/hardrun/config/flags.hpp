// The docker-style flags shared by `run`, `check` and `seccomp record`, and their planning.
#pragma once
#include <string>
#include <vector>

#include "hardrun/plan/plan.hpp"

namespace CLI {
class App;
}

namespace hardrun {

// Raw flag values as typed by the user; build_plan() validates them all.
struct RunFlags {
    std::string rootfs;
    std::string bundle;  // --bundle DIR (OCI config.json + rootfs): the OCI front end
    std::vector<std::string> command;
    std::string user;  // "" = default 10001:10001
    std::string volumes_dir;  // named volumes (-v NAME:/path) live here (default: volumes_dir_default())
    std::string read_write;  // "" (read-only), "layer" (--read-write) or "image" (--read-write=image)
    bool read_only_given = false;  // --read-only (the default anyway)
    bool strict_profile = false;
    std::vector<std::string> tmpfs, volumes, cap_add, cap_drop, security_opt, env, ulimits, secrets;
    std::vector<std::string> allow_bind, allow_connect;
    std::string landlock;  // "", "on", "off"
    std::string memory, memory_swap, memory_reservation, cpus, cpu_shares, pids_limit, cgroup_parent;
    std::string hostname, network = "none", workdir;
    bool init = false;
    std::vector<std::string> env_files;  // --env-file FILE: docker's NAME=VALUE lines, before --env
    std::vector<std::string> group_add;  // --group-add GID|NAME (a name is looked up in the image's /etc/group)
    std::vector<std::string> sysctls;    // --sysctl NAME=VALUE: namespaced sysctls only
    std::vector<std::string> publish;    // -p/--publish [IP:]HOSTPORT:PORT[/tcp|/udp] (pasta; plan.publish)
};

// Registers the run flags on a CLI11 (sub)command.
void add_run_flags(CLI::App& app, RunFlags& flags);

// Validates every value and builds the plan. Pure: no side effect except reading the environment for
// bare --env names and stat()ing the rootfs/volume sources. Throws UsageError.
// invoker_uid decides rootless mode (a user namespace) when not 0.
LaunchPlan build_plan(const RunFlags& flags, uid_t invoker_uid);
// Only what a seccomp profile is resolved against (--cap-add/--cap-drop, --security-opt, --strict-profile), for
// seccomp record --from-report without a run: no command, no rootfs. Throws UsageError.
LaunchPlan security_plan(const RunFlags& flags);

// Where named volumes (-v NAME:/path) live when --volumes-dir is not given: /var/lib/hardrun/volumes for root,
// $XDG_DATA_HOME/hardrun/volumes or ~/.local/share/hardrun/volumes otherwise ("" when neither is set).
std::string volumes_dir_default(uid_t invoker_uid);

// The default mounts every sandbox gets (/proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys) and the
// default masked/read-only /proc paths. Shared by the flag and the OCI front ends.
std::vector<Mount> default_mounts(bool sysfs);
std::vector<std::string> default_masked_paths();
std::vector<std::string> default_readonly_paths();

// Recomputes plan.warnings from the plan (uid 0, nobody, caps added, NNP off, seccomp/apparmor off,
// writable root, host network, ...). Both front ends call it last.
void compute_warnings(LaunchPlan& plan);

// Sorts mounts so parents come before children (stable for equal depth).
void order_mounts(std::vector<Mount>& mounts);

}  // namespace hardrun
