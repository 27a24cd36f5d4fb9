// `hardrun lint`: a policy gate for CI. Every source (an OCI config.json, hardrun run flags, a systemd unit that
// runs hardrun, a Kubernetes Pod/Deployment/StatefulSet/DaemonSet/ReplicaSet/Job/CronJob manifest) is mapped onto
// one Subject per container; the same checks then run on every subject, each finding with a severity and a fix,
// and the subjects get an exposure score like `systemd-analyze security`'s (0 = nothing exposed, 10 = everything).
//
// Everything here is pure (no filesystem access except load_file), so the table-driven unit tests cover it.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hardrun::lint {

enum class Severity { Info = 0, Low, Medium, High, Critical };
std::string severity_name(Severity s);                       // "high"
std::optional<Severity> parse_severity(const std::string& s);  // "HIGH", "high" -> High

enum class Confinement { Default, Profile, Unconfined, Unset };  // seccomp / AppArmor

struct TmpfsMount {
    std::string destination;
    bool noexec = false;
    std::string where;  // location of the mount in the source
};

struct EnvVar {
    std::string name, value;
    bool from_secret = false;  // Kubernetes valueFrom.secretKeyRef: fine
    std::string where;
};

// What a source says about one workload. `where` strings locate a field for the report and SARIF:
// "process.user.uid" (a JSON path) or "spec.containers[0].securityContext.runAsUser"; lines are 1-based, 0 unknown.
struct Subject {
    std::string source;  // the file, or "flags"
    std::string kind;    // "oci", "flags", "systemd", "systemd-bundle" (run --bundle), "kubernetes", "compose"
    std::string name;    // "config.json", "Deployment/web container app", "hardrun.service ExecStart"
    // identity
    std::optional<long> uid;        // nullopt: decided by the image (may be root)
    bool run_as_non_root = false;   // Kubernetes runAsNonRoot: the kubelet refuses uid 0
    // filesystem
    bool readonly_root = false;
    bool writes_image = false;  // --read-write=image: writes go into the rootfs directory itself
    std::vector<TmpfsMount> tmpfs;
    bool tmpfs_noexec_settable = true;  // Kubernetes emptyDir cannot say noexec
    std::vector<std::string> host_paths;  // host directories/files mounted in
    std::vector<TmpfsMount> exec_volumes;  // writable bind mounts (volumes) without noexec: a dropped binary runs
    bool masked_paths = true;            // /proc/kcore & co. masked
    // privileges
    bool privileged = false;
    std::vector<std::string> caps_added;  // "CAP_NET_BIND_SERVICE", "ALL"
    bool caps_dropped = true;             // false: the runtime's default set stays (Kubernetes without drop: [ALL])
    bool no_new_privs = true;
    Confinement seccomp = Confinement::Default;
    bool seccomp_permissive = false;  // a profile whose default action allows
    bool seccomp_allows_clone3 = false;  // a profile that allows clone3 without a capability (its flags are unseen)
    Confinement apparmor = Confinement::Default;
    bool landlock_off = false;
    // namespaces
    bool host_network = false, host_pid = false, host_ipc = false, host_uts = false, host_user_ns_only = false;
    std::vector<std::string> joined_namespaces;  // OCI linux.namespaces[].path
    std::vector<std::string> published;  // -p: "127.0.0.1:8080->80/tcp" (pasta, inbound only)
    std::vector<std::string> published_everywhere;  // compose ports: without a host address ("8080:80")
    // devices
    std::vector<std::string> devices;  // privileged devices, described
    // resources
    std::optional<std::uint64_t> memory_limit;
    std::optional<std::int64_t> pids_limit;
    bool pids_limit_settable = true;  // Kubernetes: only the kubelet's podPidsLimit
    std::vector<EnvVar> env;
    // where each field was found: field key ("uid", "readonly_root", "caps", "nnp", "seccomp", "apparmor",
    // "host_network", "host_pid", "host_ipc", "devices", "memory", "pids", "privileged", "masked") -> location
    std::map<std::string, std::string> where;
    std::map<std::string, int> line;
    int start_line = 1;
};

struct Finding {
    std::string rule;      // "user.root"
    Severity severity = Severity::Medium;
    std::string message;   // what is wrong, for this subject
    std::string fix;       // what to write instead, in this source's own terms
    std::string subject;   // Subject::name
    std::string source;    // Subject::source
    std::string where;     // field location
    int line = 0;
};

struct Rule {
    std::string id;
    Severity severity;  // the usual severity (some findings raise it, e.g. CAP_SYS_ADMIN)
    std::string title;
};
const std::vector<Rule>& rules();

// The checks.
std::vector<Finding> check(const Subject& s);

// Exposure 0.0 (nothing exposed) .. 10.0, and a word for it, like systemd-analyze security.
struct Score {
    double exposure = 0;
    std::string label;  // "SAFE", "OK", "MEDIUM", "EXPOSED", "UNSAFE"
};
Score score(const std::vector<Finding>& findings_of_one_subject);

// ---- sources (lint_sources.cpp, lint_k8s.cpp) ------------------------------------------------------------
// Detects the format of a file (JSON with ociVersion/process -> OCI; YAML/JSON with apiVersion+kind ->
// Kubernetes; an INI with [Service] -> systemd) and maps it. Throws Error for unreadable or invalid input.
std::vector<Subject> load_file(const std::string& path);
std::vector<Subject> from_oci(const nlohmann::json& config, const std::string& source, const std::string& text);
std::vector<Subject> from_kubernetes(const std::string& yaml_text, const std::string& source);
std::vector<Subject> from_systemd_unit(const std::string& text, const std::string& source);
// docker compose files: one subject per service, docker's defaults where a field is absent (lint_compose.cpp).
bool is_compose(const std::string& yaml_text);
std::vector<Subject> from_compose(const std::string& yaml_text, const std::string& source);
// `hardrun run` flags (the words after "run"); source names them in the report.
Subject from_flags(const std::vector<std::string>& args, const std::string& source,
                   const std::map<std::string, std::string>& environment = {});

// Splits a systemd command line (ExecStart=) into words: quotes, backslash escapes, the -@:+! prefixes.
std::vector<std::string> split_command_line(const std::string& line);
// Names and values that look like secrets (API_KEY=..., PASSWORD=..., AWS access keys, PEM blocks).
bool looks_secret(const std::string& name, const std::string& value);
// A seccomp profile (JSON text) that allows clone3 to a process without capabilities: an allow rule, or an
// allowing default action that no rule overrides. Its flags are in memory, so CLONE_NEW* cannot be refused.
bool allows_clone3(const std::string& profile_text);

// ---- output (lint_output.cpp) -----------------------------------------------------------------------------
struct Result {
    std::vector<Subject> subjects;
    std::vector<Finding> findings;
    Severity fail_on = Severity::Low;
    int exit_code = 0;  // 1 when a finding is at or above fail_on
};
Result evaluate(std::vector<Subject> subjects, Severity fail_on);
std::string render_human(const Result& r, bool color);
nlohmann::json render_json(const Result& r);
nlohmann::json render_sarif(const Result& r);

}  // namespace hardrun::lint
