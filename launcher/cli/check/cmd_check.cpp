// hardrun check: run the workload once under the requested hardening (the plan and launch of `hardrun run`) and
// report what each layer did, what it refused and how to fix it; --probes runs the escape probes.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <fstream>
#include <iostream>

#include "hardrun/cli/check/check.hpp"
#include "hardrun/cli/check/check_trace.hpp"
#include "hardrun/cli/commands.hpp"
#include "hardrun/support/data_file.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/cli/check/evidence.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/launch/launch.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/cli/run_front.hpp"
#include "hardrun/layers/seccomp/seccomp.hpp"
#include "hardrun/launch/seccomp_notify.hpp"

namespace hardrun::commands {

namespace {

// Where the probe binary appears inside the sandbox: a read-only bind mount onto hardrun's own /dev tmpfs, so
// the image is never written and the probe needs nothing from it.
constexpr const char* kProbeInSandbox = "/dev/.hardrun-probe";
constexpr std::uint64_t kTestMemoryLimit = 64ULL << 20;
constexpr std::int64_t kTestPidsLimit = 64;

struct CheckCommand {
    RunFlags flags;
    std::string timeout;   // a server: stop it with SIGTERM after this long (--timeout)
    std::string exercise;  // a client command run on the host while it serves; then SIGTERM (--exercise)
    bool probes = false;
    std::vector<std::string> only;
    bool diagnose = false;
    std::string format = "human";
    std::string junit, output;
    bool quiet = false;
};

// --timeout 30, 30s, 2m, 500ms -> seconds
double duration(const std::string& option, const std::string& v) {
    std::size_t used = 0;
    double n = -1;
    try {
        n = std::stod(v, &used);
    } catch (...) {
    }
    const std::string unit = v.substr(used);
    const double scale = unit.empty() || unit == "s" ? 1 : unit == "ms" ? 0.001 : unit == "m" ? 60 : unit == "h" ? 3600 : -1;
    if (n <= 0 || scale < 0 || !std::isfinite(n)) throw UsageError(option, "'" + v + "' is not a duration; use e.g. 30s, 2m or 500ms");
    return n * scale;
}

// Serving a server for a while (--timeout, --exercise): once the workload was exec'ed, a thread runs the client
// command on the host (as hardrun's invoker) and/or waits out the timeout, then stops the workload the way an
// init system does: SIGTERM, and SIGKILL after a grace period. The workload is signalled through a pidfd, so a
// reused pid is never hit.
class Server {
public:
    static constexpr double kGraceSeconds = 10;
    Server(double timeout, std::string exercise) : timeout_(timeout), exercise_(std::move(exercise)) {}
    ~Server() { join(); }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    bool active() const { return timeout_ > 0 || !exercise_.empty(); }
    void started(pid_t workload) {
        pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, workload, 0)));
        thread_ = std::thread([this] { serve(); });
    }
    void exited() {
        std::lock_guard<std::mutex> g(m_);
        exited_ = true;
        cv_.notify_all();
    }
    void join() {
        if (thread_.joinable()) {
            exited();
            thread_.join();
        }
    }
    bool stopped() const { return stopped_; }
    bool killed() const { return killed_; }
    std::optional<int> exercise_status() const { return exercise_status_; }
    double served_seconds() const { return served_; }

private:
    void signal(int sig) {
        if (pidfd_) (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
    }
    void serve() {
        using clock = std::chrono::steady_clock;
        const auto start = clock::now();
        const auto deadline = timeout_ > 0 ? start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout_))
                                           : clock::time_point::max();
        if (!exercise_.empty()) {
            const pid_t pid = ::fork();
            if (pid == 0) {
                ::execl("/bin/sh", "sh", "-c", exercise_.c_str(), static_cast<char*>(nullptr));
                ::_exit(127);
            }
            int status = 0;
            bool done = pid < 0;
            while (!done) {
                const pid_t r = ::waitpid(pid, &status, WNOHANG);
                if (r == pid) break;
                std::unique_lock<std::mutex> l(m_);
                if (clock::now() >= deadline || exited_) {  // the server is gone or the time is up: so is the client
                    l.unlock();
                    ::kill(pid, SIGTERM);
                    ::waitpid(pid, &status, 0);
                    break;
                }
                cv_.wait_for(l, std::chrono::milliseconds(50));
            }
            if (pid > 0) exercise_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            else exercise_status_ = 127;
        } else {
            std::unique_lock<std::mutex> l(m_);
            cv_.wait_until(l, deadline, [this] { return exited_; });
        }
        std::unique_lock<std::mutex> l(m_);
        served_ = std::chrono::duration<double>(clock::now() - start).count();
        if (exited_) return;
        stopped_ = true;
        l.unlock();
        signal(SIGTERM);
        l.lock();
        if (cv_.wait_for(l, std::chrono::duration<double>(kGraceSeconds), [this] { return exited_; })) return;
        killed_ = true;
        l.unlock();
        signal(SIGKILL);
    }

    double timeout_;
    std::string exercise_;
    UniqueFd pidfd_;
    std::thread thread_;
    std::mutex m_;
    std::condition_variable cv_;
    bool exited_ = false;
    std::atomic<bool> stopped_{false}, killed_{false};
    std::optional<int> exercise_status_;
    double served_ = 0;
};

// The shipped probe binary: $HARDRUN_PROBE, the build tree (next to hardrun), the install path. Refused (fail
// closed) unless it is a regular, executable file nobody else can replace.
std::string probe_binary() {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("HARDRUN_PROBE"); env && *env) candidates.push_back(env);
    else {
        const std::string dir = exe_dir();
        if (!dir.empty()) candidates.push_back(dir + "/probes/hardrun-probe");
#ifdef HARDRUN_PROBE_INSTALL_PATH
        candidates.push_back(HARDRUN_PROBE_INSTALL_PATH);
#endif
        if (!dir.empty()) candidates.push_back(dir + "/../libexec/hardrun/hardrun-probe");
    }
    return shipped_binary(candidates, "check", "probe binary", "hardrun-probe", "set HARDRUN_PROBE or reinstall hardrun");
}

// Temporarily points fd 0 and 1 somewhere else (restored by the destructor).
class StdioSwap {
public:
    StdioSwap(int new_stdin, int new_stdout) {
        if (new_stdin >= 0) swap(0, new_stdin);
        if (new_stdout >= 0) swap(1, new_stdout);
    }
    ~StdioSwap() {
        std::cout.flush();
        for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
            ::dup2(it->second, it->first);
            ::close(it->second);
        }
    }
    StdioSwap(const StdioSwap&) = delete;
    StdioSwap& operator=(const StdioSwap&) = delete;

private:
    void swap(int fd, int with) {
        std::cout.flush();
        int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
        if (copy < 0) throw_errno("check", "saving fd " + std::to_string(fd), errno);
        saved_.emplace_back(fd, copy);
        if (::dup2(with, fd) < 0) throw_errno("check", "redirecting fd " + std::to_string(fd), errno);
    }
    std::vector<std::pair<int, int>> saved_;
};

std::string read_all(int fd) {
    std::string out;
    char buf[8192];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        off += n;
    }
    return out;
}

std::vector<sock_filter> program_of(const seccomp::Prepared& p) { return p.enforce.empty() ? p.program : p.enforce; }

// The plan a probe runs under: the user's plan, the probe binary bound read-only onto /dev, and its arguments.
LaunchPlan probe_plan(const LaunchPlan& plan, const std::string& binary) {
    bool dev_is_ours = false;
    for (const auto& m : plan.mounts)
        if (m.destination == "/dev") dev_is_ours = m.kind == MountKind::Dev || m.kind == MountKind::Tmpfs;
    if (!dev_is_ours)
        throw Error("check", "placing the probe binary", "the plan has no /dev tmpfs of hardrun's own to bind it onto "
                                                         "(the probes never write to the image)");
    LaunchPlan p = plan;
    Mount m;
    m.kind = MountKind::Bind;
    m.source = binary;
    m.destination = kProbeInSandbox;
    m.readonly = true;
    m.nosuid = true;
    m.nodev = true;
    m.noexec = false;
    m.recursive = false;
    p.mounts.push_back(m);
    order_mounts(p.mounts);
    return p;
}

struct ProbeRun {
    std::string stdout_text;
    check::OutcomeView outcome;
    std::optional<std::string> launch_error;
    std::optional<evidence::Evidence> evidence;
};

ProbeRun run_probe(const LaunchPlan& plan, const std::shared_ptr<const seccomp::Prepared>& prepared, bool want_evidence,
                   const std::vector<sock_filter>& program) {
    ProbeRun r;
    int out_fd = ::memfd_create("hardrun-probe-output", MFD_CLOEXEC);
    if (out_fd < 0) throw_errno("check", "probe output", errno);
    UniqueFd out(out_fd);
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    LaunchOptions opts;
    opts.seccomp_prepared = prepared;
    std::unique_ptr<check::Tracer> tracer;
    if (want_evidence) {
        tracer = std::make_unique<check::Tracer>(false, program);
        opts.hooks.on_clone = [&](pid_t child) { tracer->attach(child); };
    }
    try {
        StdioSwap swap(null.get(), out.get());
        Outcome o = launch(plan, opts);
        r.outcome = check::view_of(o);
    } catch (const Error& e) {
        r.launch_error = e.what();
        r.outcome.error = e.what();
        r.outcome.error_step = e.step();
    }
    if (tracer) {
        auto t = tracer->finish();
        r.evidence = t.evidence;
    }
    r.stdout_text = read_all(out.get());
    return r;
}

void run_probes(const CheckCommand& cmd, const LaunchPlan& plan, check::Report& rep,
                std::optional<evidence::Evidence>* first_evidence) {
    const std::string binary = probe_binary();
    const LaunchPlan base = probe_plan(plan, binary);
    auto prepared = std::make_shared<const seccomp::Prepared>(seccomp::prepare(base, seccomp::Mode::Enforce));
    const auto program = program_of(*prepared);
    bool first = true;
    for (const auto& info : check::probe_catalog()) {
        if (!cmd.only.empty() && std::find(cmd.only.begin(), cmd.only.end(), info.name) == cmd.only.end()) continue;
        LaunchPlan p = base;
        p.args = {kProbeInSandbox, info.name};
        std::string limit_note;
        std::string missing_limit;  // the plan sets none: a finding whatever the probe saw under a test limit
        if (info.name == "memory-limit") {
            if (!p.resources.memory_max) {
                missing_limit = "the plan sets no memory limit, so nothing stops the workload from exhausting the host's memory (add --memory)";
                p.resources.memory_max = kTestMemoryLimit;
                p.resources.memory_swap_max = 0;
                limit_note = "run with a test limit of " + parse::human_size(kTestMemoryLimit) + ": the plan sets none (add --memory)";
            }
            p.args.push_back(std::to_string(*p.resources.memory_max));
        } else if (info.name == "pids-limit" || info.name == "fork-bomb") {
            if (!p.resources.pids_max || *p.resources.pids_max < 0) {
                missing_limit = "the plan sets no pids limit, so nothing stops a fork bomb from filling the host's process table (add --pids-limit)";
                p.resources.pids_max = kTestPidsLimit;
                limit_note = "run with a test limit of " + std::to_string(kTestPidsLimit) + " processes: the plan sets none (add --pids-limit)";
            }
            p.args.push_back(std::to_string(*p.resources.pids_max));
        }
        // (a test limit is no defense of this plan's)
        const auto defenses = check::probe_defenses(info.name, missing_limit.empty() ? p : base, program);
        const std::string expected =
            check::expected_line(info, defenses, check::expected_refusal(info.name, missing_limit.empty() ? p : base, program));
        ProbeRun run = run_probe(p, prepared, first && first_evidence, program);
        if (first && first_evidence) *first_evidence = run.evidence;
        first = false;
        check::ProbeResult res;
        const bool limit_probe = info.name == "memory-limit" || info.name == "pids-limit" || info.name == "fork-bomb";
        if (run.launch_error && limit_probe && run.outcome.error_step == "cgroups") {
            // no cgroup v2 controller here: the launch fails closed, so there is nothing to test on this host
            res = check::probe_result(info, expected, "", check::OutcomeView{}, "");
            res.verdict = "not-applicable";
            res.detail = "cannot set the limit on this host: " + *run.launch_error;
            res.passed = true;
        } else {
            res = check::probe_result(info, expected, run.stdout_text, run.outcome, limit_note);
        }
        if (!missing_limit.empty()) {
            // the mechanism may work (the test limit stopped the probe), but this plan leaves the door open
            res.detail = missing_limit + (res.detail.empty() ? "" : " [under a test limit: " + res.verdict + ", " + res.detail + "]");
            res.verdict = "not-blocked";
            res.passed = false;
        }
        rep.probes.push_back(res);
        if (!cmd.quiet && cmd.format == "human" && cmd.output.empty() && ::isatty(2))
            std::cerr << "\rprobes: " << rep.probes.size() << " run" << std::flush;
    }
    if (!cmd.quiet && cmd.format == "human" && cmd.output.empty() && ::isatty(2)) std::cerr << "\r\033[K" << std::flush;
}

void write_text(const std::string& path, const std::string& text, const std::string& what) {
    if (path.empty() || path == "-") {
        std::cout << text << std::flush;
        return;
    }
    files::write_atomic(path, text, what);
}

}  // namespace

void register_check(CLI::App& app) {
    if (!wanted("check")) return;
    auto cmd = std::make_shared<CheckCommand>();
    CLI::App* sub = app.add_subcommand(
        "check", "Run a workload once under the hardening and report each layer, what it refused and how to fix it");
    add_run_flags(*sub, cmd->flags);
    sub->add_option("--timeout", cmd->timeout,
                    "A server: let it serve this long (30s, 2m), then stop it with SIGTERM (SIGKILL 10 s later) and report")
        ->allow_extra_args(false);
    sub->add_option("--exercise", cmd->exercise,
                    "A server: run this shell command on the host while it serves (a client that retries until the "
                    "service answers), then stop it with SIGTERM; its exit status is part of the verdict")
        ->allow_extra_args(false);
    sub->add_flag("--probes", cmd->probes, "Run the escape probes inside the sandbox (the command is then optional)");
    sub->add_option("--probe", cmd->only, "Run only this probe (repeatable; implies --probes)")->allow_extra_args(false);
    sub->add_flag("--diagnose", cmd->diagnose,
                  "Trace the workload's syscalls (ptrace) and explain those that fail with EROFS, EACCES or EPERM");
    sub->add_option("--format", cmd->format, "human (default) or json")->check(CLI::IsMember({"human", "json"}));
    sub->add_option("--junit", cmd->junit, "Also write a JUnit XML report here (one test case per layer and probe)");
    sub->add_option("-o,--output", cmd->output, "Write the report to FILE instead of stdout");
    sub->add_flag("-q,--quiet", cmd->quiet, "Do not print hardrun's warnings on stderr (they stay in the report)");
    sub->callback([cmd] {
        if (!cmd->only.empty()) {
            cmd->probes = true;
            for (const auto& n : cmd->only)
                if (!check::find_probe(n)) throw UsageError("--probe", "'" + n + "' is not a probe; `hardrun check --help` and docs/check.md list them");
        }
        const bool run_workload = !cmd->flags.command.empty() || !cmd->flags.bundle.empty();
        if (!run_workload && !cmd->probes)
            throw UsageError("command", "no command given; use hardrun check [FLAGS] --rootfs DIR -- CMD [ARGS...], or --probes");
        RunFlags flags = cmd->flags;
        if (flags.command.empty()) flags.command = {kProbeInSandbox};  // --probes alone: the plan needs a command
        LaunchPlan plan = plan_from_flags_or_bundle(flags);
        if (!cmd->quiet) print_warnings(plan);

        check::Report rep;
        rep.diagnose = cmd->diagnose;
        rep.warnings = plan.warnings;
        std::optional<evidence::Evidence> ev;
        if (run_workload) {
            rep.command = plan.args;
            rep.ran_workload = true;
            LaunchOptions opts;
            Server server(cmd->timeout.empty() ? 0 : duration("--timeout", cmd->timeout), cmd->exercise);
            std::unique_ptr<seccomp::Supervisor> sup;
            std::unique_ptr<check::Tracer> tracer;
            std::optional<evidence::Evidence> fallback;
            Outcome out;
            try {
                sup = std::make_unique<seccomp::Supervisor>(plan, seccomp::Mode::Report);
                sup->attach(opts);
                tracer = std::make_unique<check::Tracer>(cmd->diagnose, program_of(sup->prepared()));
                opts.hooks.on_clone = [&](pid_t child) { tracer->attach(child); };
                opts.hooks.on_exec = [&](pid_t child) {
                    fallback = evidence::collect(child);
                    if (server.active()) server.started(child);
                };
                opts.hooks.on_exit = [&](const Outcome&) { server.exited(); };
                // JSON on stdout: keep the workload's own output out of it
                const bool json_stdout = cmd->format == "json" && (cmd->output.empty() || cmd->output == "-");
                StdioSwap swap(-1, json_stdout ? 2 : -1);
                out = launch(plan, opts);
            } catch (const UsageError&) {
                throw;
            } catch (const Error& e) {
                // a layer asked for and impossible here: the launch failed closed, before the workload ran
                out = Outcome{};
                out.error = e.what();
                out.error_step = e.step().empty() ? "setup" : e.step();
                out.exit_code = e.exit_code();
            }
            server.join();
            if (sup) sup->stop();
            check::TraceResult tr = tracer ? tracer->finish() : check::TraceResult{};
            if (server.active()) {
                rep.serve = check::Serve{};
                rep.serve->stopped = server.stopped();
                rep.serve->killed = server.killed();
                rep.serve->seconds = server.served_seconds();
                rep.serve->exercise = cmd->exercise;
                rep.serve->exercise_status = server.exercise_status();
            }
            if (tr.evidence) {
                ev = tr.evidence;
            } else if (fallback) {
                ev = fallback;
                rep.notes.push_back("evidence read when the supervisor saw the execve, not at the execve itself (" +
                                    (tr.error.empty() ? std::string("the tracer saw no execve") : tr.error) + ")");
            } else {
                evidence::Evidence none;
                none.notes.push_back(out.error ? "the workload did not start" : "the workload's process could not be read");
                ev = none;
            }
            if (tr.truncated) rep.notes.push_back("more than 2000 distinct failing syscalls: the rest were not kept");
            rep.outcome = check::view_of(out);
            rep.findings = check::advise(plan, tr.failures, sup ? sup->denials() : std::vector<seccomp::Denial>{}, *rep.outcome);
            if (cmd->diagnose) rep.notes.push_back("--diagnose traced " + std::to_string(tr.syscalls) + " syscalls");
        }
        if (cmd->probes) run_probes(*cmd, plan, rep, run_workload ? nullptr : &ev);
        if (ev) {
            rep.layers = check::assess(plan, *ev);
            for (const auto& n : ev->notes) rep.notes.push_back("evidence: " + n);
        } else {
            rep.notes.push_back("no evidence could be read from the workload's process");
        }
        check::classify(rep);

        if (!cmd->junit.empty()) files::write_atomic(cmd->junit, check::render_junit(rep), "the JUnit report");
        if (cmd->format == "json") write_text(cmd->output, check::render_json(rep).dump(2) + "\n", "the report");
        else {
            const bool color = (cmd->output.empty() || cmd->output == "-") && ::isatty(1) && !std::getenv("NO_COLOR");
            write_text(cmd->output, check::render_human(rep, color), "the report");
        }
        throw Exit{rep.exit_code};
    });
}

}  // namespace hardrun::commands
