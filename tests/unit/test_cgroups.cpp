// cgroup v2: the pure decisions (mount table, placement, values and read-back, device program).
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "hardrun/layers/cgroups/cgroups.hpp"
#include "hardrun/support/error.hpp"

using namespace hardrun;
using namespace hardrun::cgroups;

namespace {

// This build host: a hybrid hierarchy (v1 controllers + an empty v2 at /sys/fs/cgroup/unified).
const char* kHybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
// A pure cgroup v2 host (systemd's default since Debian 11).
const char* kUnified =
    "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
    "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

PlacementInput input(std::string own, uid_t euid = 0, std::function<bool(const std::string&)> delegated = {}) {
    PlacementInput in;
    in.mount = "/sys/fs/cgroup";
    in.own = std::move(own);
    in.euid = euid;
    in.delegated = delegated ? delegated : [](const std::string&) { return false; };
    return in;
}

}  // namespace

TEST_CASE("mountinfo: the cgroup2 mount and the v1 controllers of a hybrid host") {
    MountFacts f = parse_mountinfo(kHybrid);
    REQUIRE(f.v2_mount);
    CHECK(*f.v2_mount == "/sys/fs/cgroup/unified");
    CHECK(f.v1.at("memory") == "/sys/fs/cgroup/memory");
    CHECK(f.v1.at("pids") == "/sys/fs/cgroup/pids");
    CHECK(f.v1.count("name=systemd") == 0);
    CHECK(f.v1.count("rw") == 0);

    MountFacts u = parse_mountinfo(kUnified);
    CHECK(*u.v2_mount == "/sys/fs/cgroup");
    CHECK(u.v1.empty());
    CHECK_FALSE(parse_mountinfo("22 1 0:21 / /proc rw - proc proc rw\n").v2_mount);
}

TEST_CASE("mountinfo: escaped blanks in a mount point") {
    MountFacts f = parse_mountinfo("41 31 0:38 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw\n");
    CHECK(*f.v2_mount == "/mnt/my cgroup");
}

TEST_CASE("/proc/self/cgroup: the v2 line") {
    CHECK(*parse_own_cgroup("4:memory:/x\n0::/user.slice/user-1000.slice/session-2.scope\n") ==
          "/user.slice/user-1000.slice/session-2.scope");
    CHECK_FALSE(parse_own_cgroup("4:memory:/x\n"));
}

TEST_CASE("controllers: what each limit needs") {
    Resources r;
    CHECK(needed_controllers(r).empty());
    r.memory_max = 64 << 20;
    r.pids_max = 10;
    CHECK(needed_controllers(r) == std::set<std::string>{"memory", "pids"});
    r.cpu_weight = 100;
    r.io_max.push_back({"8:0", 1000, {}, {}, {}});
    CHECK(needed_controllers(r) == std::set<std::string>{"cpu", "io", "memory", "pids"});
    r.hugetlb.push_back({"2MB", 0});
    CHECK(needed_controllers(r) == std::set<std::string>{"cpu", "hugetlb", "io", "memory", "pids"});
    Resources dev;
    dev.devices.push_back({});
    CHECK(needed_controllers(dev).empty());  // devices need a BPF program, not a controller
}

TEST_CASE("limits: hugetlb.<size>.max, read back rounded down to whole huge pages") {
    Resources r;
    r.hugetlb = {{"2MB", 0}, {"1GB", (3ULL << 30) + 5}, {"64KB", 100000}};
    auto w = limit_writes(r, 4096);
    REQUIRE(w.size() == 3);
    CHECK(w[0].file == "hugetlb.2MB.max");
    CHECK(w[0].value == "0");
    CHECK(w[0].expect == "0");
    CHECK(w[1].file == "hugetlb.1GB.max");
    CHECK(w[1].value == std::to_string((3ULL << 30) + 5));
    CHECK(w[1].expect == std::to_string(3ULL << 30));
    CHECK(w[2].file == "hugetlb.64KB.max");
    CHECK(w[2].expect == std::to_string(65536));
}

TEST_CASE("limits: values written and the exact read-back expected") {
    Resources r;
    r.memory_max = (64ULL << 20) + 100;  // not page aligned: the kernel rounds down
    r.memory_swap_max = 0;
    r.memory_low = 16ULL << 20;
    r.cpu_max = CpuMax{50000, 100000};
    r.cpu_weight = 20;
    r.pids_max = -1;
    auto w = limit_writes(r, 4096);
    auto find = [&](const std::string& f) {
        for (const auto& x : w)
            if (x.file == f) return x;
        FAIL("no write to " << f);
        return LimitWrite{};
    };
    CHECK(find("memory.max").value == std::to_string((64ULL << 20) + 100));
    CHECK(find("memory.max").expect == std::to_string(64ULL << 20));
    CHECK(find("memory.oom.group").value == "1");
    CHECK(find("memory.swap.max").expect == "0");
    CHECK(find("memory.low").expect == std::to_string(16ULL << 20));
    CHECK(find("cpu.max").value == "50000 100000");
    CHECK(find("cpu.weight").value == "20");
    CHECK(find("pids.max").value == "max");


    CHECK(readback_ok(find("cpu.max"), "50000 100000\n"));
    CHECK_FALSE(readback_ok(find("cpu.max"), "max 100000\n"));
    CHECK(readback_ok(find("memory.max"), std::to_string(64ULL << 20) + "\n"));
    CHECK_FALSE(readback_ok(find("memory.max"), "max\n"));

    Resources unl;
    unl.memory_swap_max = -1;
    CHECK(limit_writes(unl, 4096).at(0).value == "max");
}

TEST_CASE("limits: io.max lines and their read-back") {
    Resources r;
    r.io_max.push_back({"8:16", 1048576, {}, {}, 100});
    auto w = limit_writes(r, 4096).at(0);
    CHECK(w.value == "8:16 rbps=1048576 wiops=100");
    CHECK(readback_ok(w, "8:0 rbps=max wbps=5 riops=max wiops=max\n8:16 rbps=1048576 wbps=max riops=max wiops=100\n"));
    CHECK_FALSE(readback_ok(w, "8:16 rbps=1048576 wbps=max riops=max wiops=max\n"));
    CHECK_FALSE(readback_ok(w, "8:0 rbps=1048576 wbps=max riops=max wiops=100\n"));
}

TEST_CASE("placement: root, not delegated: the documented default under the mount") {
    Placement p = place(input("/user.slice/user-0.slice/session-1.scope"));
    CHECK(p.parent == "/sys/fs/cgroup/hardrun");
    CHECK(p.anchor == "/sys/fs/cgroup");
    CHECK(p.source == "default");
    CHECK(p.move_self_to.empty());
    CHECK(p.own_dir == "/sys/fs/cgroup/user.slice/user-0.slice/session-1.scope");
}

TEST_CASE("placement: a delegated unit (Delegate=yes) is used, hardrun moves into a leaf of it") {
    auto deleg = [](const std::string& d) { return d == "/sys/fs/cgroup/system.slice/app.service"; };
    Placement p = place(input("/system.slice/app.service", 0, deleg));
    CHECK(p.source == "delegated");
    CHECK(p.parent == "/sys/fs/cgroup/system.slice/app.service");
    CHECK(p.anchor == p.parent);  // nothing above the delegated cgroup is touched
    CHECK(p.move_self_to == "/sys/fs/cgroup/system.slice/app.service/hardrun-supervisor");

    // a later launch from that leaf uses the same delegated cgroup and does not move again
    Placement again = place(input("/system.slice/app.service/hardrun-supervisor", 0, deleg));
    CHECK(again.parent == "/sys/fs/cgroup/system.slice/app.service");
    CHECK(again.move_self_to.empty());
}

TEST_CASE("placement: rootless needs delegation, and says how to get it") {
    auto deleg = [](const std::string& d) { return d.starts_with("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/"); };
    Placement p = place(input("/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope", 1000, deleg));
    CHECK(p.source == "delegated");
    CHECK(p.parent == "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope");

    try {
        place(input("/user.slice/user-1000.slice/session-3.scope", 1000));
        FAIL("rootless without delegation must fail closed");
    } catch (const Error& e) {
        std::string m = e.what();
        CHECK(m.find("not delegated to uid 1000") != std::string::npos);
        CHECK(m.find("systemd-run --user --scope -p Delegate=yes") != std::string::npos);
    }
    // the root cgroup is never "delegated" to a user
    CHECK_THROWS_AS(place(input("/", 1000, [](const std::string&) { return true; })), Error);
}

TEST_CASE("placement: --cgroup-parent, relative to the mount or absolute under it") {
    PlacementInput in = input("/");
    in.cgroup_parent = "/batch/jobs";
    CHECK(place(in).parent == "/sys/fs/cgroup/batch/jobs");
    CHECK(place(in).anchor == "/sys/fs/cgroup");
    in.cgroup_parent = "batch";
    CHECK(place(in).parent == "/sys/fs/cgroup/batch");
    in.cgroup_parent = "/sys/fs/cgroup/batch/";
    CHECK(place(in).parent == "/sys/fs/cgroup/batch");
    CHECK(place(in).source == "--cgroup-parent");
    in.cgroup_parent = "/batch/../../etc";
    CHECK_THROWS_AS(place(in), UsageError);
    // rootless: only the given directory is changed
    PlacementInput r = input("/x", 1000);
    r.cgroup_parent = "/mine";
    CHECK(place(r).anchor == "/sys/fs/cgroup/mine");
}

TEST_CASE("placement: a cgroup namespace root in mountinfo") {
    PlacementInput in = input("/ns/inner/job");
    in.mount_root = "/ns";
    in.delegated = [](const std::string& d) { return d == "/sys/fs/cgroup/inner/job"; };
    CHECK(place(in).parent == "/sys/fs/cgroup/inner/job");
}

TEST_CASE("missing controller: the hybrid host message names v1 and the fix") {
    MountFacts f = parse_mountinfo(kHybrid);
    Placement p;
    p.source = "default";
    std::string m = missing_controller_reason("memory", "/sys/fs/cgroup/unified", f, p);
    CHECK(m.starts_with("cgroup v2 memory controller not available: this host mounts cgroup v1 (hybrid hierarchy)"));
    CHECK(m.find("systemd.unified_cgroup_hierarchy=1") != std::string::npos);
    CHECK(m.find("--memory") != std::string::npos);
    p.source = "delegated";
    CHECK(missing_controller_reason("pids", "/sys/fs/cgroup/unified/a.service", f, p).find("Delegate=") !=
          std::string::npos);
}

namespace {
// A tiny interpreter for the subset of eBPF device_program() emits, to check what the program decides.
int run_program(const std::vector<bpf_insn>& prog, int type, int access, unsigned major, unsigned minor) {
    bpf_cgroup_dev_ctx ctx{static_cast<__u32>((access << 16) | type), major, minor};
    std::uint64_t r[11] = {};
    for (std::size_t pc = 0; pc < prog.size(); ++pc) {
        const bpf_insn& i = prog[pc];
        const std::uint8_t cls = BPF_CLASS(i.code);
        if (cls == BPF_LDX) {
            std::uint32_t v;
            std::memcpy(&v, reinterpret_cast<const char*>(&ctx) + i.off, 4);
            r[i.dst_reg] = v;
        } else if (cls == BPF_ALU64) {
            std::uint64_t src = BPF_SRC(i.code) == BPF_X ? r[i.src_reg] : static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
            switch (BPF_OP(i.code)) {
                case BPF_MOV: r[i.dst_reg] = src; break;
                case BPF_AND: r[i.dst_reg] &= src; break;
                case BPF_RSH: r[i.dst_reg] >>= src; break;
                default: FAIL("unexpected ALU op");
            }
        } else if (cls == BPF_JMP) {
            if (BPF_OP(i.code) == BPF_EXIT) return static_cast<int>(r[0]);
            std::uint64_t imm = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
            bool jump = BPF_OP(i.code) == BPF_JNE ? r[i.dst_reg] != imm : r[i.dst_reg] == imm;
            if (jump) pc += static_cast<std::size_t>(i.off);
        } else {
            FAIL("unexpected instruction class");
        }
    }
    FAIL("fell off the end");
    return -1;
}
constexpr int C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;
constexpr int R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
DeviceRule rule(bool allow, char type, std::optional<std::int64_t> maj, std::optional<std::int64_t> min, std::string acc) {
    DeviceRule d;
    d.allow = allow;
    d.type = type;
    d.major = maj;
    d.minor = min;
    d.access = std::move(acc);
    return d;
}
}  // namespace

TEST_CASE("device program: the OCI default list (deny all, then allow a few)") {
    std::vector<DeviceRule> rules{rule(false, 'a', {}, {}, "rwm"), rule(true, 'c', 1, 3, "rwm"),
                                  rule(true, 'c', 1, 9, "rw"), rule(true, 'c', 136, {}, "rw")};
    auto p = device_program(rules);
    CHECK(run_program(p, C, R | W, 1, 3) == 1);   // /dev/null
    CHECK(run_program(p, C, M, 1, 3) == 1);
    CHECK(run_program(p, C, R, 1, 9) == 1);       // /dev/urandom read
    CHECK(run_program(p, C, M, 1, 9) == 0);       // but no mknod
    CHECK(run_program(p, C, R | W, 136, 7) == 1); // any pts
    CHECK(run_program(p, C, R, 1, 5) == 0);       // /dev/zero is not listed
    CHECK(run_program(p, B, R, 8, 0) == 0);       // no block device
    CHECK(run_program(p, B, R, 1, 3) == 0);       // type matters
}

TEST_CASE("device program: the last matching rule wins; deny covers any access it names") {
    std::vector<DeviceRule> rules{rule(true, 'a', {}, {}, "rwm"), rule(false, 'c', 1, 3, "w")};
    auto p = device_program(rules);
    CHECK(run_program(p, C, R, 1, 3) == 1);
    CHECK(run_program(p, C, W, 1, 3) == 0);
    CHECK(run_program(p, C, R | W, 1, 3) == 0);  // read+write asked, write denied
    CHECK(run_program(p, B, W, 8, 0) == 1);
    CHECK(run_program(device_program({}), C, R, 1, 3) == 0);  // nothing listed: deny
    CHECK_THROWS_AS(device_program({rule(true, 'x', {}, {}, "r")}), Error);
    CHECK_THROWS_AS(device_program({rule(true, 'c', {}, {}, "rq")}), Error);
}

TEST_CASE("device program: a cgroup made only for limits denies every device but the defaults") {
    Resources res;
    res.memory_max = 64ULL << 20;  // no device rules in the plan
    const auto rules = enforced_device_rules(res, true);
    REQUIRE_FALSE(rules.empty());
    auto p = device_program(rules);
    for (auto [maj, min] : {std::pair{1U, 3U}, {1U, 5U}, {1U, 7U}, {1U, 8U}, {1U, 9U}, {5U, 0U}, {5U, 2U}, {136U, 4U}})
        CHECK(run_program(p, C, R | W, maj, min) == 1);
    CHECK(run_program(p, C, R, 1, 1) == 0);   // /dev/mem
    CHECK(run_program(p, C, R, 1, 11) == 0);  // /dev/kmsg
    CHECK(run_program(p, C, R | W, 10, 229) == 0);  // /dev/fuse
    CHECK(run_program(p, B, R, 7, 0) == 0);   // a loop device
    CHECK(run_program(p, B, R, 8, 0) == 0);   // a disk
    // the plan's own rules replace the default; rootless cannot load a program, nodev is the guard there
    res.devices = {rule(true, 'a', {}, {}, "rwm")};
    CHECK(enforced_device_rules(res, true) == res.devices);
    CHECK(enforced_device_rules(Resources{}, false).empty());
}

namespace {

// Reapers (comm "hardrun-reaper", alive) holding an fd on `dir`.
int reapers_on(const std::string& dir) {
    int n = 0;
    DIR* proc = ::opendir("/proc");
    if (!proc) return 0;
    while (auto* e = ::readdir(proc)) {
        std::string pid = e->d_name;
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream comm("/proc/" + pid + "/comm");
        std::string name;
        std::ifstream status("/proc/" + pid + "/status");
        std::string line, state;
        while (std::getline(status, line))
            if (line.rfind("State:", 0) == 0) state = line;
        if (!(comm >> name) || name != "hardrun-reaper" || state.find('Z') != std::string::npos) continue;
        DIR* fds = ::opendir(("/proc/" + pid + "/fd").c_str());
        if (!fds) continue;
        while (auto* f = ::readdir(fds)) {
            char target[4096] = {};
            std::string link = "/proc/" + pid + "/fd/" + f->d_name;
            if (::readlink(link.c_str(), target, sizeof target - 1) > 0 && dir == target) ++n;
        }
        ::closedir(fds);
    }
    ::closedir(proc);
    return n;
}

}  // namespace

TEST_CASE("reaper: dismissed, it exits at once; its creator dead, it never removes what is not a cgroup") {
    char tmpl[] = "/tmp/hardrun-reaper-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string parent = tmpl, dir = parent + "/hardrun-1";
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);

    auto wait_for = [&](int n) {
        for (int i = 0; i < 500 && reapers_on(parent) != n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return reapers_on(parent) == n;
    };
    auto r = cgroups::Reaper::start(parent, "hardrun-1");
    REQUIRE(r.running());
    CHECK(wait_for(1));  // started in the background (the middle child forks it)
    {
        UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        r.watch(fd.get());
    }
    r.dismiss();  // waits for its exit
    CHECK_FALSE(r.running());
    CHECK(reapers_on(parent) == 0);

    // a creator that dies without dismissing it: the reaper wakes up, finds no cgroup.kill/cgroup.events in
    // this plain directory, and leaves it alone
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto orphan = cgroups::Reaper::start(parent, "hardrun-1");
        UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        orphan.watch(fd.get());
        ::_exit(orphan.running() && wait_for(1) ? 0 : 1);  // no destructor: as if killed
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(wait_for(0));
    struct stat st {};
    CHECK(::stat(dir.c_str(), &st) == 0);
    ::rmdir(dir.c_str());
    ::rmdir(parent.c_str());
}
