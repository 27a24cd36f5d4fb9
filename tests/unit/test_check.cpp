// hardrun check: the /proc parsers, the layer assessment, the advice, the verdict, the probe catalog and the
// renderers, on canned evidence (no sandbox needed; the integration tests run the real thing).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <string>

#include "hardrun/cli/check/check.hpp"
#include "hardrun/cli/check/check_trace.hpp"
#include "hardrun/cli/check/evidence.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/layers/seccomp/seccomp.hpp"

#include "scratch_dir.hpp"

using namespace hardrun;

namespace {

const char* kStatus =
    "Name:\tsh\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nPid:\t42\n"
    "Uid:\t10001\t10001\t10001\t10001\nGid:\t10001\t10001\t10001\t10001\nFDSize:\t64\nGroups:\t\n"
    "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
    "CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n";

const char* kMountinfo =
    "64 42 254:0 /work/rootfs / ro,relatime - ext4 /dev/vda rw,discard\n"
    "65 64 0:40 / /proc rw,nosuid,nodev,noexec,relatime - proc none rw\n"
    "66 64 0:41 / /dev rw,nosuid,noexec,relatime - tmpfs none rw,size=64k,mode=755\n"
    "67 66 0:42 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k,mode=1777\n"
    "68 64 0:43 / /tmp rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=65536k,mode=1777\n"
    "69 65 0:44 / /proc/kcore rw,nosuid - tmpfs none rw\n"
    "70 65 0:40 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc none rw\n"
    "71 64 0:45 / /with\\040space rw - tmpfs none rw\n";

// The plan `hardrun run --rootfs R -- sh` builds, without touching the filesystem.
LaunchPlan default_plan() {
    LaunchPlan p;
    p.args = {"sh"};
    p.rootfs = "/work/rootfs";
    p.mounts = default_mounts(true);
    p.mounts.push_back(parse::tmpfs("--tmpfs", "/tmp"));
    order_mounts(p.mounts);
    p.masked_paths = default_masked_paths();
    p.readonly_paths = default_readonly_paths();
    p.rlimits.push_back(Rlimit{RLIMIT_CORE, 0, 0});
    compute_warnings(p);
    return p;
}

evidence::Evidence good_evidence() {
    evidence::Evidence e;
    e.pid = 42;
    e.status = evidence::parse_status(kStatus);
    e.mounts = evidence::parse_mountinfo(kMountinfo);
    for (const char* ns : {"user", "mnt", "pid", "ipc", "uts", "net", "cgroup"}) {
        e.ns[ns] = std::string(ns) + ":[1]";
        e.ns_hardrun[ns] = std::string(ns) + ":[2]";
    }
    e.ns["user"] = e.ns_hardrun["user"];  // root mode: no user namespace
    e.interfaces = {"lo"};
    e.limits["Max core file size"] = {"0", "0"};
    e.landlock_abi = 4;
    return e;
}

const check::Layer& layer(const std::vector<check::Layer>& ls, const std::string& name) {
    for (const auto& l : ls)
        if (l.name == name) return l;
    FAIL("no layer " << name);
    return ls.front();
}

bool any_contains(const std::vector<check::Finding>& fs, const std::string& field_text) {
    return std::any_of(fs.begin(), fs.end(), [&](const check::Finding& f) {
        return f.message.find(field_text) != std::string::npos || f.fix.find(field_text) != std::string::npos;
    });
}

check::FailedCall call(const std::string& name, int err, std::vector<std::string> paths = {}, std::uint64_t flags = 0) {
    check::FailedCall f;
    f.syscall = name;
    f.err = err;
    f.paths = std::move(paths);
    f.flags = flags;
    return f;
}

}  // namespace

TEST_CASE("evidence: /proc/PID/status") {
    auto s = evidence::parse_status(kStatus);
    CHECK(s.name == "sh");
    CHECK(s.state == 'S');
    CHECK(s.uid == std::array<long, 4>{10001, 10001, 10001, 10001});
    CHECK(s.groups.empty());
    CHECK(s.eff.empty());
    CHECK(s.no_new_privs == 1);
    CHECK(s.seccomp == 2);
    CHECK(s.seccomp_filters == 1);
    auto r = evidence::parse_status("CapEff:\t0000000000000400\nCapBnd:\t000001ffffffffff\nGroups:\t5 27\n");
    CHECK(r.eff.has(CAP_NET_BIND_SERVICE));
    CHECK(r.bnd.has(CAP_SYS_ADMIN));
    CHECK(r.groups == std::vector<long>{5, 27});
    CHECK_FALSE(r.no_new_privs.has_value());
}

TEST_CASE("evidence: mountinfo, cgroup, id maps, net/dev, limits") {
    auto m = evidence::parse_mountinfo(kMountinfo);
    REQUIRE(m.size() == 8);
    CHECK(m[0].mount_point == "/");
    CHECK(m[0].readonly);
    CHECK(m[4].noexec);
    CHECK(m[4].fstype == "tmpfs");
    CHECK(m[6].readonly);  // per-mount "ro" wins over the superblock's "rw"
    CHECK(m[7].mount_point == "/with space");
    CHECK(evidence::covering_mount(m, "/tmp/x")->mount_point == "/tmp");
    CHECK(evidence::covering_mount(m, "/tmpfoo")->mount_point == "/");
    CHECK(evidence::covering_mount(m, "/proc/sys/kernel/core_pattern")->mount_point == "/proc/sys");
    CHECK(evidence::parse_cgroup_v2_path("4:memory:/x\n0::/hardrun-12\n") == "/hardrun-12");
    CHECK(evidence::parse_cgroup_v2_path("4:memory:/x\n").empty());
    auto map = evidence::parse_id_map("     10001       1000          1\n");
    REQUIRE(map.size() == 1);
    CHECK(evidence::inside_id(map, 1000) == 10001);
    CHECK_FALSE(evidence::inside_id(map, 0).has_value());
    CHECK(evidence::parse_net_dev("Inter-|   Receive\n face |bytes\n    lo: 0 0\n  eth0: 1 2\n") ==
          std::vector<std::string>{"lo", "eth0"});
    auto lim = evidence::parse_limits(
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max core file size        0                    0                    bytes     \n"
        "Max open files            1024                 524288               files     \n");
    CHECK(lim["Max core file size"] == std::pair<std::string, std::string>{"0", "0"});
    CHECK(lim["Max open files"].second == "524288");
}

TEST_CASE("evidence: JSON round trip (the tracer sends it to the supervisor)") {
    auto e = good_evidence();
    e.lsm_label = "hardrun-default (enforce)";
    e.cgroup_files["memory.max"] = "67108864";
    e.uid_map = {IdMap{10001, 1000, 1}};
    auto back = evidence::from_json(evidence::to_json(e));
    CHECK(back.status->uid == e.status->uid);
    CHECK(back.status->no_new_privs == 1);
    CHECK(back.mounts.size() == e.mounts.size());
    CHECK(back.mounts[7].mount_point == "/with space");
    CHECK(back.lsm_label == e.lsm_label);
    CHECK(back.limits == e.limits);
    CHECK(back.cgroup_files == e.cgroup_files);
    CHECK(back.uid_map == e.uid_map);
    CHECK(back.ns == e.ns);
}

TEST_CASE("assess: the default plan and matching evidence: every layer ok or not applicable") {
    auto layers = check::assess(default_plan(), good_evidence());
    for (const auto& l : layers) {
        INFO(l.name << ": " << l.evidence);
        CHECK((l.status == check::Status::Ok || l.status == check::Status::NotApplicable));
    }
    CHECK(layer(layers, "cgroup").status == check::Status::NotApplicable);  // no limit asked
    CHECK(layer(layers, "apparmor").status == check::Status::NotApplicable);  // not enabled in this evidence
    CHECK(layer(layers, "no_new_privs").evidence == "NoNewPrivs 1");
}

TEST_CASE("assess: evidence that contradicts the plan fails the layer") {
    auto plan = default_plan();
    SUBCASE("no_new_privs not set") {
        auto e = good_evidence();
        e.status->no_new_privs = 0;
        CHECK(layer(check::assess(plan, e), "no_new_privs").status == check::Status::Failed);
    }
    SUBCASE("a capability held") {
        auto e = good_evidence();
        e.status->eff.add(CAP_SYS_ADMIN);
        auto l = layer(check::assess(plan, e), "capabilities");
        CHECK(l.status == check::Status::Failed);
        CHECK(l.warnings.front().find("CAP_SYS_ADMIN") != std::string::npos);
    }
    SUBCASE("root writable") {
        auto e = good_evidence();
        e.mounts[0].readonly = false;
        CHECK(layer(check::assess(plan, e), "filesystem").status == check::Status::Failed);
    }
    SUBCASE("network namespace shared") {
        auto e = good_evidence();
        e.ns["net"] = e.ns_hardrun["net"];
        CHECK(layer(check::assess(plan, e), "namespaces").status == check::Status::Failed);
    }
    SUBCASE("wrong uid") {
        auto e = good_evidence();
        e.status->uid[1] = 0;
        CHECK(layer(check::assess(plan, e), "user").status == check::Status::Failed);
    }
    SUBCASE("no seccomp filter") {
        auto e = good_evidence();
        e.status->seccomp = 0;
        CHECK(layer(check::assess(plan, e), "seccomp").status == check::Status::Failed);
    }
    SUBCASE("nothing read back: not ok") {
        evidence::Evidence e;
        e.notes.push_back("status: No such process");
        auto l = layer(check::assess(plan, e), "user");
        CHECK(l.status == check::Status::Warning);
        CHECK(l.evidence.find("not read back") != std::string::npos);
    }
}

TEST_CASE("assess: rootless evidence is translated through the uid map") {
    auto e = good_evidence();
    e.own_user_namespace = true;
    e.ns["user"] = "user:[9]";
    e.status->uid = {1000, 1000, 1000, 1000};
    e.status->gid = {1000, 1000, 1000, 1000};
    e.uid_map = {IdMap{10001, 1000, 1}};
    e.gid_map = {IdMap{10001, 1000, 1}};
    auto plan = default_plan();
    plan.namespaces.user = true;
    auto l = layer(check::assess(plan, e), "user");
    CHECK(l.status == check::Status::Ok);
    CHECK(l.evidence.find("10001/10001/10001/10001 (host 1000)") != std::string::npos);
}

TEST_CASE("assess: weakened choices are warnings on their layer") {
    auto plan = default_plan();
    plan.no_new_privs = false;
    plan.seccomp.mode = SeccompChoice::Mode::Unconfined;
    plan.caps.bounding.add(CAP_NET_BIND_SERVICE);
    compute_warnings(plan);
    auto e = good_evidence();
    e.status->no_new_privs = 0;
    e.status->seccomp = 0;
    e.status->bnd.add(CAP_NET_BIND_SERVICE);
    auto layers = check::assess(plan, e);
    CHECK(layer(layers, "no_new_privs").status == check::Status::Warning);
    CHECK(layer(layers, "seccomp").status == check::Status::Warning);
    CHECK(layer(layers, "capabilities").status == check::Status::Warning);
}

TEST_CASE("advise: the fix for each kind of refusal") {
    auto plan = default_plan();
    check::OutcomeView failed;
    failed.status = 1;
    SUBCASE("a write to the read-only root: mount a tmpfs or a volume there") {
        auto f = check::advise(plan, {call("openat", EROFS, {"/var/log/app.log"}, O_WRONLY | O_CREAT),
                                      call("openat", EROFS, {"/var/log/other.log"}, O_WRONLY | O_CREAT)},
                               {}, failed);
        REQUIRE(f.size() == 1);  // one piece of advice per directory
        CHECK(f[0].kind == "filesystem");
        CHECK(f[0].fix.find("mount a tmpfs or a volume at /var/log") == 0);
        CHECK(f[0].count == 2);
    }
    SUBCASE("EROFS under /proc/sys: a host setting, never --tmpfs /proc/sys (hardrun refuses that)") {
        auto f = check::advise(plan, {call("openat", EROFS, {"/proc/sys/kernel/domainname"}, O_WRONLY | O_TRUNC)}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].layer == "filesystem");
        CHECK(f[0].message.find("/proc/sys is read-only") != std::string::npos);
        CHECK(f[0].fix.find("sysctl -w kernel.domainname=VALUE") != std::string::npos);
        CHECK(f[0].fix.find("--tmpfs") == std::string::npos);
        CHECK(f[0].message.find("root filesystem") == std::string::npos);
    }
    SUBCASE("EROFS under /sys: never writable in the sandbox") {
        auto f = check::advise(plan, {call("openat", EROFS, {"/sys/kernel/mm/ksm/run"}, O_WRONLY)}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].message.find("/sys is never writable in the sandbox") != std::string::npos);
        CHECK(f[0].fix.find("--tmpfs") == std::string::npos);
    }
    SUBCASE("EROFS in a read-only volume: mount it :rw, the root is not to blame") {
        auto p = plan;
        Mount v;
        v.source = "/srv/data";
        v.destination = "/data";
        v.readonly = true;
        p.mounts.push_back(v);
        auto f = check::advise(p, {call("openat", EROFS, {"/data/out.txt"}, O_WRONLY | O_CREAT)}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].message.find("/data is a read-only volume (/srv/data)") != std::string::npos);
        CHECK(f[0].fix.find("-v /srv/data:/data:rw") != std::string::npos);
        CHECK(f[0].message.find("root filesystem") == std::string::npos);
    }
    SUBCASE("EACCES where the file modes allow it and Landlock is on: Landlock refused it") {
        auto c = call("openat", EACCES, {"/proc/self/oom_score_adj"}, O_WRONLY | O_TRUNC);
        c.dac_allows = true;
        auto f = check::advise(plan, {c}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].layer == "landlock");
        CHECK(f[0].message.find("Landlock refused it") != std::string::npos);
        // the same call with Landlock off, or with modes that refuse it: the user (file modes)
        auto off = plan;
        off.landlock.mode = LandlockChoice::Mode::Off;
        CHECK(check::advise(off, {c}, {}, failed).at(0).layer == "user");
        c.dac_allows = false;
        CHECK(check::advise(plan, {c}, {}, failed).at(0).layer == "user");
        c.dac_allows.reset();
        CHECK(check::advise(plan, {c}, {}, failed).at(0).layer == "user");
    }
    SUBCASE("mkdir names the directory itself") {
        auto f = check::advise(plan, {call("mkdir", EROFS, {"/var/cache/app"})}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].fix.find("mount a tmpfs or a volume at /var/cache/app") == 0);
    }
    SUBCASE("a read-only open is not a write") {
        auto f = check::advise(plan, {call("openat", EACCES, {"/etc/shadow"}, O_RDONLY)}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].kind == "permission");
    }
    SUBCASE("binding port 80: the seeds' advice") {
        auto c = call("bind", EACCES);
        c.port = 80;
        c.family = AF_INET;
        auto f = check::advise(plan, {c}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].kind == "capability");
        CHECK(f[0].fix == "add --cap-add NET_BIND_SERVICE, or listen on a port above 1023");
    }
    SUBCASE("a seccomp denial names the syscall") {
        seccomp::Denial d;
        d.name = "keyctl";
        d.count = 3;
        auto f = check::advise(plan, {}, {d}, failed);
        REQUIRE(f.size() == 1);
        // the fix says what allowing it opens (advice never weakens a layer silently)
        CHECK(f[0].fix == "only if the workload needs it: allow keyctl in a profile of your own (this opens the kernel keyrings, which "
                          "are not namespaced (the host's keys)), or record one with `hardrun seccomp record`");
        CHECK(f[0].count == 3);
    }
    SUBCASE("the profile's deliberate ENOSYS (clone3, syscalls newer than the profile) is no finding") {
        seccomp::Denial d;
        d.name = "clone3";
        d.nr = 435;
        d.error = ENOSYS;
        d.count = 2;
        CHECK(check::expected_refusal("clone3", ENOSYS));
        CHECK(check::expected_refusal("close_range", ENOSYS));
        CHECK_FALSE(check::expected_refusal("clone3", EPERM));
        CHECK_FALSE(check::expected_refusal("keyctl", EPERM));
        CHECK(check::advise(plan, {}, {d}, failed).empty());
        auto c = call("clone3", ENOSYS);
        c.seccomp_denied = true;
        CHECK(check::advise(plan, {c}, {}, failed).empty());
        // refused with another errno, libc does not fall back: a finding, and the fix is never "allow clone3"
        d.error = EPERM;
        auto f = check::advise(plan, {}, {d}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].fix.find("do not allow it") != std::string::npos);
        CHECK(f[0].fix.find("user namespace") != std::string::npos);
        CHECK(f[0].fix.find("add syscall") == std::string::npos);
    }
    SUBCASE("the tracer's own seccomp verdict when there is no report") {
        auto c = call("unshare", EPERM);
        c.seccomp_denied = true;
        auto f = check::advise(plan, {c}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].message.find("unshare") != std::string::npos);
    }
    SUBCASE("setuid: start as the user instead") {
        auto c = call("setresuid", EPERM);
        c.id = 0;
        CHECK(any_contains(check::advise(plan, {c}, {}, failed), "--cap-add SETUID"));
    }
    SUBCASE("exec from a noexec tmpfs") {
        auto f = check::advise(plan, {call("execve", EACCES, {"/tmp/tool"})}, {}, failed);
        REQUIRE(f.size() == 1);
        CHECK(f[0].message.find("/tmp is mounted noexec") != std::string::npos);
    }
    SUBCASE("OOM: the limit and the peak") {
        auto p = plan;
        p.resources.memory_max = 64ULL << 20;
        check::OutcomeView oom;
        oom.signal = SIGKILL;
        oom.oom_killed = true;
        oom.memory_peak = 64ULL << 20;
        auto f = check::advise(p, {}, {}, oom);
        REQUIRE(f.size() == 1);
        CHECK(f[0].message.find("64 MiB") != std::string::npos);
        CHECK(f[0].message.find("peak") != std::string::npos);
    }
    SUBCASE("pids limit hit") {
        auto p = plan;
        p.resources.pids_max = 16;
        check::OutcomeView o;
        o.status = 1;
        o.pids_limit_hit = true;
        CHECK(any_contains(check::advise(p, {}, {}, o), "pids limit 16"));
    }
}

TEST_CASE("trace: the file mode check of the tracer's EACCES verdict") {
    check::DacSubject who{10001, 10001, {20}};
    CHECK(check::dac_permits(who, 0644, 10001, 0, 2));        // owner may write
    CHECK_FALSE(check::dac_permits(who, 0644, 0, 0, 2));      // other may not
    CHECK(check::dac_permits(who, 0664, 0, 20, 2));           // a supplementary group
    CHECK(check::dac_permits(who, 0775, 0, 10001, 3));        // write + search on a directory
    CHECK_FALSE(check::dac_permits(who, 0755, 0, 10001, 3));
    CHECK_FALSE(check::dac_permits(who, 0466, 10001, 10001, 2));  // the owner's bits decide, not other's
}

TEST_CASE("classify: 0 clean, 1 the hardening, 2 the workload itself") {
    check::Report r;
    r.ran_workload = true;
    check::OutcomeView ok;
    ok.status = 0;
    r.outcome = ok;
    check::classify(r);
    CHECK(r.exit_code == 0);

    r.findings.push_back({"pids", "cgroup", "fork failed: the pids limit 8 was reached", "raise --pids-limit", 1});
    check::classify(r);
    CHECK(r.exit_code == 1);  // succeeded, but only after hitting a limit
    r.findings.clear();
    // refusals a successful workload tolerated (--diagnose) are shown, not held against it
    r.findings.push_back({"filesystem", "filesystem", "openat(/x.pyc) failed with EROFS", "mount...", 1});
    check::classify(r);
    CHECK(r.exit_code == 0);
    r.findings.clear();

    r.warnings = {"capabilities: CAP_NET_BIND_SERVICE is added back"};
    check::classify(r);
    CHECK(r.exit_code == 1);  // succeeded only with a weakened layer
    r.warnings.clear();

    check::OutcomeView bad;
    bad.status = 3;
    r.outcome = bad;
    check::classify(r);
    CHECK(r.exit_code == 2);
    CHECK(r.verdict.find("--diagnose") != std::string::npos);

    r.findings.push_back({"filesystem", "filesystem", "openat(/var/log/x) failed with EROFS", "mount a tmpfs...", 1});
    check::classify(r);
    CHECK(r.exit_code == 1);

    check::OutcomeView notfound;
    notfound.error = "exec nosuch: No such file or directory (ENOENT)";
    notfound.error_step = "exec";
    r.outcome = notfound;
    r.findings.clear();
    check::classify(r);
    CHECK(r.exit_code == 2);

    check::Report probes;
    probes.probes.push_back({"mount", "", "", "blocked", "", "", "", true});
    check::classify(probes);
    CHECK(probes.exit_code == 0);
    probes.probes.push_back({"bpf", "", "", "not-blocked", "", "", "", false});
    check::classify(probes);
    CHECK(probes.exit_code == 1);
}

TEST_CASE("classify: the verdict counts probes that were not applicable, and notes missing limits") {
    check::Report probes;
    probes.probes.push_back({"mount", "", "", "blocked", "", "", "", true});
    probes.probes.push_back({"chroot", "", "", "blocked", "", "", "", true});
    check::classify(probes);
    CHECK(probes.verdict == "every probe was blocked under full hardening");
    probes.probes.push_back({"vsock", "", "", "not-applicable", "", "", "", true});
    check::classify(probes);
    CHECK(probes.exit_code == 0);
    CHECK(probes.verdict == "2 probe(s) blocked, 1 not applicable here under full hardening");

    // the default plan sets no limit: not a failure, but the verdict says what lint would flag
    auto plan = default_plan();
    check::Report r;
    r.ran_workload = true;
    check::OutcomeView ok;
    ok.status = 0;
    r.outcome = ok;
    r.layers = check::assess(plan, good_evidence());
    check::classify(r);
    CHECK(r.exit_code == 0);
    CHECK(r.verdict.find("under full hardening; note: no memory limit (--memory)") != std::string::npos);
    CHECK(r.verdict.find("limits.memory") != std::string::npos);
    CHECK(r.verdict.find("limits.pids") != std::string::npos);
    // with both limits, no note
    plan.resources.memory_max = 64 << 20;
    plan.resources.pids_max = 50;
    auto ev = good_evidence();
    ev.cgroup_files["memory.max"] = std::to_string(64 << 20);
    ev.cgroup_files["pids.max"] = "50";
    r.layers = check::assess(plan, ev);
    check::classify(r);
    CHECK(r.verdict == "the workload succeeded under full hardening");
}

TEST_CASE("probes: the catalog has at least 30 distinct probes") {
    std::set<std::string> names;
    for (const auto& p : check::probe_catalog()) {
        CHECK_FALSE(p.title.empty());
        CHECK_FALSE(p.op.empty());
        names.insert(p.name);
    }
    CHECK(names.size() == check::probe_catalog().size());
    CHECK(names.size() >= 30);
    for (const char* must : {"write-root", "exec-noexec-tmpfs", "setuid-exec", "setuid-root", "mount", "unshare", "setns",
                             "pivot-root", "chroot-escape", "ptrace", "read-kcore", "supervisor-environ", "sys-firmware",
                             "write-proc-sys", "sysrq-trigger", "load-module", "raw-socket", "packet-socket", "vsock-socket",
                             "host-network", "host-fd", "proc-exe-write", "keyctl", "bpf", "perf-event-open", "userfaultfd",
                             "io-uring", "tiocsti", "hostname", "memory-limit", "pids-limit", "fork-bomb"})
        CHECK(names.count(must));
}

TEST_CASE("probes: expected lines name the layers of the plan that stop each probe") {
    auto plan = default_plan();
    const auto prepared = seccomp::prepare(plan, seccomp::Mode::Enforce);
    const auto program = prepared.enforce.empty() ? prepared.program : prepared.enforce;
    const auto* mount = check::find_probe("mount");
    REQUIRE(mount);
    CHECK(check::expected_line(*mount, check::probe_defenses("mount", plan, program)) ==
          "mount(2) -> EPERM: blocked by seccomp and by missing CAP_SYS_ADMIN");
    // without seccomp, only the missing capability is left
    CHECK(check::expected_line(*mount, check::probe_defenses("mount", plan, {})) ==
          "mount(2) -> EPERM: blocked by missing CAP_SYS_ADMIN");
    // every default-plan probe is stopped by something (limits only with a limit)
    for (const auto& p : check::probe_catalog()) {
        auto d = check::probe_defenses(p.name, plan, program);
        if (p.name == "memory-limit" || p.name == "pids-limit" || p.name == "fork-bomb") {
            CHECK(d.empty());
            continue;
        }
        INFO(p.name);
        CHECK_FALSE(d.empty());
    }
    // weakened plans lose the matching defense
    auto weak = plan;
    weak.readonly_root = false;
    weak.uid = 0;
    CHECK(check::probe_defenses("write-etc", weak, program).empty());
    weak = plan;
    weak.network = NetworkMode::Host;
    weak.namespaces.net = false;
    CHECK(check::probe_defenses("host-network", weak, program).empty());
    weak = plan;
    weak.no_new_privs = false;  // no_new_privs goes; nosuid mounts stay whatever the plan says (issue 12)
    CHECK(check::probe_defenses("setuid-exec", weak, program) == std::vector<std::string>{"nosuid on the root and every volume"});
    weak = plan;
    weak.resources.pids_max = 64;
    CHECK(check::probe_defenses("fork-bomb", weak, program) == std::vector<std::string>{"pids.max=64"});
    // a profile that allows clone3 does not stop the unshare probe: clone3's CLONE_NEW* flags are in memory
    auto has_seccomp = [](const std::vector<std::string>& d) { return std::find(d.begin(), d.end(), "seccomp") != d.end(); };
    CHECK(has_seccomp(check::probe_defenses("unshare", plan, program)));
    for (const char* names : {R"(["read", "exit_group"])", R"(["read", "exit_group", "clone3"])"}) {
        INFO(names);
        weak = plan;
        weak.seccomp.mode = SeccompChoice::Mode::Profile;
        weak.seccomp.inline_json = std::string(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": )") + names +
                                   R"(, "action": "SCMP_ACT_ALLOW"}]})";
        const auto p2 = seccomp::prepare(weak, seccomp::Mode::Enforce);
        const auto prog2 = p2.enforce.empty() ? p2.program : p2.enforce;
        CHECK(has_seccomp(check::probe_defenses("unshare", weak, prog2)) == (std::string(names).find("clone3") == std::string::npos));
    }
}

TEST_CASE("probes: results from the probe's output and from the outcome") {
    const auto& info = *check::find_probe("mount");
    check::OutcomeView ok;
    ok.status = 0;
    auto r = check::probe_result(info, "x", "result=blocked\nop=mount(2) tmpfs on /tmp\nerrno=EPERM\ndetail=cannot mount\n", ok, "");
    CHECK(r.verdict == "blocked");
    CHECK(r.err == "EPERM");
    CHECK(r.passed);
    r = check::probe_result(info, "x", "result=not-blocked\nop=mount(2)\ndetail=mounted\n", ok, "");
    CHECK_FALSE(r.passed);
    check::OutcomeView oom;
    oom.signal = SIGKILL;
    oom.oom_killed = true;
    r = check::probe_result(*check::find_probe("memory-limit"), "x", "", oom, "");
    CHECK(r.verdict == "blocked");
    CHECK(r.err == "OOM");
    check::OutcomeView crashed;
    crashed.signal = SIGSEGV;
    r = check::probe_result(info, "x", "", crashed, "");
    CHECK(r.verdict == "error");
    CHECK_FALSE(r.passed);
}

TEST_CASE("report: JUnit has one test case per layer and per probe, escaped") {
    check::Report r;
    r.layers = check::assess(default_plan(), good_evidence());
    r.probes.push_back({"mount", "mount <a> filesystem", "mount(2) -> EPERM", "blocked", "mount(2)", "EPERM", "a&b", true});
    r.probes.push_back({"bpf", "bpf", "x", "not-blocked", "bpf", "", "created", false});
    r.probes.push_back({"read-kcore", "k", "x", "not-applicable", "", "", "no kcore", true});
    check::classify(r);
    auto xml = check::render_junit(r);
    auto count = [&](const std::string& needle) {
        std::size_t n = 0;
        for (auto p = xml.find(needle); p != std::string::npos; p = xml.find(needle, p + 1)) ++n;
        return n;
    };
    CHECK(count("<testcase ") == r.layers.size() + 3);
    CHECK(count("<failure ") == 1);
    CHECK(count("<skipped ") == 3);  // read-kcore, and the n/a cgroup and apparmor layers
    CHECK(xml.find("mount &lt;a&gt;") == std::string::npos);  // titles are not test names
    CHECK(xml.find("a&amp;b") != std::string::npos);
    auto j = check::render_json(r);
    CHECK(j["probes"].size() == 3);
    CHECK(j["exit_code"] == 1);
    CHECK(check::render_human(r, false).find("HARDENING (exit 1)") != std::string::npos);
}

TEST_CASE("trace: paths are normalized the way the workload sees them") {
    CHECK(check::normalize_path("//a/./b/../c/") == "/a/c");
    CHECK(check::normalize_path("/..") == "/");
    CHECK(check::join_path("/var", "log/app.log") == "/var/log/app.log");
    CHECK(check::join_path("/var", "/etc/x") == "/etc/x");
    CHECK(check::join_path("/", "../x") == "/x");
    auto f = call("openat", EROFS, {"/a"});
    f.port = 80;
    f.seccomp_denied = true;
    auto back = check::failed_call_from_json(check::to_json(f));
    CHECK(back.syscall == "openat");
    CHECK(back.port == 80);
    CHECK(back.seccomp_denied);
}

TEST_CASE("probes: the expected errno is the first answering layer's under the plan") {
    auto plan = default_plan();
    const auto prepared = seccomp::prepare(plan, seccomp::Mode::Enforce);
    const auto program = prepared.enforce.empty() ? prepared.program : prepared.enforce;
    CHECK(check::expected_refusal("write-etc", plan, program) == "EROFS");
    CHECK(check::expected_refusal("mknod-device", plan, program) == "EACCES");  // Landlock's hook comes first
    CHECK(check::expected_refusal("mount", plan, program).empty());              // the catalog's EPERM
    auto rw = plan;
    rw.readonly_root = false;
    CHECK(check::expected_refusal("write-root", rw, program) == "EACCES");  // the uid: DAC
    auto no_ll = plan;
    no_ll.landlock.mode = LandlockChoice::Mode::Off;
    CHECK(check::expected_refusal("mknod-device", no_ll, program) == "EPERM");  // CAP_MKNOD
    const auto* mknod = check::find_probe("mknod-device");
    REQUIRE(mknod);
    CHECK(check::expected_line(*mknod, {"Landlock (no device nodes)"}, "EACCES") ==
          "mknod(2) -> EACCES: blocked by Landlock (no device nodes)");
    CHECK(check::expected_line(*mknod, {"missing CAP_MKNOD"}) == "mknod(2) -> EPERM: blocked by missing CAP_MKNOD");
}

TEST_CASE("advise: ENOENT where a tmpfs of the plan hides the image's directory, and only there") {
    ScratchDir root("hardrun-check-unit");
    std::filesystem::create_directories(root.at("run/app"));
    auto plan = default_plan();
    plan.rootfs = root.dir;
    plan.mounts.push_back(parse::tmpfs("--tmpfs", "/run"));
    check::OutcomeView failed;
    failed.status = 1;
    auto f = check::advise(plan, {call("openat", ENOENT, {"/run/app/app.pid"}, O_WRONLY | O_CREAT),
                                  call("mkdir", ENOENT, {"/run/app/sub/x"}, 0755)},
                           {}, failed);
    REQUIRE(f.size() == 1);  // one per hiding tmpfs
    CHECK(f[0].layer == "filesystem");
    CHECK(f[0].message == "openat(/run/app/app.pid) failed with ENOENT: /run/app is in the image, but the tmpfs at /run hides it");
    CHECK(f[0].fix.starts_with("fill that tmpfs with the image's files there: --tmpfs /run:tmpcopyup"));
    CHECK(f[0].count == 2);
    // the image lacks the directory too, the tmpfs is copied up already, or nothing hides it: no finding
    CHECK(check::advise(plan, {call("openat", ENOENT, {"/run/other/x"}, O_WRONLY | O_CREAT)}, {}, failed).empty());
    auto copied = plan;
    copied.mounts.back().copy_up = true;
    CHECK(check::advise(copied, {call("openat", ENOENT, {"/run/app/x"}, O_WRONLY | O_CREAT)}, {}, failed).empty());
    CHECK(check::advise(default_plan(), {call("openat", ENOENT, {"/srv/x/y"}, O_WRONLY | O_CREAT)}, {}, failed).empty());
}
