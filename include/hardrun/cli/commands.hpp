// Subcommands: each file cmd_<name>.cpp registers its own on the CLI11 app.
#pragma once
#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace hardrun::commands {

// Thrown by a command's callback to make hardrun exit with this code (e.g. the workload's status).
struct Exit {
    int code;
};

// Start-up (issue 17): main finds the subcommand an invocation names before it registers any, and each register_*
// builds only that one's CLI11 tree (building every subcommand's options was most of a launch's CLI cost).
// only("") (the default: --help, no subcommand, an unknown one) registers them all.
void set_only(std::string verb);
bool wanted(std::string_view verb);
// The subcommand `name` of `app` if it is registered, else nullptr (CLI11's get_subcommand throws).
CLI::App* registered(CLI::App& app, std::string_view name);
// The OCI runtime's global options (runc's: --root, --log, --log-format, --systemd-cgroup, --debug, --rootless).
void register_globals(CLI::App& app);
// The subcommand an argument vector names: the first argument that is not a global option (as registered on
// `app`) or its value; "" when there is none, or an option `app` does not know comes first.
std::string named_subcommand(const CLI::App& app, int argc, const char* const* argv);

void register_run(CLI::App& app);       // run (flags or --bundle)
void register_check(CLI::App& app);     // check: the test harness, probes
void register_lint(CLI::App& app);      // lint: policy gate
void register_seccomp(CLI::App& app);   // seccomp compile|show|record
void register_apparmor(CLI::App& app);  // apparmor load
void register_volume(CLI::App& app);    // volume ls|inspect|rm: the named volumes
void register_oci(CLI::App& app);       // spec, features, create, start, state, kill, delete, list, ps
// Every register_* above but register_globals, in the order main uses (each still filtered by wanted()).
void register_all(CLI::App& app);

}  // namespace hardrun::commands
