// hardrun lint: OCI config.json, `hardrun run` flags and systemd units onto Subjects (Kubernetes: lint_k8s.cpp).
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "hardrun/support/error.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/cli/lint/lint.hpp"
#include "hardrun/config/oci.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/plan/publish.hpp"

namespace hardrun::lint {

namespace {

// The 1-based line where a JSON path such as {"process", "user", "uid"} is written: each key is searched after
// the previous one. Approximate (the text is not re-parsed), good enough to point an editor at it.
int json_line(const std::string& text, std::initializer_list<const char*> keys) {
    std::size_t pos = 0;
    for (const char* k : keys) {
        std::string needle = std::string("\"") + k + "\"";
        auto p = text.find(needle, pos);
        if (p == std::string::npos) break;
        pos = p + 1;
    }
    if (pos == 0) return 1;
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw_errno("lint", path, errno);
    std::ostringstream s;
    s << f.rdbuf();
    if (s.str().size() > (16U << 20)) throw Error("lint", path, "larger than 16 MiB");
    return s.str();
}

std::string basename_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

// Which devices give the host away: block devices, memory, ports, the kernel log, raw input...
std::string device_text(const std::string& type, const std::string& path, std::optional<std::int64_t> major,
                        std::optional<std::int64_t> minor) {
    std::string s = type + " " + path;
    if (major) s += " (" + std::to_string(*major) + ":" + (minor ? std::to_string(*minor) : std::string("*")) + ")";
    return s;
}

bool harmless_device(const std::string& type, std::optional<std::int64_t> major, std::optional<std::int64_t> minor) {
    if (type != "c" || !major || !minor) return false;
    // null, zero, full, random, urandom, tty, ptmx, console
    static const std::set<std::pair<std::int64_t, std::int64_t>> ok = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}};
    return ok.count({*major, *minor}) > 0;
}

// Reads a profile file for allows_clone3 ("" when it cannot be read: lint says nothing then).
std::string read_text(const std::string& path) {
    std::ifstream in(path);
    if (!in) return "";
    std::ostringstream o;
    o << in.rdbuf();
    return o.str();
}

bool clone3_allows(const nlohmann::json& profile) {
    using nlohmann::json;
    auto allowing = [](const std::string& a) { return a == "SCMP_ACT_ALLOW" || a == "SCMP_ACT_LOG"; };
    bool refused = false;
    for (const auto& r : profile.value("syscalls", json::array())) {
        if (!r.is_object()) continue;
        std::vector<std::string> names;
        for (const auto& n : r.value("names", json::array()))
            if (n.is_string()) names.push_back(n.get<std::string>());
        if (r.contains("name") && r["name"].is_string()) names.push_back(r["name"].get<std::string>());
        if (std::find(names.begin(), names.end(), "clone3") == names.end()) continue;
        // a rule only for holders of a capability (CAP_SYS_ADMIN) is that capability's finding, not this one
        const bool for_caps = r.contains("includes") && r["includes"].is_object() && !r["includes"].value("caps", json::array()).empty();
        if (for_caps) continue;
        if (allowing(r.value("action", ""))) return true;  // arguments cannot help: clone3's flags are in memory
        refused = true;
    }
    return !refused && allowing(profile.value("defaultAction", ""));
}

}  // namespace

bool allows_clone3(const std::string& profile_text) {
    nlohmann::json j = nlohmann::json::parse(profile_text, nullptr, false);
    return j.is_object() && clone3_allows(j);
}

std::vector<Subject> from_oci(const nlohmann::json& cfg, const std::string& source, const std::string& text) {
    using nlohmann::json;
    if (!cfg.is_object()) throw Error("lint", source, "config.json is not a JSON object");
    try {
        (void)oci::parse_config(cfg);  // the same schema-level validation `hardrun create` does
    } catch (const Error& e) {
        throw Error("lint", source, std::string("not a valid OCI config: ") + e.what());
    }
    Subject s;
    s.source = source;
    s.kind = "oci";
    s.name = basename_of(source);
    const json proc = cfg.value("process", json::object());
    const json linux_ = cfg.value("linux", json::object());
    const json user = proc.value("user", json::object());
    s.uid = user.value("uid", 0L);
    s.where["uid"] = "process.user.uid";
    s.line["uid"] = json_line(text, {"process", "user", "uid"});
    s.readonly_root = cfg.value("root", json::object()).value("readonly", false);
    s.where["readonly_root"] = "root.readonly";
    s.line["readonly_root"] = json_line(text, {"root"});
    // capabilities: every set the process would hold
    std::set<std::string> caps;
    for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"})
        for (const auto& c : proc.value("capabilities", json::object()).value(set, json::array()))
            if (c.is_string()) caps.insert(c.get<std::string>());
    s.caps_added.assign(caps.begin(), caps.end());
    s.where["caps"] = "process.capabilities";
    s.line["caps"] = json_line(text, {"process", "capabilities"});
    s.no_new_privs = proc.value("noNewPrivileges", false);
    s.where["nnp"] = "process.noNewPrivileges";
    s.line["nnp"] = json_line(text, {"process", proc.contains("noNewPrivileges") ? "noNewPrivileges" : "process"});
    const json annotations = cfg.value("annotations", json::object());
    if (linux_.contains("seccomp")) {
        const json& sc = linux_["seccomp"];
        s.seccomp = Confinement::Profile;
        std::string def = sc.value("defaultAction", "");
        s.seccomp_permissive = def == "SCMP_ACT_ALLOW" || def == "SCMP_ACT_LOG";
        s.seccomp_allows_clone3 = sc.is_object() && clone3_allows(sc);
        s.where["seccomp"] = "linux.seccomp";
        s.line["seccomp"] = json_line(text, {"linux", "seccomp"});
    } else {
        s.seccomp = annotations.value(oci::kAnnotationSeccomp, "") == "unconfined" ? Confinement::Unconfined : Confinement::Unset;
        s.where["seccomp"] = s.seccomp == Confinement::Unconfined ? std::string("annotations.") + oci::kAnnotationSeccomp : "linux.seccomp";
        s.line["seccomp"] = s.seccomp == Confinement::Unconfined ? json_line(text, {"annotations", oci::kAnnotationSeccomp})
                                                                 : json_line(text, {"linux"});
    }
    if (proc.contains("apparmorProfile")) {
        std::string p = proc["apparmorProfile"].get<std::string>();
        s.apparmor = p == "unconfined" ? Confinement::Unconfined : Confinement::Profile;
        s.where["apparmor"] = "process.apparmorProfile";
        s.line["apparmor"] = json_line(text, {"process", "apparmorProfile"});
    } else {
        s.apparmor = Confinement::Unset;  // hardrun applies hardrun-default; other runtimes run unconfined
    }
    if (annotations.value(oci::kAnnotationLandlock, "") == "off") s.landlock_off = true;
    // namespaces
    std::set<std::string> ns;
    for (const auto& n : linux_.value("namespaces", json::array())) {
        std::string type = n.value("type", "");
        ns.insert(type);
        if (n.contains("path") && !n["path"].get<std::string>().empty())
            s.joined_namespaces.push_back(type + " at " + n["path"].get<std::string>());
    }
    s.host_network = !ns.count("network");
    s.host_pid = !ns.count("pid");
    s.host_ipc = !ns.count("ipc");
    s.host_uts = !ns.count("uts");
    const int ns_line = json_line(text, {"linux", "namespaces"});
    for (const char* k : {"host_network", "host_pid", "host_ipc", "host_uts", "namespaces"}) {
        s.where[k] = "linux.namespaces";
        s.line[k] = ns_line;
    }
    // devices
    for (const auto& d : linux_.value("devices", json::array())) {
        std::string type = d.value("type", "");
        std::optional<std::int64_t> maj, min;
        if (d.contains("major")) maj = d["major"].get<std::int64_t>();
        if (d.contains("minor")) min = d["minor"].get<std::int64_t>();
        if (!harmless_device(type, maj, min)) s.devices.push_back(device_text(type, d.value("path", "?"), maj, min));
    }
    const json resources = linux_.value("resources", json::object());
    for (const auto& r : resources.value("devices", json::array())) {
        if (!r.value("allow", false)) continue;
        std::string type = r.value("type", "a");
        if ((type == "a" || type.empty()) && !r.contains("major") && !r.contains("minor"))
            s.devices.push_back("every device (linux.resources.devices allows type 'a', access " + r.value("access", std::string("rwm")) + ")");
        else if (type == "b")
            s.devices.push_back("block devices (linux.resources.devices allows type b" +
                                (r.contains("major") ? " " + std::to_string(r["major"].get<std::int64_t>()) : std::string()) + ")");
    }
    s.where["devices"] = "linux.devices";
    s.line["devices"] = json_line(text, {"linux", "devices"});
    // resources
    const json mem = resources.value("memory", json::object());
    if (mem.contains("limit") && mem["limit"].get<std::int64_t>() > 0) s.memory_limit = static_cast<std::uint64_t>(mem["limit"].get<std::int64_t>());
    const json pids = resources.value("pids", json::object());
    if (pids.contains("limit")) s.pids_limit = pids["limit"].get<std::int64_t>();
    s.where["memory"] = "linux.resources.memory.limit";
    s.where["pids"] = "linux.resources.pids.limit";
    s.line["memory"] = s.line["pids"] = json_line(text, {"linux", "resources"});
    // mounts
    int i = 0;
    for (const auto& m : cfg.value("mounts", json::array())) {
        std::string type = m.value("type", ""), dest = m.value("destination", ""), src = m.value("source", "");
        std::vector<std::string> opts = m.value("options", std::vector<std::string>{});
        bool bind = type == "bind" || std::find(opts.begin(), opts.end(), "bind") != opts.end() ||
                    std::find(opts.begin(), opts.end(), "rbind") != opts.end();
        const std::string where = "mounts[" + std::to_string(i++) + "]";
        if (type == "tmpfs") {
            bool noexec = std::find(opts.begin(), opts.end(), "noexec") != opts.end();
            s.tmpfs.push_back({dest, noexec, where});
            s.where["tmpfs:" + dest] = where;
            s.line["tmpfs:" + dest] = json_line(text, {"mounts", dest.c_str()});
        } else if (bind && !src.empty() && src[0] == '/') {
            s.host_paths.push_back(src);
            auto has = [&](const char* o) { return std::find(opts.begin(), opts.end(), o) != opts.end(); };
            // the files engines bind (/etc/hosts, /etc/resolv.conf...) and device nodes cannot hold a dropped binary
            static const std::set<std::string> files = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev/termination-log"};
            if (!has("ro") && !has("noexec") && !files.count(dest) && !src.starts_with("/dev/") && !dest.starts_with("/dev/")) {
                s.exec_volumes.push_back({dest, false, where});
                s.where["volume:" + dest] = where;
                s.line["volume:" + dest] = json_line(text, {"mounts", dest.c_str()});
            }
            s.where["mount:" + src] = where;
            s.line["mount:" + src] = json_line(text, {"mounts", src.c_str()});
        }
    }
    // masking
    s.masked_paths = linux_.contains("maskedPaths") && !linux_["maskedPaths"].empty();
    s.where["masked"] = "linux.maskedPaths";
    s.line["masked"] = json_line(text, {"linux"});
    // environment
    for (const auto& e : proc.value("env", json::array())) {
        std::string kv = e.get<std::string>();
        auto eq = kv.find('=');
        EnvVar v{kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1), false, "process.env"};
        s.where["env:" + v.name] = "process.env";
        s.line["env:" + v.name] = json_line(text, {"process", "env", (v.name + "=").c_str()});
        s.env.push_back(v);
    }
    return {s};
}

Subject from_flags(const std::vector<std::string>& args, const std::string& source,
                   const std::map<std::string, std::string>& environment) {
    CLI::App app{"hardrun run"};
    RunFlags f;
    add_run_flags(app, f);
    // the options of `hardrun run` that are not run flags proper: accepted and ignored
    bool b = false;
    std::string ignored;
    app.add_flag("--verbose", b);
    app.add_flag("-q,--quiet", b);
    app.add_option("--sd-notify", ignored);
    app.add_option("--report", ignored);
    std::vector<std::string> rev(args.rbegin(), args.rend());
    try {
        app.parse(rev);
    } catch (const CLI::ParseError& e) {
        throw UsageError(source, std::string("the hardrun flags do not parse: ") + e.what());
    }
    Subject s;
    s.source = source;
    s.kind = "flags";
    s.name = "hardrun run flags";
    if (!f.user.empty()) s.uid = static_cast<long>(parse::user("--user", f.user).first);
    else s.uid = static_cast<long>(kDefaultUid);
    s.where["uid"] = "--user";
    s.readonly_root = f.read_write.empty();
    s.where["readonly_root"] = "--read-write";
    s.writes_image = f.read_write == "image";
    s.where["writes_image"] = "--read-write=image";
    for (const auto& c : f.cap_add) {
        int n = parse::capability("--cap-add", c);
        s.caps_added.push_back(n < 0 ? "ALL" : parse::capability_name(n));
    }
    s.where["caps"] = "--cap-add";
    for (const auto& o : f.security_opt) {
        auto eq = o.find_first_of("=:");
        std::string k = o.substr(0, eq), v = eq == std::string::npos ? "" : o.substr(eq + 1);
        if (k == "no-new-privileges" && v == "false") s.no_new_privs = false;
        else if (k == "seccomp") {
            s.seccomp = v == "unconfined" ? Confinement::Unconfined : v == "default" ? Confinement::Default : Confinement::Profile;
            if (s.seccomp == Confinement::Profile) s.seccomp_allows_clone3 = allows_clone3(read_text(v));
        }
        else if (k == "apparmor") s.apparmor = v == "unconfined" ? Confinement::Unconfined : Confinement::Profile;
    }
    s.where["nnp"] = s.where["seccomp"] = s.where["apparmor"] = "--security-opt";
    s.landlock_off = f.landlock == "off";
    s.where["landlock"] = "--landlock";
    s.host_network = f.network == "host";
    s.where["host_network"] = "--network";
    if (!f.publish.empty() && s.host_network)
        throw UsageError("--publish", "cannot be combined with --network host: the workload already binds the host's ports itself");
    for (const auto& port : parse::publish_all("--publish", f.publish)) s.published.push_back(parse::publish_text(port));
    s.where["publish"] = "--publish";
    if (!f.memory.empty()) s.memory_limit = parse::size("--memory", f.memory);
    s.where["memory"] = "--memory";
    if (!f.pids_limit.empty()) s.pids_limit = f.pids_limit == "max" ? -1 : std::stoll(f.pids_limit);
    s.where["pids"] = "--pids-limit";
    for (const auto& t : f.tmpfs) {
        Mount m = parse::tmpfs("--tmpfs", t);
        s.tmpfs.push_back({m.destination, m.noexec, "--tmpfs " + t});
        s.where["tmpfs:" + m.destination] = "--tmpfs " + t;
    }
    for (const auto& v : f.volumes) {
        Mount m = parse::volume("--volume", v);
        if (m.volume.empty()) {  // a named volume is hardrun's own directory, not a host path
            s.host_paths.push_back(m.source);
            s.where["mount:" + m.source] = "--volume " + v;
        }
        if (!m.readonly && !m.noexec) {
            s.exec_volumes.push_back({m.destination, false, "--volume " + v});
            s.where["volume:" + m.destination] = "--volume " + v;
        }
        if (m.source.starts_with("/dev/") && m.source != "/dev/null") s.devices.push_back("volume " + m.source);
    }
    s.where["mounts"] = s.where["devices"] = "--volume";
    for (const auto& e : f.env) {
        auto eq = e.find('=');
        EnvVar v;
        v.name = e.substr(0, eq);
        if (eq != std::string::npos) v.value = e.substr(eq + 1);
        else if (auto it = environment.find(v.name); it != environment.end()) v.value = it->second;
        v.where = "--env " + v.name;
        s.where["env:" + v.name] = v.where;
        s.env.push_back(v);
    }
    return s;
}

std::vector<std::string> split_command_line(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quote) {
            if (c == quote) quote = 0;
            else if (c == '\\' && quote == '"' && i + 1 < line.size()) cur.push_back(line[++i]);
            else cur.push_back(c);
            continue;
        }
        if (c == '"' || c == '\'') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < line.size()) {
            cur.push_back(line[++i]);
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word) out.push_back(std::exchange(cur, {}));
            in_word = false;
        } else {
            cur.push_back(c);
            in_word = true;
        }
    }
    if (in_word) out.push_back(cur);
    // systemd's executable prefixes: -@:+!
    if (!out.empty()) {
        std::string& first = out.front();
        std::size_t k = 0;
        while (k < first.size() && std::string("-@:+!").find(first[k]) != std::string::npos) ++k;
        bool at = first.substr(0, k).find('@') != std::string::npos;
        first = first.substr(k);
        if (at && out.size() > 1) out.erase(out.begin() + 1);  // '@': the second word is argv[0]
    }
    return out;
}

namespace {
// from_oci for a file lint read: a library exception from the walk (it checks types first) is one line too
std::vector<Subject> oci_subjects(const nlohmann::json& cfg, const std::string& source, const std::string& text) {
    try {
        return from_oci(cfg, source, text);
    } catch (const nlohmann::json::exception& e) {
        throw Error("lint", source, json_error_text(e));
    }
}
}  // namespace

std::vector<Subject> from_systemd_unit(const std::string& text, const std::string& source) {
    std::vector<Subject> out;
    std::map<std::string, std::string> env;
    std::vector<std::pair<int, std::string>> exec_starts;
    std::vector<std::pair<int, std::pair<std::string, std::string>>> env_lines;
    std::string section;
    std::istringstream in(text);
    std::string line, logical;
    int lineno = 0, start = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (logical.empty()) start = lineno;
        if (!line.empty() && line.back() == '\\') {
            logical += line.substr(0, line.size() - 1) + " ";
            continue;
        }
        logical += line;
        std::string l = std::exchange(logical, {});
        auto first = l.find_first_not_of(" \t");
        if (first == std::string::npos || l[first] == '#' || l[first] == ';') continue;
        l = l.substr(first);
        if (l.front() == '[') {
            section = l.substr(0, l.find(']') + 1);
            continue;
        }
        if (section != "[Service]") continue;
        auto eq = l.find('=');
        if (eq == std::string::npos) continue;
        std::string key = l.substr(0, eq), value = l.substr(eq + 1);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(value.begin());
        if (key == "ExecStart") {
            if (value.empty()) exec_starts.clear();  // "ExecStart=" resets the list
            else exec_starts.emplace_back(start, value);
        } else if (key == "Environment") {
            for (const auto& w : split_command_line(" " + value)) {  // the leading blank keeps '-' prefixes literal
                auto e = w.find('=');
                if (e == std::string::npos) continue;
                env[w.substr(0, e)] = w.substr(e + 1);
                env_lines.push_back({start, {w.substr(0, e), w.substr(e + 1)}});
            }
        }
    }
    for (const auto& [ln, cmd] : exec_starts) {
        auto words = split_command_line(cmd);
        std::size_t i = 0;
        while (i + 1 < words.size() && !(basename_of(words[i]) == "hardrun" && (words[i + 1] == "run" || words[i + 1] == "check"))) ++i;
        if (i + 1 >= words.size()) continue;
        std::vector<std::string> flags(words.begin() + static_cast<std::ptrdiff_t>(i) + 2, words.end());
        Subject s = from_flags(flags, source, env);
        const bool bundle = std::any_of(flags.begin(), flags.end(), [](const std::string& w) { return w == "--bundle" || w.starts_with("--bundle="); });
        s.kind = bundle ? "systemd-bundle" : "systemd";
        s.name = basename_of(source) + " ExecStart (line " + std::to_string(ln) + ")";
        s.start_line = ln;
        s.line.clear();
        for (const auto& [k, v] : env_lines)
            if (looks_secret(v.first, v.second) && std::none_of(s.env.begin(), s.env.end(), [&name = v.first](const EnvVar& e) { return e.name == name; })) {
                EnvVar e{v.first, v.second, false, "Environment= (visible to every user in `systemctl show`)"};
                s.where["env:" + e.name] = e.where;
                s.line["env:" + e.name] = k;
                s.env.push_back(e);
            }
        out.push_back(s);
        // --bundle DIR: lint its config.json too
        for (std::size_t k = 0; k + 1 < flags.size(); ++k)
            if (flags[k] == "--bundle") {
                std::string cfg = flags[k + 1] + "/config.json";
                struct stat st {};
                if (::stat(cfg.c_str(), &st) == 0) {
                    std::string t = read_file(cfg);
                    for (auto& x : oci_subjects(parse_json(t, "lint", cfg, "not valid JSON"), cfg, t)) out.push_back(x);
                }
            }
    }
    if (out.empty()) throw Error("lint", source, "no ExecStart= in [Service] runs `hardrun run`");
    return out;
}

std::vector<Subject> load_file(const std::string& path0) {
    std::string path = path0;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw_errno("lint", path, errno);
    if (S_ISDIR(st.st_mode)) path += "/config.json";  // an OCI bundle
    const std::string text = read_file(path);
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) throw Error("lint", path, "the file is empty");
    {
        std::istringstream in(text);
        std::string line;
        while (std::getline(in, line))
            if (line.starts_with("[Service]")) return from_systemd_unit(text, path);
    }
    if (text[first] == '{' || text[first] == '[') {
        const nlohmann::json j = parse_json(text, "lint", path, "not valid JSON");
        if (j.is_object() && j.contains("kind") && j.contains("apiVersion")) return from_kubernetes(text, path);
        if (j.is_object() && (j.contains("ociVersion") || j.contains("process") || j.contains("root"))) return oci_subjects(j, path, text);
        throw Error("lint", path, "JSON that is neither an OCI config.json nor a Kubernetes manifest");
    }
    if (is_compose(text)) return from_compose(text, path);
    if (text.find("kind:") == std::string::npos || text.find("apiVersion:") == std::string::npos)
        throw Error("lint", path, "not a Kubernetes manifest, systemd unit, OCI config or compose file");
    return from_kubernetes(text, path);
}

}  // namespace hardrun::lint
