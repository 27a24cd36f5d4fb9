#include <doctest/doctest.h>
#include <linux/mount.h>
#include <linux/openat2.h>

#include "hardrun/support/error.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/layers/mounts.hpp"
#include "recording_sys.hpp"

using namespace hardrun;

namespace {
LaunchPlan plan_with(std::vector<Mount> extra = {}) {
    LaunchPlan p;
    p.rootfs = "/srv/rootfs";
    p.mounts = default_mounts(true);
    for (auto& m : extra) p.mounts.push_back(m);
    order_mounts(p.mounts);
    return p;
}
}  // namespace

TEST_CASE("setup: private propagation first, pivot_root last, old root detached") {
    test::RecordingSys sys;
    mounts::setup(sys, plan_with());
    REQUIRE_FALSE(sys.calls.empty());
    CHECK(sys.calls[0].rfind("mount (null) / flags=" + std::to_string(MS_REC | MS_PRIVATE), 0) == 0);
    CHECK(sys.calls[1] == "mount /srv/rootfs /srv/rootfs flags=" + std::to_string(MS_BIND | MS_REC));
    int pivot = sys.find("pivot_root . .");
    REQUIRE(pivot > 0);
    CHECK(sys.find("umount2 . 2", pivot) == pivot + 1);
    CHECK(sys.find("fsopen", pivot) == -1);  // nothing is mounted after pivot_root in setup
}

TEST_CASE("setup: every target is resolved inside the root without symlinks") {
    test::RecordingSys sys;
    mounts::setup(sys, plan_with());
    const std::string resolve = "resolve=" + std::to_string(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    int n = 0;
    for (const auto& c : sys.calls)
        if (c.rfind("openat2", 0) == 0) {
            ++n;
            CHECK(c.find(resolve) != std::string::npos);
        }
    CHECK(n > 10);
    // each filesystem is created detached and then moved onto a target fd
    CHECK(sys.find("fsopen proc") >= 0);
    CHECK(sys.find("fsopen sysfs") >= 0);
    CHECK(sys.find("fsopen devpts") >= 0);
    CHECK(sys.find("fsopen mqueue") >= 0);
    CHECK(sys.find("move_mount") > sys.find("fsopen proc"));
}

TEST_CASE("setup: a symlink at a mount target is refused") {
    test::RecordingSys sys;
    sys.fail = [](const std::string& c) { return c.find(" tmp resolve") != std::string::npos ? -ELOOP : 0; };
    Mount t;
    t.kind = MountKind::Tmpfs;
    t.destination = "/tmp";
    try {
        mounts::setup(sys, plan_with({t}));
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("tmpfs at /tmp") != std::string::npos);
        CHECK(std::string(e.what()).find("is a symlink") != std::string::npos);
    }
    CHECK(sys.find("pivot_root") == -1);  // stopped before pivot
}

TEST_CASE("setup: tmpfs size, mode and flags reach the kernel") {
    test::RecordingSys sys;
    Mount t;
    t.kind = MountKind::Tmpfs;
    t.destination = "/cache";
    t.size = 1 << 20;
    t.mode = 0700;
    t.noexec = true;
    mounts::setup(sys, plan_with({t}));
    CHECK(sys.find("fsconfig") >= 0);
    bool size = false, mode = false;
    for (const auto& c : sys.calls) {
        size |= c.find("size=1048576") != std::string::npos;
        mode |= c.find("mode=700") != std::string::npos;
    }
    CHECK(size);
    CHECK(mode);
    const auto attrs = "attrs=" + std::to_string(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    bool found = false;
    for (const auto& c : sys.calls) found |= c.rfind("fsmount", 0) == 0 && c.find(attrs) != std::string::npos;
    CHECK(found);
}

TEST_CASE("setup: a missing mount point on a read-only rootfs says so") {
    test::RecordingSys sys;
    bool first = true;
    sys.fail = [&](const std::string& c) {
        if (c.find(" data resolve") != std::string::npos && first) {
            first = false;
            return -ENOENT;
        }
        if (c.rfind("mkdirat", 0) == 0 && c.find("data") != std::string::npos) return -EROFS;
        return 0;
    };
    Mount t;
    t.kind = MountKind::Tmpfs;
    t.destination = "/data";
    CHECK_THROWS_WITH_AS(mounts::setup(sys, plan_with({t})),
                         doctest::Contains("read-only filesystem"), Error);
}

TEST_CASE("setup: a volume is bound from the fd of its source, opened without following symlinks") {
    test::RecordingSys sys;
    Mount v;
    v.kind = MountKind::Bind;
    v.source = "/srv/vol";
    v.destination = "/data";
    mounts::setup(sys, plan_with({v}));
    const std::string open = "openat2 -100 /srv/vol resolve=" + std::to_string(RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    const int at = sys.find(open);
    REQUIRE(at >= 0);
    // the tree is cloned from an fd (an empty path), never by the path name again
    CHECK(sys.find("open_tree -100 /srv/vol") == -1);
    const int tree = sys.find("open_tree ", at);
    REQUIRE(tree > at);
    const std::string& c = sys.calls[static_cast<std::size_t>(tree)];
    CHECK(c.back() == ' ');  // "open_tree FD " + the empty path
    CHECK(c.rfind("open_tree -100", 0) != 0);
}

TEST_CASE("setup: a volume source that became a symlink after planning is refused") {
    test::RecordingSys sys;
    sys.fail = [](const std::string& c) { return c.find(" /srv/vol resolve") != std::string::npos ? -ELOOP : 0; };
    Mount v;
    v.kind = MountKind::Bind;
    v.source = "/srv/vol";
    v.destination = "/data";
    CHECK_THROWS_WITH_AS(mounts::setup(sys, plan_with({v})), doctest::Contains("runs through a symlink"), Error);
    const int at = sys.find("openat2 -100 /srv/vol");
    REQUIRE(at >= 0);
    CHECK(sys.find("open_tree", at) == -1);  // nothing is cloned or mounted for it
    CHECK(sys.find("pivot_root") == -1);
}

namespace {
// A --rootfs image (RootWrites::Layer) whose lookups of `missing` (any component path ending so) fail with ENOENT
// until the overlay exists.
struct LayerRun {
    test::RecordingSys sys;
    bool overlay_made = false;
    explicit LayerRun(std::vector<std::string> missing) {
        sys.fail = [this, missing](const std::string& c) {
            if (c.rfind("fsopen overlay", 0) == 0) overlay_made = true;
            if (overlay_made || c.rfind("openat2", 0) != 0) return 0;
            for (const auto& m : missing)
                if (c.find(" " + m + " resolve") != std::string::npos) return -ENOENT;
            return 0;
        };
    }
};

LaunchPlan image_plan(std::vector<Mount> extra = {}) {
    LaunchPlan p = plan_with(std::move(extra));
    p.root_writes = RootWrites::Layer;
    return p;
}
}  // namespace

TEST_CASE("setup: a --rootfs image that has every mount point is bound, never overlaid, and nothing is made in it") {
    LayerRun r({});
    mounts::setup(r.sys, image_plan());
    CHECK(r.sys.find("mount /srv/rootfs /srv/rootfs flags=") >= 0);
    CHECK(r.sys.find("fsopen overlay") == -1);
    CHECK(r.sys.find("mkdirat") == r.sys.find("mkdirat", r.sys.find("fsopen tmpfs")));  // only inside hardrun's /dev
}

TEST_CASE("setup: a mount point the image lacks is made in the layer's upper directory, then the root is an overlay") {
    Mount t;
    t.kind = MountKind::Tmpfs;
    t.destination = "/var/lib/app";
    t.uid = 101;
    t.gid = 104;
    LayerRun r({"/var/lib/app", "app"});
    const int image_fd = 100;  // the first fd the fake hands out: the image, opened before anything else
    mounts::setup(r.sys, image_plan({t}));
    const auto& calls = r.sys.calls;
    REQUIRE(r.sys.find("openat -100 /srv/rootfs") >= 0);
    CHECK(r.sys.find("mount /srv/rootfs /srv/rootfs") == -1);  // no bind of the image: the overlay is the root
    const int layer = r.sys.find("fsopen tmpfs");
    const int overlay = r.sys.find("fsopen overlay");
    REQUIRE(layer >= 0);
    REQUIRE(overlay > layer);
    // the layer's directories and the scaffold of /var/lib/app are made in the tmpfs before the overlay exists
    CHECK(r.sys.find("mkdirat", layer) > layer);
    bool made_app = false;
    for (int i = layer; i < overlay; ++i) made_app |= calls[static_cast<std::size_t>(i)].rfind("mkdirat", 0) == 0 &&
                                                       calls[static_cast<std::size_t>(i)].ends_with(" app");
    CHECK(made_app);
    // nothing is ever made through the image's own fd
    for (const auto& c : calls) CHECK(c.rfind("mkdirat " + std::to_string(image_fd) + " ", 0) != 0);
    // the image is the lower layer, by its fd; the tmpfs is attached over it in this namespace first
    bool over_image = false;
    for (int i = layer; i < overlay; ++i) {
        const auto& c = calls[static_cast<std::size_t>(i)];
        over_image |= c.rfind("move_mount ", 0) == 0 && c.ends_with(" -> " + std::to_string(image_fd));
    }
    CHECK(over_image);
    CHECK(r.sys.find("fsconfig", overlay) > overlay);
    bool lower = false;
    for (const auto& c : calls) lower |= c.find("lowerdir=/proc/self/fd/" + std::to_string(image_fd)) != std::string::npos;
    CHECK(lower);
    CHECK(r.sys.find("pivot_root . .") > overlay);
    // uid= and gid= reach the tmpfs
    bool uid = false, gid = false;
    for (const auto& c : calls) {
        uid |= c.rfind("fsconfig", 0) == 0 && c.ends_with(" uid=101");
        gid |= c.rfind("fsconfig", 0) == 0 && c.ends_with(" gid=104");
    }
    CHECK(uid);
    CHECK(gid);
}

TEST_CASE("setup: a writable root or a layer file makes the overlay even when nothing is missing") {
    LaunchPlan p = image_plan();
    p.readonly_root = false;
    LayerRun a({});
    mounts::setup(a.sys, p);
    CHECK(a.sys.find("fsopen overlay") >= 0);
    LaunchPlan q = image_plan();
    q.layer_files["/etc/passwd"] = "hardrun:x:4242:4242::/:/bin/sh\n";
    LayerRun b({});
    mounts::setup(b.sys, q);
    const int overlay = b.sys.find("fsopen overlay");
    REQUIRE(overlay >= 0);
    const int w = b.sys.find("write ");
    CHECK(w >= 0);
    CHECK(w < overlay);  // written into the upper directory before the overlay is mounted
    // an OCI bundle's rootfs (RootWrites::Image) is bound and written, as runc does
    LaunchPlan oci = plan_with();
    oci.readonly_root = false;
    LayerRun c({});
    mounts::setup(c.sys, oci);
    CHECK(c.sys.find("fsopen overlay") == -1);
}

TEST_CASE("setup: the layer's overlay is rootless-ready (userxattr) and a failure names the layer") {
    LaunchPlan p = image_plan();
    p.readonly_root = false;
    p.namespaces.user = true;
    LayerRun r({});
    mounts::setup(r.sys, p);
    bool userxattr = false;
    for (const auto& c : r.sys.calls) userxattr |= c.rfind("fsconfig", 0) == 0 && c.ends_with(" userxattr");
    CHECK(userxattr);
    test::RecordingSys bad;
    bad.fail = [](const std::string& c) { return c.rfind("fsopen overlay", 0) == 0 ? -ENODEV : 0; };
    CHECK_THROWS_WITH_AS(mounts::setup(bad, p), doctest::Contains("the rootfs layer (an overlay of /srv/rootfs)"), Error);
}

TEST_CASE("setup: a kernel without overlayfs is named, with the ways around it") {
    LaunchPlan p = image_plan();
    p.readonly_root = false;
    test::RecordingSys sys;
    sys.fail = [](const std::string& c) { return c.rfind("fsopen overlay", 0) == 0 ? -ENODEV : 0; };
    CHECK_THROWS_WITH_AS(mounts::setup(sys, p), doctest::Contains("modprobe overlay"), Error);
}
