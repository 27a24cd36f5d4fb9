// Flags -> LaunchPlan. Pure: every value is validated here, before any side effect.
#include "hardrun/config/flags.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <climits>
#include <cstdlib>

#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/layers/identity.hpp"
#include "hardrun/layers/namespaces.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/plan/publish.hpp"
#include "hardrun/layers/sysctl.hpp"

namespace hardrun {

void add_run_flags(CLI::App& app, RunFlags& f) {
    app.add_option("--rootfs", f.rootfs, "Root filesystem directory of the workload");
    app.add_option("--bundle", f.bundle, "OCI bundle directory (config.json + rootfs) instead of --rootfs");
    app.add_option("-u,--user", f.user, "UID[:GID] the workload runs as (default 10001:10001)");
    app.add_flag("--read-only", f.read_only_given, "Mount the root filesystem read-only (default)");
    app.add_flag("--read-write{layer}", f.read_write,
                 "A writable root: writes go to a 256 MiB tmpfs layer over the image, discarded at exit "
                 "(--read-write=image writes into the rootfs directory itself)");
    app.add_option("--tmpfs", f.tmpfs,
                   "PATH[:size=64m,mode=1777,uid=N,gid=N,tmpcopyup,exec,suid,dev,ro]: a tmpfs mount (noexec, nosuid, "
                   "nodev by default; tmpcopyup fills it with the image's files there)")
        ->allow_extra_args(false);
    app.add_option("-v,--volume", f.volumes,
                   "SRC:DST[:ro|rw][,exec]: bind a host directory, or NAME:DST a named volume (noexec, nosuid, nodev by default)")
        ->allow_extra_args(false);
    app.add_option("--volumes-dir", f.volumes_dir,
                   "Directory of the named volumes (default /var/lib/hardrun/volumes; not root: ~/.local/share/hardrun/volumes)");
    app.add_option("--cap-add", f.cap_add, "Add a capability back (all are dropped by default)")
        ->allow_extra_args(false);
    app.add_option("--cap-drop", f.cap_drop, "Drop a capability (ALL is the default)")->allow_extra_args(false);
    app.add_option("--security-opt", f.security_opt,
                   "no-new-privileges[=false], seccomp=PROFILE|unconfined, apparmor=PROFILE|unconfined")
        ->allow_extra_args(false);
    app.add_flag("--strict-profile", f.strict_profile, "Unknown syscall names in a seccomp profile are errors");
    app.add_option("-e,--env", f.env, "NAME=VALUE (or NAME to pass hardrun's own value)")->allow_extra_args(false);
    app.add_option("--ulimit", f.ulimits, "NAME=SOFT[:HARD], e.g. nofile=1024:2048 (core=0 by default)")
        ->allow_extra_args(false);
    app.add_option("-m,--memory", f.memory, "Memory limit (cgroup v2 memory.max), e.g. 512m");
    app.add_option("--memory-swap", f.memory_swap,
                   "Memory+swap limit like docker (default: equal to --memory, i.e. no swap); -1 = unlimited");
    app.add_option("--memory-reservation", f.memory_reservation, "Memory soft guarantee (memory.low)");
    app.add_option("--cpus", f.cpus, "CPU limit (cpu.max), e.g. 0.5");
    app.add_option("--cpu-shares", f.cpu_shares, "Relative CPU weight like docker (2..262144, default 1024)");
    app.add_option("--pids-limit", f.pids_limit, "Maximum number of processes (pids.max); -1 = unlimited");
    app.add_option("--cgroup-parent", f.cgroup_parent, "cgroup v2 directory to create the workload's cgroup in");
    app.add_option("--hostname", f.hostname, "Host name inside the sandbox (default: hardrun)");
    app.add_option("--network", f.network, "none (default: only loopback) or host")
        ->check(CLI::IsMember({"none", "host"}));
    app.add_option("-w,--workdir", f.workdir, "Working directory inside the sandbox (default /)");
    app.add_flag("--init", f.init, "Run a minimal init as PID 1 that forwards signals and reaps zombies");
    app.add_option("--landlock", f.landlock, "on or off (default: on where the kernel supports it)")
        ->check(CLI::IsMember({"on", "off", "auto"}));
    app.add_option("--allow-bind", f.allow_bind, "Landlock: TCP port the workload may bind")->allow_extra_args(false);
    app.add_option("--allow-connect", f.allow_connect, "Landlock: TCP port the workload may connect to")
        ->allow_extra_args(false);
    app.add_option("--secret", f.secrets, "SRC[:NAME]: a file copied to /run/secrets/NAME (mode 0400)")
        ->allow_extra_args(false);
    app.add_option("--env-file", f.env_files, "Read NAME=VALUE lines (or NAME: hardrun's own value) from FILE, like docker; --env wins")
        ->allow_extra_args(false);
    app.add_option("--group-add", f.group_add, "GID or group name (from the image's /etc/group): a supplementary group of the workload")
        ->allow_extra_args(false);
    app.add_option("--sysctl", f.sysctls, "NAME=VALUE: a namespaced sysctl (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)")
        ->allow_extra_args(false);
    app.add_option("-p,--publish", f.publish,
                   "[IP:]HOSTPORT:PORT[/tcp|/udp]: forward a port of the host's loopback (127.0.0.1 by default, or "
                   "[::1]) into the sandbox with pasta (Debian's passt); inbound only, the workload still has no route out")
        ->allow_extra_args(false);
    // Like docker run: options end at the first positional word; the rest is the workload's argv
    // (with or without a "--" before it).
    app.positionals_at_end();
    app.add_option("command", f.command, "The workload and its arguments, after the options (optionally after --)");
}

std::vector<Mount> default_mounts(bool sysfs) {
    // every default mount is noexec; tmpfs-like ones get a size and a mode
    auto mount = [](MountKind kind, const char* destination, std::optional<std::uint64_t> size = {},
                    std::optional<mode_t> mode = {}) {
        Mount x;
        x.kind = kind;
        x.destination = destination;
        x.noexec = true;
        x.size = size;
        x.mode = mode;
        return x;
    };
    std::vector<Mount> m;
    m.push_back(mount(MountKind::Proc, "/proc"));
    // nodev: the device nodes are bind mounts of the host's null, zero, ... (mounts of their own)
    m.push_back(mount(MountKind::Dev, "/dev", 64ULL << 10, 0755));
    Mount pts = mount(MountKind::Devpts, "/dev/pts");
    pts.nodev = false;  // the pty nodes are devices: nodev would make every pty unopenable (EACCES)
    pts.extra = {"newinstance", "ptmxmode=0666", "mode=0620"};
    m.push_back(pts);
    m.push_back(mount(MountKind::Tmpfs, "/dev/shm", 64ULL << 20, 01777));
    m.push_back(mount(MountKind::Mqueue, "/dev/mqueue"));
    if (sysfs) {
        Mount sys = mount(MountKind::Sysfs, "/sys");
        sys.readonly = true;
        m.push_back(sys);
    }
    return m;
}

std::vector<std::string> default_masked_paths() {
    return {"/proc/acpi",          "/proc/asound",      "/proc/interrupts",
            "/proc/kcore",         "/proc/keys",        "/proc/latency_stats",
            "/proc/timer_list",    "/proc/timer_stats", "/proc/sched_debug",
            "/proc/scsi",          "/proc/sysrq-trigger", "/sys/firmware",
            "/sys/devices/virtual/powercap", "/sys/kernel/security", "/sys/kernel/debug"};
}

std::vector<std::string> default_readonly_paths() { return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"}; }

void order_mounts(std::vector<Mount>& mounts) {
    auto depth = [](const std::string& p) { return std::count(p.begin(), p.end(), '/') - (p == "/" ? 1 : 0); };
    std::stable_sort(mounts.begin(), mounts.end(),
                     [&](const Mount& a, const Mount& b) { return depth(a.destination) < depth(b.destination); });
}

void compute_warnings(LaunchPlan& p) {
    auto& w = p.warnings;
    w.clear();
    if (p.uid == 0) w.push_back("user: the workload runs as uid 0 (root); use a fixed non-root uid such as 10001");
    if (auto kept = identity::kept_groups_warning(identity::kept_supplementary_groups(p))) w.push_back(*kept);
    if (std::find(p.additional_gids.begin(), p.additional_gids.end(), 0) != p.additional_gids.end() && p.uid != 0)
        w.push_back("user: supplementary group 0 (root) is added: files of group root become the workload's");
    if (p.uid == 65534)
        w.push_back("user: uid 65534 'nobody' is shared by many daemons and may own files on the host; use a "
                    "purpose-built uid such as 10001");
    if (!p.readonly_root && p.root_writes == RootWrites::Image)
        w.push_back("filesystem: the root filesystem is writable and writes go into the rootfs directory itself (--read-write=image)");
    else if (!p.readonly_root) w.push_back("filesystem: the root filesystem is writable (--read-write; writes go to a tmpfs layer, discarded at exit)");
    CapSet all = p.caps.bounding;
    all.bits |= p.caps.permitted.bits | p.caps.effective.bits | p.caps.ambient.bits | p.caps.inheritable.bits;
    for (int c = 0; c <= parse::last_capability(); ++c)
        if (all.has(c)) w.push_back("capabilities: " + parse::capability_name(c) + " is added back");
    if (!p.no_new_privs) w.push_back("no_new_privs: turned off; setuid binaries can raise privileges");
    if (p.seccomp.mode == SeccompChoice::Mode::Unconfined) w.push_back("seccomp: unconfined; every syscall is allowed");
    if (p.apparmor.mode == AppArmorChoice::Mode::Unconfined) w.push_back("apparmor: unconfined");
    if (p.landlock.mode == LandlockChoice::Mode::Off) w.push_back("landlock: turned off");
    else if (p.landlock.mode == LandlockChoice::Mode::Auto && !p.no_new_privs && !p.caps.effective.has(21 /* SYS_ADMIN */))
        w.push_back("landlock: skipped, it needs no_new_privs (use --landlock=on to make that an error)");
    if (p.network == NetworkMode::Host || !p.namespaces.net) w.push_back("network: shares the host's network namespace");
    if (!p.namespaces.pid) w.push_back("namespaces: shares the host's pid namespace");
    if (!p.namespaces.ipc) w.push_back("namespaces: shares the host's ipc namespace");
    for (const auto& m : p.mounts) {
        if (m.kind == MountKind::Tmpfs && !m.readonly && !m.noexec && m.destination != "/dev")
            w.push_back("filesystem: tmpfs " + m.destination + " allows exec (drop :exec)");
        struct stat st {};
        // directories only: the files an engine binds (/etc/hosts, /etc/resolv.conf...) cannot hold a dropped binary
        if (m.kind == MountKind::Bind && !m.readonly && !m.noexec && ::stat(m.source.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            w.push_back("filesystem: volume " + m.destination + " is writable and allows exec (drop exec, or mount it :ro,exec)");
    }
}

namespace {

std::string canonical_dir(const std::string& option, const std::string& path, bool want_dir) {
    if (path.empty()) throw UsageError(option, "is required");
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf))
        throw UsageError(option, "'" + path + "': " + errno_text(errno));
    struct stat st {};
    if (::stat(buf, &st) != 0) throw UsageError(option, "'" + path + "': " + errno_text(errno));
    if (want_dir && !S_ISDIR(st.st_mode)) throw UsageError(option, "'" + path + "' is not a directory");
    return buf;
}

void parse_security_opt(LaunchPlan& plan, const std::string& opt) {
    const std::string option = "--security-opt";
    auto split_kv = [&](char sep) -> std::pair<std::string, std::string> {
        auto pos = opt.find(sep);
        if (pos == std::string::npos) return {opt, ""};
        return {opt.substr(0, pos), opt.substr(pos + 1)};
    };
    auto [key, value] = split_kv(opt.find('=') != std::string::npos ? '=' : ':');
    if (key == "no-new-privileges") {
        if (value.empty() || value == "true") plan.no_new_privs = true;
        else if (value == "false") plan.no_new_privs = false;
        else throw UsageError(option, "no-new-privileges takes true or false, not '" + value + "'");
    } else if (key == "seccomp") {
        if (value.empty()) throw UsageError(option, "seccomp= needs a profile path, 'default' or 'unconfined'");
        if (value == "unconfined") plan.seccomp.mode = SeccompChoice::Mode::Unconfined;
        else if (value == "default") plan.seccomp.mode = SeccompChoice::Mode::Default;
        else {
            plan.seccomp.mode = SeccompChoice::Mode::Profile;
            plan.seccomp.profile_path = value;
            if (::access(value.c_str(), R_OK) != 0)
                throw UsageError(option, "seccomp profile '" + value + "': " + errno_text(errno));
        }
    } else if (key == "apparmor") {
        if (value.empty()) throw UsageError(option, "apparmor= needs a profile name or 'unconfined'");
        if (value == "unconfined") plan.apparmor.mode = AppArmorChoice::Mode::Unconfined;
        else {
            plan.apparmor.mode = AppArmorChoice::Mode::Named;
            plan.apparmor.profile = value;
        }
    } else if (key == "label") {
        throw UsageError(option, "label= (SELinux) is not supported by hardrun");
    } else {
        throw UsageError(option, "'" + opt +
                                     "' is not a security option (no-new-privileges, seccomp=, apparmor=)");
    }
}

// docker's --env-file: NAME=VALUE taken verbatim (no quotes are removed), a bare NAME takes hardrun's own value
// (and is skipped when unset, as docker does), blank lines and lines starting with '#' are skipped.
std::vector<std::string> read_env_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw UsageError("--env-file", "'" + path + "': " + errno_text(errno));
    std::vector<std::string> out;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '#') continue;
        line = line.substr(start);
        const std::string where = "--env-file " + path + ":" + std::to_string(n);
        if (line.find('=') == std::string::npos && !std::getenv(line.c_str())) {
            (void)parse::env(where, line + "=");  // still a valid name
            continue;
        }
        out.push_back(parse::env(where, line));
    }
    return out;
}

// --group-add: a number, or a name in the image's /etc/group (read inside the rootfs, never through its symlinks).
gid_t group_id(const std::string& rootfs, const std::string& value) {
    if (auto n = parse::number<std::uint32_t>(value, 0, 4294967294U)) return *n;
    const auto text = files::read_in_root(rootfs, "/etc/group", "--group-add");  // name:password:gid:members
    if (auto e = files::account_entry(text.value_or(""), 0, value); e && e->size() > 2)
        if (auto gid = parse::number<std::uint32_t>((*e)[2], 0, 4294967294U)) return *gid;
    throw UsageError("--group-add", "'" + value + "' is neither a gid nor a group in the image's /etc/group");
}

}  // namespace

// Named volumes: /var/lib/hardrun/volumes as root (they outlive reboots, unlike the containers' state in /run);
// rootless, $XDG_DATA_HOME/hardrun/volumes (~/.local/share/hardrun/volumes).
std::string volumes_dir_default(uid_t invoker_uid) {
    if (invoker_uid == 0) return "/var/lib/hardrun/volumes";
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && x[0] == '/') return std::string(x) + "/hardrun/volumes";
    if (const char* h = std::getenv("HOME"); h && h[0] == '/') return std::string(h) + "/.local/share/hardrun/volumes";
    return "";
}

namespace {

// The image's entry for an id in /etc/passwd or /etc/group (name:x:id:...), or nullopt.
std::optional<std::vector<std::string>> entry_for(const std::string& text, std::uint32_t id) {
    return files::account_entry(text, 2, std::to_string(id));
}

// The workload's uid and gid get a name where the image has none (as podman does): initdb, `id -un`, git and ssh
// look their own user up. The entries go to the rootfs layer, never into the image. HOME follows the image's own
// entry, as docker's does, unless --env or --env-file set it.
void identity_entries(LaunchPlan& p, const std::vector<std::string>& user_env) {
    auto read = [&](const char* path) { return files::read_in_root_if_readable(p.rootfs, path); };
    auto name_for = [](const std::string& text, std::uint32_t id) {
        return files::account_entry(text, 0, "hardrun") ? "hardrun" + std::to_string(id) : std::string("hardrun");
    };
    auto append = [](std::string text, const std::string& line) {
        if (!text.empty() && text.back() != '\n') text += '\n';
        return text + line + '\n';
    };
    if (auto passwd = read("/etc/passwd")) {
        if (auto e = entry_for(*passwd, p.uid)) {
            const bool user_home = std::any_of(user_env.begin(), user_env.end(), [](const std::string& kv) { return kv.starts_with("HOME="); });
            if (!user_home && e->size() >= 6 && !(*e)[5].empty() && (*e)[5].front() == '/')
                for (auto& kv : p.env)
                    if (kv.starts_with("HOME=")) kv = "HOME=" + (*e)[5];
        } else {
            p.layer_files["/etc/passwd"] =
                append(*passwd, name_for(*passwd, p.uid) + ":x:" + std::to_string(p.uid) + ":" + std::to_string(p.gid) +
                                    ":hardrun workload:/:/bin/sh");
        }
    }
    if (auto group = read("/etc/group"); group && !entry_for(*group, p.gid))
        p.layer_files["/etc/group"] = append(*group, name_for(*group, p.gid) + ":x:" + std::to_string(p.gid) + ":");
}

// /etc/hosts, /etc/hostname and /etc/resolv.conf that fit the sandbox, in the rootfs layer (the image is never
// written), each only where the image's own does not fit: with --network host the host's hosts and resolv.conf,
// so names resolve as they do on the host; in the sandbox's own network namespace a hosts file naming localhost
// and the host name where the image has none (there is no DNS server to reach, so resolv.conf stays the image's);
// and /etc/hostname saying the sandbox's host name where the image's says another.
void network_files(LaunchPlan& p) {
    auto read = [](const std::string& root, const char* path) { return files::read_in_root_if_readable(root, path); };
    if (p.network == NetworkMode::Host) {
        for (const char* f : {"/etc/hosts", "/etc/resolv.conf"})
            if (auto host = read("/", f); host && read(p.rootfs, f) != host) p.layer_files[f] = *host;
    } else if (!read(p.rootfs, "/etc/hosts")) {
        p.layer_files["/etc/hosts"] = "127.0.0.1\tlocalhost " + p.hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback " + p.hostname + "\n";
    }
    if (auto name = read(p.rootfs, "/etc/hostname"); name && *name != p.hostname + "\n" && *name != p.hostname)
        p.layer_files["/etc/hostname"] = p.hostname + "\n";
}

std::optional<std::int64_t> parse_limit_or_unlimited(const std::string& option, const std::string& v) {
    if (v.empty()) return std::nullopt;
    if (v == "-1" || v == "max" || v == "unlimited") return -1;
    return static_cast<std::int64_t>(parse::size(option, v));
}

}  // namespace

namespace {
// Capabilities and --security-opt (seccomp, AppArmor, no-new-privileges, Landlock): what a seccomp profile is
// resolved against, shared by build_plan and security_plan.
void apply_security_flags(LaunchPlan& p, const RunFlags& f) {
    // capabilities: drop ALL by default, then add back
    CapSet caps;
    for (const auto& c : f.cap_add) {
        int cap = parse::capability("--cap-add", c);
        if (cap < 0)
            for (int i = 0; i <= parse::last_capability(); ++i) caps.add(i);
        else caps.add(cap);
    }
    for (const auto& c : f.cap_drop) {
        int cap = parse::capability("--cap-drop", c);
        if (cap < 0) continue;  // ALL is the default
        caps.remove(cap);
    }
    p.caps = Capabilities{caps, caps, caps, caps, caps};

    for (const auto& opt : f.security_opt) parse_security_opt(p, opt);
    p.seccomp.strict_profile = f.strict_profile;
}
}  // namespace

LaunchPlan security_plan(const RunFlags& f) {
    LaunchPlan p;
    apply_security_flags(p, f);
    return p;
}

LaunchPlan build_plan(const RunFlags& f, uid_t invoker_uid) {
    LaunchPlan p;
    if (f.command.empty()) throw UsageError("command", "no command given; use hardrun run --rootfs DIR -- CMD [ARGS...]");
    p.args = f.command;
    p.rootfs = canonical_dir("--rootfs", f.rootfs, true);
    if (p.rootfs == "/") throw UsageError("--rootfs", "'/' is the host's own root; give a separate rootfs directory");

    if (!f.read_write.empty() && f.read_only_given)
        throw UsageError("--read-write", "cannot be combined with --read-only");
    if (!f.read_write.empty() && f.read_write != "layer" && f.read_write != "image")
        throw UsageError("--read-write", "'" + f.read_write + "' is not a choice: --read-write (writes go to a tmpfs "
                                         "layer, discarded at exit) or --read-write=image (writes go into the rootfs directory)");
    p.readonly_root = f.read_write.empty();
    // the image is never written unless the user asked for it by name
    p.root_writes = f.read_write == "image" ? RootWrites::Image : RootWrites::Layer;

    // identity
    bool explicit_user = !f.user.empty();
    if (explicit_user) std::tie(p.uid, p.gid) = parse::user("--user", f.user);

    apply_security_flags(p, f);

    // namespaces and network
    p.network = f.network == "host" ? NetworkMode::Host : NetworkMode::None;
    p.namespaces.net = p.network == NetworkMode::None;
    if (invoker_uid != 0) {
        p.namespaces.user = true;
        namespaces::default_rootless_maps(p, invoker_uid, ::getegid());
    }
    if (!f.hostname.empty()) p.hostname = parse::hostname("--hostname", f.hostname);
    // -p: pasta forwards the host's loopback ports into the sandbox's own network namespace (launch/pasta.hpp)
    if (!f.publish.empty() && p.network == NetworkMode::Host)
        throw UsageError("--publish", "cannot be combined with --network host: the workload already binds the host's "
                                      "ports itself (drop -p, or drop --network host)");
    p.publish = parse::publish_all("--publish", f.publish);

    // supplementary groups (the image's own names are looked up inside it)
    for (const auto& g : f.group_add) {
        const gid_t gid = group_id(p.rootfs, g);
        if (std::find(p.additional_gids.begin(), p.additional_gids.end(), gid) == p.additional_gids.end())
            p.additional_gids.push_back(gid);
    }
    if (p.namespaces.user)
        for (gid_t g : p.additional_gids)
            if (g != p.gid)
                throw UsageError("--group-add", "gid " + std::to_string(g) +
                                                    " cannot be mapped: a rootless user namespace maps only the workload's "
                                                    "gid (run hardrun as root for supplementary groups)");

    // sysctls: inside its own network namespace the workload may bind ports below 1024 without a capability
    // (docker's default): only loopback is there, so no host port is at stake
    if (p.namespaces.net) p.sysctl["net.ipv4.ip_unprivileged_port_start"] = "0";
    for (const auto& s : f.sysctls) {
        const auto eq = s.find('=');
        if (eq == std::string::npos || eq == 0) throw UsageError("--sysctl", "'" + s + "' is not NAME=VALUE");
        const std::string name = s.substr(0, eq), value = s.substr(eq + 1);
        if (name.starts_with("net.") && !p.namespaces.net)
            throw UsageError("--sysctl", name + ": --network host shares the host's network namespace, so this would change the host; refusing");
        try {
            sysctl::validate(name, value, p);
        } catch (const Error& e) {
            throw UsageError("--sysctl", name + ": " + e.cause());
        }
        p.sysctl[name] = value;
    }

    // mounts: defaults, then the user's tmpfs and volumes
    p.mounts = default_mounts(true);
    bool user_tmp = false;
    for (const auto& t : f.tmpfs) {
        Mount m = parse::tmpfs("--tmpfs", t);
        user_tmp |= m.destination == "/tmp";
        p.mounts.push_back(m);
    }
    for (const auto& v : f.volumes) {
        Mount m = parse::volume("--volume", v);
        if (!m.volume.empty()) {
            // a named volume: a directory of hardrun's own, made (and filled from the image) on first use
            const std::string dir = f.volumes_dir.empty() ? volumes_dir_default(invoker_uid) : f.volumes_dir;
            if (dir.empty() || dir.front() != '/')
                throw UsageError("--volumes-dir", "'" + dir + "' is not an absolute path (set HOME or give --volumes-dir)");
            m.source = dir + "/" + m.volume;
            struct stat st {};
            m.fill = ::lstat(m.source.c_str(), &st) != 0 && errno == ENOENT;
            if (m.fill) {
                user_tmp |= m.destination == "/tmp";
                p.mounts.push_back(m);
                continue;
            }
        }
        // never realpath: a symlink in the source may have been planted by another sandbox (files.hpp)
        try {
            m.source = files::resolve_without_symlinks(m.source);
        } catch (const Error& e) {
            throw UsageError("--volume", "'" + m.source + "': " + e.cause());
        }
        user_tmp |= m.destination == "/tmp";
        p.mounts.push_back(m);
    }
    if (!user_tmp) p.mounts.push_back(parse::tmpfs("--tmpfs", "/tmp"));
    // /var/tmp is a tmpfs like /tmp (where the image has one: a mount point is never made for it)
    if (std::none_of(p.mounts.begin(), p.mounts.end(), [](const Mount& m) { return m.destination == "/var/tmp" || m.destination == "/var"; })) {
        Mount vt = parse::tmpfs("--tmpfs", "/var/tmp");
        vt.if_present = true;
        p.mounts.push_back(vt);
    }
    // duplicates
    for (std::size_t i = 0; i < p.mounts.size(); ++i)
        for (std::size_t j = i + 1; j < p.mounts.size(); ++j)
            if (p.mounts[i].destination == p.mounts[j].destination)
                throw UsageError("--tmpfs/--volume", "two mounts at " + p.mounts[i].destination);
    // a rootless user namespace maps only the workload's uid and gid: a tmpfs can belong to nobody else
    if (p.namespaces.user)
        for (const auto& m : p.mounts)
            if ((m.uid && *m.uid != p.uid) || (m.gid && *m.gid != p.gid))
                throw UsageError("--tmpfs", m.destination + ": uid=/gid= other than the workload's own (" +
                                                std::to_string(p.uid) + ":" + std::to_string(p.gid) +
                                                ") cannot be mapped in a rootless user namespace");
    order_mounts(p.mounts);
    p.masked_paths = default_masked_paths();
    p.readonly_paths = default_readonly_paths();

    for (const auto& s : f.secrets) {
        auto colon = s.find(':');
        Secret sec;
        sec.source = s.substr(0, colon);
        if (sec.source.empty() || sec.source.front() != '/')
            throw UsageError("--secret", "'" + sec.source + "' is not an absolute host path");
        sec.name = colon == std::string::npos ? sec.source.substr(sec.source.rfind('/') + 1) : s.substr(colon + 1);
        if (sec.name.empty() || sec.name.find('/') != std::string::npos || sec.name == "." || sec.name == "..")
            throw UsageError("--secret", "'" + sec.name + "' is not a plain file name");
        if (::access(sec.source.c_str(), R_OK) != 0)
            throw UsageError("--secret", "'" + sec.source + "': " + errno_text(errno));
        p.secrets.push_back(sec);
    }

    // process
    p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/",
             "HOSTNAME=" + p.hostname};
    std::vector<std::string> env;
    for (const auto& file : f.env_files)
        for (auto& kv : read_env_file(file)) env.push_back(std::move(kv));
    for (const auto& e : f.env) env.push_back(parse::env("--env", e));
    for (const auto& kv : env) {
        auto key = kv.substr(0, kv.find('=') + 1);
        std::erase_if(p.env, [&](const std::string& x) { return x.starts_with(key); });
        p.env.push_back(kv);
    }
    identity_entries(p, env);
    network_files(p);
    if (!f.workdir.empty()) p.workdir = parse::sandbox_path("--workdir", f.workdir);
    if (p.workdir.starts_with("/proc")) throw UsageError("--workdir", "'" + p.workdir + "' is inside /proc; refusing (CVE-2024-21626)");

    p.rlimits.push_back(Rlimit{RLIMIT_CORE, 0, 0});
    for (const auto& u : f.ulimits) {
        Rlimit r = parse::ulimit("--ulimit", u);
        std::erase_if(p.rlimits, [&](const Rlimit& x) { return x.resource == r.resource; });
        p.rlimits.push_back(r);
    }

    // resources
    if (!f.memory.empty()) {
        p.resources.memory_max = parse::size("--memory", f.memory);
        if (*p.resources.memory_max < (6ULL << 20))
            throw UsageError("--memory", "'" + f.memory + "' is below the 6m minimum a process needs");
    }
    if (auto swap = parse_limit_or_unlimited("--memory-swap", f.memory_swap)) {
        if (!p.resources.memory_max) throw UsageError("--memory-swap", "needs --memory too");
        if (*swap == -1) p.resources.memory_swap_max = -1;
        else if (static_cast<std::uint64_t>(*swap) < *p.resources.memory_max)
            throw UsageError("--memory-swap", "must be at least --memory (it is memory plus swap, like docker)");
        else p.resources.memory_swap_max = *swap - static_cast<std::int64_t>(*p.resources.memory_max);
    } else if (p.resources.memory_max) {
        p.resources.memory_swap_max = 0;  // no swap beyond the memory limit
    }
    if (!f.memory_reservation.empty()) p.resources.memory_low = parse::size("--memory-reservation", f.memory_reservation);
    if (!f.cpus.empty()) p.resources.cpu_max = parse::cpus("--cpus", f.cpus);
    if (!f.cpu_shares.empty()) {
        const auto parsed = parse::number<std::uint64_t>(f.cpu_shares, 2, 262144);
        if (!parsed) throw UsageError("--cpu-shares", "'" + f.cpu_shares + "' is not a number in 2..262144");
        const std::uint64_t shares = *parsed;
        // the conversion runc and crun use
        p.resources.cpu_weight = 1 + ((shares - 2) * 9999) / 262142;
    }
    if (!f.pids_limit.empty()) {
        // like docker: -1 and 0 mean unlimited, i.e. no pids limit at all (and no cgroup needed for it)
        const bool unlimited = f.pids_limit == "-1" || f.pids_limit == "0" || f.pids_limit == "max";
        if (!unlimited) {
            const auto n = parse::number<std::uint64_t>(f.pids_limit, 1, 4194304);  // the kernel's PID_MAX_LIMIT
            if (!n)
                throw UsageError("--pids-limit", "'" + f.pids_limit +
                                                     "' is not a number of processes (1..4194304; -1 or 0: unlimited)");
            p.resources.pids_max = static_cast<std::int64_t>(*n);
        }
    }
    p.cgroup_parent = f.cgroup_parent;

    // Landlock
    if (f.landlock == "off") p.landlock.mode = LandlockChoice::Mode::Off;
    else if (f.landlock == "on") p.landlock.mode = LandlockChoice::Mode::On;
    for (const auto& [list, out, name] :
         {std::tuple{&f.allow_bind, &p.landlock.allow_bind, "--allow-bind"},
          std::tuple{&f.allow_connect, &p.landlock.allow_connect, "--allow-connect"}}) {
        for (const auto& port : *list) {
            const auto n = parse::number<std::uint64_t>(port, 1, 65535);
            if (!n) throw UsageError(name, "'" + port + "' is not a TCP port (1..65535)");
            out->push_back(static_cast<std::uint16_t>(*n));
        }
    }
    if ((!p.landlock.allow_bind.empty() || !p.landlock.allow_connect.empty()) &&
        p.landlock.mode == LandlockChoice::Mode::Off)
        throw UsageError("--allow-bind/--allow-connect", "need Landlock; they cannot be combined with --landlock=off");

    p.init = f.init;
    compute_warnings(p);
    return p;
}

}  // namespace hardrun
