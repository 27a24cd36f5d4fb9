// The OCI runtime CLI (runc-compatible): spec, features, create, start, state, kill, delete, list, ps, and
// `run --bundle` (with cmd_run.cpp). The global options engines pass (--root, --log, --log-format,
// --systemd-cgroup, --debug, --rootless) are registered on the top-level app.
//
// Lifecycle (docs/oci.md):
//   create  parse config.json -> plan; ROOT/ID/state.json "creating"; exec FIFO; clone the container process,
//           which sets everything up and waits on the FIFO before seccomp and execve; hooks prestart,
//           createRuntime, createContainer; state "created"; --pid-file. The create process then exits: the
//           container process is re-parented to the engine's subreaper (conmon, the containerd shim).
//   start   startContainer hooks, one byte into the FIFO (the process runs), poststart hooks.
//   delete  kills what is left, removes the cgroup and the state, poststop hooks.
#include <charconv>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <iostream>
#include <iterator>
#include <thread>

#include "hardrun/layers/cgroups/cgroups.hpp"
#include "hardrun/layers/cgroups/systemd.hpp"
#include "hardrun/cli/commands.hpp"
#include "hardrun/layers/console.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/launch/launch.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/config/oci.hpp"
#include "hardrun/cli/oci/oci_cli.hpp"
#include "hardrun/cli/oci/oci_verbs.hpp"
#include "hardrun/launch/runtime.hpp"
#include "hardrun/cli/run_front.hpp"
#include "hardrun/launch/state.hpp"

namespace hardrun::commands {

using json = nlohmann::json;

Globals& globals() {
    static Globals g;
    return g;
}

// runc's --log protocol: containerd's shim reads errors from this file (json: one object per line). Opened
// without following a symlink and only if it is a regular file (files.hpp); check_globals() refuses one that is
// not, so here a failure only means the line is not logged.
void log_line(const char* level, const std::string& msg) {
    const auto& g = globals();
    if (g.log_file.empty()) return;
    UniqueFd fd;
    try {
        fd = files::open_append(g.log_file, "--log");
    } catch (const Error&) {
        return;
    }
    const std::string line = g.log_format == "json"
                                 ? json{{"level", level}, {"msg", msg}, {"time", state::now_rfc3339()}}.dump() + "\n"
                                 : "time=\"" + state::now_rfc3339() + "\" level=" + level + " msg=" + json(msg).dump() + "\n";
    (void)!::write(fd.get(), line.data(), line.size());  // one write: O_APPEND keeps lines of concurrent commands whole
}

void check_globals() {
    const auto& g = globals();
    if (g.log_format != "text" && g.log_format != "json")
        throw UsageError("--log-format", "'" + g.log_format + "' is not text or json");
    if (g.rootless == "true" && ::geteuid() == 0)
        throw UsageError("--rootless", "true was given but hardrun runs as root; use auto");
    if (g.rootless == "false" && ::geteuid() != 0)
        throw UsageError("--rootless", "false was given but hardrun runs as uid " + std::to_string(::geteuid()));
    if (g.debug) log::set_verbose(true);
    if (!g.log_file.empty()) (void)files::open_append(g.log_file, "--log");  // a symlink or a FIFO: one line, here
}

// Wraps a command: global checks first, and errors also go to --log.
std::function<void()> guarded(const std::function<void()>& body) {
    return [body] {
        try {
            check_globals();
            body();
        } catch (const Exit&) {
            throw;
        } catch (const std::exception& e) {
            log_line("error", e.what());
            throw;
        }
    };
}

state::Store store() { return state::Store(globals().root.empty() ? state::default_root() : globals().root); }

std::string state_text(const state::Record& r, const std::string& status) {
    oci::StateDoc d{r.id, status, r.bundle, status == "stopped" ? 0 : r.process.pid, r.annotations};
    return oci::state_json(d).dump();
}

void write_pid_file(const std::string& path, pid_t pid) {
    if (path.empty()) return;
    files::write_atomic(path, std::to_string(pid), "pid-file");
}

std::vector<int> preserved_fds(int count) {
    if (count < 0) throw UsageError("--preserve-fds", "must be 0 or more");
    std::vector<int> fds;
    for (int fd = 3; fd < 3 + count; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0) throw UsageError("--preserve-fds", "fd " + std::to_string(fd) + " is not open");
        fds.push_back(fd);
    }
    return fds;
}

json recorded_config(const state::Store& st, const state::Record& rec, const std::string& verb) {
    if (rec.config.empty() && rec.bundle.empty())
        throw Error(verb, "container '" + rec.id + "'", "was started with hardrun run --rootfs, which has no config.json to plan "
                                                        "from; " + verb + " needs a container made from a bundle (hardrun spec, run --bundle)");
    if (rec.config.empty())
        throw Error(verb, "container '" + rec.id + "'", "has no recorded config.json (created by an older hardrun); recreate it");
    return parse_json(rec.config, verb, st.dir(rec.id) + "/state.json", "its recorded config.json is not valid JSON");
}

namespace {

// Kills what is left in a cgroup hardrun created for the container, and removes it.
// A systemd scope's cgroup (unit != ""): the scope goes with it; StopUnit makes sure.
void remove_cgroup(const std::string& path, const std::string& unit = "") {
    if (!path.empty() && path.starts_with("/sys/fs/cgroup/"))
        if (int err = cgroups::kill_and_remove(path))
            log::warning("could not remove the cgroup " + path + ": " + errno_text(err));
    if (!unit.empty())
        if (std::string why = cgroups::systemd::stop_scope(unit); !why.empty()) log::warning(why);
}

std::string cgroup_name_for(const oci::Bundle& b, const std::string& id) {
    // never "hardrun-<digits>": cgroups::gc() treats those as left behind by a dead supervisor
    std::string name = b.cgroup_name.empty() ? "hardrun-oci-" + id : b.cgroup_name;
    if (name.size() > 200) name = name.substr(0, 200);
    return name;
}

// prestart and createRuntime in the runtime namespace, createContainer in the container's; `child` waits.
void creation_hooks(const state::Record& rec, const Hooks& hooks, pid_t child) {
    state::Record r = rec;
    r.process.pid = child;
    const std::string st = state_text(r, "creating");
    oci::run_hooks(hooks.prestart, "prestart", st);
    oci::run_hooks(hooks.create_runtime, "createRuntime", st);
    oci::run_hooks(hooks.create_container, "createContainer", st, child);
}

// Loads the bundle and refuses run flags that config.json decides.
oci::Bundle load(const std::string& bundle, bool console_socket) {
    oci::PlanContext ctx;
    ctx.invoker_uid = ::geteuid();
    ctx.console_socket = console_socket;
    return oci::load_bundle(bundle, ctx);
}

void refuse_plan_flags(const RunFlags& f) {
    auto no = [](bool given, const char* flag) {
        if (given) throw UsageError(flag, "cannot be combined with --bundle: config.json describes the container");
    };
    no(!f.rootfs.empty(), "--rootfs");
    no(!f.user.empty(), "--user");
    no(!f.read_write.empty() || f.read_only_given, "--read-write/--read-only");
    no(!f.tmpfs.empty(), "--tmpfs");
    no(!f.volumes.empty(), "--volume");
    no(!f.volumes_dir.empty(), "--volumes-dir");
    no(!f.cap_add.empty() || !f.cap_drop.empty(), "--cap-add/--cap-drop");
    no(!f.security_opt.empty(), "--security-opt");
    no(!f.env.empty(), "--env");
    no(!f.ulimits.empty(), "--ulimit");
    no(!f.secrets.empty(), "--secret");
    no(!f.memory.empty() || !f.memory_swap.empty() || !f.memory_reservation.empty(), "--memory");
    no(!f.cpus.empty() || !f.cpu_shares.empty(), "--cpus/--cpu-shares");
    no(!f.pids_limit.empty(), "--pids-limit");
    no(!f.cgroup_parent.empty(), "--cgroup-parent");
    no(!f.hostname.empty(), "--hostname");
    no(f.network != "none", "--network");
    no(!f.workdir.empty(), "--workdir");
    no(f.init, "--init");
    no(!f.landlock.empty() || !f.allow_bind.empty() || !f.allow_connect.empty(), "--landlock/--allow-bind/--allow-connect");
    no(f.strict_profile, "--strict-profile");
    if (!f.publish.empty())  // config.json has no published ports, and pasta lives with a foreground supervisor
        throw UsageError("--publish", "cannot be combined with --bundle; run the bundle's rootfs with --rootfs DIR -p ...");
}

// ------------------------------------------------------------------------------------------------------
// create / start (shared with run -d)
// ------------------------------------------------------------------------------------------------------
struct CreateOptions {
    std::string bundle = ".";
    std::string console_socket, pid_file;
    bool no_pivot = false, no_new_keyring = false;
    int preserve_fds = 0;
    bool output_log = false;  // run -d --rootfs: stdin /dev/null, stdout and stderr to ROOT/ID/output.log
};

// The container's stdio while it is created (run -d --rootfs, docker's detach): stdin /dev/null, stdout and stderr
// appended to `log`, so `name=$(hardrun run -d ...)` returns: nothing of the container holds the caller's pipes or
// terminal. hardrun's own fds 0-2 are put back when it is destroyed (before any error is printed).
class StdioToLog {
public:
    explicit StdioToLog(const std::string& log) {
        UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!null) throw_errno("run -d", "/dev/null", errno);
        UniqueFd out = files::open_append(log, "run -d", 0600);
        for (int fd = 0; fd < 3; ++fd) {
            saved_[fd] = UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
            if (!saved_[fd]) throw_errno("run -d", "fd " + std::to_string(fd), errno);
        }
        if (::dup2(null.get(), 0) < 0 || ::dup2(out.get(), 1) < 0 || ::dup2(out.get(), 2) < 0) {
            const int err = errno;
            restore();
            throw_errno("run -d", log, err);
        }
    }
    ~StdioToLog() { restore(); }
    StdioToLog(const StdioToLog&) = delete;
    StdioToLog& operator=(const StdioToLog&) = delete;

private:
    void restore() {
        std::cout.flush();
        for (int fd = 0; fd < 3; ++fd)
            if (saved_[fd]) {
                (void)::dup2(saved_[fd].get(), fd);
                saved_[fd].reset();
            }
    }
    UniqueFd saved_[3];
};

void refuse_runc_only(const CreateOptions& o) {
    if (o.no_pivot)
        throw UsageError("--no-pivot", "hardrun always uses pivot_root (chroot can be escaped); it has no --no-pivot. "
                                       "If the rootfs is on a ramfs (initramfs), copy it to a tmpfs first");
}

// The bundle of a new container, checked against the runtime's options.
oci::Bundle load_for(const CreateOptions& o, const std::string& id) {
    oci::Bundle b = load(o.bundle, !o.console_socket.empty());
    if (!o.console_socket.empty() && !b.config.process->terminal)
        throw UsageError("--console-socket", "is for process.terminal: true, and config.json does not ask for a terminal");
    b.plan.preserve_fds = preserved_fds(o.preserve_fds);
    if (globals().systemd_cgroup) {  // the systemd cgroup driver: linux.cgroupsPath is slice:prefix:name
        const auto scope = cgroups::systemd::parse_cgroups_path(
            b.config.cgroups_path.value_or(""), id);
        b.plan.systemd_slice = scope.slice;
        b.plan.systemd_unit = scope.unit;
    }
    if (o.no_new_keyring) {
        b.plan.new_session_keyring = false;
        log::warning("--no-new-keyring: the container possesses hardrun's session keyring (the invoker's keys), "
                     "as with runc; keyctl is still refused by hardrun's default seccomp profile");
    }
    return b;
}

// The state record of a container being created from bundle b by this process.
state::Record creating_record(const std::string& id, const oci::Bundle& b) {
    state::Record rec;
    rec.id = id;
    rec.bundle = b.dir;
    rec.rootfs = b.plan.rootfs;
    rec.status = "creating";
    rec.created = state::now_rfc3339();
    rec.creator = state::identify(::getpid());
    rec.owner = ::geteuid();
    rec.annotations = b.config.annotations;
    rec.hooks = b.plan.hooks;
    rec.config = b.config.source;
    return rec;
}

// A --rootfs run as a container (--name, -d, --pid-file, --preserve-fds, --keep): the plan comes from the flags,
// with no bundle directory and no config.json (so `exec` is refused for it, by name).
oci::Bundle rootfs_container(LaunchPlan plan, const CreateOptions& o) {
    if (!o.console_socket.empty())
        throw UsageError("--console-socket", "is for --bundle with process.terminal: true; with --rootfs the workload has your terminal as fds 0-2");
    if (globals().systemd_cgroup)
        throw UsageError("--systemd-cgroup", "is for --bundle (linux.cgroupsPath slice:prefix:name); with --rootfs use --cgroup-parent");
    oci::Bundle b;
    b.plan = std::move(plan);
    b.plan.preserve_fds = preserved_fds(o.preserve_fds);
    if (o.no_new_keyring) {
        b.plan.new_session_keyring = false;
        log::warning("--no-new-keyring: the container possesses hardrun's session keyring (the invoker's keys)");
    }
    return b;
}

pid_t create_loaded(const std::string& id, const CreateOptions& o, oci::Bundle b);

pid_t create_container(const std::string& id, const CreateOptions& o, std::optional<LaunchPlan> rootfs_plan = {}) {
    refuse_runc_only(o);
    console::refuse_unsafe_stdio();  // the container keeps hardrun's stdio: never a directory into the host
    state::validate_id(id);
    state::Store st = store();
    if (st.exists(id)) throw Error("create", "container id '" + id + "'", "is already in use");
    return create_loaded(id, o, rootfs_plan ? rootfs_container(std::move(*rootfs_plan), o) : load_for(o, id));
}

pid_t create_loaded(const std::string& id, const CreateOptions& o, oci::Bundle b) {
    state::Store st = store();
    state::Store::Lock lock = st.create(id);
    state::Record rec = creating_record(id, b);
    const std::string fifo = st.fifo_path(id);
    try {
        st.write(rec);
        if (::mkfifo(fifo.c_str(), 0600) != 0) throw_errno("create", fifo, errno);
    } catch (...) {
        st.remove(id);
        throw;
    }
    lock.release();  // the container process must never hold the lock (it would block `start`)
    std::optional<StdioToLog> detached_stdio;
    if (o.output_log) {
        try {
            detached_stdio.emplace(st.dir(id) + "/output.log");
        } catch (...) {
            st.remove(id);
            throw;
        }
    }

    LaunchOptions opt;
    opt.exec_fifo = fifo;
    opt.console_socket = o.console_socket;
    opt.cgroup_name = cgroup_name_for(b, id);
    opt.hooks.on_clone = [&](pid_t child) {
        // record the process at once: if this create dies now, `delete` still finds what to kill
        {
            state::Store::Lock relock = st.lock(id);
            rec.process = state::identify(child);
            st.write(rec);
        }
        creation_hooks(rec, b.plan.hooks, child);
    };
    opt.hooks.start_hook_state = [&](pid_t child) {  // the container runs its startContainer hooks itself
        state::Record r = rec;
        r.process.pid = child;
        return state_text(r, "created");
    };
    Detached d;
    try {
        d = launch_detached(b.plan, opt);
    } catch (...) {
        state::Store::Lock relock = st.lock(id);
        st.remove(id);
        throw;
    }
    try {
        state::Store::Lock relock = st.lock(id);
        rec.process = state::identify(d.pid);
        rec.cgroup_path = d.cgroup_path;
        rec.systemd_unit = d.systemd_unit;
        rec.status = "created";
        rec.creator = {};
        st.write(rec);
        write_pid_file(o.pid_file, d.pid);
    } catch (...) {
        ::kill(d.pid, SIGKILL);
        ::waitpid(d.pid, nullptr, 0);
        remove_cgroup(d.cgroup_path, d.systemd_unit);
        if (st.exists(id)) st.remove(id);
        throw;
    }
    return d.pid;
}

void start_container(const std::string& id) {
    state::Store st = store();
    state::Store::Lock lock = st.lock(id);
    state::Record rec = st.read(id);
    const std::string status = st.live_status(rec);
    if (status != "created")
        throw Error("start", "container '" + id + "'", "is " + status + "; only a created container can be started");
    // the startContainer hooks run inside the container process, after its setup (launch.cpp), not here
    const std::string fifo = st.fifo_path(id);
    UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) throw_errno("start", "container '" + id + "'", errno, errno == ENXIO ? "its process is gone" : "opening " + fifo);
    if (::write(fd.get(), "1", 1) != 1) throw_errno("start", "container '" + id + "'", errno, "writing to " + fifo);
    ::unlink(fifo.c_str());
    // the container holds the FIFO open until its workload's execve (or its exit): then the poststart hooks
    // run, after the startContainer hooks, as the spec orders them
    struct pollfd p {fd.get(), 0, 0};  // no events asked: only POLLERR, when the last reader is gone
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {}
    fd.reset();
    rec.status = "running";
    st.write(rec);
    oci::run_hooks_warn(rec.hooks.poststart, "poststart", state_text(rec, "running"));
}

// ------------------------------------------------------------------------------------------------------
// delete
// ------------------------------------------------------------------------------------------------------
void delete_container(const std::string& id, bool force) {
    state::validate_id(id);
    state::Store st = store();
    if (!st.exists(id)) {
        if (force) {  // an aborted create may leave a directory without state.json
            if (::rmdir(st.dir(id).c_str()) != 0 && errno == ENOTEMPTY) st.remove(id);
            return;
        }
        throw Error("delete", "container '" + id + "'", "does not exist");
    }
    state::Store::Lock lock = st.lock(id);
    state::Record rec = st.read(id);
    const std::string status = st.live_status(rec);
    if (status == "creating" && !force)
        throw Error("delete", "container '" + id + "'", "is being created (by hardrun pid " + std::to_string(rec.creator.pid) +
                                                           "); use --force to remove it");
    if ((status == "running" || status == "paused") && !force)
        throw Error("delete", "container '" + id + "'", "is " + status + "; stop it first (hardrun kill " + id + ") or use --force");
    if (status != "stopped") {
        // created (never started) or --force: kill every process of the container
        if (rec.process.pid > 0 && state::alive(rec.process)) {
            for (pid_t p : oci::container_pids(rec.process.pid, rec.cgroup_path))
                if (p != rec.process.pid) ::kill(p, SIGKILL);
            oci::send_signal(rec.process, SIGKILL);
            if (!oci::wait_gone(rec.process, 10000))
                throw Error("delete", "container '" + id + "'", "its process " + std::to_string(rec.process.pid) + " did not die after SIGKILL");
        }
    }
    remove_cgroup(rec.cgroup_path, rec.systemd_unit);
    st.remove(id);
    lock.release();
    oci::run_hooks_warn(rec.hooks.poststop, "poststop", state_text(rec, "stopped"));
}

// ------------------------------------------------------------------------------------------------------
// ps
// ------------------------------------------------------------------------------------------------------
void print_ps_table(const std::vector<pid_t>& pids, std::vector<std::string> ps_args) {
    if (ps_args.empty()) ps_args = {"-ef"};
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw_errno("ps", "pipe", errno);
    pid_t child = ::fork();
    if (child < 0) throw_errno("ps", "fork", errno);
    if (child == 0) {
        ::dup2(pipefd[1], STDOUT_FILENO);
        std::vector<char*> argv{const_cast<char*>("ps")};
        for (auto& a : ps_args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execvp("ps", argv.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error("ps", "ps " + ps_args[0], "failed");
    std::istringstream in(out);
    std::string header;
    std::getline(in, header);
    // the column whose title is PID
    std::istringstream hs(header);
    std::vector<std::string> titles;
    for (std::string t; hs >> t;) titles.push_back(t);
    auto it = std::find(titles.begin(), titles.end(), "PID");
    if (it == titles.end()) throw Error("ps", "ps output", "has no PID column; keep PID in the format");
    const std::size_t col = static_cast<std::size_t>(it - titles.begin());
    std::cout << header << "\n";
    for (std::string line; std::getline(in, line);) {
        std::istringstream ls(line);
        std::string field;
        for (std::size_t i = 0; i <= col && ls >> field; ++i) {}
        const auto pid = parse::number<pid_t>(field);
        if (pid && std::find(pids.begin(), pids.end(), *pid) != pids.end()) std::cout << line << "\n";
    }
}

}  // namespace

// ----------------------------------------------------------------------------------------------------------
// run --bundle (called from cmd_run.cpp)
// ----------------------------------------------------------------------------------------------------------
namespace {
struct RunExtras {
    CreateOptions create;
    bool detach = false, keep = false, no_subreaper = false;
    std::string name;                               // --name: the container id (docker's word)
    bool rm = false, interactive = false, tty = false;  // docker's --rm, -i, -t
};
RunExtras& run_extras() {
    static RunExtras r;
    return r;
}
}  // namespace

LaunchPlan plan_from_bundle(const RunFlags& flags) {
    refuse_plan_flags(flags);
    if (flags.command.size() > 1)
        throw UsageError("--bundle", "with a bundle the only argument is the container id; the command comes from config.json "
                                     "process.args");
    return load(flags.bundle, false).plan;
}

namespace {

// docker's --rm, -i and -t on `run`, for both front ends: honoured or refused, never ignored.
void check_docker_extras(const RunExtras& x) {
    // -t: a pty of the workload's own, relayed by a foreground hardrun (terminal.hpp, cmd_run.cpp)
    if (x.tty && x.detach)
        throw UsageError("--tty", "cannot be combined with -d: nothing would relay a detached workload's terminal (its output "
                                  "goes to hardrun logs NAME); drop -t");
    if (x.tty && (!x.name.empty() || x.keep || !x.create.pid_file.empty() || x.create.preserve_fds != 0 ||
                  !x.create.console_socket.empty() || x.create.no_new_keyring))
        throw UsageError("--tty", "is for a plain foreground run (without --name, --keep, --pid-file, --preserve-fds, "
                                  "--console-socket or --no-new-keyring) yet");
    if (x.rm && x.keep) throw UsageError("--rm", "cannot be combined with --keep");
    if (x.rm && x.detach)
        throw UsageError("--rm", "cannot be combined with -d: nothing waits for a detached container; `hardrun delete NAME` "
                                 "once it has stopped");
    // -i: the workload's stdin is hardrun's, always (docker run -i); --rm: the state of a foreground run is
    // removed when it exits unless --keep, always
}

// The foreground run of a container (b loaded, id free): state under --root, hooks, --pid-file; returns the
// workload's exit code. The state is removed when it exits unless keep.
int run_foreground(const std::string& id, oci::Bundle& b, const CreateOptions& co, bool keep, bool verbose, bool quiet,
                   const PrepareLaunch& prepare);

}  // namespace

int run_rootfs(LaunchPlan plan, bool verbose, bool quiet, const PrepareLaunch& prepare) {
    RunExtras& x = run_extras();
    check_globals();  // check_docker_extras ran in rootfs_run_is_a_container
    refuse_runc_only(x.create);
    // docker names a container it was not given a name for: hardrun's names say what made them
    const std::string id = !x.name.empty() ? x.name : "hardrun-" + std::to_string(::getpid());
    state::validate_id(id);
    CreateOptions co = x.create;
    if (x.detach) {
        co.output_log = true;
        if (!quiet)
            for (const auto& w : plan.warnings) log::warning(w);
        create_container(id, co, std::move(plan));
        start_container(id);
        std::cout << id << "\n";  // like docker run -d: what to pass to kill, ps, delete
        return 0;
    }
    console::refuse_unsafe_stdio();
    state::Store st = store();
    if (st.exists(id)) throw Error("run", "container id '" + id + "'", "is already in use");
    oci::Bundle b = rootfs_container(std::move(plan), co);
    return run_foreground(id, b, co, x.keep, verbose, quiet, prepare);
}

bool rootfs_run_wants_tty() { return run_extras().tty; }

bool rootfs_run_is_a_container() {
    const RunExtras& x = run_extras();
    check_docker_extras(x);
    return !x.name.empty() || x.detach || x.keep || !x.create.pid_file.empty() || x.create.preserve_fds != 0 ||
           !x.create.console_socket.empty() || x.create.no_new_keyring;
}

int run_bundle(const RunFlags& flags, bool verbose, bool quiet, const PrepareLaunch& prepare) {
    RunExtras& x = run_extras();
    check_globals();
    refuse_plan_flags(flags);
    refuse_runc_only(x.create);
    check_docker_extras(x);
    if (x.tty)
        throw UsageError("--tty", "with --bundle, config.json's process.terminal asks for a pty, and --console-socket names "
                                  "who holds its master (runc's protocol); -t is for --rootfs");
    if (flags.command.size() > 1)
        throw UsageError("--bundle", "with a bundle the only argument is the container id; the command comes from config.json "
                                     "process.args");
    if (!x.name.empty() && !flags.command.empty() && flags.command[0] != x.name)
        throw UsageError("--name", "names the container '" + x.name + "' and the argument '" + flags.command[0] + "': give one");
    const std::string id = !x.name.empty() ? x.name : flags.command.empty() ? "hardrun-run-" + std::to_string(::getpid()) : flags.command[0];
    state::validate_id(id);
    CreateOptions co = x.create;
    co.bundle = flags.bundle;
    if (x.detach) {
        pid_t pid = create_container(id, co);
        start_container(id);
        (void)pid;
        return 0;
    }
    state::Store st = store();
    if (st.exists(id)) throw Error("run", "container id '" + id + "'", "is already in use");
    oci::Bundle b = load_for(co, id);
    return run_foreground(id, b, co, x.keep, verbose, quiet, prepare);
}

namespace {
int run_foreground(const std::string& id, oci::Bundle& b, const CreateOptions& co, bool keep, bool verbose, bool quiet,
                   const PrepareLaunch& prepare) {
    state::Store st = store();
    if (!quiet)
        for (const auto& w : b.plan.warnings) log::warning(w);
    if (verbose) print_plan(b.plan);

    state::Store::Lock lock = st.create(id);
    state::Record rec = creating_record(id, b);
    rec.foreground = true;
    st.write(rec);
    lock.release();

    LaunchOptions opt;
    opt.console_socket = co.console_socket;
    opt.hooks.on_clone = [&](pid_t child) { creation_hooks(rec, b.plan.hooks, child); };
    opt.hooks.start_hook_state = [&](pid_t child) {  // the container runs its startContainer hooks itself
        state::Record r = rec;
        r.process.pid = child;
        return state_text(r, "created");
    };
    opt.hooks.on_exec = [&](pid_t child) {
        try {
            state::Store::Lock l = st.lock(id);
            rec.process = state::identify(child);
            rec.status = "running";
            rec.creator = {};
            st.write(rec);
        } catch (const Error& e) {
            log::warning(e.what());
        }
        write_pid_file(co.pid_file, child);
        oci::run_hooks_warn(b.plan.hooks.poststart, "poststart", state_text(rec, "running"));
    };
    Outcome out;
    try {
        if (prepare) prepare(b.plan, opt);  // systemd integration (cmd_run.cpp)
        out = launch(b.plan, opt);
    } catch (...) {
        if (st.exists(id)) st.remove(id);
        throw;
    }
    if (!keep && st.exists(id)) {
        try {
            state::Store::Lock l = st.lock(id);
            st.remove(id);
        } catch (const Error&) {
        }
    }
    oci::run_hooks_warn(b.plan.hooks.poststop, "poststop", state_text(rec, "stopped"));
    std::cout.flush();
    return report_outcome(out, b.plan);
}
}  // namespace

void register_globals(CLI::App& app) {
    Globals& g = globals();
    app.add_option("--root", g.root, "OCI runtime: directory of the container state (default /run/hardrun; not root: $XDG_RUNTIME_DIR/hardrun)");
    app.add_option("--log", g.log_file, "OCI runtime: also append errors to this file");
    app.add_option("--log-format", g.log_format, "OCI runtime: text (default) or json, for --log")
        ->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--systemd-cgroup", g.systemd_cgroup, "OCI runtime: the systemd cgroup driver (linux.cgroupsPath slice:prefix:name; a transient scope with Delegate=yes)");
    app.add_flag("--debug", g.debug, "OCI runtime: verbose messages");
    app.add_option("--rootless", g.rootless, "OCI runtime: auto (default), true or false; hardrun decides by its uid")
        ->check(CLI::IsMember({"auto", "true", "false"}));
}

void register_oci(CLI::App& app) {

    // spec
    if (wanted("spec")) {
        auto o = std::make_shared<std::pair<std::string, bool>>(".", false);
        CLI::App* sub = app.add_subcommand("spec", "Write a hardened OCI config.json (read-only root, uid 10001, no capabilities, seccomp)");
        sub->add_option("-b,--bundle", o->first, "Bundle directory to write config.json into (default: .)");
        sub->add_flag("--rootless", o->second, "A config for an unprivileged user (user namespace mapping uid 10001 to you)");
        sub->callback(guarded([o] {
            const std::string path = o->first + "/config.json";
            json cfg = oci::spec(o->second, ::geteuid(), ::getegid(), oci::default_seccomp_object());
            files::write_atomic(path, cfg.dump(4) + "\n", "spec", 0644, files::Existing::Refuse);
        }));
    }
    // features
    if (wanted("features")) {
        CLI::App* sub = app.add_subcommand("features", "Print the OCI features document (what this build and host support)");
        sub->callback(guarded([] { std::cout << oci::features().dump(4) << "\n"; }));
    }
    // create
    if (wanted("create")) {
        auto o = std::make_shared<CreateOptions>();
        auto id = std::make_shared<std::string>();
        CLI::App* sub = app.add_subcommand("create", "Create a container from an OCI bundle; it waits for `start` before exec");
        sub->add_option("-b,--bundle", o->bundle, "Bundle directory (default: .)");
        sub->add_option("--console-socket", o->console_socket, "Unix socket to send the pty master to (process.terminal)");
        sub->add_option("--pid-file", o->pid_file, "Write the container process's pid here");
        sub->add_flag("--no-pivot", o->no_pivot, "Refused: hardrun always uses pivot_root");
        sub->add_flag("--no-new-keyring", o->no_new_keyring, "Share the invoker's session keyring instead of a new one (logged)");
        sub->add_option("--preserve-fds", o->preserve_fds, "Pass fds 3..3+N-1 to the container");
        sub->add_option("id", *id, "Container id")->required();
        sub->callback(guarded([o, id] { create_container(*id, *o); }));
    }
    // start
    if (wanted("start")) {
        auto id = std::make_shared<std::string>();
        CLI::App* sub = app.add_subcommand("start", "Start a created container (runs its process)");
        sub->add_option("id", *id, "Container id")->required();
        sub->callback(guarded([id] { start_container(*id); }));
    }
    // logs: what a container of run -d --rootfs wrote (its stdout and stderr)
    if (wanted("logs")) {
        auto id = std::make_shared<std::string>();
        CLI::App* sub = app.add_subcommand("logs", "Print what a container started with run -d --rootfs wrote to stdout and stderr");
        sub->add_option("id", *id, "Container id")->required();
        sub->callback(guarded([id] {
            state::Store st = store();
            state::Store::Lock lock = st.lock(*id, false);
            (void)st.read(*id);
            std::ifstream in(st.dir(*id) + "/output.log");
            if (!in) throw Error("logs", "container '" + *id + "'", "has no output log (only run -d --rootfs keeps one; a bundle's "
                                                                     "container writes to the stdio its engine gave it)");
            std::cout << in.rdbuf();
            std::cout.flush();
        }));
    }
    // state
    if (wanted("state")) {
        auto id = std::make_shared<std::string>();
        CLI::App* sub = app.add_subcommand("state", "Print a container's OCI state");
        sub->add_option("id", *id, "Container id")->required();
        sub->callback(guarded([id] {
            state::Store st = store();
            state::Store::Lock lock = st.lock(*id, false);
            state::Record r = st.read(*id);
            const std::string status = st.live_status(r);
            json j = parse_json(state_text(r, status), "state", "container '" + r.id + "'");
            j["rootfs"] = r.rootfs;
            j["created"] = r.created;
            j["owner"] = r.owner == 0 ? "root" : std::to_string(r.owner);
            std::cout << j.dump(2) << "\n";
        }));
    }
    // kill
    if (wanted("kill")) {
        auto id = std::make_shared<std::string>();
        auto sig = std::make_shared<std::string>("TERM");
        auto all = std::make_shared<bool>(false);
        CLI::App* sub = app.add_subcommand("kill", "Send a signal (default TERM) to a container's process");
        sub->add_flag("-a,--all", *all, "Signal every process of the container");
        sub->add_option("id", *id, "Container id")->required();
        sub->add_option("signal", *sig, "Signal name or number (default TERM)");
        sub->callback(guarded([id, sig, all] {
            const int signo = oci::parse_signal(*sig);
            state::Store st = store();
            state::Store::Lock lock = st.lock(*id);
            state::Record r = st.read(*id);
            const std::string status = st.live_status(r);
            // runc's words: containerd's shim recognises an exited container only by "container not running"
            if (!state::has_process(status))
                throw Error("kill", "container '" + *id + "'", "container not running (it is " + status + ")");
            if (*all)
                for (pid_t p : oci::container_pids(r.process.pid, r.cgroup_path))
                    if (p != r.process.pid) ::kill(p, signo);
            if (!oci::send_signal(r.process, signo))
                throw Error("kill", "container '" + *id + "'", "container not running (its process is gone)");
        }));
    }
    // delete
    if (wanted("delete")) {
        auto id = std::make_shared<std::string>();
        auto force = std::make_shared<bool>(false);
        CLI::App* sub = app.add_subcommand("delete", "Delete a container (--force: also a running one)");
        sub->add_flag("-f,--force", *force, "Kill the container if it is still running");
        sub->add_option("id", *id, "Container id")->required();
        sub->callback(guarded([id, force] { delete_container(*id, *force); }));
    }
    // list
    if (wanted("list")) {
        auto format = std::make_shared<std::string>("table");
        auto quiet = std::make_shared<bool>(false);
        CLI::App* sub = app.add_subcommand("list", "List the containers under --root");
        sub->add_option("-f,--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
        sub->add_flag("-q,--quiet", *quiet, "Only the ids");
        sub->callback(guarded([format, quiet] {
            state::Store st = store();
            json arr = json::array();
            std::vector<std::vector<std::string>> rows;
            for (const auto& id : st.list()) {
                state::Record r;
                std::string status;
                try {
                    state::Store::Lock lock = st.lock(id, false);
                    r = st.read(id);
                    status = st.live_status(r);
                } catch (const Error&) {
                    continue;  // deleted meanwhile
                }
                json j = parse_json(state_text(r, status), "state", "container '" + r.id + "'");
                j["rootfs"] = r.rootfs;
                j["created"] = r.created;
                j["owner"] = r.owner == 0 ? "root" : std::to_string(r.owner);
                arr.push_back(j);
                rows.push_back({id, std::to_string(status == "stopped" ? 0 : r.process.pid), status, r.bundle, r.created,
                                j["owner"].get<std::string>()});
            }
            if (*quiet) {
                for (const auto& row : rows) std::cout << row[0] << "\n";
            } else if (*format == "json") {
                std::cout << arr.dump() << "\n";
            } else {
                std::vector<std::string> head = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
                std::vector<std::size_t> w(head.size());
                for (std::size_t i = 0; i < head.size(); ++i) {
                    w[i] = head[i].size();
                    for (const auto& row : rows) w[i] = std::max(w[i], row[i].size());
                }
                auto print = [&](const std::vector<std::string>& row) {
                    for (std::size_t i = 0; i < row.size(); ++i)
                        std::cout << row[i] << (i + 1 < row.size() ? std::string(w[i] - row[i].size() + 3, ' ') : "\n");
                };
                print(head);
                for (const auto& row : rows) print(row);
            }
        }));
    }
    // ps
    if (wanted("ps")) {
        auto id = std::make_shared<std::string>();
        auto format = std::make_shared<std::string>("table");
        auto args = std::make_shared<std::vector<std::string>>();
        CLI::App* sub = app.add_subcommand("ps", "List the processes of a container (table: ps -ef lines; json: pids)");
        sub->add_option("-f,--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
        sub->add_option("id", *id, "Container id")->required();
        sub->add_option("ps-args", *args, "Options for ps(1) (default -ef)");
        sub->callback(guarded([id, format, args] {
            state::Store st = store();
            state::Store::Lock lock = st.lock(*id, false);
            state::Record r = st.read(*id);
            const std::string status = st.live_status(r);
            std::vector<pid_t> pids;
            if (state::has_process(status)) pids = oci::container_pids(r.process.pid, r.cgroup_path);
            if (*format == "json") {
                std::cout << json(pids).dump() << "\n";
                return;
            }
            print_ps_table(pids, *args);
        }));
    }
    register_exec(app);
    register_pause(app);
    register_update(app);
    register_events(app);
    // engine verbs hardrun does not implement: refused with the reason, never half done
    for (const auto& [verb, why] : std::vector<std::pair<std::string, std::string>>{
             {"checkpoint", "checkpoint/restore (CRIU) is not implemented by hardrun"},
             {"restore", "checkpoint/restore (CRIU) is not implemented by hardrun"}}) {
        if (!wanted(verb)) continue;
        CLI::App* sub = app.add_subcommand(verb, "Refused: " + why);
        auto rest = std::make_shared<std::vector<std::string>>();
        sub->add_option("args", *rest, "ignored");
        sub->prefix_command();  // whatever follows is not parsed
        sub->group("");         // hidden from --help
        std::string v = verb, w = why;
        sub->callback(guarded([v, w, rest] { throw Error(v, "", "is not supported: " + w); }));
    }

    // runc's `run` options, on hardrun's own run command (they apply with --bundle)
    if (CLI::App* run = registered(app, "run")) {
        RunExtras& x = run_extras();
        run->add_option("--console-socket", x.create.console_socket, "With --bundle: unix socket for the pty master (process.terminal)");
        run->add_option("--pid-file", x.create.pid_file, "Write the container process's pid here");
        run->add_flag("-d,--detach", x.detach, "Create and start, then return (like runc run -d; with --rootfs it prints the name, and the output goes to hardrun logs NAME)");
        run->add_option("--preserve-fds", x.create.preserve_fds, "Pass fds 3..3+N-1 to the container");
        run->add_flag("--no-pivot", x.create.no_pivot, "Refused: hardrun always uses pivot_root");
        run->add_flag("--keep", x.keep, "Keep the container's state after it exits (hardrun delete NAME removes it)");
        run->add_flag("--no-subreaper", x.no_subreaper, "Accepted: hardrun itself waits for the container");
        run->add_flag("--no-new-keyring", x.create.no_new_keyring, "Share the invoker's session keyring instead of a new one (logged)");
        run->add_option("--name", x.name, "The container's name (its id under --root): hardrun ps, kill, state, delete NAME");
        run->add_flag("--rm", x.rm, "Remove the container's state when it exits (the default; refused with -d and --keep)");
        run->add_flag("-i,--interactive", x.interactive, "Keep stdin attached (always: the workload's stdin is hardrun's)");
        run->add_flag("-t,--tty", x.tty, "Give the workload a pty of its own (in its devpts), relayed to your terminal in raw mode, like docker run -t");
    }
}

}  // namespace hardrun::commands
