// Subcommands: each file cmd_<name>.cpp registers its own on the CLI11 app.
#pragma once
#include <string>

namespace CLI {
class App;
}

namespace hardrun::commands {

// Thrown by a command's callback to make hardrun exit with this code (e.g. the workload's status).
struct Exit {
    int code;
};

void register_run(CLI::App& app);       // run (flags or --bundle)
void register_check(CLI::App& app);     // check: the test harness, probes
void register_lint(CLI::App& app);      // lint: policy gate
void register_seccomp(CLI::App& app);   // seccomp compile|show|record
void register_apparmor(CLI::App& app);  // apparmor load
void register_oci(CLI::App& app);       // spec, features, create, start, state, kill, delete, list, ps

}  // namespace hardrun::commands
