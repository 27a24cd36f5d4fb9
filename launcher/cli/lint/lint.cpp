// hardrun lint: the rules, the checks every subject goes through, and the exposure score.
#include "hardrun/cli/lint/lint.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace hardrun::lint {

std::string severity_name(Severity s) {
    switch (s) {
        case Severity::Info: return "info";
        case Severity::Low: return "low";
        case Severity::Medium: return "medium";
        case Severity::High: return "high";
        case Severity::Critical: return "critical";
    }
    return "?";
}

std::optional<Severity> parse_severity(const std::string& s) {
    std::string l;
    for (char c : s) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    for (auto v : {Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical})
        if (severity_name(v) == l) return v;
    return std::nullopt;
}

const std::vector<Rule>& rules() {
    static const std::vector<Rule> r = {
        {"privileged", Severity::Critical, "privileged container: every capability, every device, no confinement"},
        {"user.root", Severity::High, "runs as root (uid 0)"},
        {"user.unknown", Severity::Medium, "the image decides the user (often root)"},
        {"user.nobody", Severity::Low, "runs as the shared 'nobody' uid 65534"},
        {"fs.writable-root", Severity::Medium, "the root filesystem is writable"},
        {"fs.writes-image", Severity::Medium, "writes go into the rootfs directory itself (--read-write=image)"},
        {"caps.added", Severity::Medium, "a capability is added"},
        {"caps.not-dropped", Severity::High, "the runtime's default capabilities are not dropped"},
        {"nnp.off", Severity::High, "no_new_privs is off: setuid binaries can raise privileges"},
        {"seccomp.unconfined", Severity::High, "seccomp is unconfined: every syscall is allowed"},
        {"seccomp.unset", Severity::Medium, "no seccomp profile is set"},
        {"seccomp.permissive", Severity::Medium, "the seccomp profile allows every syscall it does not name"},
        {"seccomp.clone3", Severity::High, "the seccomp profile allows clone3, whose namespace flags it cannot check"},
        {"apparmor.unconfined", Severity::Medium, "AppArmor is unconfined"},
        {"landlock.off", Severity::Low, "Landlock is turned off"},
        {"ns.host-network", Severity::High, "shares the host's network namespace"},
        {"ns.host-pid", Severity::High, "shares the host's pid namespace"},
        {"ns.host-ipc", Severity::Medium, "shares the host's ipc namespace"},
        {"ns.host-uts", Severity::Low, "shares the host's uts namespace"},
        {"ns.joined", Severity::Info, "joins an existing namespace"},
        {"net.publish", Severity::Info, "a port of the host's loopback is forwarded in (pasta, inbound only)"},
        {"net.publish-all", Severity::Low, "a port is published on every interface of the host (compose ports: without an address)"},
        {"devices.privileged", Severity::Critical, "a host device is reachable"},
        {"mounts.host-path", Severity::High, "a sensitive host path is mounted in"},
        {"masked.off", Severity::High, "/proc paths that expose the host are not masked"},
        {"limits.memory", Severity::Medium, "no memory limit"},
        {"limits.pids", Severity::Medium, "no pids limit"},
        {"tmpfs.exec", Severity::Low, "a tmpfs allows exec"},
        {"volume.exec", Severity::Low, "a writable volume allows exec"},
        {"env.secret", Severity::High, "a secret is passed in the environment"},
    };
    return r;
}

namespace {

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string cap_name(std::string c) {
    c = upper(c);
    if (c != "ALL" && !c.starts_with("CAP_")) c = "CAP_" + c;
    return c;
}

Severity cap_severity(const std::string& cap) {
    static const std::set<std::string> critical = {"ALL", "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE",
                                                   "CAP_DAC_READ_SEARCH", "CAP_SYS_BOOT", "CAP_BPF", "CAP_MAC_ADMIN",
                                                   "CAP_MAC_OVERRIDE"};
    static const std::set<std::string> high = {"CAP_DAC_OVERRIDE", "CAP_NET_ADMIN", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_SYS_TIME",
                                               "CAP_PERFMON", "CAP_SYSLOG", "CAP_MKNOD", "CAP_SETUID", "CAP_SETGID",
                                               "CAP_FOWNER", "CAP_LINUX_IMMUTABLE", "CAP_SYS_RESOURCE", "CAP_CHECKPOINT_RESTORE",
                                               "CAP_AUDIT_CONTROL"};
    static const std::set<std::string> low = {"CAP_NET_BIND_SERVICE"};
    if (critical.count(cap)) return Severity::Critical;
    if (high.count(cap)) return Severity::High;
    if (low.count(cap)) return Severity::Low;
    return Severity::Medium;
}

std::string cap_hint(const std::string& cap) {
    if (cap == "CAP_NET_BIND_SERVICE") return "listen on a port above 1023 instead";
    if (cap == "CAP_CHOWN" || cap == "CAP_FOWNER") return "set ownership and modes in the image instead";
    if (cap == "CAP_SETUID" || cap == "CAP_SETGID") return "start the workload as its final user instead of switching";
    if (cap == "CAP_NET_RAW") return "use unprivileged ICMP sockets for ping";
    if (cap == "CAP_SYS_ADMIN" || cap == "ALL") return "this is almost root: find the one thing it needs";
    if (cap == "CAP_SYS_PTRACE") return "debug outside production";
    return "find out whether the workload really needs it (hardrun check --diagnose)";
}

// host paths that give the host away
Severity host_path_severity(const std::string& p) {
    static const std::vector<std::string> critical = {"/var/run/docker.sock", "/run/docker.sock", "/run/containerd",
                                                      "/var/run/containerd", "/run/podman", "/var/run/crio", "/run/crio"};
    for (const auto& c : critical)
        if (p == c || p.starts_with(c + "/")) return Severity::Critical;
    static const std::vector<std::string> high = {"/", "/etc", "/proc", "/sys", "/dev", "/root", "/boot", "/lib/modules",
                                                  "/var/lib/kubelet", "/var/lib/docker", "/home", "/usr", "/bin", "/sbin",
                                                  "/lib", "/var/log", "/run", "/var/run"};
    for (const auto& h : high)
        if (p == h || (h != "/" && p.starts_with(h + "/"))) return Severity::High;
    return Severity::Info;
}

struct Fixes {
    std::string kind;
    // one phrasing per source kind: flags (and systemd), oci, kubernetes, compose (the flags' when not given). A
    // systemd unit running `hardrun run --bundle` takes its plan from the bundle's config.json (run refuses plan
    // flags with --bundle): its fixes are config.json's.
    std::string pick(const std::string& flags, const std::string& oci, const std::string& k8s,
                     const std::string& compose = "") const {
        if (kind == "oci") return oci;
        if (kind == "systemd-bundle") return oci + " (in the bundle's config.json: run --bundle refuses plan flags)";
        if (kind == "kubernetes") return k8s;
        if (kind == "compose" && !compose.empty()) return compose;
        return flags;
    }
};

}  // namespace

bool looks_secret(const std::string& name, const std::string& value) {
    if (value.empty()) return false;
    // a reference to a secret file is the right way: FOO_FILE=/run/secrets/foo
    if (value.starts_with("/run/secrets/") || value.starts_with("$(") || value.starts_with("${")) return false;
    const std::string n = upper(name);
    std::vector<std::string> words;
    std::string cur;
    for (char c : n) {
        if (std::isalnum(static_cast<unsigned char>(c))) cur.push_back(c);
        else if (!cur.empty()) words.push_back(std::exchange(cur, {}));
    }
    if (!cur.empty()) words.push_back(cur);
    if (!words.empty() && words.back() == "FILE") return false;
    static const std::set<std::string> single = {"PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "SECRETS", "TOKEN",
                                                 "APIKEY", "CREDENTIAL", "CREDENTIALS", "PRIVATEKEY", "ACCESSKEY", "AUTHTOKEN"};
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (single.count(words[i])) return !(words[i] == "PWD" && words.size() == 1);  // $PWD is the working directory
        if (i + 1 < words.size() && words[i + 1] == "KEY" &&
            (words[i] == "API" || words[i] == "PRIVATE" || words[i] == "ACCESS" || words[i] == "SECRET" || words[i] == "ENCRYPTION" ||
             words[i] == "SIGNING" || words[i] == "MASTER"))
            return true;
    }
    // values that are secrets whatever their name
    if (value.find("-----BEGIN") != std::string::npos) return true;
    auto prefixed = [&](const char* p, std::size_t min_len) { return value.starts_with(p) && value.size() >= min_len; };
    if (prefixed("AKIA", 20) || prefixed("ghp_", 30) || prefixed("github_pat_", 30) || prefixed("xoxb-", 20) ||
        prefixed("xoxp-", 20) || prefixed("sk_live_", 20) || prefixed("glpat-", 20))
        return true;
    return false;
}

std::vector<Finding> check(const Subject& s) {
    std::vector<Finding> out;
    const Fixes fx{s.kind};
    auto add = [&](const std::string& rule, Severity sev, std::string message, std::string fix, const std::string& field) {
        Finding f;
        f.rule = rule;
        f.severity = sev;
        f.message = std::move(message);
        f.fix = std::move(fix);
        f.subject = s.name;
        f.source = s.source;
        auto w = s.where.find(field);
        f.where = w == s.where.end() ? "" : w->second;
        auto l = s.line.find(field);
        f.line = l == s.line.end() ? s.start_line : l->second;
        out.push_back(std::move(f));
    };
    if (s.privileged)
        add("privileged", Severity::Critical, "privileged: true gives every capability and device and turns off seccomp, AppArmor and masking",
            "privileged: false (add back the one capability it needs, if any)", "privileged");
    // identity
    if (s.uid && *s.uid == 0)
        add("user.root", Severity::High, "the workload runs as uid 0 (root)",
            fx.pick("--user 10001 (a fixed non-root uid; hardrun's default)", "process.user.uid: 10001 (a fixed non-root uid)",
                    "securityContext: {runAsNonRoot: true, runAsUser: 10001}", "user: \"10001:10001\" (a fixed non-root uid)"),
            "uid");
    else if (!s.uid && !s.run_as_non_root)
        add("user.unknown", Severity::Medium, "no user is set and runAsNonRoot is not true: the image's USER decides, often root",
            fx.pick("--user 10001", "process.user.uid: 10001", "securityContext: {runAsNonRoot: true, runAsUser: 10001}",
                    "user: \"10001:10001\""),
            "uid");
    else if (s.uid && *s.uid == 65534)
        add("user.nobody", Severity::Low, "uid 65534 'nobody' is shared by many daemons and may own host files",
            fx.pick("--user 10001 (a purpose-built uid)", "process.user.uid: 10001", "runAsUser: 10001", "user: \"10001:10001\""), "uid");
    // filesystem
    if (!s.readonly_root)
        add("fs.writable-root", Severity::Medium, "the root filesystem is writable: an attacker can change binaries and plant tools",
            fx.pick("drop --read-write (read-only is hardrun's default) and add --tmpfs or -v where it writes",
                    "root.readonly: true, plus tmpfs or bind mounts where it writes",
                    "readOnlyRootFilesystem: true, plus emptyDir volumes where it writes",
                    "read_only: true, plus tmpfs: entries or volumes where it writes"),
            "readonly_root");
    if (s.writes_image)
        add("fs.writes-image", Severity::Medium,
            "writes go into the rootfs directory itself: a compromised workload changes the image for every later run",
            fx.pick("--read-write (writes go to a tmpfs layer, discarded at exit) and -v HOSTDIR:PATH for what must persist",
                    "a read-only root, plus bind mounts for what must persist", "readOnlyRootFilesystem: true"),
            "writes_image");
    // capabilities
    if (!s.privileged) {
        for (const auto& c0 : s.caps_added) {
            const std::string c = cap_name(c0);
            add("caps.added", cap_severity(c), (c == "ALL" ? std::string("every capability is added") : c + " is added"),
                fx.pick("remove --cap-add " + (c == "ALL" ? c : c.substr(4)), "remove " + c + " from process.capabilities",
                        "remove " + (c == "ALL" ? c : c.substr(4)) + " from securityContext.capabilities.add",
                        "remove " + (c == "ALL" ? c : c.substr(4)) + " from cap_add") +
                    "; " + cap_hint(c),
                "caps");
        }
        if (!s.caps_dropped)
            add("caps.not-dropped", Severity::High, "capabilities.drop does not contain ALL: the runtime's default set (about 14) stays",
                fx.pick("securityContext.capabilities: {drop: [ALL]} (and add back only what testing proves is needed)",
                        "securityContext.capabilities: {drop: [ALL]} (and add back only what testing proves is needed)",
                        "securityContext.capabilities: {drop: [ALL]} (and add back only what testing proves is needed)",
                        "cap_drop: [ALL] (and cap_add only what testing proves is needed)"),
                "caps");
        if (!s.no_new_privs)
            add("nnp.off", Severity::High, "no_new_privs is off: setuid binaries and file capabilities can raise privileges",
                fx.pick("drop --security-opt no-new-privileges=false (on is hardrun's default)", "process.noNewPrivileges: true",
                        "securityContext.allowPrivilegeEscalation: false", "security_opt: [\"no-new-privileges:true\"]"),
                "nnp");
        // confinement
        if (s.seccomp == Confinement::Unconfined)
            add("seccomp.unconfined", Severity::High, "seccomp is unconfined: every syscall reaches the kernel",
                fx.pick("drop --security-opt seccomp=unconfined; record a tight profile with `hardrun seccomp record`",
                        "add a linux.seccomp profile (`hardrun spec` embeds hardrun's default) and remove org.hardrun.seccomp=unconfined",
                        "securityContext.seccompProfile: {type: RuntimeDefault}",
                        "drop seccomp:unconfined from security_opt (docker's default profile applies)"),
                "seccomp");
        else if (s.seccomp == Confinement::Unset)
            add("seccomp.unset", Severity::Medium,
                fx.pick("no seccomp profile is set", "linux.seccomp is absent: runc and crun run without a filter (hardrun applies its default)",
                        "no seccompProfile: the container runs Unconfined unless the kubelet uses --seccomp-default"),
                fx.pick("--security-opt seccomp=default", "add a linux.seccomp profile (`hardrun spec` embeds hardrun's default)",
                        "securityContext.seccompProfile: {type: RuntimeDefault}"),
                "seccomp");
        if (s.seccomp == Confinement::Profile && s.seccomp_permissive)
            add("seccomp.permissive", Severity::Medium, "the seccomp profile's default action allows: every syscall it does not name runs",
                fx.pick("use hardrun's default profile or record one (`hardrun seccomp record`)",
                        "linux.seccomp.defaultAction: SCMP_ACT_ERRNO with an allowlist (`hardrun spec` embeds one)",
                        "seccompProfile: {type: RuntimeDefault}"),
                "seccomp");
        if (s.seccomp == Confinement::Profile && s.seccomp_allows_clone3)
            add("seccomp.clone3", Severity::High,
                "the seccomp profile allows clone3: its flags are in memory, so clone3(CLONE_NEWUSER) creates a user namespace the filter cannot refuse",
                fx.pick("refuse clone3 with ENOSYS in the profile (SCMP_ACT_ERRNO, errnoRet 38: libc falls back to clone, whose flags the filter checks), as hardrun's default profile does",
                        "in linux.seccomp, refuse clone3 with SCMP_ACT_ERRNO and errnoRet 38 (ENOSYS: libc falls back to clone, whose flags the filter checks)",
                        "seccompProfile: {type: RuntimeDefault}, or a Localhost profile that refuses clone3 with ENOSYS (errnoRet 38)"),
                "seccomp");
        if (s.apparmor == Confinement::Unconfined)
            add("apparmor.unconfined", Severity::Medium, "AppArmor is unconfined (where AppArmor is enabled)",
                fx.pick("drop --security-opt apparmor=unconfined (hardrun-default is applied where AppArmor is enabled)",
                        "process.apparmorProfile: hardrun-default", "securityContext.appArmorProfile: {type: RuntimeDefault}",
                        "drop apparmor:unconfined from security_opt"),
                "apparmor");
        if (s.landlock_off)
            add("landlock.off", Severity::Low, "Landlock is turned off", "drop --landlock off", "landlock");
        if (s.masked_paths == false)
            add("masked.off", Severity::High, "/proc/kcore, /proc/sysrq-trigger, /sys/firmware and the like are not masked",
                fx.pick("keep hardrun's default masked paths", "linux.maskedPaths with the defaults (`hardrun spec` lists them)",
                        "remove procMount: Unmasked"),
                "masked");
    }
    // namespaces
    if (s.host_network)
        add("ns.host-network", Severity::High, "the host's network namespace: host services on localhost and every interface are reachable",
            fx.pick("--network none (hardrun's default)", "add {\"type\": \"network\"} to linux.namespaces", "hostNetwork: false",
                    "drop network_mode: host (publish the ports it serves with ports:)"),
            "host_network");
    for (const auto& port : s.published_everywhere)
        add("net.publish-all", Severity::Low,
            "ports: " + port + " is published on every interface of the host: any machine that reaches it can connect",
            "ports: [\"127.0.0.1:" + port + "\"] (the host's loopback only; a reverse proxy for the rest)", "publish");
    for (const auto& port : s.published)
        add("net.publish", Severity::Info,
            "-p " + port + ": every local user of the host can connect to it; the workload still has no route out",
            "publish only what a client on this host needs (a unix socket in a volume reaches only who can open it)",
            "publish");
    if (s.host_pid)
        add("ns.host-pid", Severity::High, "the host's pid namespace: every host process is visible (and signalable)",
            fx.pick("hardrun always creates a pid namespace", "add {\"type\": \"pid\"} to linux.namespaces", "hostPID: false", "drop pid: host"), "host_pid");
    if (s.host_ipc)
        add("ns.host-ipc", Severity::Medium, "the host's ipc namespace: host shared memory and semaphores are reachable",
            fx.pick("hardrun always creates an ipc namespace", "add {\"type\": \"ipc\"} to linux.namespaces", "hostIPC: false", "drop ipc: host"), "host_ipc");
    if (s.host_uts)
        add("ns.host-uts", Severity::Low, "the host's uts namespace: the workload can rename the host (with CAP_SYS_ADMIN)",
            fx.pick("hardrun always creates a uts namespace", "add {\"type\": \"uts\"} to linux.namespaces", "(no Pod field)", "drop uts: host"), "host_uts");
    for (const auto& j : s.joined_namespaces)
        add("ns.joined", Severity::Info, "joins the existing namespace " + j, "make sure it is not a host namespace", "namespaces");
    // devices and host paths
    for (const auto& d : s.devices)
        add("devices.privileged", Severity::Critical, "host device reachable: " + d,
            fx.pick("remove the volume of the device", "remove it from linux.devices / the allow rule from linux.resources.devices",
                    "remove the hostPath volume of the device", "remove it from devices: (or its volume)"),
            s.where.count("device:" + d) ? "device:" + d : "devices");
    for (const auto& p : s.host_paths) {
        Severity sev = host_path_severity(p);
        if (sev == Severity::Info) continue;
        add("mounts.host-path", sev, "host path " + p + " is mounted in" + (sev == Severity::Critical ? ": control of the container runtime" : ""),
            "mount only the directory the workload needs, read-only", s.where.count("mount:" + p) ? "mount:" + p : "mounts");
    }
    // resources
    if (!s.memory_limit)
        add("limits.memory", Severity::Medium, "no memory limit: one workload can exhaust the host's memory",
            fx.pick("--memory 512m (sized from `hardrun check`'s peak)", "linux.resources.memory.limit", "resources.limits.memory",
                    "mem_limit: 512m (or deploy.resources.limits.memory)"),
            "memory");
    if (!s.pids_limit || *s.pids_limit <= 0) {
        if (s.pids_limit_settable)
            add("limits.pids", Severity::Medium, "no pids limit: a fork bomb takes the host's process table",
                fx.pick("--pids-limit 512", "linux.resources.pids.limit", "the kubelet's podPidsLimit",
                        "pids_limit: 512 (or deploy.resources.limits.pids)"),
                "pids");
        else  // nothing the manifest can change: a note, not a failure
            add("limits.pids", Severity::Info, "a Pod cannot limit its processes: a fork bomb takes the node's process table",
                "set podPidsLimit in the kubelet configuration", "pids");
    }
    if (s.tmpfs_noexec_settable)
        for (const auto& t : s.tmpfs)
            if (!t.noexec && t.destination != "/dev") {
                add("tmpfs.exec", Severity::Low, "tmpfs " + t.destination + " allows exec: a dropped binary can run",
                    fx.pick("--tmpfs " + t.destination + ":noexec", "add \"noexec\" to the options of the tmpfs at " + t.destination,
                            "(not settable for emptyDir)", "tmpfs: [\"" + t.destination + ":noexec\"]"),
                    "tmpfs:" + t.destination);
            }
    for (const auto& v : s.exec_volumes)
        add("volume.exec", Severity::Low, "volume " + v.destination + " is writable and allows exec: a dropped binary can run",
            fx.pick("drop exec from the volume (hardrun's volumes are noexec by default), or mount it :ro,exec",
                    "add \"noexec\" (or \"ro\") to the options of the mount at " + v.destination,
                    "(not settable for Kubernetes volumes)",
                    "mount it read_only where the workload need not write (docker mounts volumes exec-able; "
                    "run it with hardrun, whose volumes are noexec)"),
            "volume:" + v.destination);
    for (const auto& e : s.env) {
        if (e.from_secret || !looks_secret(e.name, e.value)) continue;
        add("env.secret", Severity::High, "environment variable " + e.name + " holds a secret: it leaks into /proc, logs and crash dumps",
            fx.pick("--secret FILE (the workload reads /run/secrets/NAME)", "mount the secret as a read-only file instead of process.env",
                    "valueFrom.secretKeyRef, or better a Secret volume", "secrets: (the service reads /run/secrets/NAME)"),
            "env:" + e.name);
    }
    return out;
}

Score score(const std::vector<Finding>& findings) {
    double sum = 0;
    for (const auto& f : findings) {
        switch (f.severity) {
            case Severity::Critical: sum += 4.0; break;
            case Severity::High: sum += 2.0; break;
            case Severity::Medium: sum += 1.0; break;
            case Severity::Low: sum += 0.4; break;
            case Severity::Info: break;
        }
    }
    Score s;
    s.exposure = std::min(10.0, std::round(sum * 10) / 10);
    if (s.exposure < 0.5) s.label = "SAFE";
    else if (s.exposure < 2.0) s.label = "OK";
    else if (s.exposure < 4.5) s.label = "MEDIUM";
    else if (s.exposure < 7.5) s.label = "EXPOSED";
    else s.label = "UNSAFE";
    return s;
}

}  // namespace hardrun::lint
