// hardrun: a setuid-free hardened launcher for one workload.
#include <CLI/CLI.hpp>
#include <iostream>

#include "hardrun/cli/commands.hpp"
#include "hardrun/cli/oci/oci_verbs.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/log.hpp"

int main(int argc, char** argv) {
    CLI::App app{"hardrun: run one workload under every hardening layer this host supports", "hardrun"};
    app.set_version_flag("--version", std::string("hardrun ") + HARDRUN_VERSION);
    app.require_subcommand(1);
    app.fallthrough();
    hardrun::commands::register_run(app);
    hardrun::commands::register_check(app);
    hardrun::commands::register_lint(app);
    hardrun::commands::register_seccomp(app);
    hardrun::commands::register_apparmor(app);
    hardrun::commands::register_oci(app);
    try {
        app.parse(argc, argv);
    } catch (const hardrun::commands::Exit& e) {
        return e.code;
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        const std::string msg = std::string("usage: ") + e.what() + " (see hardrun --help)";
        hardrun::log::error(msg);
        hardrun::commands::log_line("error", msg);  // an engine reads only --log (runc's protocol)
        return hardrun::kExitHardrunError;
    } catch (const hardrun::Error& e) {
        hardrun::log::error(e.what());
        return e.exit_code();
    } catch (const std::exception& e) {
        hardrun::log::error(e.what());
        return hardrun::kExitHardrunError;
    }
    return 0;
}
