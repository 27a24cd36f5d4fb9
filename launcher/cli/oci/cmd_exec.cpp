// `hardrun exec` (runc exec): a new process in a running container, hardened exactly like the container's
// own process. The plan comes from the config.json the container was created from (kept in its state),
// with the process replaced (--process process.json) or patched by runc's flags, through the same parser and
// mapping as create: one set of rules. The launch then enters instead of building (plan.enters_container):
// it joins every namespace of the container's process (opened once, checked alive by pidfd) and clones into
// its cgroup, and the child runs the rest of harden(): identity, capabilities, no_new_privs, AppArmor,
// Landlock, fd closing, seccomp last. A flag that gives the new process more than the container's own
// process has (a capability, no_new_privs off, another AppArmor profile, uid 0) is allowed and logged.
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "hardrun/cli/commands.hpp"
#include "hardrun/cli/oci/oci_verbs.hpp"
#include "hardrun/cli/run_front.hpp"
#include "hardrun/config/oci.hpp"
#include "hardrun/launch/launch.hpp"
#include "hardrun/layers/console.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/support/procfs.hpp"

namespace hardrun::commands {

namespace {

using json = nlohmann::json;

struct ExecOptions {
    std::string id;
    std::vector<std::string> command;
    std::string process_file, console_socket, cwd, user, pid_file, apparmor, process_label, cgroup;
    std::vector<std::string> env, caps, additional_gids;
    bool tty = false, detach = false, no_new_privs = false, ignore_paused = false;
    int preserve_fds = 0;
};

// The container's process object, replaced by --process or patched by the flags (runc's semantics).
void override_process(json& doc, const ExecOptions& o) {
    json& proc = doc["process"];
    if (!o.process_file.empty()) {
        auto only = [&](bool given, const char* flag) {
            if (given) throw UsageError(flag, "cannot be combined with --process: put it in process.json");
        };
        only(!o.command.empty(), "the command");
        only(!o.cwd.empty(), "--cwd");
        only(!o.env.empty(), "--env");
        only(!o.user.empty() || !o.additional_gids.empty(), "--user/--additional-gids");
        only(!o.caps.empty(), "--cap");
        only(o.no_new_privs, "--no-new-privs");
        only(!o.apparmor.empty(), "--apparmor");
        proc = parse_json(files::read_input(o.process_file, "exec", "--process"), "exec", "--process " + o.process_file, "not valid JSON");
        // conmon (podman exec -t) passes --tty beside a process.json that says "terminal": true, as runc and
        // crun take it: the flag agrees with the file, or sets a terminal the file leaves out. Only a
        // contradiction is refused, never silently settled either way.
        if (o.tty) {
            if (proc.is_object() && proc.contains("terminal") && proc["terminal"] == false)
                throw UsageError("--tty", "contradicts process.json's \"terminal\": false");
            if (proc.is_object()) proc["terminal"] = true;
        }
        return;
    }
    if (o.command.empty()) throw UsageError("exec", "needs a command after the container id (or --process FILE)");
    proc["args"] = o.command;
    proc["terminal"] = o.tty;
    if (!o.cwd.empty()) proc["cwd"] = o.cwd;
    for (const std::string& e : o.env) {  // KEY=VALUE replaces KEY, or is added
        if (e.find('=') == std::string::npos || e.front() == '=')
            throw UsageError("--env", "'" + e + "' is not KEY=VALUE");
        const std::string key = e.substr(0, e.find('=') + 1);
        json& env = proc["env"];
        if (!env.is_array()) env = json::array();
        bool replaced = false;
        for (auto& v : env)
            if (v.is_string() && v.get<std::string>().starts_with(key)) {
                v = e;
                replaced = true;
            }
        if (!replaced) env.push_back(e);
    }
    if (!o.user.empty()) {
        const auto [uid, gid] = parse::user("--user", o.user);
        proc["user"]["uid"] = uid;
        if (o.user.find(':') != std::string::npos) proc["user"]["gid"] = gid;
    }
    if (!o.additional_gids.empty()) {
        json gids = json::array();
        for (const std::string& g : o.additional_gids) {
            const auto v = parse::number<gid_t>(g);
            if (!v) throw UsageError("--additional-gids", "'" + g + "' is not a numeric gid");
            gids.push_back(*v);
        }
        proc["user"]["additionalGids"] = gids;
    }
    for (const std::string& c : o.caps) {  // runc: added to the bounding, effective and permitted sets
        const std::string name = parse::capability_name(parse::capability("--cap", c));
        for (const char* set : {"bounding", "effective", "permitted"}) {
            json& list = proc["capabilities"][set];
            if (!list.is_array()) list = json::array();
            if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
        }
    }
    if (o.no_new_privs) proc["noNewPrivileges"] = true;
    if (!o.apparmor.empty()) proc["apparmorProfile"] = o.apparmor;
}

oci::PlanContext context_of(const state::Record& rec, bool console_socket) {
    oci::PlanContext ctx;
    ctx.bundle_dir = rec.bundle;
    ctx.invoker_uid = ::geteuid();
    ctx.console_socket = console_socket;
    return ctx;
}

LaunchPlan plan_of(const json& doc, const state::Record& rec, bool console_socket) {
    oci::Config c;
    try {
        c = oci::parse_config(doc);
    } catch (const json::exception& e) {
        throw Error("exec", "container '" + rec.id + "' config", json_error_text(e));
    }
    return oci::to_plan(c, context_of(rec, console_socket));
}

// Every way the exec'ed process holds more than the container's own process: logged, like every weakening.
void warn_weakenings(const LaunchPlan& base, const LaunchPlan& p, const std::string& id) {
    const std::string who = "exec in '" + id + "': ";
    // in any of the five sets: a permitted or inheritable capability can be made effective later
    const auto sets = [](const Capabilities& c) {
        return std::array{c.bounding, c.effective, c.permitted, c.inheritable, c.ambient};
    };
    const auto mine = sets(p.caps), theirs = sets(base.caps);
    for (int cap = 0; cap <= parse::last_capability(); ++cap)
        for (std::size_t i = 0; i < mine.size(); ++i)
            if (mine[i].has(cap) && !theirs[i].has(cap)) {
                log::warning(who + parse::capability_name(cap) + " is more than the container's process holds");
                break;
            }
    if (base.no_new_privs && !p.no_new_privs) log::warning(who + "no_new_privs is off (the container's process has it on)");
    if (!(p.apparmor == base.apparmor)) log::warning(who + "another AppArmor profile than the container's process");
    if ((p.gid == 0 && base.gid != 0) ||
        std::any_of(p.additional_gids.begin(), p.additional_gids.end(), [&](gid_t g) {
            return g != base.gid && std::find(base.additional_gids.begin(), base.additional_gids.end(), g) == base.additional_gids.end();
        }))
        log::warning(who + "groups the container's process does not have");
    if (p.uid == 0 && base.uid != 0) log::warning(who + "runs as uid 0 (the container's process runs as uid " + std::to_string(base.uid) + ")");
}

// The cgroup v2 directory of a process: its "0::" line under the cgroup2 mount ("" when there is none).
std::string cgroup_dir_of(pid_t pid) {
    std::ifstream cg("/proc/" + std::to_string(pid) + "/cgroup");
    std::string line, rel;
    while (std::getline(cg, line))
        if (line.starts_with("0::")) rel = line.substr(3);
    if (rel.empty()) return {};
    std::ifstream mi("/proc/self/mountinfo");
    const std::string text{std::istreambuf_iterator<char>(mi), {}};
    // the cgroup2 mount that shows that cgroup: its root is the cgroup or one above it (a bind of a subtree has
    // its own root); of several, the one mounted last, which is on top of any it shadows, and only where the
    // directory is really there
    std::string dir;
    for (const auto& m : procfs::parse_mountinfo(text)) {
        if (m.fstype != "cgroup2") continue;
        const bool above = m.root == "/" || rel == m.root || rel.starts_with(m.root + "/");
        if (!above) continue;
        const std::string rest = m.root == "/" ? rel : rel.substr(m.root.size());
        const std::string candidate = m.mount_point + (rest == "/" ? "" : rest);
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) dir = candidate;
    }
    return dir;
}

const char* const kNamespaceTypes[][2] = {{"user", "user"},  {"mount", "mnt"}, {"pid", "pid"}, {"ipc", "ipc"},
                                          {"uts", "uts"},    {"network", "net"}, {"cgroup", "cgroup"}};

int exec_process(const ExecOptions& o) {
    if (!o.process_label.empty())
        throw UsageError("--process-label", "is an SELinux label, and hardrun does not implement SELinux");
    if (!o.cgroup.empty())
        throw UsageError("--cgroup", "hardrun always runs the process in the container's own cgroup");
    console::refuse_unsafe_stdio();
    state::Store st = store();
    state::Record rec;
    {
        state::Store::Lock lock = st.lock(o.id);
        rec = st.read(o.id);
        const std::string status = st.live_status(rec);
        if (status == "paused" && !o.ignore_paused)
            throw Error("exec", "container '" + o.id + "'", "is paused; resume it first (or --ignore-paused)");
        if (status != "running" && status != "paused") throw Error("exec", "container '" + o.id + "'", "container not running");
    }
    // the container's process, pinned: a pidfd, then its start time (so the pidfd is that process)
    const UniqueFd pidfd = state::pin(rec.process);
    if (!pidfd) throw Error("exec", "container '" + o.id + "'", "container not running");

    const json doc = recorded_config(st, rec, "exec");
    const LaunchPlan base = plan_of(doc, rec, false);
    json patched = doc;
    override_process(patched, o);
    LaunchPlan plan = plan_of(patched, rec, !o.console_socket.empty());
    warn_weakenings(base, plan, o.id);

    // Rootless: the pid namespace is joined by the supervisor before clone (a process cannot change its own), and
    // setns(CLONE_NEWPID) needs CAP_SYS_ADMIN in the caller's own user namespace as well as in the container's,
    // which an unprivileged invoker does not have (runc joins the user namespace in an intermediate child and
    // forks again: not built yet). Refused before anything is touched, instead of an EPERM from setns.
    if (::geteuid() != 0 && plan.namespaces.user && plan.namespaces.pid)
        throw Error("exec", "container '" + o.id + "'",
                    "is rootless (its own user namespace, started by uid " + std::to_string(::geteuid()) +
                        "); hardrun cannot exec into a rootless container's pid namespace yet (setns needs CAP_SYS_ADMIN "
                        "in your own user namespace); run the container as root to exec into it");
    plan.enters_container = true;
    const std::string ns = "/proc/" + std::to_string(rec.process.pid) + "/ns/";
    auto& join = plan.namespaces.join;
    join.clear();
    const Namespaces& n = plan.namespaces;
    const bool on[] = {n.user, n.mount, n.pid, n.ipc, n.uts, n.net, n.cgroup};
    for (std::size_t i = 0; i < std::size(kNamespaceTypes); ++i)
        if (on[i]) join[kNamespaceTypes[i][0]] = ns + kNamespaceTypes[i][1];
    plan.sysctl.clear();    // applied when the container was built
    plan.hooks = {};        // the OCI hooks belong to the container's lifecycle, not to exec
    plan.resources = {};    // no cgroup of its own: it joins the container's
    plan.systemd_cgroups_path.clear();  // nor a systemd scope
    plan.init = false;
    plan.preserve_fds = preserved_fds(o.preserve_fds);

    LaunchOptions opt;
    opt.console_socket = o.console_socket;
    opt.enter_pidfd = pidfd.get();
    opt.cgroup_dir = rec.cgroup_path.empty() ? cgroup_dir_of(rec.process.pid) : rec.cgroup_path;
    if (o.detach) {
        const Detached d = launch_detached(plan, opt);
        write_pid_file(o.pid_file, d.pid);
        return 0;
    }
    opt.hooks.on_exec = [&](pid_t child) { write_pid_file(o.pid_file, child); };
    const Outcome out = launch(plan, opt);
    std::cout.flush();
    return report_outcome(out, plan);
}

}  // namespace

void register_exec(CLI::App& app) {
    if (!wanted("exec")) return;
    auto o = std::make_shared<ExecOptions>();
    CLI::App* sub = app.add_subcommand("exec", "Run a process in a running container, hardened like its own process");
    sub->add_option("--process,-p", o->process_file, "process.json (OCI process object; - = stdin) instead of a command");
    sub->add_option("--console-socket", o->console_socket, "unix socket for the pty master (with --tty)");
    sub->add_option("--cwd", o->cwd, "working directory inside the container");
    sub->add_option("--env,-e", o->env, "KEY=VALUE (replaces KEY, or adds it)")->allow_extra_args(false);
    sub->add_flag("--tty,-t", o->tty, "a pty for the process (with --console-socket)");
    sub->add_option("--user,-u", o->user, "UID[:GID] (numeric)");
    sub->add_option("--additional-gids,-g", o->additional_gids, "supplementary gid (numeric; repeatable)")->allow_extra_args(false);
    sub->add_option("--cap,-c", o->caps, "add a capability (logged: more than the container's process holds)")->allow_extra_args(false);
    sub->add_flag("--no-new-privs", o->no_new_privs, "set no_new_privs (hardrun's default already)");
    sub->add_option("--apparmor", o->apparmor, "AppArmor profile for the process");
    sub->add_option("--process-label", o->process_label, "refused: SELinux is not implemented");
    sub->add_flag("--detach,-d", o->detach, "start the process and return (an engine's shim reaps it)");
    sub->add_option("--pid-file", o->pid_file, "write the process's pid here");
    sub->add_option("--preserve-fds", o->preserve_fds, "pass fds 3..3+N-1 to the process");
    sub->add_option("--cgroup", o->cgroup, "refused: the process always joins the container's own cgroup");
    sub->add_flag("--ignore-paused", o->ignore_paused, "exec even in a paused container");
    sub->add_option("id", o->id, "container id")->required();
    sub->add_option("command", o->command, "the command and its arguments (optionally after --)");
    sub->positionals_at_end();
    sub->callback(guarded([o] { throw Exit{exec_process(*o)}; }));
}

}  // namespace hardrun::commands
