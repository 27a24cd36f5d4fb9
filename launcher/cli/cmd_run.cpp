// hardrun run: parse -> plan -> launch.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "hardrun/cli/commands.hpp"
#include "hardrun/layers/console.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/launch/launch.hpp"
#include "hardrun/launch/terminal.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/cli/oci/oci_cli.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/cli/run_front.hpp"
#include "hardrun/launch/seccomp_notify.hpp"
#include "hardrun/launch/systemd.hpp"

namespace hardrun::commands {

namespace {
struct RunCommand {
    RunFlags flags;
    bool verbose = false;
    bool quiet = false;
    std::string sd_notify = "workload";
    std::string report;  // --report FILE: the syscalls the seccomp filter refused (seccomp_notify.hpp)
};
}  // namespace

LaunchPlan plan_from_flags_or_bundle(const RunFlags& flags) {
    if (!flags.bundle.empty()) return plan_from_bundle(flags);
    return build_plan(flags, ::geteuid());
}

void print_plan(const LaunchPlan& plan) {
    for (const auto& line : describe(plan)) log::info("applying " + line);
}

void print_warnings(const LaunchPlan& plan) {
    for (const auto& w : plan.warnings) log::warning(w);
}

namespace {
// A run under the OCI lifecycle (run_bundle, run_rootfs): systemd's NOTIFY_SOCKET and LISTEN_FDS are hooked into
// its launch, and the invoker's terminal settings are put back after it (the workload may change them).
int as_container(systemd::NotifyMode sd_mode, const std::function<int(const PrepareLaunch&)>& run) {
    std::unique_ptr<systemd::Integration> sd;
    console::TerminalGuard terminal;
    return run([&](LaunchPlan& plan, LaunchOptions& options) {
        sd = systemd::Integration::prepare(plan, sd_mode, systemd::current_environment(), ::getpid());
        if (!sd) return;
        options.hooks.on_exec = [prev = options.hooks.on_exec, &sd](pid_t child) {
            if (prev) prev(child);
            sd->on_exec(child);
        };
    });
}
}  // namespace

int report_outcome(const Outcome& out, const LaunchPlan& plan) {
    if (out.error) {
        log::error(*out.error);
    } else if (out.oom_killed) {
        std::string limit = plan.resources.memory_max ? parse::human_size(*plan.resources.memory_max) : "?";
        log::error("workload killed by the OOM killer: memory limit " + limit + " reached; raise --memory");
    }
    if (out.cgroup && log::verbose()) log::info("cgroup: " + cgroups::summary(*out.cgroup));  // the run report
    return out.exit_code;
}

void register_run(CLI::App& app) {
    if (!wanted("run")) return;
    auto cmd = std::make_shared<RunCommand>();
    CLI::App* sub = app.add_subcommand("run", "Run a command under every hardening layer (docker-run style flags)");
    add_run_flags(*sub, cmd->flags);
    sub->add_flag("--verbose", cmd->verbose, "Print each layer as it is applied");
    sub->add_flag("-q,--quiet", cmd->quiet, "Do not print warnings");
    sub->add_option("--sd-notify", cmd->sd_notify,
                    "Under systemd (NOTIFY_SOCKET): workload (default: pass the socket in), hardrun (hardrun sends "
                    "READY=1 once the workload is exec'ed) or ignore")
        ->check(CLI::IsMember({"workload", "hardrun", "ignore"}));
    sub->add_option("--report", cmd->report,
                    "Write the syscalls the seccomp filter refused (name, number, arch, count, first arguments) to "
                    "FILE as JSON");
    sub->callback([cmd] {
        log::set_verbose(cmd->verbose);
        console::refuse_unsafe_stdio();  // a directory as fd 0-2 would be a way into the host's tree
        // --bundle: the OCI runtime's `run` (state under --root, hooks, --console-socket...; cmd_oci.cpp)
        const auto sd_mode = systemd::parse_notify_mode("--sd-notify", cmd->sd_notify);
        if (!cmd->flags.bundle.empty()) {
            if (!cmd->report.empty())
                throw UsageError("--report", "cannot be combined with --bundle (use `hardrun check --bundle`, or run "
                                             "the bundle's rootfs with --rootfs)");
            throw Exit{as_container(sd_mode, [&](const PrepareLaunch& prepare) {
                return run_bundle(cmd->flags, cmd->verbose, cmd->quiet, prepare);
            })};
        }
        LaunchPlan plan = plan_from_flags_or_bundle(cmd->flags);
        if (rootfs_run_is_a_container()) {  // --name, -d, --pid-file, --preserve-fds, --keep (cmd_oci.cpp)
            if (!plan.publish.empty())  // pasta is the foreground supervisor's child, ended with the workload
                throw UsageError("--publish", "cannot be combined with --name, -d, --pid-file, --preserve-fds or --keep yet "
                                              "(pasta is ended by hardrun's own supervisor); run in the foreground, under "
                                              "systemd for a service");
            if (!cmd->report.empty())
                throw UsageError("--report", "cannot be combined with --name, -d, --pid-file, --preserve-fds or --keep (use `hardrun check`)");
            throw Exit{as_container(sd_mode, [&](const PrepareLaunch& prepare) {
                return run_rootfs(std::move(plan), cmd->verbose, cmd->quiet, prepare);
            })};
        }
        // systemd: NOTIFY_SOCKET and socket-activation fds (LISTEN_FDS) from hardrun's environment
        auto sd = systemd::Integration::prepare(plan, sd_mode, systemd::current_environment(), ::getpid());
        if (!cmd->quiet) print_warnings(plan);
        if (cmd->verbose) print_plan(plan);
        LaunchOptions options;
        if (sd) options.hooks.on_exec = [&sd](pid_t child) { sd->on_exec(child); };
        std::unique_ptr<seccomp::Supervisor> report;
        if (!cmd->report.empty()) {
            report = std::make_unique<seccomp::Supervisor>(plan, seccomp::Mode::Report);
            report->attach(options);
        }
        Outcome out;
        {
            console::TerminalGuard guard;  // put back what the workload changes (stty -echo, raw mode)
            std::unique_ptr<terminal::Relay> tty;
            if (rootfs_run_wants_tty()) {  // -t: a pty of its own, relayed (terminal.hpp)
                tty = std::make_unique<terminal::Relay>();
                options.console_fd = tty->child_socket();
                options.hooks.on_signal = [&tty](int sig) { return tty->on_signal(sig); };
            }
            out = launch(plan, options);
            if (tty) tty->finish();
        }
        std::cout.flush();
        if (report) {
            report->stop();
            report->write_report(cmd->report, out);
        }
        throw Exit{report_outcome(out, plan)};
    });
}

}  // namespace hardrun::commands
