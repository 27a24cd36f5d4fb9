#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include "hardrun/support/error.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/layers/identity.hpp"
#include "hardrun/layers/namespaces.hpp"
#include "scratch_dir.hpp"

using namespace hardrun;

namespace {
std::string temp_rootfs() {
    static const ScratchDir dir("hardrun-unit");  // removed with the test program's static objects
    return dir.dir;
}

RunFlags flags(std::vector<std::string> cmd = {"/bin/true"}) {
    RunFlags f;
    f.rootfs = temp_rootfs();
    f.command = std::move(cmd);
    return f;
}

bool has_warning(const LaunchPlan& p, const std::string& needle) {
    return std::any_of(p.warnings.begin(), p.warnings.end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

const Mount* mount_at(const LaunchPlan& p, const std::string& dest) {
    for (const auto& m : p.mounts)
        if (m.destination == dest) return &m;
    return nullptr;
}

std::string error_of(const RunFlags& f, uid_t invoker = 0) {
    try {
        build_plan(f, invoker);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("the default plan is hardened") {
    LaunchPlan p = build_plan(flags(), 0);
    CHECK(p.uid == 10001);
    CHECK(p.gid == 10001);
    CHECK(p.readonly_root);
    CHECK(p.no_new_privs);
    CHECK(p.caps.bounding.empty());
    CHECK(p.caps.ambient.empty());
    CHECK(p.caps.inheritable.empty());
    CHECK(p.seccomp.mode == SeccompChoice::Mode::Default);
    CHECK(p.apparmor.mode == AppArmorChoice::Mode::Default);
    CHECK(p.network == NetworkMode::None);
    CHECK(p.namespaces.net);
    CHECK(p.namespaces.pid);
    CHECK(p.namespaces.mount);
    CHECK(p.namespaces.ipc);
    CHECK(p.namespaces.uts);
    CHECK(p.namespaces.cgroup);
    CHECK_FALSE(p.namespaces.user);  // root invoker
    CHECK(p.warnings.empty());
    REQUIRE(mount_at(p, "/tmp"));
    CHECK(mount_at(p, "/tmp")->noexec);
    CHECK(mount_at(p, "/proc"));
    CHECK(mount_at(p, "/dev"));
    CHECK(mount_at(p, "/sys")->readonly);
    CHECK(std::find(p.masked_paths.begin(), p.masked_paths.end(), "/proc/kcore") != p.masked_paths.end());
    CHECK(std::find(p.readonly_paths.begin(), p.readonly_paths.end(), "/proc/sys") != p.readonly_paths.end());
    // core dumps off by default
    REQUIRE(p.rlimits.size() == 1);
    CHECK(p.rlimits[0].resource == RLIMIT_CORE);
    CHECK(p.rlimits[0].hard == 0);
    CHECK(p.resources.empty());
}

TEST_CASE("parents are mounted before children") {
    RunFlags f = flags();
    f.tmpfs = {"/var/cache/app/sub", "/var/cache"};
    LaunchPlan p = build_plan(f, 0);
    auto pos = [&](const std::string& d) {
        for (std::size_t i = 0; i < p.mounts.size(); ++i)
            if (p.mounts[i].destination == d) return static_cast<int>(i);
        return -1;
    };
    CHECK(pos("/dev") < pos("/dev/pts"));
    CHECK(pos("/dev") < pos("/dev/shm"));
    CHECK(pos("/var/cache") < pos("/var/cache/app/sub"));
}

TEST_CASE("a non-root invoker gets a user namespace mapping the workload uid to itself") {
    LaunchPlan p = build_plan(flags(), 1000);
    CHECK(p.namespaces.user);
    REQUIRE(p.uid_mappings.size() == 1);
    CHECK(p.uid_mappings[0] == IdMap{10001, 1000, 1});
    CHECK(p.gid_mappings[0].inside == 10001);
}

TEST_CASE("insecure choices are allowed but visible") {
    RunFlags f = flags();
    f.user = "0";
    f.cap_add = {"NET_BIND_SERVICE"};
    f.security_opt = {"seccomp=unconfined", "no-new-privileges=false", "apparmor=unconfined"};
    f.read_write = "layer";
    f.network = "host";
    f.tmpfs = {"/run:exec"};
    LaunchPlan p = build_plan(f, 0);
    CHECK(p.uid == 0);
    CHECK(p.caps.ambient.has(10));
    CHECK(p.caps.bounding.bits == (1ULL << 10));
    CHECK_FALSE(p.no_new_privs);
    CHECK_FALSE(p.readonly_root);
    CHECK_FALSE(p.namespaces.net);
    CHECK(has_warning(p, "uid 0"));
    CHECK(has_warning(p, "CAP_NET_BIND_SERVICE"));
    CHECK(has_warning(p, "seccomp: unconfined"));
    CHECK(has_warning(p, "no_new_privs"));
    CHECK(has_warning(p, "apparmor: unconfined"));
    CHECK(has_warning(p, "writable"));
    CHECK(has_warning(p, "host's network"));
    CHECK(has_warning(p, "tmpfs /run allows exec"));
}

TEST_CASE("user tmpfs and volumes are noexec by default, so no default warns; a writable exec volume warns") {
    const std::string dir = temp_rootfs();  // any host directory
    RunFlags f = flags();
    f.tmpfs = {"/run", "/var/lib/app:mode=0700"};
    f.volumes = {dir + ":/data", dir + ":/ro:ro"};
    LaunchPlan p = build_plan(f, 0);
    for (const char* d : {"/run", "/var/lib/app", "/data", "/ro", "/tmp"}) {
        INFO(d);
        REQUIRE(mount_at(p, d));
        CHECK(mount_at(p, d)->noexec);
    }
    CHECK(p.warnings.empty());
    f.volumes = {dir + ":/data:rw,exec", dir + ":/app:ro,exec"};
    p = build_plan(f, 0);
    CHECK_FALSE(mount_at(p, "/data")->noexec);
    CHECK_FALSE(mount_at(p, "/app")->noexec);
    CHECK(has_warning(p, "volume /data is writable and allows exec"));
    CHECK_FALSE(has_warning(p, "volume /app"));  // read-only code mounted to be run: no dropped binary
}

TEST_CASE("nobody is warned about") {
    RunFlags f = flags();
    f.user = "65534";
    CHECK(has_warning(build_plan(f, 0), "nobody"));
}

TEST_CASE("cap-add ALL then cap-drop one") {
    RunFlags f = flags();
    f.cap_add = {"ALL"};
    f.cap_drop = {"SYS_ADMIN"};
    LaunchPlan p = build_plan(f, 0);
    CHECK(p.caps.bounding.has(0));
    CHECK_FALSE(p.caps.bounding.has(21));
}

TEST_CASE("resources") {
    RunFlags f = flags();
    f.memory = "64m";
    f.cpus = "0.5";
    f.pids_limit = "100";
    f.cpu_shares = "1024";
    LaunchPlan p = build_plan(f, 0);
    CHECK(*p.resources.memory_max == 64ULL << 20);
    CHECK(*p.resources.memory_swap_max == 0);  // docker: no swap beyond --memory by default
    CHECK(p.resources.cpu_max->quota_us == 50000);
    CHECK(*p.resources.pids_max == 100);
    CHECK(*p.resources.cpu_weight == 39);
    f.memory_swap = "128m";
    CHECK(*build_plan(f, 0).resources.memory_swap_max == 64LL << 20);
    f.memory_swap = "-1";
    CHECK(*build_plan(f, 0).resources.memory_swap_max == -1);
}

TEST_CASE("every bad value gets its own clear error") {
    struct Case {
        void (*set)(RunFlags&);
        const char* expect;
    };
    const Case cases[] = {
        {[](RunFlags& f) { f.memory = "12q"; }, "--memory: '12q' is not a size; use e.g. 512m"},
        {[](RunFlags& f) { f.memory = "1m"; }, "below the 6m minimum"},
        {[](RunFlags& f) { f.memory_swap = "1g"; }, "--memory-swap: needs --memory"},
        {[](RunFlags& f) { f.memory = "64m"; f.memory_swap = "32m"; }, "must be at least --memory"},
        {[](RunFlags& f) { f.cpus = "lots"; }, "--cpus: 'lots' is not a number of CPUs"},
        {[](RunFlags& f) { f.pids_limit = "-2"; }, "--pids-limit: '-2' is not a number of processes"},
        {[](RunFlags& f) { f.pids_limit = "x"; }, "--pids-limit: 'x'"},
        {[](RunFlags& f) { f.cpu_shares = "1"; }, "--cpu-shares"},
        {[](RunFlags& f) { f.user = "app"; }, "--user: 'app' is not a numeric uid"},
        {[](RunFlags& f) { f.cap_add = {"FLY"}; }, "--cap-add: 'FLY' is not a capability name"},
        {[](RunFlags& f) { f.security_opt = {"seccomp"}; }, "seccomp= needs a profile"},
        {[](RunFlags& f) { f.security_opt = {"seccomp=/nonexistent.json"}; }, "seccomp profile '/nonexistent.json'"},
        {[](RunFlags& f) { f.security_opt = {"bogus"}; }, "'bogus' is not a security option"},
        {[](RunFlags& f) { f.security_opt = {"no-new-privileges=maybe"}; }, "takes true or false"},
        {[](RunFlags& f) { f.security_opt = {"label=type:x"}; }, "SELinux"},
        {[](RunFlags& f) { f.tmpfs = {"/tmp", "/tmp"}; }, "two mounts at /tmp"},
        {[](RunFlags& f) { f.volumes = {"/nonexistent-src:/x"}; }, "--volume: '/nonexistent-src'"},
        {[](RunFlags& f) { f.rootfs = "/nonexistent-rootfs"; }, "--rootfs: '/nonexistent-rootfs': No such file"},
        {[](RunFlags& f) { f.rootfs = "/etc/passwd"; }, "is not a directory"},
        {[](RunFlags& f) { f.rootfs = "/"; }, "host's own root"},
        {[](RunFlags& f) { f.rootfs = ""; }, "--rootfs: is required"},
        {[](RunFlags& f) { f.command.clear(); }, "no command given"},
        {[](RunFlags& f) { f.workdir = "/proc/self/fd/3"; }, "CVE-2024-21626"},
        {[](RunFlags& f) { f.workdir = "relative"; }, "--workdir"},
        {[](RunFlags& f) { f.hostname = "bad_name"; }, "--hostname"},
        {[](RunFlags& f) { f.ulimits = {"nofile=9:1"}; }, "above the hard limit"},
        {[](RunFlags& f) { f.read_only_given = true; f.read_write = "layer"; }, "cannot be combined"},
        {[](RunFlags& f) { f.secrets = {"relative"}; }, "--secret"},
        {[](RunFlags& f) { f.allow_bind = {"70000"}; }, "--allow-bind: '70000'"},
        {[](RunFlags& f) { f.landlock = "off"; f.allow_connect = {"80"}; }, "--landlock=off"},
    };
    for (const auto& c : cases) {
        RunFlags f = flags();
        c.set(f);
        std::string err = error_of(f);
        INFO("expected: " << c.expect << "\n got: " << err);
        CHECK(err.find(c.expect) != std::string::npos);
    }
}

TEST_CASE("env keeps defaults and lets the user override them") {
    RunFlags f = flags();
    f.env = {"PATH=/bin", "A=1"};
    LaunchPlan p = build_plan(f, 0);
    CHECK(std::count(p.env.begin(), p.env.end(), std::string("PATH=/bin")) == 1);
    CHECK(std::none_of(p.env.begin(), p.env.end(), [](auto& e) { return e.starts_with("PATH=/usr"); }));
    CHECK(std::find(p.env.begin(), p.env.end(), std::string("A=1")) != p.env.end());
}

TEST_CASE("the same flags always give the same plan") {
    RunFlags f = flags({"sh", "-c", "echo"});
    f.tmpfs = {"/run:size=1m"};
    CHECK(build_plan(f, 0) == build_plan(f, 0));
}

TEST_CASE("rootless: supplementary groups that cannot be dropped are named, never claimed dropped") {
    // setgroups(2) is denied in a rootless user namespace: the invoker's groups stay with the workload
    auto w = identity::kept_groups_warning({4, 27});
    REQUIRE(w);
    CHECK(w->starts_with("user: "));
    CHECK(w->find("supplementary groups 4") != std::string::npos);
    CHECK(w->find(", 27") != std::string::npos);
    CHECK(w->find("cannot drop them without root") != std::string::npos);
    CHECK_FALSE(identity::kept_groups_warning({}));

    LaunchPlan p = build_plan(flags(), 0);
    CHECK(identity::groups_summary(p, {}) == "no supplementary groups");
    CHECK(identity::groups_summary(p, {4}).find("KEEPS the invoker's supplementary groups 4") == 0);
    p.additional_gids = {5, 20};  // OCI additionalGids
    CHECK(identity::groups_summary(p, {}) == "supplementary groups 5,20");
    // as root (this test's invoker when it can clear groups), nothing is kept and nothing is warned about
    if (::geteuid() == 0) {
        CHECK(identity::kept_supplementary_groups(build_plan(flags(), 1000)).empty());
        CHECK_FALSE(has_warning(build_plan(flags(), 1000), "supplementary groups"));
    }
}

TEST_CASE("--pids-limit -1 and 0 mean unlimited like docker: no limit, so no cgroup is needed") {
    for (const char* v : {"-1", "0", "max"}) {
        RunFlags f = flags();
        f.pids_limit = v;
        LaunchPlan p = build_plan(f, 0);
        INFO(v);
        CHECK_FALSE(p.resources.pids_max);
        CHECK(p.resources.empty());  // no cgroup at all: a host without the pids controller still runs it
    }
    RunFlags f = flags();
    f.pids_limit = "-1";
    f.memory = "64m";
    LaunchPlan p = build_plan(f, 0);
    CHECK_FALSE(p.resources.pids_max);  // the memory limit needs a cgroup, the pids controller is not asked for
    f.pids_limit = "1";
    CHECK(*build_plan(f, 0).resources.pids_max == 1);
}

namespace {
struct Image {
    ScratchDir d{"hardrun-unit-image"};
    Image() { std::filesystem::create_directories(d.at("etc")); }
    void write(const std::string& path, const std::string& text) const { std::ofstream(d.at(path)) << text; }
};
}  // namespace

TEST_CASE("the workload's uid and gid get passwd and group entries in the layer when the image has none") {
    Image img;
    img.write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001:app:/home/app:/bin/sh");
    img.write("etc/group", "root:x:0:\nhardrun:x:5:\n");
    img.write("etc/hosts", "127.0.0.1 localhost\n");
    RunFlags f = flags();
    f.rootfs = img.d.dir;
    f.user = "4242:4343";
    LaunchPlan p = build_plan(f, 0);
    CHECK(p.root_writes == RootWrites::Layer);
    REQUIRE(p.layer_files.count("/etc/passwd"));
    CHECK(p.layer_files["/etc/passwd"] ==
          "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001:app:/home/app:/bin/sh\nhardrun:x:4242:4343:hardrun workload:/:/bin/sh\n");
    // the name hardrun is taken in the image's /etc/group: the gid's own name
    CHECK(p.layer_files["/etc/group"] == "root:x:0:\nhardrun:x:5:\nhardrun4343:x:4343:\n");
    CHECK(std::find(p.env.begin(), p.env.end(), "HOME=/") != p.env.end());
    // the image has an entry for 10001: nothing is added, HOME is its home (docker's rule) unless -e sets it
    f.user.clear();
    p = build_plan(f, 0);
    CHECK_FALSE(p.layer_files.count("/etc/passwd"));
    CHECK(p.layer_files.count("/etc/group"));  // gid 10001 has no group
    CHECK(std::find(p.env.begin(), p.env.end(), "HOME=/home/app") != p.env.end());
    f.env = {"HOME=/data"};
    p = build_plan(f, 0);
    CHECK(std::find(p.env.begin(), p.env.end(), "HOME=/data") != p.env.end());
    CHECK(std::count_if(p.env.begin(), p.env.end(), [](const std::string& e) { return e.starts_with("HOME="); }) == 1);
}

TEST_CASE("network files: only where the image's do not fit the sandbox") {
    Image img;
    RunFlags f = flags();
    f.rootfs = img.d.dir;
    LaunchPlan p = build_plan(f, 0);  // no /etc/hosts: one naming localhost and the host name
    REQUIRE(p.layer_files.count("/etc/hosts"));
    CHECK(p.layer_files["/etc/hosts"].find("127.0.0.1\tlocalhost hardrun\n") == 0);
    CHECK_FALSE(p.layer_files.count("/etc/hostname"));  // the image has none: none is added
    img.write("etc/hosts", "127.0.0.1 localhost\n");
    img.write("etc/hostname", "builder\n");
    f.hostname = "web1";
    p = build_plan(f, 0);
    CHECK_FALSE(p.layer_files.count("/etc/hosts"));
    CHECK(p.layer_files["/etc/hostname"] == "web1\n");
    img.write("etc/hostname", "web1\n");
    CHECK_FALSE(build_plan(f, 0).layer_files.count("/etc/hostname"));
}

TEST_CASE("--read-write is a layer; --read-write=image writes into the directory, and says so") {
    RunFlags f = flags();
    CHECK(build_plan(f, 0).root_writes == RootWrites::Layer);
    CHECK(build_plan(f, 0).readonly_root);
    f.read_write = "layer";
    LaunchPlan p = build_plan(f, 0);
    CHECK(p.root_writes == RootWrites::Layer);
    CHECK_FALSE(p.readonly_root);
    CHECK(has_warning(p, "writes go to a tmpfs layer, discarded at exit"));
    f.read_write = "image";
    p = build_plan(f, 0);
    CHECK(p.root_writes == RootWrites::Image);
    CHECK(has_warning(p, "writes go into the rootfs directory itself"));
    f.read_write = "overlay";
    CHECK_THROWS_WITH_AS(build_plan(f, 0), doctest::Contains("--read-write=image"), UsageError);
}

TEST_CASE("rootless, a tmpfs can belong only to the workload's own uid and gid") {
    RunFlags f = flags();
    f.tmpfs = {"/srv:uid=10001,gid=10001,mode=0700"};
    CHECK_NOTHROW(build_plan(f, 1000));
    CHECK_NOTHROW([&] { f.tmpfs = {"/srv:uid=0"}; build_plan(f, 0); }());  // as root every id is there
    f.tmpfs = {"/srv:uid=0"};
    CHECK_THROWS_WITH_AS(build_plan(f, 1000), doctest::Contains("cannot be mapped in a rootless user namespace"), UsageError);
}

TEST_CASE("/var/tmp is a tmpfs where the image has the directory; a user's mount there wins") {
    const LaunchPlan plain = build_plan(flags(), 0);
    const Mount* vt = mount_at(plain, "/var/tmp");
    REQUIRE(vt);
    CHECK(vt->kind == MountKind::Tmpfs);
    CHECK(vt->if_present);
    CHECK(vt->noexec);
    RunFlags f = flags();
    f.tmpfs = {"/var/tmp:size=1g"};
    LaunchPlan p = build_plan(f, 0);
    CHECK_FALSE(mount_at(p, "/var/tmp")->if_present);
    CHECK(*mount_at(p, "/var/tmp")->size == (1ULL << 30));
}
