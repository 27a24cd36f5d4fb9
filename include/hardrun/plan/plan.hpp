// The launch plan: one validated, immutable description of a launch.
//
// Both front ends (the docker-style flags of `hardrun run` and an OCI bundle's config.json) produce this
// type; the apply steps (launch.cpp) only read it. Nothing in here touches the kernel.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hardrun {

inline constexpr uid_t kDefaultUid = 10001;
inline constexpr gid_t kDefaultGid = 10001;

// A set of capabilities, bit N = capability number N (CAP_CHOWN = 0 ...).
struct CapSet {
    std::uint64_t bits = 0;
    bool has(int cap) const { return cap >= 0 && cap < 64 && ((bits >> cap) & 1U); }
    void add(int cap) { bits |= (std::uint64_t{1} << cap); }
    void remove(int cap) { bits &= ~(std::uint64_t{1} << cap); }
    bool empty() const { return bits == 0; }
    bool operator==(const CapSet&) const = default;
};

struct Capabilities {
    // The five sets the workload will hold (OCI names them; the flag form sets all five from
    // --cap-add/--cap-drop: effective = permitted = bounding = inheritable = ambient = the added caps).
    CapSet bounding, effective, permitted, inheritable, ambient;
    bool operator==(const Capabilities&) const = default;
};

enum class MountKind {
    Bind,    // source is a host path (resolved before pivot_root)
    Tmpfs,
    Proc,
    Sysfs,
    Devpts,
    Mqueue,
    Cgroup,  // cgroup2
    Dev,     // hardrun's minimal /dev: tmpfs + null, zero, full, random, urandom, tty, pts, shm, links
};

// One mount inside the sandbox. Flags use MOUNT_ATTR_* semantics (new mount API).
struct Mount {
    MountKind kind = MountKind::Bind;
    std::string source;       // Bind: the host path; others: the source mountinfo shows ("" = the fs type)
    std::string destination;  // absolute path inside the rootfs
    bool readonly = false;
    bool nosuid = true;
    bool nodev = true;
    bool noexec = false;
    bool recursive = true;    // rbind (Bind only)
    std::optional<std::uint64_t> size;  // tmpfs size in bytes
    std::optional<mode_t> mode;         // tmpfs mode
    std::vector<std::string> extra;     // other fs options passed through (e.g. "newinstance", "ptmxmode=0666")
    bool copy_up = false;               // tmpfs: copy the image's files at the destination into it (OCI tmpcopyup)
    std::optional<uid_t> uid;           // tmpfs: owner of its root directory (uid=, a uid inside the sandbox)
    std::optional<gid_t> gid;           // tmpfs: group of its root directory (gid=)
    bool if_present = false;            // skipped when the image has no directory there (hardrun's /var/tmp)
    std::string volume;                 // Bind of a named volume (-v NAME:/path): its name; source is its directory
    bool fill = false;                  // a named volume that does not exist yet: created at launch and filled with
                                        // the image's files at the destination before it is bound (docker's rule)
    bool operator==(const Mount&) const = default;
};

enum class Propagation { Private, Slave, Shared, Unbindable };

// Who may write to the rootfs directory.
//  Layer: nothing ever does (a --rootfs image). Whatever the launch must create there (a mount point the image
//         lacks, the passwd/group entry of the workload's uid) and whatever a --read-write workload writes goes to
//         a tmpfs layer: the root becomes an overlay of the image under that tmpfs, made only when it is needed,
//         and gone with the sandbox (mounts.cpp).
//  Image: the directory itself is written (an OCI bundle's rootfs, which its engine owns and expects mount points
//         created in, as runc does; --read-write=image, on purpose).
enum class RootWrites { Layer, Image };

struct IdMap {
    std::uint32_t inside = 0, outside = 0, count = 1;
    bool operator==(const IdMap&) const = default;
};

struct Namespaces {
    bool user = false, mount = true, pid = true, ipc = true, uts = true, net = true, cgroup = true;
    // Namespaces to join instead of creating (OCI linux.namespaces[].path): type name -> path.
    std::map<std::string, std::string> join;
    bool operator==(const Namespaces&) const = default;
};

struct Rlimit {
    int resource = 0;  // RLIMIT_*
    std::uint64_t soft = 0, hard = 0;
    bool operator==(const Rlimit&) const = default;
};

struct CpuMax {
    std::uint64_t quota_us = 0;   // per period
    std::uint64_t period_us = 100000;
    bool operator==(const CpuMax&) const = default;
};

struct IoMax {
    std::string device;  // "MAJ:MIN"
    std::optional<std::uint64_t> rbps, wbps, riops, wiops;
    bool operator==(const IoMax&) const = default;
};

struct DeviceRule {
    bool allow = false;
    char type = 'a';  // a, c, b
    std::optional<std::int64_t> major, minor;
    std::string access = "rwm";
    bool operator==(const DeviceRule&) const = default;
};

// hugetlb.<page_size>.max: the bytes of huge pages of one size the workload may use
struct HugetlbMax {
    std::string page_size;  // as cgroup v2 names it: 2MB, 1GB, 64KB
    std::uint64_t limit = 0;
    bool operator==(const HugetlbMax&) const = default;
};

// cgroup v2 limits; empty() means no cgroup is created at all.
struct Resources {
    std::optional<std::uint64_t> memory_max;           // bytes
    std::optional<std::int64_t> memory_swap_max;       // bytes of swap beyond memory (-1 = unlimited)
    std::optional<std::uint64_t> memory_low;           // reservation
    std::optional<CpuMax> cpu_max;
    std::optional<std::uint64_t> cpu_weight;           // 1..10000
    std::optional<std::int64_t> pids_max;              // -1 = max
    std::vector<IoMax> io_max;
    std::vector<DeviceRule> devices;
    std::vector<HugetlbMax> hugetlb;
    bool empty() const {
        return !memory_max && !memory_swap_max && !memory_low && !cpu_max && !cpu_weight && !pids_max &&
               io_max.empty() && devices.empty() && hugetlb.empty();
    }
    bool operator==(const Resources&) const = default;
};

struct SeccompChoice {
    enum class Mode { Default, Profile, Unconfined } mode = Mode::Default;
    std::string profile_path;   // Mode::Profile: a file in Docker or OCI format
    std::string inline_json;    // OCI bundle: the linux.seccomp object, serialized
    bool strict_profile = false;  // unknown syscall names are errors
    bool operator==(const SeccompChoice&) const = default;
};

struct AppArmorChoice {
    enum class Mode { Default, Named, Unconfined } mode = Mode::Default;
    std::string profile;
    bool operator==(const AppArmorChoice&) const = default;
};

struct LandlockChoice {
    enum class Mode { Auto, On, Off } mode = Mode::Auto;  // Auto: on where the kernel supports it
    std::vector<std::uint16_t> allow_bind, allow_connect;
    bool operator==(const LandlockChoice&) const = default;
};

struct Secret {
    std::string source;  // host file
    std::string name;    // /run/secrets/NAME
    bool operator==(const Secret&) const = default;
};

struct Hook {
    std::string path;
    std::vector<std::string> args, env;
    std::optional<int> timeout;
    bool operator==(const Hook&) const = default;
};

struct Hooks {
    std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
    bool operator==(const Hooks&) const = default;
};

enum class NetworkMode { None, Host };

// -p/--publish [IP:]HOSTPORT:PORT[/tcp|/udp]: a port of the host's loopback forwarded by pasta into the sandbox's
// own network namespace (launch/pasta.hpp). Inbound only: the workload gets no route out (docs/security.md).
struct PublishedPort {
    std::string host_ip = "127.0.0.1";  // a loopback address (127.0.0.0/8 or ::1)
    std::uint16_t host_port = 0;
    std::uint16_t port = 0;             // inside the sandbox
    bool udp = false;                   // tcp otherwise
    bool operator==(const PublishedPort&) const = default;
};

struct LaunchPlan {
    // --- what to run
    std::vector<std::string> args;
    std::vector<std::string> env;  // "K=V"
    std::string workdir = "/";
    std::optional<mode_t> umask;

    // --- filesystem
    std::string rootfs;  // absolute, canonical host path
    bool readonly_root = true;
    Propagation root_propagation = Propagation::Private;
    RootWrites root_writes = RootWrites::Image;
    std::uint64_t root_layer_size = 256ULL << 20;   // the tmpfs layer's size (RootWrites::Layer)
    // Files the layer adds over the image's own, path inside the rootfs -> whole content (RootWrites::Layer): the
    // image's /etc/passwd and /etc/group with an entry for the workload's uid and gid when they have none.
    std::map<std::string, std::string> layer_files;
    std::vector<Mount> mounts;  // in the order they are applied (parents before children)
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    std::vector<Secret> secrets;

    // --- namespaces and identity
    Namespaces namespaces;
    std::vector<IdMap> uid_mappings, gid_mappings;  // only with namespaces.user
    NetworkMode network = NetworkMode::None;
    std::vector<PublishedPort> publish;  // -p: needs the sandbox's own network namespace
    std::string hostname = "hardrun";
    std::map<std::string, std::string> sysctl;
    uid_t uid = kDefaultUid;
    gid_t gid = kDefaultGid;
    std::vector<gid_t> additional_gids;

    // --- privileges
    Capabilities caps;  // empty by default
    bool no_new_privs = true;
    SeccompChoice seccomp;
    AppArmorChoice apparmor;
    LandlockChoice landlock;

    // --- resources
    std::vector<Rlimit> rlimits;  // core=0 by default
    Resources resources;
    std::string cgroup_parent;    // empty: hardrun decides (see cgroups.hpp)
    // The systemd cgroup driver (cgroups/systemd.hpp): linux.cgroupsPath in its "slice:prefix:name" form as
    // config.json gives it, and, once the runtime was asked for --systemd-cgroup, the scope systemd makes. A
    // systemd path without a unit is refused by the cgroups layer (never a silent cgroupfs fallback).
    std::string systemd_cgroups_path;
    std::string systemd_slice, systemd_unit;
    std::optional<int> oom_score_adj;

    // --- supervision
    bool init = false;  // --init: a minimal reaper is PID 1 in front of the workload
    // OCI exec: the process enters a running container. Every namespace of it is in namespaces.join; the
    // container's root, mounts, hostname and sysctls are already in place, so the child skips building them
    // and runs the rest of the sequence (identity, capabilities, no_new_privs, AppArmor, Landlock, fds,
    // seccomp) exactly as for the container's own process.
    bool enters_container = false;
    // A session keyring of its own (runc's default). Off only with the OCI runtime's --no-new-keyring (logged):
    // then the workload possesses the invoker's session keyring.
    bool new_session_keyring = true;
    std::vector<int> preserve_fds;  // extra fds passed (renumbered from 3), e.g. LISTEN_FDS
    Hooks hooks;

    // Insecure or weakened choices the user made; shown in the report and by lint.
    std::vector<std::string> warnings;

    bool operator==(const LaunchPlan&) const = default;
};

}  // namespace hardrun
