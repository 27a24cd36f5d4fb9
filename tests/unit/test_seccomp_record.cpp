// seccomp record --from-report (issue 15 item 3): what a --report saw refused grows a profile only where the base
// profile allows it, judged by the base's own program with the refused call's arguments.
#include <doctest/doctest.h>
#include <sched.h>

#include <csignal>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hardrun/launch/seccomp_notify.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"
#include "hardrun/support/error.hpp"

using namespace hardrun;
using namespace hardrun::seccomp;
using json = nlohmann::json;

namespace {
json denial(const std::string& name, const std::string& arch, std::vector<std::uint64_t> args = {}, int err = 1) {
    const ArchInfo* a = find_arch(arch);
    REQUIRE(a);
    args.resize(6, 0);
    return {{"syscall", name}, {"nr", syscall_number(*a, name)}, {"arch", arch}, {"count", 1}, {"errno", err},
            {"first_args", args}};
}

std::shared_ptr<const Prepared> default_record() {
    LaunchPlan plan;  // hardrun's default profile, no capabilities
    return std::make_shared<const Prepared>(prepare(plan, Mode::Record));
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
    for (const auto& l : lines)
        if (l.find(what) != std::string::npos) return true;
    return false;
}
}  // namespace

TEST_CASE("seccomp record --from-report: adds what the base allows, leaves out what it refuses too, with why") {
    Supervisor sup(default_record());
    json report = {{"hardrun", "test"},
                   {"profile", "profile app.json (Docker, 23 rules, x86_64)"},
                   {"denied", json::array({denial("openat", "x86_64"), denial("fcntl", "x86_64", {1, 1030, 10}),
                                           denial("clone3", "x86_64", {}, ENOSYS), denial("mount", "x86_64"),
                                           denial("clone", "x86_64", {SIGCHLD}),
                                           denial("unshare", "x86_64", {CLONE_NEWUSER})})},
                   {"workload", {{"exit_code", 1}}}};
    // clone with CLONE_NEWUSER: the default profile allows clone only without namespace flags
    report["denied"].push_back(denial("clone", "x86_64", {CLONE_NEWUSER | SIGCHLD}));
    json unnamed = {{"syscall", nullptr}, {"nr", 999}, {"arch", "x86_64"}, {"count", 1}, {"errno", 38}};
    report["denied"].push_back(unnamed);
    std::vector<std::string> left_out;
    Supervisor::Earlier e = sup.reported(report, "r.json", &left_out);
    CHECK(e.allowed == std::set<std::string>{"clone", "fcntl", "openat"});
    CHECK(mentions(left_out, "clone3 (x86_64) stays refused"));
    CHECK(mentions(left_out, "ERRNO(ENOSYS)"));
    CHECK(mentions(left_out, "mount (x86_64) stays refused"));
    CHECK(mentions(left_out, "unshare (x86_64) stays refused"));
    CHECK(mentions(left_out, "clone (x86_64) stays refused"));  // the CLONE_NEWUSER call, not the plain one
    CHECK(mentions(left_out, "syscall 999 (x86_64) has no name"));
    CHECK(left_out.size() == 5);
    REQUIRE(e.runs.size() == 1);
    CHECK(e.runs[0] == "the report r.json (under profile app.json (Docker, 23 rules, x86_64))");

    // the profile written without a run: the report's calls, clone's argument restriction kept from the base
    json p = sup.recorded_profile("", e, nullptr);
    const std::string comment = p.at("comment").get<std::string>();
    CHECK(comment.find("seccomp record from: the report r.json (under") != std::string::npos);
    CHECK(comment.find(" | ") == std::string::npos);
    std::set<std::string> plain;
    bool clone_restricted = false;
    for (const auto& r : p.at("syscalls")) {
        if (r.at("action") != "SCMP_ACT_ALLOW") continue;
        for (const auto& n : r.at("names")) {
            if (r.contains("args")) clone_restricted |= n == "clone";
            else plain.insert(n.get<std::string>());
        }
    }
    CHECK(plain == std::set<std::string>{"fcntl", "openat"});
    CHECK(clone_restricted);
}

TEST_CASE("seccomp record --from-report: another ABI's call adds its sub-architecture only where the base has it") {
    json report = {{"denied", json::array({denial("read", "x86")})}};
    std::vector<std::string> left_out;
    // hardrun's default profile covers no i386 ABI: a report cannot bring one in
    Supervisor sup(default_record());
    Supervisor::Earlier e = sup.reported(report, "r.json", &left_out);
    CHECK(e.allowed.empty());
    CHECK(mentions(left_out, "read (x86) stays refused"));
    CHECK(mentions(left_out, "KILL_PROCESS"));
    // Docker's default profile has x86 beside x86_64
    LaunchPlan plan;
    plan.seccomp.mode = SeccompChoice::Mode::Profile;
    plan.seccomp.profile_path = HARDRUN_TEST_DATA "/seccomp/docker-default.json";
    Supervisor docker(std::make_shared<const Prepared>(prepare(plan, Mode::Record)));
    left_out.clear();
    e = docker.reported(report, "r.json", &left_out);
    CHECK(left_out.empty());
    CHECK(e.allowed == std::set<std::string>{"read"});
    CHECK(e.sub_arches == std::set<std::string>{"SCMP_ARCH_X86"});
    CHECK(e.runs == std::vector<std::string>{"the report r.json"});
}

TEST_CASE("seccomp record --from-report: a file that is no report is refused; merging keeps the runs in order") {
    Supervisor sup(default_record());
    Supervisor::Earlier e;
    e.allowed = {"read"};
    e.runs = {"the report r.json"};
    CHECK_THROWS_WITH_AS(sup.reported(json{{"syscalls", json::array()}}, "p.json", nullptr),
                         doctest::Contains("--from-report needs a report that run --report or check --report wrote"), Error);
    json no_nr = {{"denied", json::array({json{{"syscall", "read"}, {"arch", "x86_64"}}})}};
    CHECK_THROWS_AS(sup.reported(no_nr, "r.json", nullptr), Error);

    // merging: an earlier profile's runs come first
    Supervisor::Earlier merged;
    merged.runs = {"sh -c true"};
    merged.allowed = {"write"};
    merged.add(e);
    CHECK(merged.allowed == std::set<std::string>{"read", "write"});
    CHECK(merged.runs == std::vector<std::string>{"sh -c true", "the report r.json"});
}
