// Landlock rule placement: computed from the mount plan over a fake filesystem view.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "hardrun/config/flags.hpp"
#include "hardrun/layers/landlock.hpp"
#include "hardrun/plan/parse.hpp"
#include "landlock_view.hpp"

using namespace hardrun;
using namespace hardrun::landlock::access;
using landlock::EntryType;

namespace {

using FakeView = test::MapView;

// The demo rootfs after the default mounts.
FakeView demo_view() {
    FakeView v;
    v.dir("/").dir("/bin").dir("/etc").file("/etc/passwd").dir("/usr").dir("/usr/bin").dir("/tmp").dir("/proc")
        .dir("/proc/sys").dir("/proc/bus").dir("/sys").dir("/dev").dir("/dev/pts").dir("/dev/shm").dir("/dev/mqueue")
        .file("/dev/null").file("/dev/zero").file("/dev/full").file("/dev/random").file("/dev/urandom").file("/dev/tty")
        .link("/dev/fd").dir("/run").dir("/home").dir("/home/app").link("/lib").file("/init.sh");
    return v;
}

LaunchPlan demo_plan(std::vector<Mount> extra = {}) {
    LaunchPlan p;
    p.rootfs = "/srv/rootfs";
    p.mounts = default_mounts(true);
    p.mounts.push_back(parse::tmpfs("--tmpfs", "/tmp"));
    for (auto& m : extra) p.mounts.push_back(m);
    order_mounts(p.mounts);
    p.masked_paths = default_masked_paths();
    p.readonly_paths = default_readonly_paths();
    return p;
}

std::uint64_t rule(const landlock::Ruleset& rs, const std::string& path) {
    for (const auto& r : rs.paths)
        if (r.path == path) return r.access;
    return 0;
}

// What a path effectively gets: the union of the rules on it and on every ancestor (Landlock semantics).
std::uint64_t effective(const landlock::Ruleset& rs, const std::string& path) { return test::rights_along(rs, path); }

}  // namespace

TEST_CASE("landlock: ABI masks") {
    CHECK(landlock::fs_rights_for_abi(0) == 0);
    CHECK(landlock::fs_rights_for_abi(1) == (1ULL << 13) - 1);
    CHECK((landlock::fs_rights_for_abi(2) & kRefer) != 0);
    CHECK((landlock::fs_rights_for_abi(2) & kTruncate) == 0);
    CHECK((landlock::fs_rights_for_abi(3) & kTruncate) != 0);
    CHECK((landlock::fs_rights_for_abi(4) & kIoctlDev) == 0);
    CHECK((landlock::fs_rights_for_abi(7) & kIoctlDev) != 0);
}

TEST_CASE("landlock: the default plan: read/execute on the root, write only on tmpfs, no exec on noexec") {
    FakeView v = demo_view();
    auto rs = landlock::compute(demo_plan(), 7, v);
    const std::uint64_t all = landlock::fs_rights_for_abi(7);
    CHECK(rs.handled_fs == all);
    CHECK(rs.handled_net == 0);  // no --allow-bind/--allow-connect: TCP not restricted
    CHECK(rs.scoped == (kScopeAbstractUnix | kScopeSignal));

    // the root itself: only what everything below tolerates (read), so /tmp cannot inherit execute
    CHECK(rule(rs, "/") == kRead);
    CHECK(effective(rs, "/bin/sh") == (kRead | kExecute));
    CHECK(effective(rs, "/usr/bin/env") == (kRead | kExecute));
    CHECK((effective(rs, "/etc/passwd") & kFileRights) == ((kRead | kExecute) & kFileRights));
    CHECK((effective(rs, "/home/app/x") & kWrite) == 0);  // read-only root: no write anywhere on it
    // /tmp: write, no execute
    CHECK((effective(rs, "/tmp/x") & kWriteFile) != 0);
    CHECK((effective(rs, "/tmp/x") & kMakeReg) != 0);
    CHECK((effective(rs, "/tmp/x") & kExecute) == 0);
    // procfs and sysfs: read only, never write or execute
    CHECK(effective(rs, "/proc/self/attr/current") == kRead);
    CHECK(effective(rs, "/sys/kernel/x") == kRead);
    // /dev: the nodes are usable, the directory is not writable
    CHECK(effective(rs, "/dev/null") == (kRead | kWriteFile | kTruncate | kIoctlDev));
    CHECK((effective(rs, "/dev/newfile") & (kMakeReg | kWriteFile)) == 0);
    CHECK((effective(rs, "/dev/pts/0") & kIoctlDev) != 0);
    CHECK((effective(rs, "/dev/shm/x") & kExecute) == 0);
    CHECK((effective(rs, "/dev/shm/x") & kMakeReg) != 0);
    // symlinks get no rule of their own; a file directly in / gets file rights only
    CHECK(rule(rs, "/lib") == 0);
    CHECK(rule(rs, "/init.sh") == ((kRead | kExecute) & kFileRights));
    // no make_char/make_block anywhere
    for (const auto& r : rs.paths) CHECK((r.access & (kMakeChar | kMakeBlock)) == 0);
    // /proc is never enumerated: one rule covers it
    for (const auto& r : rs.paths) CHECK_FALSE(r.path.rfind("/proc/", 0) == 0);
}

TEST_CASE("landlock: volumes rw and ro, noexec, nested") {
    FakeView v = demo_view();
    v.dir("/data").dir("/data/sub").dir("/data/ro").file("/data/file").dir("/srv").dir("/srv/code").dir("/srv/other");
    auto rw = parse::volume("-v", "/host/data:/data:rw,exec");
    rw.source = "/host/data";
    auto ro = parse::volume("-v", "/host/ro:/data/ro:ro,exec");
    auto code = parse::volume("-v", "/host/code:/srv/code:ro,noexec");
    auto rs = landlock::compute(demo_plan({rw, ro, code}), 7, v);
    CHECK((effective(rs, "/data/sub/x") & kWrite) == kWrite);
    CHECK((effective(rs, "/data/sub/x") & kExecute) != 0);
    CHECK((effective(rs, "/data/ro/x") & kWrite) == 0);  // the ro volume inside the rw one does not inherit write
    CHECK((effective(rs, "/data/ro/x") & kExecute) != 0);
    CHECK((effective(rs, "/srv/code/x") & (kWrite | kExecute)) == 0);
    CHECK((effective(rs, "/srv/other") & kExecute) != 0);  // /srv is the root's
    // a volume without ":exec" is noexec, and Landlock grants no execute below it either
    auto plain = parse::volume("-v", "/host/data:/data");
    rs = landlock::compute(demo_plan({plain}), 7, v);
    CHECK((effective(rs, "/data/sub/x") & kWrite) == kWrite);
    CHECK((effective(rs, "/data/sub/x") & kExecute) == 0);
}

TEST_CASE("landlock: a --read-write root is writable, /tmp still not executable") {
    FakeView v = demo_view();
    auto p = demo_plan();
    p.readonly_root = false;
    auto rs = landlock::compute(p, 7, v);
    CHECK((effective(rs, "/home/app/x") & kWrite) == kWrite);
    CHECK((effective(rs, "/home/app/x") & kExecute) != 0);
    CHECK((effective(rs, "/tmp/x") & kExecute) == 0);
    CHECK((effective(rs, "/proc/x") & kWrite) == 0);
    CHECK((effective(rs, "/dev/x") & kMakeReg) == 0);
}

TEST_CASE("landlock: secrets are read-only, masked and read-only paths never gain rights") {
    FakeView v = demo_view();
    v.dir("/run/secrets").file("/run/secrets/token").dir("/run/other");
    auto p = demo_plan();
    p.secrets.push_back({"/host/token", "token"});
    auto rs = landlock::compute(p, 7, v);
    CHECK(effective(rs, "/run/secrets/token") == kRead);
    CHECK((effective(rs, "/run/other") & kExecute) != 0);
    CHECK(landlock::planned_rights(p, "/proc/kcore") == kRead);
}

TEST_CASE("landlock: an unlistable directory still gets the planned paths below it, and nothing else") {
    FakeView v = demo_view();
    v.dir("/run/secrets");
    v.unlistable.insert("/run");
    auto p = demo_plan();
    p.secrets.push_back({"/host/token", "token"});
    auto rs = landlock::compute(p, 7, v);
    CHECK(rule(rs, "/run/secrets") == kRead);
    CHECK((effective(rs, "/run/unlisted") & kExecute) == 0);  // fail-safe: less, never more
}

TEST_CASE("landlock: ABI gates network rules and scoping") {
    FakeView v = demo_view();
    auto p = demo_plan();
    p.landlock.allow_connect = {443};
    p.landlock.allow_bind = {8080, 8081};
    auto rs = landlock::compute(p, 7, v);
    CHECK(rs.handled_net == (kNetBindTcp | kNetConnectTcp));
    CHECK(rs.ports.size() == 3);
    auto rs3 = landlock::compute(p, 3, v);
    CHECK(rs3.handled_net == 0);
    CHECK(rs3.scoped == 0);
    CHECK((rs3.handled_fs & kIoctlDev) == 0);
    for (const auto& r : rs3.paths) CHECK((r.access & ~rs3.handled_fs) == 0);
    p.landlock.allow_bind.clear();
    auto rs_c = landlock::compute(p, 7, v);
    CHECK(rs_c.handled_net == kNetConnectTcp);  // bind stays unrestricted when no bind port is listed
}

TEST_CASE("landlock: an abstract NOTIFY_SOCKET passed in keeps abstract unix sockets reachable") {
    FakeView v = demo_view();
    auto p = demo_plan();
    p.env.push_back("NOTIFY_SOCKET=@/org/freedesktop/systemd1/notify");
    CHECK(landlock::compute(p, 7, v).scoped == kScopeSignal);
    p.env.back() = "NOTIFY_SOCKET=/run/host/notify";
    CHECK(landlock::compute(p, 7, v).scoped == (kScopeSignal | kScopeAbstractUnix));
}

TEST_CASE("compute: work is linear in the entries listed") {
    // issue 12: 100,000 files in / took 41 s, every rule placed searched all the rules before it. The root is
    // listed (it is executable and /tmp below it is not), so each of its entries gets a rule of its own.
    auto work_for = [](int entries) {
        FakeView v = demo_view();
        for (int i = 0; i < entries; ++i) v.file("/f" + std::to_string(i));
        std::uint64_t work = 0;
        const auto rs = landlock::compute(demo_plan(), 6, v, &work);
        CHECK(rs.paths.size() >= static_cast<std::size_t>(entries));
        const std::uint64_t last = test::rights_along(rs, "/f" + std::to_string(entries - 1));
        CHECK((last & (kReadFile | kExecute)) == (kReadFile | kExecute));
        CHECK((last & kWriteFile) == 0);
        return work;
    };
    const std::uint64_t small = work_for(2000), large = work_for(20000);
    // each entry costs a few comparisons with the plan's ~40 paths, never a pass over the rules placed so far
    CHECK(large <= 200ULL * 20000);
    CHECK(large <= 12 * small);
}
