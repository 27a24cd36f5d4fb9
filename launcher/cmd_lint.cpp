// Placeholder: filled in by the issue that owns this command.
#include <CLI/CLI.hpp>

#include "hardrun/commands.hpp"

namespace hardrun::commands {

void register_lint(CLI::App& app) { (void)app; }

}  // namespace hardrun::commands
