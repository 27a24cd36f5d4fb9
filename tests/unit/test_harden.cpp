// The whole hardening story against the recording fake: the order of the steps and their arguments, for real
// plans built from flags, and fail-closed behaviour (the first step that fails stops everything after it).
// No privileges needed: nothing reaches the kernel except harmless reads (Landlock looks at the host's tree).
#include <doctest/doctest.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "hardrun/support/error.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/layers/harden.hpp"
#include "recording_sys.hpp"

using namespace hardrun;

namespace {

// An empty directory for the plan's rootfs (the fake never looks inside), removed when the tests end.
std::string rootfs_dir() {
    static const struct Dir {
        std::string path;
        Dir() {
            char tmpl[] = "/tmp/hardrun-harden-XXXXXX";
            path = ::mkdtemp(tmpl);
        }
        ~Dir() { ::rmdir(path.c_str()); }
        Dir(const Dir&) = delete;
        Dir& operator=(const Dir&) = delete;
    } dir;
    return dir.path;
}

LaunchPlan plan_for(std::vector<std::string> extra = {}) {
    RunFlags f;
    f.rootfs = rootfs_dir();
    f.command = {"/bin/true"};
    for (std::size_t i = 0; i < extra.size(); i += 2) {
        const std::string& k = extra[i];
        const std::string& v = extra[i + 1];
        if (k == "--cap-add") f.cap_add.push_back(v);
        else if (k == "--security-opt") f.security_opt.push_back(v);
        else if (k == "--user") f.user = v;
        else if (k == "--landlock") f.landlock = v;
        else if (k == "--hostname") f.hostname = v;
        else if (k == "--ulimit") f.ulimits.push_back(v);
        else FAIL("unknown flag in the test: " << k);
    }
    return build_plan(f, 0);  // as root: no user namespace
}

struct Run {
    LaunchPlan plan;
    seccomp::Prepared filter;
    apparmor::Decision aa;
    test::RecordingSys sys;
    std::string error, step;
    int listener = -2;

    explicit Run(LaunchPlan p) : plan(std::move(p)), filter(seccomp::prepare(plan)) {
        // masked paths that are files on a typical kernel (/proc/kcore...) get /dev/null, the rest a tmpfs
        for (const auto& m : plan.masked_paths) {
            struct stat st {};
            if (::stat(m.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) sys.files.insert(m);
        }
    }
    std::map<std::string, int> join_fds;
    int console_fd = -1;  // a connected --console-socket (OCI process.terminal)
    Run& go() {
        ChildContext c{&plan, &filter, &aa, /*report_fd*/ 50, /*sync_fd*/ -1, /*fd_socket*/ -1, /*detached*/ false};
        c.join_fds = &join_fds;
        c.console_fd = console_fd;
        try {
            listener = harden(sys, c);
        } catch (const Error& e) {
            error = e.what();
            step = e.step();
        }
        return *this;
    }
    int at(const std::string& prefix, int from = 0) const { return sys.find(prefix, from); }
    bool has(const std::string& prefix) const { return at(prefix) >= 0; }
};

// every index is found, and they are strictly increasing
void check_order(const Run& r, const std::vector<std::string>& steps) {
    int last = -1;
    for (const auto& s : steps) {
        int i = r.at(s, last + 1);
        CHECK_MESSAGE(i > last, "step \"", s, "\" missing or out of order (after index ", last, ")");
        if (i > last) last = i;
    }
}

}  // namespace

TEST_CASE("harden: the default plan runs every layer in the documented order") {
    Run r(plan_for());
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    check_order(r, {
        "prctl PDEATHSIG",           // 1. tied to the supervisor
        "prctl DUMPABLE 0",          //    CVE-2019-5736: not dumpable until execve
        "setsid",                    //    no TIOCSTI into the invoker's terminal
        "join_session_keyring",      //    nor the invoker's session keyring
        "pivot_root",                // 3. the rootfs
        "loopback_up",               //    fresh network namespace: lo only
        "capng_apply bounds=-",      // 6. bounding set emptied while CAP_SETPCAP is still held
        "setgroups 0",               //    no supplementary groups
        "setresgid 10001",           //    gid before uid (after setresuid we could not change it)
        "setresuid 10001",
        "prctl PDEATHSIG",           //    again: the uid switch cleared it
        "capng_apply eff=- prm=- inh=-",  // 7. no capability left
        "capng_apply ambient=-",
        "prctl KEEPCAPS 0",
        "prctl NO_NEW_PRIVS 1",      // 8. no_new_privs, then Landlock
        "landlock_create_ruleset",
        "landlock_restrict_self",
        "fchdir",                    //    the working directory, resolved inside the root
        "close_range",               //    only 0-2 reach the workload
        "seccomp_load",              // 9. seccomp last
    });
    // seccomp is the very last call, so nothing the filter might forbid runs after it
    CHECK(r.sys.calls.back().rfind("seccomp_load", 0) == 0);
    CHECK(r.listener == -1);  // enforce mode: no listener
    // no mount, identity or capability call after the privileges are gone
    const int nnp = r.at("prctl NO_NEW_PRIVS");
    for (const char* late : {"mount", "fsmount", "move_mount", "setres", "setgroups", "capng_apply", "pivot_root"})
        CHECK_MESSAGE(r.at(late, nnp) == -1, late, " after no_new_privs");
}

TEST_CASE("harden: namespaces joined by path are joined on the supervisor's fds, never by path again") {
    LaunchPlan p = plan_for();
    p.namespaces.join = {{"network", "/proc/77/ns/net"}, {"pid", "/proc/77/ns/pid"}, {"user", "/proc/77/ns/user"}};
    Run r(p);
    r.join_fds = {{"network", 71}, {"pid", 72}, {"user", 73}};
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    check_order(r, {"setns 73 " + std::to_string(CLONE_NEWUSER), "setns 71 " + std::to_string(CLONE_NEWNET), "pivot_root"});
    CHECK(r.at("setns 72") == -1);  // the pid namespace: the child was born in it (PidNamespaceForChildren)
    CHECK(r.at("openat -100 /proc/77") == -1);
    Run missing(p);  // a join without its fd fails closed
    missing.join_fds = {{"network", 71}};
    missing.go();
    CHECK(missing.step == "namespaces");
    CHECK(missing.at("pivot_root") == -1);
}

TEST_CASE("harden: an added capability reaches the bounding, permitted, effective and ambient sets") {
    Run r(plan_for({"--cap-add", "NET_BIND_SERVICE"}));
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK(r.has("capng_apply bounds=net_bind_service"));
    CHECK(r.has("capng_apply eff=net_bind_service prm=net_bind_service inh=net_bind_service"));
    CHECK(r.has("capng_apply ambient=net_bind_service"));
    check_order(r, {"capng_apply bounds=", "setresuid", "capng_apply eff=", "capng_apply ambient=", "prctl NO_NEW_PRIVS"});
}

TEST_CASE("harden: a capability hardrun does not hold stops the launch before the uid switch") {
    Run r(plan_for({"--cap-add", "SYS_ADMIN"}));
    r.sys.bounding_missing = {21};  // CAP_SYS_ADMIN not in hardrun's own bounding set
    r.go();
    CHECK(r.step == "capabilities");
    CHECK(r.error == "capabilities: CAP_SYS_ADMIN: hardrun does not hold it in its own bounding set, so it cannot be granted to the workload");
    CHECK_FALSE(r.has("capng_apply"));
    CHECK_FALSE(r.has("setresuid"));
    CHECK_FALSE(r.has("seccomp_load"));
}

TEST_CASE("harden: turning layers off by name removes exactly those steps") {
    Run r(plan_for({"--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges=false",
                    "--landlock", "off"}));
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK_FALSE(r.has("prctl NO_NEW_PRIVS"));
    CHECK_FALSE(r.has("seccomp_load"));
    CHECK_FALSE(r.has("landlock_"));
    CHECK(r.listener == -1);
    // the rest of the story is unchanged
    check_order(r, {"setsid", "pivot_root", "capng_apply bounds=-", "setresuid 10001", "capng_apply eff=-", "close_range"});
}

TEST_CASE("harden: hostname, rlimits and --user reach their calls with the planned values") {
    Run r(plan_for({"--hostname", "box", "--ulimit", "nofile=64:128", "--user", "4242:4343"}));
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    check_order(r, {"pivot_root", "sethostname box", "setrlimit " + std::to_string(RLIMIT_NOFILE) + " 64:128",
                    "setresgid 4343", "setresuid 4242"});
}

TEST_CASE("harden: in its own network namespace the workload may bind ports below 1024 (docker's default sysctl)") {
    Run r(plan_for());
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    CHECK(r.has("write net/ipv4/ip_unprivileged_port_start 0"));
    check_order(r, {"pivot_root", "write net/ipv4/ip_unprivileged_port_start 0", "seccomp_load"});
    Run bad(plan_for());
    bad.sys.proc_is_procfs = false;
    bad.go();
    CHECK(bad.step == "sysctl");
    CHECK(bad.error.find("CVE-2019-16884") != std::string::npos);
}

TEST_CASE("harden: the AppArmor exec label is written after no_new_privs, through procfs, before Landlock") {
    Run r(plan_for());
    r.aa.apply = true;
    r.aa.profile = "hardrun-default";
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    check_order(r, {"setresuid 10001", "prctl NO_NEW_PRIVS 1", "openat2 -100 /proc resolve=",
                    "write " + std::to_string(::gettid()) + "/attr/apparmor/exec exec hardrun-default",
                    "landlock_restrict_self", "seccomp_load"});
    // a /proc that is not procfs (a rootfs that put something else there): refused before any write (the
    // sysctl step checks it first when there are sysctls to write: below)
    LaunchPlan no_sysctl = plan_for();
    no_sysctl.sysctl.clear();
    no_sysctl.layer_files.clear();  // the empty test rootfs has no /etc/hosts: its layer would write one
    Run bad(no_sysctl);
    bad.aa = r.aa;
    bad.sys.proc_is_procfs = false;
    bad.go();
    CHECK(bad.step == "apparmor");
    CHECK(bad.error.find("CVE-2019-16884") != std::string::npos);
    CHECK_FALSE(bad.has("write "));
    CHECK_FALSE(bad.has("seccomp_load"));
}

TEST_CASE("harden: Landlock asked for on a kernel without it fails closed before seccomp") {
    Run r(plan_for({"--landlock", "on"}));
    r.sys.landlock_abi = 0;
    r.go();
    CHECK(r.step == "landlock");
    CHECK(r.error.find("no Landlock") != std::string::npos);
    CHECK(r.has("prctl NO_NEW_PRIVS 1"));
    CHECK_FALSE(r.has("seccomp_load"));
    CHECK_FALSE(r.has("close_range"));
}

TEST_CASE("harden: whichever step fails, nothing after it runs (fail closed)") {
    Run base(plan_for());
    base.go();
    REQUIRE(base.error.empty());
    const std::vector<std::string> all = base.sys.calls;
    const int restrict_at = base.at("landlock_restrict_self");
    REQUIRE(restrict_at > 0);
    // Calls whose failure is tolerated by design: the extra Landlock rules for the workload's own stdio (fds
    // 0-2; a pipe or a socket cannot take one, which only means no extra access). Every other rule must hold.
    auto tolerated = [&](std::size_t i) {
        return static_cast<int>(i) < restrict_at &&
               (all[i].ends_with(" type=1 fd=0") || all[i].ends_with(" type=1 fd=1") || all[i].ends_with(" type=1 fd=2"));
    };
    int tolerated_count = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        Run r(plan_for());
        std::size_t n = 0;
        r.sys.fail = [&n, i](const std::string&) { return n++ == i ? -EPERM : 0; };
        r.go();
        if (r.error.empty()) {
            CHECK_MESSAGE(tolerated(i), "a failure of \"", all[i], "\" (call ", i, ") was ignored");
            ++tolerated_count;
            continue;
        }
        CAPTURE(all[i]);
        CHECK(r.sys.calls.size() == i + 1);  // the failing call was the last one made
        CHECK(std::equal(r.sys.calls.begin(), r.sys.calls.end(), all.begin()));
        CHECK_FALSE(r.step.empty());
        // the errno is named (libcap-ng reports its own code, not an errno)
        if (all[i].rfind("capng_apply", 0) != 0) CHECK(r.error.find("Operation not permitted") != std::string::npos);
    }
    CHECK(tolerated_count <= 3);
}

namespace {

// A plan that reaches every path of the story the default plan does not: a terminal (console::attach), a secret
// (the copy into /run/secrets), a read-only tmpfs with OCI tmpcopyup (copyup::copy_tree) and Landlock asked for.
constexpr int kConsoleSocket = 60;
const char* const kSecretSource = "/host/secrets/token";

Run full_run() {
    LaunchPlan p = plan_for({"--landlock", "on"});
    p.secrets = {{kSecretSource, "token"}};
    Mount m;
    m.kind = MountKind::Tmpfs;
    m.destination = "/var/cache/app";
    m.copy_up = true;
    m.readonly = true;
    p.mounts.push_back(m);
    Run r(p);
    r.console_fd = kConsoleSocket;
    r.sys.contents[kSecretSource] = "s3cret";  // the fake's host file; its copy-up listings are empty
    return r;
}

}  // namespace

TEST_CASE("harden: the console, a secret, a tmpcopyup tmpfs and Landlock run every call through the seam") {
    Run r = full_run();
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    // the secret: the host file is read through the seam, its copy is the workload's, mode 0400, then read-only
    check_order(r, {"openat -100 " + std::string(kSecretSource), "openat ", "read " + std::string(kSecretSource),
                    "write token s3cret", "read " + std::string(kSecretSource), "fchown ", "fchmod ", "fchown ",
                    "mount_setattr ", "move_mount ", "pivot_root"});
    // the tmpcopyup tmpfs: the image's directory is listed (empty here) and the new tmpfs gets its owner and mode
    // before it is made read-only and attached
    const int listed = r.at("getdents64 ");
    REQUIRE(listed > 0);
    check_order(r, {"fsopen tmpfs", "fsmount ", "openat ", "openat ", "getdents64 ", "fchown ", "fchmod ",
                    "mount_setattr ", "move_mount ", "pivot_root"});
    CHECK(r.at("fsmount ") < listed);
    CHECK(r.at("pivot_root") > listed);
    // the console: the pty comes from the container's devpts, the peer through the master (never by a path), and
    // it is the workload's controlling terminal and stdio before the uid switch; the master goes to the socket
    const int ptmx = r.at("openat -100 /dev/pts/ptmx");
    REQUIRE(ptmx > r.at("pivot_root"));
    const auto& calls = r.sys.calls;
    REQUIRE(calls.size() > static_cast<std::size_t>(ptmx) + 8);
    const std::string& unlock = calls[static_cast<std::size_t>(ptmx) + 1];  // "ioctl <master> TIOCSPTLCK"
    const std::string master = unlock.substr(6, unlock.find(' ', 6) - 6);
    const std::string slave = std::to_string(std::stoi(master) + 1);
    const std::vector<std::string> console = {
        "ioctl " + master + " TIOCSPTLCK", "ioctl " + master + " TIOCGPTPEER", "fchown " + slave + " 10001:4294967295",
        "ioctl " + slave + " TIOCSCTTY",   "dup2 " + slave + " 0",            "dup2 " + slave + " 1",
        "dup2 " + slave + " 2",            "send_fd " + std::to_string(kConsoleSocket) + " " + master + " /dev/pts/ptmx"};
    for (std::size_t k = 0; k < console.size(); ++k) CHECK(calls[static_cast<std::size_t>(ptmx) + 1 + k] == console[k]);
    CHECK(r.at("setresuid 10001") > ptmx);
    // Landlock: each rule's path is opened through the seam (after pivot_root, before the ruleset is enforced)
    const int create = r.at("landlock_create_ruleset");
    const int first_open = r.at("openat2 -100 /", create);
    CHECK(first_open > create);
    CHECK(first_open < r.at("landlock_restrict_self"));
    check_order(r, {"landlock_create_ruleset", "openat2 -100 /", "landlock_add_rule", "landlock_restrict_self",
                    "fchdir", "close_range", "seccomp_load"});
}

TEST_CASE("harden: with a console, a secret, a tmpcopyup tmpfs and Landlock, whichever call fails, nothing after it runs") {
    Run base = full_run();
    base.go();
    REQUIRE_MESSAGE(base.error.empty(), base.error);
    const std::vector<std::string> all = base.sys.calls;
    // every path under test is in the story
    for (const char* part : {"openat -100 /dev/pts/ptmx", "send_fd ", "read /host/secrets/token", "write token ",
                             "getdents64 ", "openat2 -100 /", "landlock_restrict_self"})
        REQUIRE_MESSAGE(base.has(part), part);
    const int restrict_at = base.at("landlock_restrict_self");
    auto tolerated = [&](std::size_t i) {  // as above: only the extra rules for the workload's stdio
        return static_cast<int>(i) < restrict_at &&
               (all[i].ends_with(" type=1 fd=0") || all[i].ends_with(" type=1 fd=1") || all[i].ends_with(" type=1 fd=2"));
    };
    int tolerated_count = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        Run r = full_run();
        std::size_t n = 0;
        r.sys.fail = [&n, i](const std::string&) { return n++ == i ? -EPERM : 0; };
        r.go();
        CAPTURE(all[i]);
        CAPTURE(i);
        if (r.error.empty()) {
            CHECK_MESSAGE(tolerated(i), "a failure of \"", all[i], "\" (call ", i, ") was ignored");
            ++tolerated_count;
            continue;
        }
        CHECK(r.sys.calls.size() == i + 1);  // the failing call was the last one made
        CHECK(std::equal(r.sys.calls.begin(), r.sys.calls.end(), all.begin()));
        CHECK_FALSE(r.step.empty());
        if (all[i].rfind("capng_apply", 0) == 0) continue;  // libcap-ng reports its own code, not an errno
        if (all[i].rfind("write token ", 0) == 0)  // a short or failed write of a secret is reported as ENOSPC
            CHECK(r.error.find("No space left on device") != std::string::npos);
        else
            CHECK(r.error.find("Operation not permitted") != std::string::npos);
    }
    CHECK(tolerated_count <= 3);
    MESSAGE("fail-at-every-call: ", all.size(), " calls, ", tolerated_count, " tolerated");
}

TEST_CASE("harden: every masked directory is a clone of one empty tmpfs, not a tmpfs of its own") {
    Run r(plan_for());
    r.go();
    REQUIRE_MESSAGE(r.error.empty(), r.error);
    std::size_t dirs = 0;
    for (const auto& m : r.plan.masked_paths) dirs += r.sys.files.count(m) ? 0 : 1;
    REQUIRE(dirs >= 2);
    // the masks' tmpfs (size=4096) is made once
    std::vector<int> made;
    for (std::size_t i = 0; i < r.sys.calls.size(); ++i)
        if (r.sys.calls[i].find(" size=4096") != std::string::npos) made.push_back(static_cast<int>(i));
    REQUIRE(made.size() == 1);
    // its mount fd, as the first mask attaches it: "move_mount FD -> TARGET"
    const int attached = r.at("move_mount ", r.at("fsmount ", made[0]));
    REQUIRE(attached > made[0]);
    const std::string& mv = r.sys.calls[static_cast<std::size_t>(attached)];
    const std::string fd = mv.substr(11, mv.find(' ', 11) - 11);
    // every other masked directory: a clone of that mount, attached where it goes
    std::size_t clones = 0;
    for (const auto& c : r.sys.calls) clones += c.starts_with("open_tree " + fd + " ") ? 1 : 0;
    CHECK(clones == dirs - 1);
}
