// The OCI front end: the runtime-spec fixtures, config.json -> LaunchPlan, spec/features, the state store.
#include <doctest/doctest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "hardrun/support/error.hpp"
#include "hardrun/config/oci.hpp"
#include "hardrun/launch/runtime.hpp"
#include "hardrun/launch/state.hpp"
#include "hardrun/layers/sysctl.hpp"

#include "scratch_dir.hpp"

using namespace hardrun;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(HARDRUN_TEST_DATA) + "/oci";

// A bundle directory with an empty rootfs/ (and rootfs/full with a file, for tmpcopyup).
const std::string& bundle_dir() {
    static const ScratchDir scratch("hardrun-oci-unit");  // removed with the test program's static objects
    static const std::string dir = [] {
        const std::string& d = scratch.dir;
        fs::create_directories(d + "/rootfs/full");
        std::ofstream(d + "/rootfs/full/file") << "x";
        fs::create_directories(d + "/rootfs/empty");
        fs::create_directories(d + "/data");
        return d;
    }();
    return dir;
}

oci::PlanContext ctx(uid_t invoker = 0) {
    oci::PlanContext c;
    c.bundle_dir = bundle_dir();
    c.invoker_uid = invoker;
    return c;
}

json base() {
    return json::parse(R"({
      "ociVersion": "1.0.2",
      "root": {"path": "rootfs", "readonly": true},
      "process": {"args": ["id"], "cwd": "/", "user": {"uid": 10001, "gid": 10001}, "noNewPrivileges": true},
      "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
    })");
}

LaunchPlan plan_of(const json& j, uid_t invoker = 0) { return oci::to_plan(oci::parse_config(j), ctx(invoker)); }

std::string parse_error(const json& j) {
    try {
        oci::parse_config(j);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::string plan_error(const json& j, uid_t invoker = 0) {
    try {
        plan_of(j, invoker);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

json read_json(const std::string& path) {
    std::ifstream f(path);
    return json::parse(f);
}

const Mount* mount_at(const LaunchPlan& p, const std::string& dest) {
    for (const auto& m : p.mounts)
        if (m.destination == dest) return &m;
    return nullptr;
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// A child process in namespaces of its own (not the test's), alive until destroyed: its /proc/PID/ns/* are
// namespaces a config may join without touching the host.
class OtherNamespaces {
public:
    explicit OtherNamespaces(int flags) {
        int ready[2], hold[2];
        REQUIRE(::pipe(ready) == 0);
        REQUIRE(::pipe(hold) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::close(ready[0]);
            ::close(hold[1]);
            if (::unshare(flags) != 0 && ::unshare(flags | CLONE_NEWUSER) != 0) ::_exit(1);
            char c = 'x';
            if (::write(ready[1], &c, 1) != 1) ::_exit(1);
            while (::read(hold[0], &c, 1) > 0) {
            }
            ::_exit(0);
        }
        ::close(ready[1]);
        ::close(hold[0]);
        hold_ = hold[1];
        char c = 0;
        ok_ = ::read(ready[0], &c, 1) == 1;
        ::close(ready[0]);
    }
    ~OtherNamespaces() {
        ::close(hold_);
        ::waitpid(pid_, nullptr, 0);
    }
    bool ok() const { return ok_; }
    std::string ns(const char* name) const { return "/proc/" + std::to_string(pid_) + "/ns/" + name; }

private:
    pid_t pid_ = -1;
    int hold_ = -1;
    bool ok_ = false;
};

}  // namespace

TEST_CASE("oci: every good/ fixture of the runtime spec parses") {
    int n = 0;
    for (const auto& e : fs::directory_iterator(kData + "/test-config/good")) {
        INFO(e.path().string());
        json j = read_json(e.path());
        CHECK_NOTHROW(oci::parse_config(j));
        ++n;
    }
    CHECK(n == 5);
}

TEST_CASE("oci: every bad/ fixture is refused with an error that names the field") {
    const std::map<std::string, std::string> expected = {
        {"linux-hugepage.json", "linux.resources.hugepageLimits[0].pageSize: '64kB' is not a page size"},
        {"linux-netdevice.json", "linux.netDevices.eth0.name: must be a string, not an integer"},
        {"linux-rdma.json", "linux.resources.rdma.mlx5_1.hcaHandles: must be an unsigned"},
    };
    int n = 0;
    for (const auto& e : fs::directory_iterator(kData + "/test-config/bad")) {
        const std::string name = e.path().filename();
        INFO(name);
        ++n;
        if (name == "invalid-json.json") {
            // load_config reads BUNDLE/config.json: put the fixture there
            const std::string dir = bundle_dir() + "/bad-json";
            fs::create_directories(dir);
            fs::copy_file(e.path(), dir + "/config.json", fs::copy_options::overwrite_existing);
            std::string msg;
            try {
                oci::load_config(dir);
            } catch (const Error& err) {
                msg = err.what();
            }
            CHECK(contains(msg, "config.json"));
            CHECK(contains(msg, "not valid JSON"));
            CHECK(msg.find('\n') == std::string::npos);
            continue;
        }
        std::string msg = parse_error(read_json(e.path()));
        REQUIRE(expected.count(name));
        CHECK(contains(msg, expected.at(name)));
    }
    CHECK(n == 4);
}

TEST_CASE("oci: valid fields hardrun does not implement parse, then are refused by name") {
    oci::Config c = oci::parse_config(read_json(kData + "/test-config/good/spec-example.json"));
    CHECK(c.process->terminal);
    CHECK(c.process->additional_gids == std::vector<std::uint32_t>{5, 6});
    CHECK(c.hooks.prestart.size() == 2);
    CHECK(c.hooks.poststart[0].timeout == 5);
    CHECK(!c.refused.empty());
    std::vector<std::string> paths;
    for (const auto& r : c.refused) paths.push_back(r.path);
    // hugepageLimits are implemented (hugetlb.<size>.max): parsed, not refused
    CHECK(c.resources.hugepage_limits ==
          std::vector<std::pair<std::string, std::uint64_t>>{{"2MB", 9223372036854772000ULL}, {"64KB", 1000000}});
    for (const auto& r : c.refused) CHECK(r.path != "linux.resources.hugepageLimits");
    for (const char* p : {"process.selinuxLabel", "linux.namespaces[7].type",
                          "linux.resources.network", "linux.resources.blockIO.weight", "linux.resources.cpu.cpus",
                          "linux.timeOffsets", "linux.mountLabel"}) {
        INFO(p);
        CHECK(std::find(paths.begin(), paths.end(), p) != paths.end());
    }
    std::string msg;
    try {
        oci::to_plan(c, ctx());
    } catch (const Error& e) {
        msg = e.what();
    }
    CHECK(contains(msg, "config.json: process.selinuxLabel: SELinux is not supported"));
    // good/linux-rdma parses, and is refused when planned
    CHECK(contains(plan_error(read_json(kData + "/test-config/good/linux-rdma.json")), "linux.resources.rdma"));
    CHECK(contains(plan_error(read_json(kData + "/test-config/good/linux-netdevice.json")), "linux.netDevices"));
    // minimal.json has no process
    CHECK(contains(plan_error(read_json(kData + "/test-config/good/minimal.json")), "process: is missing"));
}

TEST_CASE("oci: a field the spec does not define is refused, not ignored") {
    json j = base();
    j["process"]["landlock"] = true;
    CHECK(contains(parse_error(j), "process.landlock: not a field of the OCI runtime spec"));
    j = base();
    j["linux"]["resources"] = {{"memory", {{"limit", 1 << 30}, {"swapiness", 5}}}};
    CHECK(contains(parse_error(j), "linux.resources.memory.swapiness"));
}

TEST_CASE("oci: an unknown field where ignoring it weakens nothing is ignored, as the spec requires") {
    json j = base();
    j["futureTopLevel"] = {{"x", 1}};
    j["hooks"] = {{"preflight", json::array()}};
    j["process"]["consoleSize"] = {{"height", 24}, {"width", 80}, {"depth", 1}};
    oci::Config c;
    REQUIRE_NOTHROW(c = oci::parse_config(j));
    CHECK(c.ignored == std::vector<std::string>{"futureTopLevel", "hooks.preflight", "process.consoleSize.depth"});
    REQUIRE_NOTHROW(plan_of(j));
    // inside the objects that carry a layer, it is still refused
    j = base();
    j["linux"]["landlock"] = {{"rules", json::array()}};
    CHECK(contains(parse_error(j), "linux.landlock: not a field of the OCI runtime spec"));
    j = base();
    j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ERRNO"}, {"strictness", 2}};
    CHECK(contains(parse_error(j), "linux.seccomp.strictness"));
}

TEST_CASE("oci: mounts are mounted in the listed order, not sorted by depth") {
    json j = base();
    j["mounts"] = json::array({{{"destination", "/data/deep"}, {"type", "tmpfs"}, {"source", "tmpfs"}},
                               {{"destination", "/data"}, {"type", "tmpfs"}, {"source", "tmpfs"}},
                               {{"destination", "/a"}, {"type", "tmpfs"}, {"source", "tmpfs"}}});
    const LaunchPlan p = plan_of(j);
    std::vector<std::string> order;
    for (const auto& m : p.mounts)
        if (m.destination == "/data/deep" || m.destination == "/data" || m.destination == "/a") order.push_back(m.destination);
    CHECK(order == std::vector<std::string>{"/data/deep", "/data", "/a"});
}

TEST_CASE("oci: ociVersion is a SemVer of major 0 or 1") {
    for (const char* ok : {"0.5.0-dev", "1.0.0", "1.0.2-dev", "1.2.1", "1.3.0", "1.4.0-rc.1+build"}) {
        json j = base();
        j["ociVersion"] = ok;
        CHECK_MESSAGE(parse_error(j).empty(), ok);
    }
    for (const char* bad : {"invalid", "2.0.0", "1.0", "1..0", "1.0.0-", "v1.0.0", "3.1.4", ""}) {
        json j = base();
        j["ociVersion"] = bad;
        CHECK_MESSAGE(contains(parse_error(j), "ociVersion"), bad);
    }
}

TEST_CASE("oci: types, ranges and enums are checked with the JSON path") {
    json j = base();
    j["process"]["user"]["uid"] = -1;
    CHECK(contains(parse_error(j), "process.user.uid: -1 is negative"));
    j = base();
    j["process"]["user"]["uid"] = 4294967296ULL;
    CHECK(contains(parse_error(j), "process.user.uid: 4294967296 is out of range"));
    j = base();
    j["linux"]["namespaces"].push_back({{"type", "pid"}});
    CHECK(contains(parse_error(j), "linux.namespaces[5].type: 'pid' is listed twice"));
    j = base();
    j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {{{"names", {"mount"}}, {"action", "SCMP_ACT_NOPE"}}}}};
    CHECK(contains(parse_error(j), "linux.seccomp.syscalls[0].action: 'SCMP_ACT_NOPE' is not one of"));
    j = base();
    j["process"].erase("cwd");
    CHECK(contains(parse_error(j), "process.cwd: is required"));
    j = base();
    j["process"]["rlimits"] = {{{"type", "nofile"}, {"soft", 1}, {"hard", 1}}};
    CHECK(contains(parse_error(j), "process.rlimits[0].type: 'nofile' is not RLIMIT_NAME"));
    j = base();
    j["mounts"] = {{{"destination", "/x"}, {"type", "tmpfs"}, {"options", "ro"}}};
    CHECK(contains(parse_error(j), "mounts[0].options: must be an array, not a string"));
}

TEST_CASE("oci: a podman-style config maps onto the same LaunchPlan the flags produce") {
    json j = base();
    j["process"]["user"] = {{"uid", 10001}, {"gid", 10001}, {"umask", 18}, {"additionalGids", {10001, 20}}};
    j["process"]["env"] = {"PATH=/bin", "container=podman"};
    j["process"]["capabilities"] = json::object();
    j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}},
                               {{"type", "RLIMIT_NPROC"}, {"hard", 4096}, {"soft", 4096}}};
    j["process"]["oomScoreAdj"] = 100;
    j["hostname"] = "c0ffee";
    j["mounts"] = json::parse(R"([
      {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
      {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]},
      {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
      {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]},
      {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
      {"destination": "/data", "type": "bind", "source": "data", "options": ["bind", "rprivate", "ro", "nosuid", "noexec", "nodev"]},
      {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]}
    ])");
    j["linux"]["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
    j["linux"]["cgroupsPath"] = "/libpod_parent/libpod-abc";
    j["linux"]["maskedPaths"] = {"/proc/kcore"};
    j["linux"]["readonlyPaths"] = {"/proc/sys"};
    j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ERRNO"}, {"defaultErrnoRet", 38}, {"architectures", {"SCMP_ARCH_X86_64"}},
                             {"syscalls", {{{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}}}}};
    LaunchPlan p = plan_of(j);
    CHECK(p.args == std::vector<std::string>{"id"});
    CHECK(p.env == std::vector<std::string>{"PATH=/bin", "container=podman"});
    CHECK(p.uid == 10001);
    CHECK(p.gid == 10001);
    CHECK(p.umask == mode_t{022});
    CHECK(p.additional_gids == std::vector<gid_t>{10001, 20});
    CHECK(p.caps == Capabilities{});
    CHECK(p.no_new_privs);
    CHECK(p.readonly_root);
    CHECK(p.rootfs == fs::canonical(bundle_dir() + "/rootfs").string());
    CHECK(p.hostname == "c0ffee");
    CHECK(p.oom_score_adj == 100);
    // rlimits as written, plus hardrun's core=0 default
    REQUIRE(p.rlimits.size() == 3);
    CHECK(p.rlimits[0] == Rlimit{RLIMIT_CORE, 0, 0});
    CHECK(p.rlimits[1] == Rlimit{RLIMIT_NOFILE, 1024, 1024});
    // namespaces: as listed (no user, no cgroup namespace)
    CHECK(p.namespaces.pid);
    CHECK(p.namespaces.net);
    CHECK(p.namespaces.mount);
    CHECK(!p.namespaces.user);
    CHECK(!p.namespaces.cgroup);
    CHECK(p.network == NetworkMode::None);
    // mounts: /dev is hardrun's minimal /dev, parents first
    REQUIRE(mount_at(p, "/dev"));
    CHECK(mount_at(p, "/dev")->kind == MountKind::Dev);
    CHECK(mount_at(p, "/dev")->mode == mode_t{0755});
    CHECK(mount_at(p, "/dev")->size == 65536ULL * 1024);
    CHECK(mount_at(p, "/dev/pts")->extra == std::vector<std::string>{"newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
    const Mount* tmp = mount_at(p, "/tmp");
    REQUIRE(tmp);
    CHECK(tmp->kind == MountKind::Tmpfs);
    CHECK(tmp->nosuid);
    CHECK(tmp->nodev);
    CHECK(!tmp->noexec);
    const Mount* data = mount_at(p, "/data");
    REQUIRE(data);
    CHECK(data->kind == MountKind::Bind);
    CHECK(data->source == fs::canonical(bundle_dir() + "/data").string());
    CHECK(data->readonly);
    CHECK(data->noexec);
    CHECK(data->recursive == false);  // "bind", not "rbind"
    CHECK(mount_at(p, "/sys/fs/cgroup")->kind == MountKind::Cgroup);
    CHECK(mount_at(p, "/sys/fs/cgroup")->readonly);
    // in the listed order (the spec's MUST), hardrun's own additions (device nodes) after them
    std::vector<std::string> listed, got;
    for (const auto& m : j["mounts"]) listed.push_back(m["destination"]);
    for (const auto& m : p.mounts)
        if (std::find(listed.begin(), listed.end(), m.destination) != listed.end()) got.push_back(m.destination);
    CHECK(got == listed);
    CHECK(p.masked_paths == std::vector<std::string>{"/proc/kcore"});
    CHECK(p.readonly_paths == std::vector<std::string>{"/proc/sys"});
    // device rules: the config's, then hardrun's default device nodes
    REQUIRE(p.resources.devices.size() == 9);
    CHECK(!p.resources.devices[0].allow);
    CHECK(p.resources.devices[0].type == 'a');
    CHECK(p.resources.devices[1] == DeviceRule{true, 'c', 1, 3, "rwm"});
    CHECK(p.cgroup_parent == "/libpod_parent");
    CHECK(p.seccomp.mode == SeccompChoice::Mode::Profile);
    CHECK(json::parse(p.seccomp.inline_json)["defaultErrnoRet"] == 38);
}

TEST_CASE("oci: secure defaults where the config is silent") {
    json j = base();
    j["root"].erase("readonly");
    LaunchPlan p = plan_of(j);
    CHECK(!p.readonly_root);  // as written (with a warning)
    CHECK(std::any_of(p.warnings.begin(), p.warnings.end(), [](const std::string& w) { return contains(w, "writable"); }));
    CHECK(p.seccomp.mode == SeccompChoice::Mode::Default);  // no linux.seccomp: hardrun's default profile
    CHECK(p.apparmor.mode == AppArmorChoice::Mode::Default);
    REQUIRE(mount_at(p, "/dev"));  // the spec's default devices
    CHECK(mount_at(p, "/dev")->kind == MountKind::Dev);
    CHECK(!p.masked_paths.empty());  // hardrun's defaults when maskedPaths is absent
    CHECK(std::find(p.masked_paths.begin(), p.masked_paths.end(), "/proc/kcore") != p.masked_paths.end());
    CHECK(p.rlimits == std::vector<Rlimit>{Rlimit{RLIMIT_CORE, 0, 0}});
    CHECK(p.resources.empty());
    json k = base();
    k["process"].erase("noNewPrivileges");
    CHECK(plan_of(k).no_new_privs);  // absent (podman omits it): on
    k["process"]["noNewPrivileges"] = false;
    CHECK(!plan_of(k).no_new_privs);  // explicitly off
    k["process"].erase("noNewPrivileges");
    k["annotations"] = {{"org.hardrun.no-new-privileges", "false"}};
    CHECK(!plan_of(k).no_new_privs);  // off by name
    k["annotations"] = {{"org.hardrun.no-new-privileges", "no"}};
    CHECK(contains(plan_error(k), "annotations.org.hardrun.no-new-privileges"));
    j["linux"]["maskedPaths"] = json::array();
    CHECK(plan_of(j).masked_paths.empty());  // an explicit [] turns them off
    j["annotations"] = {{"org.hardrun.seccomp", "unconfined"}};
    CHECK(plan_of(j).seccomp.mode == SeccompChoice::Mode::Unconfined);
    j["annotations"] = {{"org.hardrun.seccomp", "maybe"}};
    CHECK(contains(plan_error(j), "annotations.org.hardrun.seccomp"));
}

TEST_CASE("oci: capabilities: the five sets, and contradictions refused") {
    json j = base();
    j["process"]["capabilities"] = {{"bounding", {"CAP_NET_BIND_SERVICE", "CAP_KILL"}},
                                    {"permitted", {"CAP_NET_BIND_SERVICE", "CAP_KILL"}},
                                    {"effective", {"CAP_KILL"}},
                                    {"inheritable", {"CAP_NET_BIND_SERVICE"}},
                                    {"ambient", {"CAP_NET_BIND_SERVICE"}}};
    LaunchPlan p = plan_of(j);
    CHECK(p.caps.bounding.has(CAP_NET_BIND_SERVICE));
    CHECK(p.caps.bounding.has(CAP_KILL));
    CHECK(p.caps.effective.has(CAP_KILL));
    CHECK(!p.caps.effective.has(CAP_NET_BIND_SERVICE));
    CHECK(p.caps.ambient.has(CAP_NET_BIND_SERVICE));
    CHECK(!p.caps.ambient.has(CAP_KILL));
    j["process"]["capabilities"]["effective"] = {"CAP_SYS_ADMIN"};
    CHECK(contains(plan_error(j), "process.capabilities.effective: CAP_SYS_ADMIN: is not in the permitted set"));
    j["process"]["capabilities"]["effective"] = {"CAP_NOPE"};
    CHECK(contains(plan_error(j), "process.capabilities.effective[0]"));
    j["process"]["capabilities"]["effective"] = {"NET_ADMIN"};
    CHECK(contains(plan_error(j), "is not a capability name (CAP_...)"));
}

TEST_CASE("oci: namespaces: new, joined by path, and the rules around them") {
    json j = base();
    j["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "network"}, {"path", "/proc/self/ns/net"}}, {{"type", "pid"}}};
    LaunchPlan p = plan_of(j);
    CHECK(p.namespaces.join.at("network") == "/proc/self/ns/net");
    CHECK(p.namespaces.net);
    CHECK(!p.namespaces.ipc);
    j["linux"]["namespaces"] = {{{"type", "pid"}}};
    CHECK(contains(plan_error(j), "linux.namespaces: has no mount namespace"));
    j["linux"]["namespaces"] = {{{"type", "mount"}, {"path", "/proc/1/ns/mnt"}}};
    CHECK(contains(plan_error(j), "linux.namespaces[0].path: joining another mount namespace"));
    j["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "ipc"}, {"path", "/nonexistent/ns"}}};
    CHECK(contains(plan_error(j), "linux.namespaces[1].path: '/nonexistent/ns'"));
    // user namespace: mappings required, and only with one
    j = base();
    j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    CHECK(contains(plan_error(j), "linux.uidMappings: need a user namespace"));
    j["linux"]["namespaces"].push_back({{"type", "user"}});
    CHECK(contains(plan_error(j), "a new user namespace needs uidMappings and gidMappings"));
    j["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    p = plan_of(j);
    CHECK(p.namespaces.user);
    CHECK(p.uid_mappings == std::vector<IdMap>{IdMap{0, 1000, 1}});
    // not root: a user namespace is required
    CHECK(contains(plan_error(base(), 1000), "needs a new user namespace"));
    CHECK_NOTHROW(plan_of(j, 1000));
    // the hostname needs its own uts namespace
    j = base();
    j["linux"]["namespaces"] = {{{"type", "mount"}}};
    j["hostname"] = "x";
    CHECK(contains(plan_error(j), "hostname: setting it needs a new uts namespace"));
}

TEST_CASE("oci: rootfsPropagation: private, slave and unbindable map; shared is refused") {
    json j = base();
    CHECK(plan_of(j).root_propagation == Propagation::Private);
    for (const char* v : {"private", "rprivate"}) {
        j["linux"]["rootfsPropagation"] = v;
        CHECK(plan_of(j).root_propagation == Propagation::Private);
    }
    for (const char* v : {"slave", "rslave"}) {
        j["linux"]["rootfsPropagation"] = v;
        CHECK(plan_of(j).root_propagation == Propagation::Slave);
    }
    j["linux"]["rootfsPropagation"] = "runbindable";
    CHECK(plan_of(j).root_propagation == Propagation::Unbindable);
    for (std::string v : {"shared", "rshared"}) {
        j["linux"]["rootfsPropagation"] = v;
        CHECK(contains(plan_error(j), "linux.rootfsPropagation: '" + v +
                                          "' would propagate the container's mounts to the host; refusing (use rslave to receive the host's mounts)"));
    }
}

TEST_CASE("oci: a blockIO weight of 0 means unset, as in runc (docker sends it with every container)") {
    json j = base();
    j["linux"]["resources"] = json::parse(R"({"blockIO": {"weight": 0, "leafWeight": 0}})");
    CHECK(plan_of(j).resources.empty());
    j["linux"]["resources"]["blockIO"]["weight"] = 500;  // a real weight is still refused by name
    CHECK(contains(plan_error(j), "linux.resources.blockIO.weight"));
}

TEST_CASE("oci: hugepageLimits map onto hugetlb limits, 0 included (kubelet sends 0 for every size not asked for)") {
    json j = base();
    j["linux"]["resources"] = json::parse(R"({"hugepageLimits": [{"pageSize": "2MB", "limit": 0},
                                                               {"pageSize": "1GB", "limit": 2147483648}]})");
    LaunchPlan p = plan_of(j);
    CHECK(p.resources.hugetlb == std::vector<HugetlbMax>{{"2MB", 0}, {"1GB", 2147483648ULL}});
    CHECK_FALSE(p.resources.empty());  // a limit of 0 is a limit: the container gets a cgroup
    j["linux"]["resources"]["hugepageLimits"][1]["pageSize"] = "2MB";
    CHECK(contains(plan_error(j), "linux.resources.hugepageLimits[1]: lists page size '2MB' twice"));
}

TEST_CASE("oci: resources map onto cgroup v2 values") {
    json j = base();
    j["linux"]["resources"] = json::parse(R"({
      "memory": {"limit": 536870912, "swap": 1073741824, "reservation": 268435456, "kernel": -1},
      "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
      "pids": {"limit": 100},
      "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]}
    })");
    LaunchPlan p = plan_of(j);
    CHECK(p.resources.memory_max == 536870912ULL);
    CHECK(p.resources.memory_swap_max == 536870912LL);  // OCI swap counts memory too
    CHECK(p.resources.memory_low == 268435456ULL);
    CHECK(p.resources.cpu_weight == 39ULL);  // runc's conversion of 1024 shares
    CHECK(p.resources.cpu_max == CpuMax{50000, 100000});
    CHECK(p.resources.pids_max == 100);
    REQUIRE(p.resources.io_max.size() == 1);
    CHECK(p.resources.io_max[0].device == "8:0");
    CHECK(p.resources.io_max[0].rbps == 1048576ULL);
    CHECK(p.resources.io_max[0].wiops == 100ULL);
    // unlimited values are no limit at all
    j["linux"]["resources"] = json::parse(R"({"memory": {"limit": -1}, "pids": {"limit": 0}, "cpu": {"quota": -1}})");
    CHECK(plan_of(j).resources.empty());
    j["linux"]["resources"] = json::parse(R"({"memory": {"limit": 536870912, "swap": 1000}})");
    CHECK(contains(plan_error(j), "linux.resources.memory.swap: must be at least memory.limit"));
    j["linux"]["resources"] = json::parse(R"({"memory": {"kernel": 1000000}})");
    CHECK(contains(plan_error(j), "linux.resources.memory.kernel: kernel memory limits do not exist in cgroup v2"));
    j["linux"]["resources"] = json::parse(R"({"unified": {"memory.high": "1G"}})");
    CHECK(contains(plan_error(j), "linux.resources.unified"));
    j["linux"]["resources"] = json::parse(R"({"devices": [{"allow": true, "type": "x", "access": "rwm"}]})");
    CHECK(contains(plan_error(j), "linux.resources.devices[0].type: 'x' is not a, b or c"));
    j["linux"]["resources"] = json::parse(R"({"devices": [{"allow": true, "type": "c", "access": "rwx"}]})");
    CHECK(contains(plan_error(j), "linux.resources.devices[0].access"));
    j["linux"]["resources"] = json::object();
    j["linux"]["cgroupsPath"] = "machine.slice:libpod:abc";  // the systemd driver's form: kept for --systemd-cgroup
    LaunchPlan sd = plan_of(j);
    CHECK(sd.systemd_cgroups_path == "machine.slice:libpod:abc");
    CHECK(sd.systemd_unit.empty());
    CHECK(sd.cgroup_parent.empty());
    j["linux"]["cgroupsPath"] = "/a/../b";
    CHECK(contains(plan_error(j), "linux.cgroupsPath"));
}

TEST_CASE("oci: sysctls: namespaced ones in the container's own namespaces only") {
    json j = base();
    j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "65536"}, {"fs.mqueue.msg_max", "20"}};
    j["domainname"] = "example.test";
    LaunchPlan p = plan_of(j);
    CHECK(p.sysctl.at("net.ipv4.ip_forward") == "1");
    CHECK(p.sysctl.at("kernel.domainname") == "example.test");
    j["linux"]["sysctl"] = {{"kernel.panic", "1"}};
    CHECK(contains(plan_error(j), "linux.sysctl.kernel.panic: 'kernel.panic' is not a namespaced sysctl"));
    j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
    j["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "uts"}}};
    CHECK(contains(plan_error(j), "linux.sysctl.net.ipv4.ip_forward: the container shares the host's network namespace"));
    j["linux"]["sysctl"] = {{"net.ipv4/../../x", "1"}};
    CHECK(contains(plan_error(j), "is not a sysctl name"));
}

TEST_CASE("oci: sysctls and domainname are refused in a namespace joined by path that is hardrun's own") {
    // /proc/self/ns/* at plan time is hardrun's (here the test's) namespace: the host's for this purpose.
    json j = base();
    j["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "network"}, {"path", "/proc/self/ns/net"}}};
    j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
    CHECK(contains(plan_error(j), "linux.sysctl.net.ipv4.ip_forward: the container joins /proc/self/ns/net, which is "
                                  "hardrun's own (the host's) network namespace, so this would change the host; refusing"));
    // the same namespace by another name (a bind mount or /proc/PID of a host process) is caught by inode
    j["linux"]["namespaces"][1]["path"] = "/proc/" + std::to_string(::getpid()) + "/ns/net";
    CHECK(contains(plan_error(j), "hardrun's own (the host's) network namespace"));
    j["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "ipc"}, {"path", "/proc/self/ns/ipc"}}};
    j["linux"]["sysctl"] = {{"kernel.shmmax", "65536"}};
    CHECK(contains(plan_error(j), "linux.sysctl.kernel.shmmax: the container joins /proc/self/ns/ipc"));
    j["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "uts"}, {"path", "/proc/self/ns/uts"}}};
    j["linux"].erase("sysctl");
    j["domainname"] = "evil.test";
    CHECK(contains(plan_error(j), "domainname: the container joins /proc/self/ns/uts"));
    j.erase("domainname");
    j["hostname"] = "evil";
    CHECK(contains(plan_error(j), "hostname: setting it needs a new uts namespace"));
    // a fresh namespace, and one joined by path that is not hardrun's own, still work
    j = base();
    j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "65536"}};
    j["domainname"] = "ok.test";
    CHECK(plan_of(j).sysctl.at("net.ipv4.ip_forward") == "1");
    OtherNamespaces other(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
    REQUIRE(other.ok());
    j["linux"]["namespaces"] = {{{"type", "mount"}},
                                {{"type", "network"}, {"path", other.ns("net")}},
                                {{"type", "ipc"}, {"path", other.ns("ipc")}},
                                {{"type", "uts"}, {"path", other.ns("uts")}}};
    LaunchPlan p = plan_of(j);
    CHECK(p.sysctl.at("net.ipv4.ip_forward") == "1");
    CHECK(p.sysctl.at("kernel.shmmax") == "65536");
    CHECK(p.sysctl.at("kernel.domainname") == "ok.test");
    CHECK(sysctl::to_path("net.ipv4.ip_forward") == "net/ipv4/ip_forward");
    CHECK(sysctl::to_path("net/ipv4/conf/eth0.100/forwarding") == "net/ipv4/conf/eth0.100/forwarding");
}

TEST_CASE("oci: mounts: supported types and options, the rest refused by name") {
    json j = base();
    auto with = [&](json m) {
        json k = j;
        k["mounts"] = json::array({m});
        return k;
    };
    CHECK(contains(plan_error(with({{"destination", "/x"}, {"type", "ext4"}, {"source", "/dev/sda"}})),
                   "mounts[0].type: 'ext4' is not a mount type hardrun supports"));
    CHECK(contains(plan_error(with({{"destination", "/x"}, {"type", "bind"}, {"source", "data"}, {"options", {"rbind", "rshared"}}})),
                   "mounts[0].options: 'rshared': per-mount propagation"));
    CHECK(contains(plan_error(with({{"destination", "/x"}, {"type", "bind"}, {"source", "nonexistent"}})), "mounts[0].source"));
    CHECK(contains(plan_error(with({{"destination", "x/../y"}, {"type", "tmpfs"}})), "mounts[0].destination"));
    CHECK(mount_at(plan_of(with({{"destination", "/full"}, {"type", "tmpfs"}, {"options", {"tmpcopyup"}}})), "/full")->copy_up);
    CHECK(!mount_at(plan_of(with({{"destination", "/full"}, {"type", "tmpfs"}})), "/full")->copy_up);
    CHECK(contains(plan_error(with({{"destination", "/x"}, {"type", "bind"}, {"source", "data"}, {"options", {"tmpcopyup"}}})),
                   "'tmpcopyup' is not a bind mount option"));
    CHECK(contains(plan_error(with({{"destination", "/x"}, {"type", "tmpfs"}, {"options", {"remount"}}})), "'remount' is not a mount option"));
    LaunchPlan p = plan_of(with({{"destination", "/x"}, {"type", "tmpfs"}, {"options", {"suid", "dev", "exec", "size=1m", "mode=1777", "uid=5"}}}));
    const Mount* x = mount_at(p, "/x");
    REQUIRE(x);
    CHECK(!x->nosuid);
    CHECK(!x->nodev);
    CHECK(x->size == 1ULL << 20);
    CHECK(x->mode == mode_t{01777});
    CHECK(x->extra == std::vector<std::string>{"uid=5"});
    p = plan_of(with({{"destination", "/x"}, {"source", "data"}, {"options", {"rbind", "rro"}}}));  // type from the options
    CHECK(mount_at(p, "/x")->kind == MountKind::Bind);
    CHECK(mount_at(p, "/x")->recursive);
    CHECK(mount_at(p, "/x")->readonly);
}

TEST_CASE("oci: process fields") {
    json j = base();
    j["process"]["terminal"] = true;
    CHECK(contains(plan_error(j), "process.terminal: true needs --console-socket"));
    oci::PlanContext c = ctx();
    c.console_socket = true;
    CHECK_NOTHROW(oci::to_plan(oci::parse_config(j), c));
    j = base();
    j["process"]["cwd"] = "/proc/self/fd/7";
    CHECK(contains(plan_error(j), "CVE-2024-21626"));
    j = base();
    j["process"]["env"] = {"NOEQUALS"};
    CHECK(contains(plan_error(j), "process.env[0]: 'NOEQUALS' is not NAME=VALUE"));
    j = base();
    j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 10}, {"hard", 5}}};
    CHECK(contains(plan_error(j), "process.rlimits[0]"));
    j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 5}, {"hard", 5}}, {{"type", "RLIMIT_NOFILE"}, {"soft", 5}, {"hard", 5}}};
    CHECK(contains(plan_error(j), "process.rlimits[1].type: 'RLIMIT_NOFILE' is listed twice"));
    j = base();
    j["process"]["oomScoreAdj"] = 2000;
    CHECK(contains(plan_error(j), "process.oomScoreAdj: 2000 is not in -1000..1000"));
    j = base();
    j["process"]["apparmorProfile"] = "my-profile";
    LaunchPlan p = plan_of(j);
    CHECK(p.apparmor.mode == AppArmorChoice::Mode::Named);
    CHECK(p.apparmor.profile == "my-profile");
    j = base();
    j["hooks"] = {{"poststop", {{{"path", "relative/hook"}}}}};
    CHECK(contains(plan_error(j), "hooks.poststop[0].path: 'relative/hook' is not an absolute path"));
}

TEST_CASE("oci: `hardrun spec` writes a hardened config that hardrun plans as hardened") {
    json spec = oci::spec(false, 0, 0, json::object());
    oci::Config c = oci::parse_config(spec);
    CHECK(c.refused.empty());
    LaunchPlan p = oci::to_plan(c, ctx());
    CHECK(p.uid == 10001);
    CHECK(p.gid == 10001);
    CHECK(p.readonly_root);
    CHECK(p.no_new_privs);
    CHECK(p.caps == Capabilities{});
    CHECK(!p.masked_paths.empty());
    const Mount* tmp = mount_at(p, "/tmp");
    REQUIRE(tmp);
    CHECK(tmp->noexec);
    CHECK(tmp->nosuid);
    CHECK(p.namespaces.pid);
    CHECK(p.namespaces.net);
    CHECK(p.namespaces.cgroup);
    CHECK(p.warnings.empty());
    json rootless = oci::spec(true, 1000, 1000, json::object());
    LaunchPlan r = oci::to_plan(oci::parse_config(rootless), ctx(1000));
    CHECK(r.namespaces.user);
    CHECK(r.uid_mappings == std::vector<IdMap>{IdMap{10001, 1000, 1}});
}

TEST_CASE("oci: features are truthful about what hardrun does") {
    json f = oci::features();
    CHECK(f["ociVersionMin"] == "1.0.0");
    CHECK(f["hooks"].size() == 6);
    auto ns = f["linux"]["namespaces"].get<std::vector<std::string>>();
    CHECK(std::find(ns.begin(), ns.end(), "time") == ns.end());  // refused by to_plan
    CHECK(f["linux"]["selinux"]["enabled"] == false);
    CHECK(f["linux"]["cgroup"]["systemd"] == f["linux"]["cgroup"]["v2"]);  // --systemd-cgroup: cgroup v2 scopes
    auto opts = f["mountOptions"].get<std::vector<std::string>>();
    CHECK(std::find(opts.begin(), opts.end(), "rshared") == opts.end());
    // SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath, which hardrun refuses: not listed
    auto actions = f["linux"]["seccomp"]["actions"].get<std::vector<std::string>>();
    CHECK(std::find(actions.begin(), actions.end(), "SCMP_ACT_ERRNO") != actions.end());
    CHECK(std::find(actions.begin(), actions.end(), "SCMP_ACT_NOTIFY") == actions.end());
    // every mount option features lists is accepted by the planner
    for (const auto& o : opts) {
        json j = base();
        j["mounts"] = {{{"destination", "/empty"}, {"type", "tmpfs"}, {"options", {o}}}};
        if (o == "bind" || o == "rbind") j["mounts"][0]["source"] = "data";
        INFO(o);
        CHECK_NOTHROW(plan_of(j));
    }
}

TEST_CASE("oci state: container ids") {
    for (const char* ok : {"abc", "358d1a9cde80206c", "my_container.1", "a+b-c"}) CHECK_NOTHROW(state::validate_id(ok));
    for (const char* bad : {"", "a/b", "..", "../x", "a..b", ".hidden", "-x", "a b", "a\nb"}) {
        INFO(bad);
        CHECK_THROWS_AS(state::validate_id(bad), UsageError);
    }
}

TEST_CASE("oci state: the store creates, locks, writes atomically and removes") {
    const ScratchDir scratch("hardrun-state-unit");
    const std::string root = scratch.dir + "/sub/root";
    state::Store st(root);
    struct stat sb {};
    REQUIRE(::stat(root.c_str(), &sb) == 0);
    CHECK((sb.st_mode & 0777) == 0700);
    {
        auto lock = st.create("c1");
        state::Record r;
        r.id = "c1";
        r.bundle = "/b";
        r.status = "created";
        r.process = {999999999, 1};  // no such process
        r.hooks.poststop = {Hook{"/bin/true", {"true"}, {"A=1"}, 3}};
        r.annotations = {{"k", "v"}};
        st.write(r);
    }
    CHECK(st.exists("c1"));
    CHECK_THROWS_WITH_AS(st.create("c1"), doctest::Contains("is already in use"), Error);
    state::Record back = st.read("c1");
    CHECK(back.bundle == "/b");
    CHECK(back.hooks.poststop.size() == 1);
    CHECK(back.hooks.poststop[0].timeout == 3);
    CHECK(back.annotations.at("k") == "v");
    CHECK(st.live_status(back) == "stopped");  // the process is gone
    CHECK(st.list() == std::vector<std::string>{"c1"});
    CHECK(!fs::exists(root + "/c1/.state.json.tmp"));
    { auto lock = st.lock("c1"); }
    st.remove("c1");
    CHECK(!st.exists("c1"));
    CHECK_THROWS_WITH_AS(st.lock("c1"), doctest::Contains("does not exist"), Error);
    CHECK_THROWS_AS(st.lock("../etc"), UsageError);
    // a live process: our own (start time matches), "created" while the exec FIFO exists
    {
        auto lock = st.create("c2");
        state::Record r;
        r.id = "c2";
        r.status = "created";
        r.process = state::identify(::getpid());
        st.write(r);
        std::ofstream(st.fifo_path("c2")) << "";
        CHECK(st.live_status(r) == "created");
        ::unlink(st.fifo_path("c2").c_str());
        CHECK(st.live_status(r) == "running");
        r.process.start_time += 1;  // same pid, another process: pid reuse
        CHECK(st.live_status(r) == "stopped");
        r.status = "creating";
        r.creator = state::identify(::getpid());
        CHECK(st.live_status(r) == "creating");
    }
    st.remove("c2");
}

TEST_CASE("oci: signals by name or number") {
    CHECK(oci::parse_signal("TERM") == SIGTERM);
    CHECK(oci::parse_signal("SIGKILL") == SIGKILL);
    CHECK(oci::parse_signal("hup") == SIGHUP);
    CHECK(oci::parse_signal("9") == SIGKILL);
    CHECK(oci::parse_signal("RTMIN+1") == SIGRTMIN + 1);
    CHECK_THROWS_AS(oci::parse_signal("NOPE"), UsageError);
    CHECK_THROWS_AS(oci::parse_signal("0"), UsageError);
    CHECK_THROWS_AS(oci::parse_signal("999"), UsageError);
}

TEST_CASE("oci: hooks get the state on stdin, their env only, and fail by name") {
    char tmpl[] = "/tmp/hardrun-hook-unit-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string out = dir + "/out";
    Hook ok{"/bin/sh", {"sh", "-c", "cat > " + out + "; echo \"$A\" >> " + out}, {"A=hello"}, std::nullopt};
    oci::run_hooks({ok}, "prestart", "{\"id\":\"x\"}");
    std::ifstream f(out);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(s == "{\"id\":\"x\"}hello\n");
    Hook bad{"/bin/sh", {"sh", "-c", "exit 3"}, {}, std::nullopt};
    CHECK_THROWS_WITH_AS(oci::run_hooks({ok, bad}, "createRuntime", "{}"),
                         doctest::Contains("hooks: createRuntime[1] /bin/sh: exited with status 3"), Error);
    Hook slow{"/bin/sh", {"sh", "-c", "sleep 30"}, {}, 1};
    CHECK_THROWS_WITH_AS(oci::run_hooks({slow}, "poststart", "{}"), doctest::Contains("timed out after 1 s"), Error);
    Hook missing{"/nonexistent/hook", {}, {}, std::nullopt};
    CHECK_THROWS_WITH_AS(oci::run_hooks({missing}, "prestart", "{}"), doctest::Contains("exited with status 127"), Error);
    CHECK_NOTHROW(oci::run_hooks_warn({bad}, "poststop", "{}"));
    fs::remove_all(dir);
}
