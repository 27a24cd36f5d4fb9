// Which subcommand an invocation names, found before any is registered (commands.hpp).
#include "hardrun/cli/commands.hpp"

#include <CLI/CLI.hpp>
#include <string>

namespace hardrun::commands {

namespace {
std::string& only() {
    static std::string verb;
    return verb;
}
}  // namespace

void set_only(std::string verb) { only() = std::move(verb); }

bool wanted(std::string_view verb) { return only().empty() || only() == verb; }

CLI::App* registered(CLI::App& app, std::string_view name) {
    const auto subs = app.get_subcommands([name](CLI::App* s) { return s->get_name() == name; });
    return subs.empty() ? nullptr : subs.front();
}

std::string named_subcommand(const CLI::App& app, int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--") return "";
        if (arg.size() < 2 || arg[0] != '-') return arg;
        // an option of the top level: --name, --name=value, -x
        const auto eq = arg.find('=');
        const std::string name = arg.substr(0, eq);
        const CLI::Option* opt = app.get_option_no_throw(name);
        if (!opt) return "";  // not one it knows: leave it to the full parser (its error, its help)
        if (eq == std::string::npos && opt->get_items_expected_min() > 0) ++i;  // its value
    }
    return "";
}

void register_all(CLI::App& app) {
    register_run(app);
    register_check(app);
    register_lint(app);
    register_seccomp(app);
    register_apparmor(app);
    register_volume(app);
    register_oci(app);  // after run: runc's run options go onto it
}

}  // namespace hardrun::commands
