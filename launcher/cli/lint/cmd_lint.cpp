// hardrun lint: a policy gate for CI over OCI configs, hardrun flags, systemd units and Kubernetes manifests.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "hardrun/cli/commands.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/cli/lint/lint.hpp"
#include "hardrun/launch/seccomp_notify.hpp"

namespace hardrun::commands {

namespace {
struct LintCommand {
    std::vector<std::string> inputs;
    bool flags = false;
    std::string format = "human";
    std::string fail_on = "low";
    std::string output;
};
}  // namespace

void register_lint(CLI::App& app) {
    if (!wanted("lint")) return;
    auto cmd = std::make_shared<LintCommand>();
    CLI::App* sub = app.add_subcommand(
        "lint", "Check configurations against the hardening baseline (OCI config.json, hardrun flags, systemd units, "
                "Kubernetes manifests)");
    sub->add_option("inputs", cmd->inputs,
                    "Files to lint (config.json or a bundle directory, a .service unit, Kubernetes YAML/JSON), or with "
                    "--flags: `hardrun run` flags after --");
    sub->add_flag("--flags", cmd->flags, "Lint `hardrun run` flags given after -- instead of files");
    sub->add_option("--format", cmd->format, "human (default), json or sarif")->check(CLI::IsMember({"human", "json", "sarif"}));
    sub->add_option("--fail-on", cmd->fail_on, "Exit 1 on findings of this severity or worse: info, low (default), medium, high, critical")
        ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}, CLI::ignore_case));
    sub->add_option("-o,--output", cmd->output, "Write the report to FILE instead of stdout");
    sub->callback([cmd] {
        const auto fail_on = lint::parse_severity(cmd->fail_on);
        if (!fail_on) throw UsageError("--fail-on", "'" + cmd->fail_on + "' is not a severity");
        if (cmd->inputs.empty())
            throw UsageError("inputs", cmd->flags ? "no flags given; use hardrun lint --flags -- --user 0 --cap-add SYS_ADMIN ..."
                                                  : "nothing to lint; give a config.json, a unit file or a manifest, or --flags -- FLAGS");
        std::vector<lint::Subject> subjects;
        if (cmd->flags) {
            std::vector<std::string> words = cmd->inputs;
            if (words.size() == 1 && words[0].find(' ') != std::string::npos) words = lint::split_command_line(words[0]);
            subjects.push_back(lint::from_flags(words, "flags"));
        } else {
            for (const auto& path : cmd->inputs)
                for (auto& s : lint::load_file(path)) subjects.push_back(std::move(s));
        }
        lint::Result r = lint::evaluate(std::move(subjects), *fail_on);
        std::string text;
        if (cmd->format == "json") text = lint::render_json(r).dump(2) + "\n";
        else if (cmd->format == "sarif") text = lint::render_sarif(r).dump(2) + "\n";
        else {
            const bool color = cmd->output.empty() && ::isatty(1) && !std::getenv("NO_COLOR");
            text = lint::render_human(r, color);
        }
        if (cmd->output.empty() || cmd->output == "-") std::cout << text << std::flush;
        else files::write_atomic(cmd->output, text, "the lint report");
        throw Exit{r.exit_code};
    });
}

}  // namespace hardrun::commands
