// hardrun lint: Kubernetes workload manifests (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
// ReplicationController, PodTemplate, and List of them) onto Subjects: one per container, the pod-level
// securityContext applying where the container's does not say otherwise (as the kubelet does).
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <map>

#include "hardrun/support/error.hpp"
#include "hardrun/cli/lint/lint.hpp"

namespace hardrun::lint {

namespace {

YAML::Node child(const YAML::Node& n, const char* key) {
    if (!n || !n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node c = n[key];
    return c;
}

bool defined(const YAML::Node& n) { return n && n.IsDefined() && !n.IsNull(); }

std::string str(const YAML::Node& n, const std::string& fallback = "") {
    if (!defined(n) || !n.IsScalar()) return fallback;
    return n.as<std::string>();
}

std::optional<bool> boolean(const YAML::Node& n) {
    if (!defined(n) || !n.IsScalar()) return std::nullopt;
    try {
        return n.as<bool>();
    } catch (const YAML::Exception&) {
        return std::nullopt;
    }
}

std::optional<long> integer(const YAML::Node& n) {
    if (!defined(n) || !n.IsScalar()) return std::nullopt;
    try {
        return n.as<long>();
    } catch (const YAML::Exception&) {
        return std::nullopt;
    }
}

int line_of(const YAML::Node& n, int fallback) {
    if (!n || !n.IsDefined()) return fallback;
    auto m = n.Mark();
    return m.line >= 0 ? m.line + 1 : fallback;
}

// Kubernetes quantities: 512Mi, 1Gi, 500M, 1e9, 128974848.
std::optional<std::uint64_t> quantity(const std::string& q) {
    if (q.empty()) return std::nullopt;
    std::size_t i = 0;
    while (i < q.size() && (std::isdigit(static_cast<unsigned char>(q[i])) || q[i] == '.' || q[i] == 'e' || q[i] == 'E' || q[i] == '+' || q[i] == '-'))
        ++i;
    // "1E" would be exa: only take e/E as an exponent when digits follow
    std::string num = q.substr(0, i), suffix = q.substr(i);
    if (!num.empty() && (num.back() == 'e' || num.back() == 'E')) {
        suffix = num.back() + suffix;
        num.pop_back();
    }
    double v = 0;
    try {
        v = std::stod(num);
    } catch (...) {
        return std::nullopt;
    }
    static const std::map<std::string, double> mult = {
        {"", 1},         {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
        {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
        {"P", 1e15}, {"E", 1e18}, {"m", 1e-3}};
    auto it = mult.find(suffix);
    if (it == mult.end() || v < 0) return std::nullopt;
    return static_cast<std::uint64_t>(std::llround(v * it->second));
}

Confinement confinement(const std::string& type) {
    if (type == "RuntimeDefault") return Confinement::Default;
    if (type == "Localhost") return Confinement::Profile;
    if (type == "Unconfined") return Confinement::Unconfined;
    return Confinement::Unset;
}

// Deprecated annotation values: runtime/default, docker/default, unconfined, localhost/NAME
Confinement annotation_confinement(const std::string& v) {
    if (v == "runtime/default" || v == "docker/default") return Confinement::Default;
    if (v == "unconfined") return Confinement::Unconfined;
    if (v.starts_with("localhost/")) return Confinement::Profile;
    return Confinement::Unset;
}

struct PodRef {
    std::string workload;  // "Deployment/web"
    YAML::Node spec, meta;
    std::string at;        // where the pod template is in the document: "" (a Pod), "spec.template." ...
};

void collect(const YAML::Node& doc, std::vector<PodRef>& pods, std::vector<std::string>& skipped) {
    if (!doc.IsMap()) return;
    const std::string kind = str(child(doc, "kind"));
    const std::string name = str(child(child(doc, "metadata"), "name"), "?");
    if (kind == "List") {
        YAML::Node items = child(doc, "items");
        if (items && items.IsSequence())
            for (const auto& it : items) collect(it, pods, skipped);
        return;
    }
    YAML::Node spec = child(doc, "spec");
    if (kind == "Pod") {
        pods.push_back({kind + "/" + name, spec, child(doc, "metadata"), ""});
    } else if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "ReplicaSet" || kind == "Job" ||
               kind == "ReplicationController") {
        YAML::Node tmpl = child(spec, "template");
        pods.push_back({kind + "/" + name, child(tmpl, "spec"), child(tmpl, "metadata"), "spec.template."});
    } else if (kind == "CronJob") {
        YAML::Node tmpl = child(child(child(spec, "jobTemplate"), "spec"), "template");
        pods.push_back({kind + "/" + name, child(tmpl, "spec"), child(tmpl, "metadata"), "spec.jobTemplate.spec.template."});
    } else if (kind == "PodTemplate") {
        YAML::Node tmpl = child(doc, "template");
        pods.push_back({kind + "/" + name, child(tmpl, "spec"), child(tmpl, "metadata"), "template."});
    } else if (!kind.empty()) {
        skipped.push_back(kind + "/" + name);
    }
}

}  // namespace

std::vector<Subject> from_kubernetes(const std::string& text, const std::string& source) {
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        throw Error("lint", source, "not valid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
    }
    std::vector<PodRef> pods;
    std::vector<std::string> skipped;
    try {
        for (const auto& d : docs) collect(d, pods, skipped);
    } catch (const YAML::Exception& e) {
        throw Error("lint", source, "unexpected YAML structure: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
    }
    if (pods.empty())
        throw Error("lint", source, skipped.empty() ? "no Kubernetes workload (Pod, Deployment, StatefulSet, DaemonSet, Job...) found"
                                                    : "no workload to lint (only " + skipped.front() + (skipped.size() > 1 ? ", ..." : "") + ")");
    std::vector<Subject> out;
    try {
        for (const auto& pod : pods) {
            const YAML::Node psc = child(pod.spec, "securityContext");
            const YAML::Node annotations = child(pod.meta, "annotations");
            const YAML::Node volumes = child(pod.spec, "volumes");
            const int pod_line = line_of(pod.spec, 1);
            for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
                const YAML::Node containers = child(pod.spec, list);
                if (!containers || !containers.IsSequence()) continue;
                for (std::size_t i = 0; i < containers.size(); ++i) {
                    const YAML::Node c = containers[i];
                    const YAML::Node csc = child(c, "securityContext");
                    const std::string cname = str(child(c, "name"), std::to_string(i));
                    const std::string spec = pod.at + "spec.", meta = pod.at + "metadata.";
                    const std::string base = spec + list + "[" + std::to_string(i) + "]";
                    Subject s;
                    s.source = source;
                    s.kind = "kubernetes";
                    s.name = pod.workload + " container " + cname;
                    s.start_line = line_of(c, pod_line);
                    auto set_where = [&](const std::string& field, const std::string& path, const YAML::Node& n, const YAML::Node& alt = {}) {
                        s.where[field] = path;
                        s.line[field] = defined(n) ? line_of(n, s.start_line) : line_of(alt, s.start_line);
                    };
                    // user: container first, then pod
                    YAML::Node run_as = defined(child(csc, "runAsUser")) ? child(csc, "runAsUser") : child(psc, "runAsUser");
                    if (auto u = integer(run_as)) s.uid = *u;
                    YAML::Node non_root = defined(child(csc, "runAsNonRoot")) ? child(csc, "runAsNonRoot") : child(psc, "runAsNonRoot");
                    s.run_as_non_root = boolean(non_root).value_or(false);
                    set_where("uid", base + ".securityContext.runAsUser", run_as, csc);
                    s.readonly_root = boolean(child(csc, "readOnlyRootFilesystem")).value_or(false);
                    set_where("readonly_root", base + ".securityContext.readOnlyRootFilesystem", child(csc, "readOnlyRootFilesystem"), csc);
                    s.privileged = boolean(child(csc, "privileged")).value_or(false);
                    set_where("privileged", base + ".securityContext.privileged", child(csc, "privileged"), csc);
                    const YAML::Node caps = child(csc, "capabilities");
                    s.caps_dropped = false;
                    if (YAML::Node drop = child(caps, "drop"); drop && drop.IsSequence())
                        for (const auto& d : drop) {
                            std::string v = str(d);
                            for (auto& ch : v) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                            if (v == "ALL") s.caps_dropped = true;
                        }
                    if (YAML::Node add = child(caps, "add"); add && add.IsSequence())
                        for (const auto& a : add) s.caps_added.push_back(str(a));
                    set_where("caps", base + ".securityContext.capabilities", caps, csc);
                    // allowPrivilegeEscalation defaults to true
                    s.no_new_privs = boolean(child(csc, "allowPrivilegeEscalation")) == std::optional<bool>(false) && !s.privileged;
                    set_where("nnp", base + ".securityContext.allowPrivilegeEscalation", child(csc, "allowPrivilegeEscalation"), csc);
                    // seccomp: field (container, pod), then the deprecated annotations
                    YAML::Node sp = defined(child(csc, "seccompProfile")) ? child(csc, "seccompProfile") : child(psc, "seccompProfile");
                    s.seccomp = confinement(str(child(sp, "type")));
                    set_where("seccomp", base + ".securityContext.seccompProfile", sp, csc);
                    if (s.seccomp == Confinement::Unset) {
                        std::string key = "container.seccomp.security.alpha.kubernetes.io/" + cname;
                        if (!defined(child(annotations, key.c_str()))) key = "seccomp.security.alpha.kubernetes.io/pod";
                        s.seccomp = annotation_confinement(str(child(annotations, key.c_str())));
                        if (defined(child(annotations, key.c_str())))  // the annotation decided: point at it
                            set_where("seccomp", meta + "annotations[" + key + "]", child(annotations, key.c_str()));
                    }
                    // AppArmor: field, then the beta annotation; the runtime's default applies otherwise
                    YAML::Node ap = defined(child(csc, "appArmorProfile")) ? child(csc, "appArmorProfile") : child(psc, "appArmorProfile");
                    s.apparmor = confinement(str(child(ap, "type")));
                    set_where("apparmor", base + ".securityContext.appArmorProfile", ap, csc);
                    if (s.apparmor == Confinement::Unset) {
                        const std::string key = "container.apparmor.security.beta.kubernetes.io/" + cname;
                        Confinement a = annotation_confinement(str(child(annotations, key.c_str())));
                        s.apparmor = a == Confinement::Unset ? Confinement::Default : a;
                        if (defined(child(annotations, key.c_str())))  // the annotation decided: point at it
                            set_where("apparmor", meta + "annotations[" + key + "]", child(annotations, key.c_str()));
                    }
                    // host namespaces
                    s.host_network = boolean(child(pod.spec, "hostNetwork")).value_or(false);
                    s.host_pid = boolean(child(pod.spec, "hostPID")).value_or(false);
                    s.host_ipc = boolean(child(pod.spec, "hostIPC")).value_or(false);
                    set_where("host_network", spec + "hostNetwork", child(pod.spec, "hostNetwork"), pod.spec);
                    set_where("host_pid", spec + "hostPID", child(pod.spec, "hostPID"), pod.spec);
                    set_where("host_ipc", spec + "hostIPC", child(pod.spec, "hostIPC"), pod.spec);
                    s.masked_paths = str(child(csc, "procMount")) != "Unmasked";
                    set_where("masked", base + ".securityContext.procMount", child(csc, "procMount"), csc);
                    // resources
                    const YAML::Node limits = child(child(c, "resources"), "limits");
                    if (auto q = quantity(str(child(limits, "memory")))) s.memory_limit = *q;
                    set_where("memory", base + ".resources.limits.memory", child(limits, "memory"), c);
                    s.pids_limit_settable = false;
                    set_where("pids", base + ".resources", child(c, "resources"), c);
                    // volumes this container mounts: hostPath (devices among them), emptyDir in memory
                    std::map<std::string, YAML::Node> vols;
                    if (volumes && volumes.IsSequence())
                        for (const auto& v : volumes) vols.emplace(str(child(v, "name")), YAML::Node(v));
                    s.tmpfs_noexec_settable = false;
                    if (YAML::Node mounts = child(c, "volumeMounts"); mounts && mounts.IsSequence())
                        for (const auto& m : mounts) {
                            auto it = vols.find(str(child(m, "name")));
                            if (it == vols.end()) continue;
                            const YAML::Node hp = child(it->second, "hostPath");
                            if (defined(hp)) {
                                std::string p = str(child(hp, "path"));
                                if (p.starts_with("/dev/") || p == "/dev") {
                                    s.devices.push_back("hostPath " + p);
                                    set_where("device:hostPath " + p, spec + "volumes[" + it->first + "].hostPath", hp);
                                } else {
                                    s.host_paths.push_back(p);
                                    set_where("mount:" + p, spec + "volumes[" + it->first + "].hostPath", hp);
                                }
                            }
                            const YAML::Node ed = child(it->second, "emptyDir");
                            if (defined(ed) && str(child(ed, "medium")) == "Memory")
                                s.tmpfs.push_back({str(child(m, "mountPath")), false, spec + "volumes[" + it->first + "].emptyDir"});
                        }
                    // environment
                    if (YAML::Node env = child(c, "env"); env && env.IsSequence())
                        for (std::size_t k = 0; k < env.size(); ++k) {
                            const YAML::Node e = env[k];
                            EnvVar v;
                            v.name = str(child(e, "name"));
                            v.value = str(child(e, "value"));
                            v.from_secret = defined(child(child(e, "valueFrom"), "secretKeyRef"));
                            v.where = base + ".env[" + std::to_string(k) + "]";
                            s.where["env:" + v.name] = v.where;
                            s.line["env:" + v.name] = line_of(e, s.start_line);
                            s.env.push_back(v);
                        }
                    out.push_back(std::move(s));
                }
            }
        }
    } catch (const YAML::Exception& e) {
        throw Error("lint", source, "unexpected YAML structure: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
    }
    if (out.empty()) throw Error("lint", source, "the manifest has no containers");
    return out;
}

}  // namespace hardrun::lint
