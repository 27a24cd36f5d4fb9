// Start-up (issue 17): the subcommand an invocation names is found before any is registered, and only it is built.
#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "hardrun/cli/commands.hpp"

using namespace hardrun::commands;

namespace {
std::string verb_of(std::vector<const char*> args) {
    CLI::App app;
    app.set_version_flag("--version", "v");
    register_globals(app);
    args.insert(args.begin(), "hardrun");
    return named_subcommand(app, static_cast<int>(args.size()), args.data());
}

std::vector<std::string> names(CLI::App& app) {
    std::vector<std::string> out;
    for (CLI::App* s : app.get_subcommands([](CLI::App*) { return true; })) out.push_back(s->get_name());
    return out;
}
}  // namespace

TEST_CASE("commands: the subcommand named, past runc's global options and their values") {
    CHECK(verb_of({"run", "--rootfs", "r", "--", "true"}) == "run");
    CHECK(verb_of({"--root", "/run/x", "--log", "l.json", "--log-format", "json", "create", "--bundle", "b", "id"}) == "create");
    CHECK(verb_of({"--root=/run/x", "--systemd-cgroup", "--debug", "state", "id"}) == "state");
    CHECK(verb_of({"--rootless", "true", "kill", "id", "TERM"}) == "kill");
    // a value that looks like a verb is the option's, not the subcommand
    CHECK(verb_of({"--root", "run", "list"}) == "list");
    CHECK(verb_of({"--log", "delete"}).empty());  // its value, and no subcommand after it
    CHECK(verb_of({}).empty());
    CHECK(verb_of({"--version"}).empty());
    CHECK(verb_of({"--", "run"}).empty());
    CHECK(verb_of({"--bogus", "run"}).empty());  // an unknown option: the full parser decides
    CHECK(verb_of({"-", "run"}) == "-");
}

TEST_CASE("commands: only the wanted subcommand is registered; none wanted registers all") {
    set_only("create");
    CHECK(wanted("create"));
    CHECK_FALSE(wanted("run"));
    {
        CLI::App app;
        register_globals(app);
        register_all(app);  // run's runc options go onto run only if it is there
        CHECK(names(app) == std::vector<std::string>{"create"});
        CHECK(registered(app, "create") != nullptr);
        CHECK(registered(app, "run") == nullptr);
    }
    set_only("run");
    {
        CLI::App app;
        register_globals(app);
        register_run(app);
        register_oci(app);
        CHECK(names(app) == std::vector<std::string>{"run"});
        REQUIRE(registered(app, "run"));
        CHECK(registered(app, "run")->get_option_no_throw("--console-socket") != nullptr);  // runc's run options
    }
    set_only("");
    {
        CLI::App app;
        register_globals(app);
        register_all(app);
        const auto all = names(app);
        CHECK(all.size() > 20);
        for (const char* v : {"run", "check", "lint", "seccomp", "apparmor", "spec", "features", "create", "start", "state",
                              "kill", "delete", "list", "ps", "exec", "update", "pause", "resume", "events", "logs", "volume"})
            CHECK(registered(app, v) != nullptr);
    }
}
