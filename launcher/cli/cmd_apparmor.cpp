// hardrun apparmor load [FILE] | status: load hardrun's default profile (or another) with apparmor_parser.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "hardrun/layers/apparmor.hpp"
#include "hardrun/cli/commands.hpp"
#include "hardrun/support/data_file.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/log.hpp"

extern char** environ;

namespace hardrun::commands {

namespace {

std::string find_parser() {
    const char* env_path = std::getenv("PATH");
    std::string path = env_path ? env_path : "";
    path += ":/sbin:/usr/sbin:/usr/local/sbin";
    std::size_t pos = 0;
    while (pos <= path.size()) {
        auto next = path.find(':', pos);
        if (next == std::string::npos) next = path.size();
        std::string dir = path.substr(pos, next - pos);
        if (!dir.empty()) {
            std::string p = dir + "/apparmor_parser";
            if (::access(p.c_str(), X_OK) == 0) return p;
        }
        pos = next + 1;
    }
    throw Error("apparmor load", "apparmor_parser", "not found; install the Debian package apparmor");
}

int load(const std::string& file_arg) {
    const std::string file = file_arg.empty() ? data_file("apparmor/hardrun-default") : file_arg;
    if (::geteuid() != 0)
        throw Error("apparmor load", file, "loading AppArmor policy needs root (CAP_MAC_ADMIN); run it with sudo");
    apparmor::HostFacts facts = apparmor::host_facts();
    if (!facts.enabled) throw Error("apparmor load", file, "AppArmor is not enabled on this host (" + facts.why_disabled + ")");
    if (::access(file.c_str(), R_OK) != 0) throw_errno("apparmor load", file, errno);
    const std::string parser = find_parser();
    std::vector<std::string> args{parser, "--replace", file};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (int err = ::posix_spawn(&pid, parser.c_str(), nullptr, nullptr, argv.data(), environ))
        throw_errno("apparmor load", parser, err);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw_errno("apparmor load", "waiting for apparmor_parser", errno);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error("apparmor load", file, "apparmor_parser failed (exit " +
                                               std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
                                               "); its message is above");
    log::info("loaded the AppArmor profile(s) in " + file);
    return 0;
}

int status() {
    apparmor::HostFacts f = apparmor::host_facts();
    if (!f.enabled) {
        std::cout << "apparmor: not enabled (" << f.why_disabled << ")\n";
        return 1;
    }
    std::cout << "apparmor: enabled\n";
    if (!f.loaded) std::cout << apparmor::kDefaultProfile << ": unknown (cannot read the loaded profiles)\n";
    else std::cout << apparmor::kDefaultProfile << ": " << (f.loaded->count(apparmor::kDefaultProfile) ? "loaded" : "not loaded (hardrun apparmor load)") << "\n";
    return 0;
}

}  // namespace

void register_apparmor(CLI::App& app) {
    if (!wanted("apparmor")) return;
    CLI::App* aa = app.add_subcommand("apparmor", "AppArmor: load hardrun's default profile, show the status");
    aa->require_subcommand(1);
    auto file = std::make_shared<std::string>();
    CLI::App* ld = aa->add_subcommand("load", "Load (or replace) an AppArmor profile with apparmor_parser (root only); "
                                             "default: hardrun's own hardrun-default");
    ld->add_option("file", *file, "Profile file (default: the shipped apparmor/hardrun-default)");
    ld->callback([file] { throw Exit{load(*file)}; });
    CLI::App* st = aa->add_subcommand("status", "Is AppArmor enabled, is hardrun-default loaded (exit 1 when not enabled)");
    st->callback([] { throw Exit{status()}; });
}

}  // namespace hardrun::commands
