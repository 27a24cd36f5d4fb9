// hardrun lint: docker compose files (compose.yaml, docker-compose.yml) onto Subjects, one per service, with
// docker's defaults where a field is absent: the image's user, a writable root, docker's default capability set,
// no no_new_privs, docker's seccomp and AppArmor profiles, exec-able tmpfs and volumes, no memory or pids limit.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "hardrun/cli/lint/lint.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/error.hpp"

namespace hardrun::lint {

namespace {

bool defined(const YAML::Node& n) { return n && n.IsDefined() && !n.IsNull(); }

// n[key], or an undefined node where n is not a map (YAML::Node's operator[] throws on a missing parent)
YAML::Node child(const YAML::Node& n, const char* key) {
    if (!defined(n) || !n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    return n[key];
}

std::string scalar(const YAML::Node& n) {
    if (!defined(n) || !n.IsScalar()) return "";
    return n.as<std::string>();
}

int line_of(const YAML::Node& n, int fallback) {
    if (!n || !n.IsDefined()) return fallback;
    return n.Mark().line >= 0 ? n.Mark().line + 1 : fallback;
}

bool truthy(const YAML::Node& n) {
    const std::string v = scalar(n);
    return v == "true" || v == "True" || v == "yes" || v == "1";
}

// "512m", "1g", "1073741824", "1.5gb": docker's memory sizes
std::optional<std::uint64_t> memory(const std::string& v) {
    if (v.empty()) return std::nullopt;
    std::string s = v;
    if (s.size() > 1 && (s.back() == 'b' || s.back() == 'B') && !std::isdigit(static_cast<unsigned char>(s[s.size() - 2])))
        s.pop_back();
    try {
        return parse::size("mem_limit", s);
    } catch (const Error&) {
        return std::nullopt;
    }
}

// A list given as a YAML sequence or a single string.
std::vector<std::pair<std::string, YAML::Node>> items(const YAML::Node& n) {
    std::vector<std::pair<std::string, YAML::Node>> out;
    if (!defined(n)) return out;
    if (n.IsSequence())
        for (const auto& e : n) out.emplace_back(scalar(e), e);
    else if (n.IsScalar())
        out.emplace_back(scalar(n), n);
    return out;
}

bool host_path(const std::string& src) {
    return src.starts_with("/") || src.starts_with(".") || src.starts_with("~");
}

Subject service(const std::string& name, const YAML::Node& svc, const std::string& source) {
    Subject s;
    s.source = source;
    s.kind = "compose";
    s.name = "service " + name;
    s.start_line = line_of(svc, 1);
    const std::string base = "services." + name + ".";
    auto at = [&](const std::string& field, const char* key, const YAML::Node& n) {
        s.where[field] = base + key;
        s.line[field] = line_of(n, s.start_line);
    };
    // identity: docker runs the image's USER (often root) unless user: is set
    const YAML::Node user = svc["user"];
    if (defined(user)) {
        const std::string u = scalar(user).substr(0, scalar(user).find(':'));
        if (!u.empty() && std::all_of(u.begin(), u.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
            s.uid = std::stol(u);
        else if (u == "root")
            s.uid = 0;
        else if (!u.empty())
            s.run_as_non_root = true;  // a user name of the image's: not root
    }
    at("uid", "user", defined(user) ? user : svc);
    // filesystem
    s.readonly_root = truthy(svc["read_only"]);
    at("readonly_root", "read_only", defined(svc["read_only"]) ? svc["read_only"] : svc);
    for (const auto& [t, node] : items(svc["tmpfs"])) {
        const auto colon = t.find(':');
        TmpfsMount m{t.substr(0, colon), colon != std::string::npos && t.find("noexec", colon) != std::string::npos,
                     base + "tmpfs"};
        s.tmpfs.push_back(m);
        s.where["tmpfs:" + m.destination] = m.where;
        s.line["tmpfs:" + m.destination] = line_of(node, s.start_line);
    }
    const YAML::Node volumes = svc["volumes"];
    if (defined(volumes) && volumes.IsSequence()) {
        std::size_t i = 0;
        for (const auto& v : volumes) {
            const std::string where = base + "volumes[" + std::to_string(i++) + "]";
            std::string type, src, dst;
            bool ro = false;
            if (v.IsScalar()) {  // SRC:DST[:MODE] or DST
                const std::string text = scalar(v);
                const auto a = text.find(':');
                if (a == std::string::npos) continue;  // an anonymous volume: docker's own directory
                const auto b = text.find(':', a + 1);
                src = text.substr(0, a);
                dst = text.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
                ro = b != std::string::npos && text.find("ro", b) != std::string::npos;
                type = host_path(src) ? "bind" : "volume";
            } else if (v.IsMap()) {
                type = scalar(v["type"]);
                src = scalar(v["source"]);
                dst = scalar(v["target"]);
                ro = truthy(v["read_only"]);
            }
            if (type == "tmpfs") {  // docker's tmpfs: exec
                s.tmpfs.push_back({dst, false, where});
                s.where["tmpfs:" + dst] = where;
                s.line["tmpfs:" + dst] = line_of(v, s.start_line);
                continue;
            }
            if (type == "bind") {
                s.host_paths.push_back(src);
                s.where["mount:" + src] = where;
                s.line["mount:" + src] = line_of(v, s.start_line);
                if (src.starts_with("/dev/") && src != "/dev/null") s.devices.push_back("volume " + src);
            }
            if (!ro && (type == "bind" || type == "volume")) {  // docker mounts volumes exec-able
                s.exec_volumes.push_back({dst, false, where});
                s.where["volume:" + dst] = where;
                s.line["volume:" + dst] = line_of(v, s.start_line);
            }
        }
    }
    s.where["mounts"] = base + "volumes";
    // privileges: docker keeps its default capability set unless cap_drop: [ALL]
    s.privileged = truthy(svc["privileged"]);
    at("privileged", "privileged", defined(svc["privileged"]) ? svc["privileged"] : svc);
    s.caps_dropped = false;
    for (const auto& [c, node] : items(svc["cap_drop"]))
        if (c == "ALL" || c == "all") s.caps_dropped = true;
    for (const auto& [c, node] : items(svc["cap_add"])) {
        std::string cap = c;
        for (auto& ch : cap) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (cap != "ALL" && !cap.starts_with("CAP_")) cap = "CAP_" + cap;
        s.caps_added.push_back(cap);
    }
    at("caps", defined(svc["cap_add"]) ? "cap_add" : "cap_drop", defined(svc["cap_add"]) ? svc["cap_add"] : svc["cap_drop"]);
    s.no_new_privs = false;  // docker's default
    for (const auto& [o, node] : items(svc["security_opt"])) {
        const auto sep = o.find_first_of(":=");
        const std::string key = o.substr(0, sep), value = sep == std::string::npos ? "" : o.substr(sep + 1);
        if (key == "no-new-privileges") s.no_new_privs = value.empty() || value == "true";
        else if (key == "seccomp") s.seccomp = value == "unconfined" ? Confinement::Unconfined : Confinement::Profile;
        else if (key == "apparmor") s.apparmor = value == "unconfined" ? Confinement::Unconfined : Confinement::Profile;
    }
    for (const char* f : {"nnp", "seccomp", "apparmor"}) at(f, "security_opt", defined(svc["security_opt"]) ? svc["security_opt"] : svc);
    // namespaces
    s.host_network = scalar(svc["network_mode"]) == "host";
    at("host_network", "network_mode", defined(svc["network_mode"]) ? svc["network_mode"] : svc);
    s.host_pid = scalar(svc["pid"]) == "host";
    at("host_pid", "pid", defined(svc["pid"]) ? svc["pid"] : svc);
    s.host_ipc = scalar(svc["ipc"]) == "host";
    at("host_ipc", "ipc", defined(svc["ipc"]) ? svc["ipc"] : svc);
    s.host_uts = scalar(svc["uts"]) == "host";
    at("host_uts", "uts", defined(svc["uts"]) ? svc["uts"] : svc);
    for (const auto& [d, node] : items(svc["devices"])) s.devices.push_back("device " + d.substr(0, d.find(':')));
    at("devices", "devices", defined(svc["devices"]) ? svc["devices"] : svc);
    // ports: docker publishes a port without a host address on every interface (0.0.0.0 and ::)
    for (const auto& [p, node] : items(svc["ports"])) {
        const auto colons = std::count(p.begin(), p.end(), ':');
        const bool everywhere = colons == 1 || p.starts_with("0.0.0.0:") || p.starts_with("[::]:") || p.starts_with(":::");
        if (everywhere && colons >= 1) {
            const std::string port = p.starts_with("0.0.0.0:") ? p.substr(8) : p.starts_with("[::]:") ? p.substr(5) : p;
            s.published_everywhere.push_back(port);
            s.line["publish"] = line_of(node, s.start_line);
        }
    }
    const YAML::Node ports = svc["ports"];
    if (defined(ports) && ports.IsSequence())
        for (const auto& e : ports)
            if (e.IsMap() && !defined(e["host_ip"]) && defined(e["published"]))  // the long syntax
                s.published_everywhere.push_back(scalar(e["published"]) + ":" + scalar(e["target"]));
    s.where["publish"] = base + "ports";
    // resources: mem_limit / pids_limit, or deploy.resources.limits
    const YAML::Node limits = child(child(child(svc, "deploy"), "resources"), "limits");
    const YAML::Node mem = defined(svc["mem_limit"]) ? svc["mem_limit"] : child(limits, "memory");
    s.memory_limit = memory(scalar(mem));
    at("memory", defined(svc["mem_limit"]) ? "mem_limit" : "deploy.resources.limits.memory", defined(mem) ? mem : svc);
    const YAML::Node pids = defined(svc["pids_limit"]) ? svc["pids_limit"] : child(limits, "pids");
    if (defined(pids)) {
        try {
            s.pids_limit = pids.as<std::int64_t>();
            if (*s.pids_limit <= 0) s.pids_limit.reset();  // 0 and -1: unlimited
        } catch (const YAML::Exception&) {
        }
    }
    at("pids", defined(svc["pids_limit"]) ? "pids_limit" : "deploy.resources.limits.pids", defined(pids) ? pids : svc);
    // environment: a map or a list of K=V
    const YAML::Node env = svc["environment"];
    auto add_env = [&](const std::string& k, const std::string& v, const YAML::Node& node) {
        EnvVar e{k, v, false, base + "environment." + k};
        s.env.push_back(e);
        s.where["env:" + k] = e.where;
        s.line["env:" + k] = line_of(node, s.start_line);
    };
    if (defined(env) && env.IsMap())
        for (const auto& kv : env) add_env(scalar(kv.first), scalar(kv.second), kv.second);
    else
        for (const auto& [e, node] : items(env)) add_env(e.substr(0, e.find('=')), e.find('=') == std::string::npos ? "" : e.substr(e.find('=') + 1), node);
    return s;
}

}  // namespace

bool is_compose(const std::string& yaml_text) {
    try {
        const YAML::Node doc = YAML::Load(yaml_text);
        return doc.IsMap() && doc["services"] && doc["services"].IsMap() && !doc["kind"];
    } catch (const YAML::Exception&) {
        return false;
    }
}

std::vector<Subject> from_compose(const std::string& yaml_text, const std::string& source) {
    YAML::Node doc;
    try {
        doc = YAML::Load(yaml_text);
    } catch (const YAML::ParserException& e) {
        throw Error("lint", source, "not valid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
    }
    std::vector<Subject> out;
    try {
        for (const auto& kv : doc["services"]) {
            if (!kv.second.IsMap()) continue;
            out.push_back(service(kv.first.as<std::string>(), kv.second, source));
        }
    } catch (const YAML::Exception& e) {
        throw Error("lint", source, "unexpected compose structure: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
    }
    if (out.empty()) throw Error("lint", source, "a compose file with no service");
    return out;
}

}  // namespace hardrun::lint
