// hardrun: a setuid-free hardened launcher for one workload.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string_view>

#include "hardrun/cli/commands.hpp"
#include "hardrun/cli/oci/oci_verbs.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/log.hpp"

namespace {
// The whole command line, or (verb != "") only the top level and that subcommand: an invocation pays for the
// options of the one it runs (issue 17). An unknown verb gets the whole tree, so its error is CLI11's as ever.
std::unique_ptr<CLI::App> make_app(int argc, char** argv) {
    auto build = [] {
        auto app = std::make_unique<CLI::App>("hardrun: run one workload under every hardening layer this host supports", "hardrun");
        app->set_version_flag("--version", std::string("hardrun ") + HARDRUN_VERSION);
        app->require_subcommand(1);
        app->fallthrough();
        hardrun::commands::register_globals(*app);
        return app;
    };
    auto app = build();
    const std::string verb = hardrun::commands::named_subcommand(*app, argc, argv);
    // `hardrun --version` needs no subcommand at all (unless help is asked for too)
    bool version = false, help = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        version |= a == "--version";
        help |= a == "--help" || a == "-h" || a == "--help-all";
    }
    if (verb.empty() && version && !help) {
        hardrun::commands::set_only("--version");  // no subcommand has that name
        return app;
    }
    hardrun::commands::set_only(verb);
    hardrun::commands::register_all(*app);
    if (!verb.empty() && !hardrun::commands::registered(*app, verb)) {
        hardrun::commands::set_only("");
        app = build();
        hardrun::commands::register_all(*app);
    }
    return app;
}
}  // namespace

int main(int argc, char** argv) {
    std::unique_ptr<CLI::App> owned;
    try {
        owned = make_app(argc, argv);
    } catch (const std::exception& e) {
        hardrun::log::error(e.what());
        return hardrun::kExitHardrunError;
    }
    CLI::App& app = *owned;
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
