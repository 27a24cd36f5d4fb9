// systemd integration: NOTIFY_SOCKET parsing, notify modes and socket activation planning.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "hardrun/support/error.hpp"
#include "hardrun/launch/systemd.hpp"

using namespace hardrun;
using namespace hardrun::systemd;

namespace {

LaunchPlan base_plan() {
    LaunchPlan p;
    p.env = {"PATH=/bin", "HOME=/"};
    Mount proc;
    proc.kind = MountKind::Proc;
    proc.destination = "/proc";
    p.mounts.push_back(proc);
    return p;
}

std::string env_of(const LaunchPlan& p, const std::string& key) {
    for (const auto& e : p.env)
        if (e.starts_with(key + "=")) return e.substr(key.size() + 1);
    return "<unset>";
}

int count_env(const LaunchPlan& p, const std::string& key) {
    return static_cast<int>(std::count_if(p.env.begin(), p.env.end(),
                                          [&](const std::string& e) { return e.starts_with(key + "="); }));
}

const Mount* mount_at(const LaunchPlan& p, const std::string& dest) {
    for (const auto& m : p.mounts)
        if (m.destination == dest) return &m;
    return nullptr;
}

}  // namespace

TEST_CASE("systemd: NOTIFY_SOCKET values") {
    CHECK(parse_notify_socket("/run/systemd/notify") ==
          NotifyAddress{NotifyAddress::Kind::Path, "/run/systemd/notify"});
    CHECK(parse_notify_socket("@sd-notify-42") == NotifyAddress{NotifyAddress::Kind::Abstract, "sd-notify-42"});
    CHECK_THROWS_WITH_AS(parse_notify_socket("vsock:2:1234"), doctest::Contains("NOTIFY_SOCKET"), UsageError);
    CHECK_THROWS_AS(parse_notify_socket("relative/notify"), UsageError);
    CHECK_THROWS_AS(parse_notify_socket("@"), UsageError);
    CHECK_THROWS_AS(parse_notify_socket("/" + std::string(200, 'x')), UsageError);
}

TEST_CASE("systemd: --sd-notify modes") {
    CHECK(parse_notify_mode("--sd-notify", "workload") == NotifyMode::Workload);
    CHECK(parse_notify_mode("--sd-notify", "hardrun") == NotifyMode::Hardrun);
    CHECK(parse_notify_mode("--sd-notify", "ignore") == NotifyMode::Ignore);
    CHECK_THROWS_WITH_AS(parse_notify_mode("--sd-notify", "conmon"), doctest::Contains("--sd-notify"), UsageError);
}

TEST_CASE("systemd: workload mode bind-mounts a socket path read-only and rewrites NOTIFY_SOCKET") {
    LaunchPlan p = base_plan();
    Environment env{{"NOTIFY_SOCKET", "/run/systemd/notify"}};
    Adapted a = adapt_plan(p, NotifyMode::Workload, env, std::nullopt, "");
    CHECK_FALSE(a.hardrun_sends_ready);
    CHECK_FALSE(a.needs_proxy);
    CHECK(env_of(p, "NOTIFY_SOCKET") == kSandboxNotifyPath);
    const Mount* m = mount_at(p, kSandboxNotifyPath);
    REQUIRE(m);
    CHECK(m->kind == MountKind::Bind);
    CHECK(m->source == "/run/systemd/notify");
    CHECK(m->readonly);
    CHECK_FALSE(m->recursive);
    CHECK(p.mounts.front().destination == "/proc");  // parents stay first
}

TEST_CASE("systemd: an existing NOTIFY_SOCKET in the plan's env is replaced, not duplicated") {
    LaunchPlan p = base_plan();
    p.env.push_back("NOTIFY_SOCKET=/elsewhere");
    adapt_plan(p, NotifyMode::Workload, {{"NOTIFY_SOCKET", "/run/systemd/notify"}}, std::nullopt, "");
    CHECK(count_env(p, "NOTIFY_SOCKET") == 1);
    CHECK(env_of(p, "NOTIFY_SOCKET") == kSandboxNotifyPath);
}

TEST_CASE("systemd: a user mount where the notify socket goes is refused in workload mode") {
    LaunchPlan p = base_plan();
    Mount m;
    m.kind = MountKind::Bind;
    m.source = "/srv";
    m.destination = kSandboxNotifyPath;
    p.mounts.push_back(m);
    CHECK_THROWS_WITH_AS(adapt_plan(p, NotifyMode::Workload, {{"NOTIFY_SOCKET", "/run/systemd/notify"}}, std::nullopt, ""),
                         doctest::Contains(kSandboxNotifyPath), UsageError);
}

TEST_CASE("systemd: hardrun and ignore modes keep the socket out of the sandbox") {
    for (NotifyMode mode : {NotifyMode::Hardrun, NotifyMode::Ignore}) {
        LaunchPlan p = base_plan();
        LaunchPlan before = p;
        Adapted a = adapt_plan(p, mode, {{"NOTIFY_SOCKET", "/run/systemd/notify"}}, std::nullopt, "");
        CHECK(p == before);
        CHECK(a.hardrun_sends_ready == (mode == NotifyMode::Hardrun));
        CHECK(a.upstream.has_value() == (mode == NotifyMode::Hardrun));
    }
}

TEST_CASE("systemd: no NOTIFY_SOCKET, no change") {
    LaunchPlan p = base_plan();
    LaunchPlan before = p;
    Adapted a = adapt_plan(p, NotifyMode::Workload, {}, std::nullopt, "");
    CHECK(p == before);
    CHECK_FALSE(a.upstream);
}

TEST_CASE("systemd: abstract sockets are always relayed, also with the host's network") {
    for (bool net : {true, false}) {
        LaunchPlan p = base_plan();
        p.namespaces.net = net;
        Adapted a = adapt_plan(p, NotifyMode::Workload, {{"NOTIFY_SOCKET", "@notify"}}, std::nullopt,
                               "/run/hardrun-notify-x/notify");
        CHECK(a.needs_proxy);
        REQUIRE(a.upstream);
        CHECK(a.upstream->kind == NotifyAddress::Kind::Abstract);
        REQUIRE(mount_at(p, kSandboxNotifyPath));
        CHECK(mount_at(p, kSandboxNotifyPath)->source == "/run/hardrun-notify-x/notify");
        CHECK(env_of(p, "NOTIFY_SOCKET") == kSandboxNotifyPath);
    }
    LaunchPlan q = base_plan();
    CHECK_THROWS_AS(adapt_plan(q, NotifyMode::Workload, {{"NOTIFY_SOCKET", "@notify"}}, std::nullopt, ""), Error);
}

TEST_CASE("systemd: LISTEN_PID must name this process") {
    Environment env{{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "http:https"}};
    auto a = listen_fds(env, 4242);
    REQUIRE(a);
    CHECK(a->count == 2);
    CHECK(a->names == "http:https");
    CHECK_FALSE(listen_fds(env, 4243));  // meant for someone else: ignored, as sd_listen_fds(3) does
    CHECK_FALSE(listen_fds({{"LISTEN_FDS", "2"}}, 4242));
    CHECK_FALSE(listen_fds({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "0"}}, 4242));
    CHECK_THROWS_AS(listen_fds({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "two"}}, 4242), UsageError);
    CHECK_THROWS_AS(listen_fds({{"LISTEN_PID", "x"}, {"LISTEN_FDS", "1"}}, 4242), UsageError);
    CHECK_THROWS_WITH_AS(listen_fds({{"LISTEN_PID", "4242"}, {"LISTEN_FDS", "2"}, {"LISTEN_FDNAMES", "one"}}, 4242),
                         doctest::Contains("LISTEN_FDNAMES"), UsageError);
}

TEST_CASE("systemd: socket activation preserves exactly the LISTEN fds and rewrites LISTEN_PID") {
    LaunchPlan p = base_plan();
    adapt_plan(p, NotifyMode::Workload, {}, Activation{3, "a:b:c"}, "");
    CHECK(p.preserve_fds == std::vector<int>{3, 4, 5});
    CHECK(env_of(p, "LISTEN_FDS") == "3");
    CHECK(env_of(p, "LISTEN_PID") == "1");
    CHECK(env_of(p, "LISTEN_FDNAMES") == "a:b:c");

    LaunchPlan q = base_plan();
    q.init = true;
    q.env.push_back("LISTEN_FDNAMES=stale");
    adapt_plan(q, NotifyMode::Workload, {}, Activation{1, ""}, "");
    CHECK(env_of(q, "LISTEN_PID") == "2");  // the --init reaper is 1, the workload its first child
    CHECK(env_of(q, "LISTEN_FDNAMES") == "<unset>");
}

TEST_CASE("systemd: socket activation needs a new pid namespace and no other preserved fds") {
    LaunchPlan p = base_plan();
    p.namespaces.pid = false;
    CHECK_THROWS_WITH_AS(adapt_plan(p, NotifyMode::Workload, {}, Activation{1, ""}, ""), doctest::Contains("LISTEN_PID"),
                         Error);
    LaunchPlan q = base_plan();
    q.preserve_fds = {7};
    CHECK_THROWS_AS(adapt_plan(q, NotifyMode::Workload, {}, Activation{1, ""}, ""), Error);
}

TEST_CASE("systemd: WatchdogSec= reaches a workload that speaks the protocol, with its own pid") {
    for (bool init : {false, true}) {
        LaunchPlan p = base_plan();
        p.init = init;
        Adapted a = adapt_plan(p, NotifyMode::Workload,
                               {{"NOTIFY_SOCKET", "/run/systemd/notify"}, {"WATCHDOG_USEC", "30000000"}}, std::nullopt, "");
        CHECK(env_of(p, "WATCHDOG_USEC") == "30000000");
        // a placeholder: exec_workload() writes the workload's real pid there, like LISTEN_PID
        CHECK(env_of(p, "WATCHDOG_PID") == (init ? "2" : "1"));
        CHECK(!a.watchdog_usec);
    }
    // without a notify socket, or with --sd-notify=ignore, nothing about the watchdog reaches the sandbox
    for (auto [mode, env] : {std::pair{NotifyMode::Workload, Environment{{"WATCHDOG_USEC", "1000"}}},
                             std::pair{NotifyMode::Ignore, Environment{{"NOTIFY_SOCKET", "/n"}, {"WATCHDOG_USEC", "1000"}}}}) {
        LaunchPlan p = base_plan();
        adapt_plan(p, mode, env, std::nullopt, "");
        CHECK(env_of(p, "WATCHDOG_USEC") == "<unset>");
        CHECK(env_of(p, "WATCHDOG_PID") == "<unset>");
    }
}

TEST_CASE("systemd: --sd-notify=hardrun under WatchdogSec= makes hardrun the pinger") {
    LaunchPlan p = base_plan();
    Adapted a = adapt_plan(p, NotifyMode::Hardrun, {{"NOTIFY_SOCKET", "/run/systemd/notify"}, {"WATCHDOG_USEC", "500000"}},
                           std::nullopt, "");
    REQUIRE(a.watchdog_usec);
    CHECK(*a.watchdog_usec == 500000);
    CHECK(a.hardrun_sends_ready);
    CHECK(env_of(p, "WATCHDOG_USEC") == "<unset>");  // the workload is not told
}

TEST_CASE("systemd: a malformed WATCHDOG_USEC is a clear error, never an exception from the C++ library") {
    for (const char* v : {"abc", "-5", "0", "99999999999999999999999", "1 ", "+5"}) {
        LaunchPlan p = base_plan();
        INFO(v);
        CHECK_THROWS_WITH_AS(adapt_plan(p, NotifyMode::Workload, {{"NOTIFY_SOCKET", "/n"}, {"WATCHDOG_USEC", v}},
                                        std::nullopt, ""),
                             doctest::Contains("WATCHDOG_USEC"), UsageError);
    }
}
