// AppArmor: the decision table and the procfs check (CVE-2019-16884).
#include <doctest/doctest.h>
#include <fcntl.h>

#include "hardrun/layers/apparmor.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"
#include "recording_sys.hpp"

using namespace hardrun;
using namespace hardrun::apparmor;

namespace {
LaunchPlan plan_with(AppArmorChoice::Mode mode, std::string profile = {}) {
    LaunchPlan p;
    p.apparmor.mode = mode;
    p.apparmor.profile = std::move(profile);
    return p;
}
HostFacts enabled_with(std::set<std::string> loaded) {
    HostFacts f;
    f.enabled = true;
    f.loaded = std::move(loaded);
    return f;
}
HostFacts disabled() {
    HostFacts f;
    f.why_disabled = "the kernel has no AppArmor";
    return f;
}
std::string message_of(const LaunchPlan& p, const HostFacts& f) {
    try {
        decide_with(p, f);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("apparmor: nothing asked, AppArmor disabled: skipped with a note") {
    Decision d = decide_with(plan_with(AppArmorChoice::Mode::Default), disabled());
    CHECK_FALSE(d.apply);
    CHECK(d.note.find("not enabled") != std::string::npos);
}

TEST_CASE("apparmor: nothing asked, enabled and loaded: hardrun-default") {
    Decision d = decide_with(plan_with(AppArmorChoice::Mode::Default), enabled_with({"hardrun-default", "x"}));
    CHECK(d.apply);
    CHECK(d.profile == "hardrun-default");
}

TEST_CASE("apparmor: nothing asked, enabled but hardrun-default not loaded: fail closed with the fix") {
    std::string m = message_of(plan_with(AppArmorChoice::Mode::Default), enabled_with({"other"}));
    CHECK(m.find("hardrun apparmor load") != std::string::npos);
    CHECK(m.find("apparmor=unconfined") != std::string::npos);
}

TEST_CASE("apparmor: the loaded list cannot be read: the kernel decides at exec time") {
    HostFacts f;
    f.enabled = true;  // loaded stays nullopt
    CHECK(decide_with(plan_with(AppArmorChoice::Mode::Default), f).apply);
    CHECK(decide_with(plan_with(AppArmorChoice::Mode::Named, "p"), f).profile == "p");
}

TEST_CASE("apparmor: a named profile") {
    CHECK(decide_with(plan_with(AppArmorChoice::Mode::Named, "web"), enabled_with({"web"})).profile == "web");
    std::string m = message_of(plan_with(AppArmorChoice::Mode::Named, "web"), enabled_with({"hardrun-default"}));
    CHECK(m.find("profile web") != std::string::npos);
    CHECK(m.find("not loaded") != std::string::npos);
    std::string off = message_of(plan_with(AppArmorChoice::Mode::Named, "web"), disabled());
    CHECK(off.find("AppArmor is not enabled on this host") != std::string::npos);
    CHECK(off.find("the kernel has no AppArmor") != std::string::npos);
}

TEST_CASE("apparmor: unconfined is explicit and applies nothing, even where AppArmor is off") {
    Decision d = decide_with(plan_with(AppArmorChoice::Mode::Unconfined), disabled());
    CHECK_FALSE(d.apply);
    CHECK(d.note.find("unconfined") != std::string::npos);
}

TEST_CASE("apparmor: profile names from securityfs") {
    auto names = parse_profiles("hardrun-default (enforce)\n/usr/bin/man (enforce)\nlsb_release (complain)\n");
    CHECK(names == std::set<std::string>{"hardrun-default", "/usr/bin/man", "lsb_release"});
}

TEST_CASE("apparmor: the label is written only through a real procfs (CVE-2019-16884)") {
    UniqueFd proc(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(proc);
    CHECK_NOTHROW(verify_procfs(real_sys(), proc.get(), "/proc"));
    UniqueFd tmp(::open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(tmp);
    try {
        verify_procfs(real_sys(), tmp.get(), "/proc");
        FAIL("a directory that is not procfs was accepted");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("CVE-2019-16884") != std::string::npos);
    }
}

TEST_CASE("apparmor: apply opens /proc without following symlinks, then refuses a non-procfs fd") {
    test::RecordingSys sys;  // its fds are not procfs: apply must stop before any write
    sys.proc_is_procfs = false;
    Decision d;
    d.apply = true;
    d.profile = "hardrun-default";
    CHECK_THROWS_AS(apply(sys, d), Error);
    REQUIRE_FALSE(sys.calls.empty());
    CHECK(sys.calls[0].starts_with("openat2 -100 /proc resolve="));
    CHECK(sys.calls.size() == 1);  // the attr file was never opened
    test::RecordingSys none;
    apply(none, Decision{});  // nothing to apply: no syscall at all
    CHECK(none.calls.empty());
}

TEST_CASE("apparmor: CAP_SYS_PTRACE is refused when an unconfined reaper stays PID 1") {
    LaunchPlan plan;
    Decision on;
    on.apply = true;
    on.profile = "hardrun-default";
    CHECK_NOTHROW(refuse_ptrace_of_unconfined_reaper(plan, on, true));  // no capability: nothing to take over with
    plan.caps.permitted.add(19);
    plan.caps.effective.add(19);
    CHECK_THROWS_WITH_AS(refuse_ptrace_of_unconfined_reaper(plan, on, true),
                         doctest::Contains("apparmor: profile hardrun-default with CAP_SYS_PTRACE: hardrun's PID 1"), Error);
    CHECK_NOTHROW(refuse_ptrace_of_unconfined_reaper(plan, on, false));  // the workload is PID 1 itself (detached)
    CHECK_NOTHROW(refuse_ptrace_of_unconfined_reaper(plan, Decision{}, true));  // no label to escape from
    LaunchPlan ambient;
    ambient.caps.ambient.add(19);
    CHECK_THROWS_AS(refuse_ptrace_of_unconfined_reaper(ambient, on, true), Error);
}
