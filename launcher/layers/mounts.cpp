// Mounts. Every target is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS) and every mount is attached to that exact file descriptor with the new mount API
// (fsopen/fsmount/open_tree + move_mount), so a symlink in the rootfs can never send a mount to a host path
// (CVE-2021-30465, CVE-2024-45310, CVE-2025-31133).
#include "hardrun/layers/mounts.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/layers/copyup.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/sys_fd.hpp"

namespace hardrun::mounts {

namespace {

constexpr std::uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

const char* kind_name(MountKind k) {
    switch (k) {
        case MountKind::Bind: return "bind mount";
        case MountKind::Tmpfs: return "tmpfs";
        case MountKind::Proc: return "proc";
        case MountKind::Sysfs: return "sysfs";
        case MountKind::Devpts: return "devpts";
        case MountKind::Mqueue: return "mqueue";
        case MountKind::Cgroup: return "cgroup2";
        case MountKind::Dev: return "/dev";
    }
    return "mount";
}

std::string describe(const Mount& m) {
    std::string s = std::string(kind_name(m.kind)) + " at " + m.destination;
    if (m.kind == MountKind::Bind) s = "volume " + (m.volume.empty() ? m.source : m.volume) + " at " + m.destination;
    return s;
}

unsigned attrs_of(const Mount& m) {
    unsigned a = 0;
    if (m.readonly) a |= MOUNT_ATTR_RDONLY;
    if (m.nosuid) a |= MOUNT_ATTR_NOSUID;
    if (m.nodev) a |= MOUNT_ATTR_NODEV;
    if (m.noexec) a |= MOUNT_ATTR_NOEXEC;
    return a;
}

std::vector<std::string> components(const std::string& path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/') ++i;
        std::size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j;
    }
    return out;
}

// "/a/b" from the components [from, to) of a path
std::string joined(const std::vector<std::string>& comps, std::size_t from, std::size_t to) {
    std::string out;
    for (std::size_t k = from; k < to; ++k) out += "/" + comps[k];
    return out;
}

// A bind of a host path is always nosuid and nodev: a device node or a setuid binary in a volume (which the
// workload, another container or the image may have put there) never works. Only a bind whose source is
// itself a device node the plan wants usable (OCI linux.devices, checked at plan time) keeps dev.
unsigned bind_attrs(const Mount& m, const struct stat& source) {
    unsigned a = attrs_of(m) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    const bool device = S_ISCHR(source.st_mode) || S_ISBLK(source.st_mode);
    if (device && !m.nodev) a &= ~MOUNT_ATTR_NODEV;
    return a;
}

// Opens (O_PATH) the target inside root, creating missing components (directories, or an empty file for
// the last one when want_file). Symlinks anywhere in the path are refused.
SysFd resolve_target(Sys& sys, int rootfd, const std::string& dest, bool want_file, const std::string& what,
                     bool may_create = true) {
    SysFd cur(sys, sys.openat2(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kResolve));
    if (cur.get() < 0) throw_errno("mounts", what, -cur.get(), "cannot open the rootfs");
    auto comps = components(dest);
    for (std::size_t i = 0; i < comps.size(); ++i) {
        const bool last = i + 1 == comps.size();
        const std::string& c = comps[i];
        // no O_NOFOLLOW: with it, openat2 returns an fd to a trailing symlink instead of failing with ELOOP
        int fd = sys.openat2(cur.get(), c.c_str(), O_PATH | O_CLOEXEC, 0, kResolve);
        if (fd == -ENOENT && !may_create)
            throw Error("mounts", what,
                        "the mount point " + dest + " is missing in the image, and hardrun never writes to a --rootfs "
                        "image (a bug: the rootfs layer should have been made for it)");
        if (fd == -ENOENT) {
            int r = (last && want_file)
                        ? sys.openat(cur.get(), c.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644)
                        : sys.mkdirat(cur.get(), c.c_str(), 0755);
            if (r >= 0 && last && want_file) sys.close(r);
            const std::string here = joined(comps, 0, i + 1);  // the path so far, not the component alone
            if (r < 0 && r != -EEXIST)
                throw_errno("mounts", what, -r,
                            "the mount point " + here + " is missing and cannot be created" +
                                (r == -EROFS ? " (the rootfs is on a read-only filesystem: create it in the image)" : ""));
            fd = sys.openat2(cur.get(), c.c_str(), O_PATH | O_CLOEXEC, 0, kResolve);
        }
        if (fd == -ELOOP || fd == -EXDEV) {
            // name where the image's link leads (/var/run -> /run): mounting there is what the user meant
            char target[4096];
            const long n = sys.readlinkat(cur.get(), c.c_str(), target, sizeof target - 1);
            std::string hint;
            if (n > 0) {
                std::string to(target, static_cast<std::size_t>(n));
                const std::string here = joined(comps, 0, i + 1), rest = joined(comps, i + 1, comps.size());
                hint = " (" + here + " -> " + to + " in the image" +
                       (to.starts_with("/") ? ": mount at " + to + rest + " instead)" : ")");
            }
            throw Error("mounts", what,
                        "the mount target's path component '" + c +
                            "' in the rootfs is a symlink; refusing to follow it (mount targets must be real directories)" + hint);
        }
        if (fd < 0) throw_errno("mounts", what, -fd);
        cur = SysFd(sys, fd);
    }
    return cur;
}

// Attaches a detached mount (from fsmount or open_tree) onto the target fd.
void attach(Sys& sys, int mntfd, int targetfd, const std::string& what) {
    int r = sys.move_mount(mntfd, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    if (r < 0) throw_errno("mounts", what, -r, "move_mount failed");
}

// fsopen + options + fsmount: a new detached filesystem instance.
SysFd new_fs(Sys& sys, const char* fstype, const std::vector<std::pair<std::string, std::string>>& opts,
             unsigned attrs, const std::string& what) {
    SysFd fs(sys, sys.fsopen(fstype, FSOPEN_CLOEXEC));
    if (fs.get() < 0)
        throw_errno("mounts", what, -fs.get(),
                    std::string("fsopen(") + fstype + ")" +
                        (fs.get() == -ENODEV && std::string(fstype) == "overlay"
                             ? ": this kernel has no overlayfs (modprobe overlay), which hardrun needs to add what the "
                               "image lacks without writing to it; or give the image the missing mount points, or use "
                               "--read-write=image"
                             : ""));
    for (const auto& [k, v] : opts) {
        int r = v.empty() ? sys.fsconfig(fs.get(), FSCONFIG_SET_FLAG, k.c_str(), nullptr, 0)
                          : sys.fsconfig(fs.get(), FSCONFIG_SET_STRING, k.c_str(), v.c_str(), 0);
        if (r < 0) throw_errno("mounts", what, -r, "option " + k + (v.empty() ? "" : "=" + v));
    }
    if (int r = sys.fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0); r < 0)
        throw_errno("mounts", what, -r, std::string("creating the ") + fstype + " instance");
    SysFd mnt(sys, sys.fsmount(fs.get(), FSMOUNT_CLOEXEC, attrs));
    if (mnt.get() < 0) throw_errno("mounts", what, -mnt.get(), "fsmount");
    return mnt;
}

std::string octal(mode_t m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%o", static_cast<unsigned>(m));
    return buf;
}

// A bind of a host path (resolved on the host, before pivot_root) as a detached tree with attrs set.
SysFd clone_tree(Sys& sys, int dfd, const char* path, bool recursive, unsigned attrs, const std::string& what) {
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0U);
    if (path[0] == '\0') flags |= AT_EMPTY_PATH;
    SysFd tree(sys, sys.open_tree(dfd, path, flags));
    if (tree.get() < 0) throw_errno("mounts", what, -tree.get(), "open_tree");
    if (attrs) {
        int r = sys.mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0U), attrs, 0, 0);
        if (r < 0) throw_errno("mounts", what, -r, "setting mount flags");
    }
    return tree;
}

void setup_dev(Sys& sys, int rootfd, const Mount& m, bool may_create) {
    const std::string what = describe(m);
    SysFd target = resolve_target(sys, rootfd, m.destination, false, what, may_create);
    // nodev: only the device binds below, each a mount of its own, are usable devices (not a node made in /dev)
    SysFd mnt = new_fs(sys, "tmpfs", {{"source", m.source.empty() ? "tmpfs" : m.source}, {"mode", octal(m.mode.value_or(0755))},
                                      {"size", std::to_string(m.size.value_or(65536))}},
                       attrs_of(m) | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, what);
    attach(sys, mnt.get(), target.get(), what);
    // re-open: the fd we had points below the new mount
    SysFd dev = resolve_target(sys, rootfd, m.destination, false, what);
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
        const std::string nwhat = "/dev/" + std::string(node);
        int f = sys.openat(dev.get(), node, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (f < 0) throw_errno("mounts", nwhat, -f, "creating the device mount point");
        sys.close(f);
        SysFd nodefd(sys, sys.openat2(dev.get(), node, O_PATH | O_CLOEXEC, 0, kResolve));
        if (nodefd.get() < 0) throw_errno("mounts", nwhat, -nodefd.get());
        SysFd tree = clone_tree(sys, AT_FDCWD, ("/dev/" + std::string(node)).c_str(), false,
                                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, nwhat + " (from the host)");
        attach(sys, tree.get(), nodefd.get(), nwhat);
    }
    for (const char* dir : {"pts", "shm", "mqueue"})
        if (int r = sys.mkdirat(dev.get(), dir, 0755); r < 0 && r != -EEXIST) throw_errno("mounts", "/dev/" + std::string(dir), -r);
    const std::pair<const char*, const char*> links[] = {{"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"},
                                                         {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                                         {"pts/ptmx", "ptmx"}};
    for (const auto& [to, name] : links)
        if (int r = sys.symlinkat(to, dev.get(), name); r < 0) throw_errno("mounts", "/dev/" + std::string(name), -r);
}

// CVE-2019-16884, CVE-2019-19921: nothing but procfs itself may be mounted at or inside /proc, or a fake file
// could capture the LSM label write (/proc/self/attr/...) or the masking. The files lxcfs-style tools bind over
// (regular files only) are the exception, as in runc.
void refuse_fake_procfs(Sys& sys, const Mount& m, const std::string& what) {
    auto comps = components(m.destination);
    if (comps.empty() || comps[0] != "proc" || m.kind == MountKind::Proc) return;
    static const char* const kLxcfs[] = {"cpuinfo", "diskstats", "meminfo", "stat", "swaps", "uptime", "loadavg", "slabinfo"};
    if (m.kind == MountKind::Bind && comps.size() == 2) {
        struct stat st {};
        for (const char* f : kLxcfs)
            if (comps[1] == f && sys.fstatat(AT_FDCWD, m.source.c_str(), &st, 0) == 0 && S_ISREG(st.st_mode)) return;
    }
    throw Error("mounts", what,
                "refusing to mount anything but procfs at or inside /proc (a fake procfs could capture LSM label "
                "writes, CVE-2019-16884)");
}

// The bind source, opened without following any symlink (the plan holds its canonical path, files.hpp): a
// symlink there now was swapped in after the plan was made. The bind is cloned from this fd, so nothing can
// redirect it later.
SysFd open_bind_source(Sys& sys, const Mount& m, const std::string& what) {
    SysFd fd(sys, sys.openat2(AT_FDCWD, m.source.c_str(), O_PATH | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
    if (fd.get() == -ELOOP || fd.get() == -EXDEV)
        throw Error("mounts", what, "the volume source now runs through a symlink (it changed after the plan was made); refusing to follow it");
    if (fd.get() < 0) throw_errno("mounts", what, -fd.get(), "the volume source");
    return fd;
}

// Opens a path inside the root without following symlinks; -ENOENT is returned, not thrown.
int open_in(Sys& sys, int rootfd, const std::string& path) {
    return sys.openat2(rootfd, path.c_str(), O_PATH | O_CLOEXEC, 0, kResolve);
}

// Whether the path exists inside the root. A symlink on the way counts as there (resolve_target refuses it,
// naming it); any other failure stops the launch.
bool exists_in(Sys& sys, int rootfd, const std::string& path, const std::string& what) {
    int fd = open_in(sys, rootfd, path);
    if (fd >= 0) sys.close(fd);
    if (fd < 0 && fd != -ENOENT && fd != -ELOOP && fd != -EXDEV) throw_errno("mounts", what, -fd, "looking " + path + " up in the image");
    return fd != -ENOENT;
}

void mount_one(Sys& sys, int rootfd, const Mount& m, bool rootless, bool may_create) {
    const std::string what = describe(m);
    refuse_fake_procfs(sys, m, what);
    // a default mount for a directory some images have (/var/tmp): none where the image has none
    if (m.if_present && !exists_in(sys, rootfd, m.destination, what)) return;
    switch (m.kind) {
        case MountKind::Dev:
            setup_dev(sys, rootfd, m, may_create);
            return;
        case MountKind::Bind: {
            // the source is a host path: resolved here, in the host's view, before pivot_root
            SysFd source = open_bind_source(sys, m, what);
            struct stat st {};
            if (int r = sys.fstat(source.get(), &st); r < 0) throw_errno("mounts", what, -r, "the volume source");
            SysFd tree = clone_tree(sys, source.get(), "", m.recursive, bind_attrs(m, st), what);
            SysFd target = resolve_target(sys, rootfd, m.destination, !S_ISDIR(st.st_mode), what, may_create);
            attach(sys, tree.get(), target.get(), what);
            return;
        }
        default:
            break;
    }
    SysFd target = resolve_target(sys, rootfd, m.destination, false, what, may_create);
    std::vector<std::pair<std::string, std::string>> opts;
    const char* fstype = "tmpfs";
    switch (m.kind) {
        case MountKind::Tmpfs:
            if (m.size) opts.emplace_back("size", std::to_string(*m.size));
            if (m.mode) opts.emplace_back("mode", octal(*m.mode));
            if (m.uid) opts.emplace_back("uid", std::to_string(*m.uid));
            if (m.gid) opts.emplace_back("gid", std::to_string(*m.gid));
            break;
        case MountKind::Proc: fstype = "proc"; break;
        case MountKind::Sysfs: fstype = "sysfs"; break;
        case MountKind::Devpts: fstype = "devpts"; break;
        case MountKind::Mqueue: fstype = "mqueue"; break;
        case MountKind::Cgroup: fstype = "cgroup2"; break;
        default: break;
    }
    opts.emplace(opts.begin(), "source", m.source.empty() ? fstype : m.source);  // mountinfo's source, not "none"
    for (const auto& e : m.extra) {
        auto eq = e.find('=');
        opts.emplace_back(e.substr(0, eq), eq == std::string::npos ? "" : e.substr(eq + 1));
    }
    try {
        const bool copy_up = m.kind == MountKind::Tmpfs && m.copy_up;  // OCI tmpcopyup (oci_copyup.hpp)
        SysFd mnt = new_fs(sys, fstype, opts, copy_up ? attrs_of(m) & ~MOUNT_ATTR_RDONLY : attrs_of(m), what);
        if (copy_up) {
            copyup::copy_tree(sys, target.get(), mnt.get(), m.destination, m.mode, rootless);
            if (m.uid || m.gid) {  // uid=/gid= name the owner of the tmpfs, not the image's directory
                SysFd top(sys, sys.openat(mnt.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
                if (!top) throw_errno("mounts", what, -top.get(), "opening it");
                if (int r = sys.fchown(top.get(), m.uid.value_or(static_cast<uid_t>(-1)), m.gid.value_or(static_cast<gid_t>(-1))); r < 0)
                    throw_errno("mounts", what, -r, "giving it the owner uid=/gid= name");
            }
            if (m.readonly)
                if (int r = sys.mount_setattr(mnt.get(), "", AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, 0, 0); r < 0)
                    throw_errno("mounts", what, -r, "making it read-only");
        }
        attach(sys, mnt.get(), target.get(), what);
    } catch (const Error&) {
        // Without its own network namespace a rootless sandbox may not mount sysfs: bind the host's read-only.
        if (m.kind != MountKind::Sysfs || !rootless) throw;
        SysFd tree = clone_tree(sys, AT_FDCWD, "/sys", true,
                                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, what);
        attach(sys, tree.get(), target.get(), what);
    }
}

// Secrets: a private tmpfs at /run/secrets, each file mode 0400 owned by the workload, then read-only.
void mount_secrets(Sys& sys, int rootfd, const LaunchPlan& plan, bool may_create) {
    if (plan.secrets.empty()) return;
    const std::string what = "secrets tmpfs at /run/secrets";
    SysFd target = resolve_target(sys, rootfd, "/run/secrets", false, what, may_create);
    SysFd mnt = new_fs(sys, "tmpfs", {{"source", "tmpfs"}, {"mode", "0500"}, {"size", "1048576"}},
                       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, what);
    for (const auto& s : plan.secrets) {
        const std::string swhat = "secret " + s.source + " -> /run/secrets/" + s.name;
        // O_NONBLOCK: a FIFO or device as the source must fail, not hang the launch
        SysFd src(sys, sys.openat(AT_FDCWD, s.source.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0));
        if (!src) throw_errno("secrets", swhat, -src.get());
        struct stat sst {};
        if (int r = sys.fstat(src.get(), &sst); r < 0) throw_errno("secrets", swhat, -r);
        if (!S_ISREG(sst.st_mode)) throw Error("secrets", swhat, "not a regular file");
        int dst = sys.openat(mnt.get(), s.name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0400);
        if (dst < 0) throw_errno("secrets", swhat, -dst);
        SysFd dstfd(sys, dst);
        char buf[8192];
        std::size_t total = 0;
        for (;;) {
            const long n = sys.read(src.get(), buf, sizeof buf);
            if (n < 0) throw_errno("secrets", swhat, static_cast<int>(-n));
            if (n == 0) break;
            total += static_cast<std::size_t>(n);
            if (total > 512 * 1024) throw Error("secrets", swhat, "larger than 512 KiB");
            if (sys.write(dst, buf, static_cast<std::size_t>(n)) != n) throw_errno("secrets", swhat, ENOSPC);
        }
        if (int r = sys.fchown(dst, plan.uid, plan.gid); r < 0) throw_errno("secrets", swhat, -r, "chown");
        if (int r = sys.fchmod(dst, 0400); r < 0) throw_errno("secrets", swhat, -r, "chmod");
    }
    if (int r = sys.fchown(mnt.get(), plan.uid, plan.gid); r < 0) throw_errno("secrets", what, -r, "chown");
    if (int r = sys.mount_setattr(mnt.get(), "", AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, 0, 0); r < 0)
        throw_errno("secrets", what, -r, "making it read-only");
    attach(sys, mnt.get(), target.get(), what);
}

// Opens a path after pivot_root without following symlinks; -ENOENT is returned, not thrown.
int open_inside(Sys& sys, const std::string& path) { return open_in(sys, AT_FDCWD, path); }


// --- Named volumes ---------------------------------------------------------------------------------------
//
// A named volume's first use (the plan found no directory for it): the directory is made, the mkdir being the one
// decision (a concurrent first use that loses the race binds what the winner filled), and filled with what the
// image has at the destination, owners and modes kept, as docker fills a new volume.
void create_named_volume(Sys& sys, const LaunchPlan& plan, const Mount& m) {
    const std::string what = describe(m);
    std::string prefix;
    const auto parent = m.source.substr(0, m.source.rfind('/'));
    for (const auto& c : components(parent)) {
        prefix += "/" + c;
        if (int r = sys.mkdirat(AT_FDCWD, prefix.c_str(), 0700); r < 0 && r != -EEXIST)
            throw_errno("mounts", what, -r, "creating the volumes directory " + prefix);
    }
    if (int r = sys.mkdirat(AT_FDCWD, m.source.c_str(), 0755); r == -EEXIST) return;
    else if (r < 0) throw_errno("mounts", what, -r, "creating its directory " + m.source);
    SysFd image(sys, sys.openat(AT_FDCWD, plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW, 0));
    if (!image) throw_errno("mounts", "rootfs " + plan.rootfs, -image.get());
    SysFd src(sys, open_in(sys, image.get(), m.destination));
    if (src.get() == -ENOENT) return;  // nothing there in the image: an empty volume
    if (!src) throw_errno("mounts", what, -src.get(), "looking " + m.destination + " up in the image");
    struct stat st {};
    if (int r = sys.fstat(src.get(), &st); r < 0) throw_errno("mounts", what, -r, m.destination + " in the image");
    if (!S_ISDIR(st.st_mode)) return;
    SysFd dst(sys, sys.openat2(AT_FDCWD, m.source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
    if (!dst) throw_errno("mounts", what, -dst.get(), "opening its directory " + m.source);
    try {
        copyup::copy_tree(sys, src.get(), dst.get(), m.destination, std::nullopt, plan.namespaces.user);
    } catch (const Error& e) {
        throw Error("mounts", what, e.cause() + " (filling the new volume from the image; it is left partly filled at " +
                                        m.source + ": remove that directory to start afresh)");
    }
}

// --- The rootfs layer (RootWrites::Layer): a --rootfs image is never written ---------------------------------
//
// Whatever the launch must create in the image (a mount point it lacks, the passwd/group entry of the workload)
// and whatever a --read-write workload writes goes to a tmpfs: the root becomes an overlay with the image as its
// read-only lower layer and a tmpfs as its upper one, made only when one of those is needed. The mount points
// and files are made in the upper directory before the overlay is mounted (so no copy-up is needed, which a
// rootless sandbox could not do for files it cannot chown), each directory with the mode, owner and times of
// its twin in the image, as overlayfs's own copy-up would give it.

bool nested_under(const std::string& path, const std::string& dir) {
    return dir == "/" || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

// The target of mount `i` (plan.mounts.size() for /run/secrets) lies in a filesystem an earlier mount of the plan
// made (a tmpfs, a volume): creating it there does not touch the image.
bool inside_earlier_mount(const LaunchPlan& plan, std::size_t i, const std::string& dest) {
    for (std::size_t j = 0; j < i && j < plan.mounts.size(); ++j)
        if (nested_under(dest, plan.mounts[j].destination)) return true;
    return false;
}

constexpr const char* kLayer = "the rootfs layer";

struct MountPoint {
    std::string path;
    bool file = false;  // the bind of a file needs an empty file, not a directory
};

// The mount points the plan needs that the image lacks (and that no earlier mount provides).
std::vector<MountPoint> missing_mount_points(Sys& sys, int image, const LaunchPlan& plan) {
    std::vector<MountPoint> out;
    for (std::size_t i = 0; i <= plan.mounts.size(); ++i) {
        if (i == plan.mounts.size() && plan.secrets.empty()) break;
        const std::string dest = i < plan.mounts.size() ? plan.mounts[i].destination : "/run/secrets";
        if (inside_earlier_mount(plan, i, dest) || exists_in(sys, image, dest, kLayer)) continue;
        if (i < plan.mounts.size() && plan.mounts[i].if_present) continue;
        bool file = false;
        if (i < plan.mounts.size() && plan.mounts[i].kind == MountKind::Bind) {
            const Mount& m = plan.mounts[i];
            SysFd source = open_bind_source(sys, m, describe(m));
            struct stat st {};
            if (int r = sys.fstat(source.get(), &st); r < 0) throw_errno("mounts", describe(m), -r, "the volume source");
            file = !S_ISDIR(st.st_mode);
        }
        out.push_back({dest, file});
    }
    return out;
}

struct DirTimes {
    std::string rel;  // inside the upper directory ("" = itself)
    struct timespec times[2];
};

// A directory of the upper layer, made the twin of the image's: mode, and the owner where this user namespace can
// map it (a rootless sandbox keeps its own for an owner it cannot map). Its times are set last (making entries in
// it changes them).
using copyup::unmappable;

void twin_directory(Sys& sys, int dir, const struct stat& st, const std::string& rel, std::vector<DirTimes>& times,
                    bool rootless) {
    if (int r = sys.fchown(dir, st.st_uid, st.st_gid); r < 0 && !unmappable(r, rootless))
        throw_errno("mounts", kLayer, -r, "giving /" + rel + " its owner");
    if (int r = sys.fchmod(dir, st.st_mode & 07777); r < 0) throw_errno("mounts", kLayer, -r, "giving /" + rel + " its mode");
    times.push_back({rel, {st.st_atim, st.st_mtim}});
}

// Makes `path` (a directory, or an empty file when `file`) in the upper directory, with every directory above it.
// Stops quietly where the image has something other than a directory: resolve_target refuses it later, naming it.
void scaffold(Sys& sys, int image, int upper, const std::string& path, bool file, std::vector<DirTimes>& times,
              bool rootless) {
    auto comps = components(path);
    SysFd up(sys, sys.openat(upper, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
    if (!up) throw_errno("mounts", kLayer, -up.get(), "opening its upper directory");
    SysFd low(sys, -1);
    bool in_image = true;
    std::string rel;
    for (std::size_t i = 0; i < comps.size(); ++i) {
        const char* c = comps[i].c_str();
        const bool last = i + 1 == comps.size();
        rel += (rel.empty() ? "" : "/") + comps[i];
        struct stat st {};
        SysFd next(sys, -1);
        if (in_image) {
            next = SysFd(sys, sys.openat2(low ? low.get() : image, c, O_PATH | O_CLOEXEC, 0, kResolve));
            if (next.get() == -ENOENT) in_image = false;
            else if (next.get() == -ELOOP || next.get() == -EXDEV) return;
            else if (next.get() < 0) throw_errno("mounts", kLayer, -next.get(), "looking /" + rel + " up in the image");
            else if (int r = sys.fstat(next.get(), &st); r < 0) throw_errno("mounts", kLayer, -r, "/" + rel + " in the image");
            else if (!S_ISDIR(st.st_mode)) return;
        }
        if (last && file && !in_image) {
            int f = sys.openat(up.get(), c, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (f < 0 && f != -EEXIST) throw_errno("mounts", kLayer, -f, "creating the mount point /" + rel);
            if (f >= 0) sys.close(f);
            return;
        }
        const int made = sys.mkdirat(up.get(), c, 0755);
        if (made < 0 && made != -EEXIST) throw_errno("mounts", kLayer, -made, "creating /" + rel);
        SysFd dir(sys, sys.openat(up.get(), c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0));
        if (!dir) throw_errno("mounts", kLayer, -dir.get(), "opening /" + rel);
        if (made == 0 && in_image) twin_directory(sys, dir.get(), st, rel, times, rootless);
        else if (made == 0)
            if (int r = sys.fchmod(dir.get(), 0755); r < 0) throw_errno("mounts", kLayer, -r, "giving /" + rel + " its mode");
        up = std::move(dir);
        if (in_image) low = std::move(next);
    }
}

// A file of plan.layer_files in the upper directory, with the mode and owner of the image's own (0644 root when
// the image has none).
void write_layer_file(Sys& sys, int image, int upper, const std::string& path, const std::string& content,
                      std::vector<DirTimes>& times, bool rootless) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == 0 ? "/" : path.substr(0, slash), name = path.substr(slash + 1);
    scaffold(sys, image, upper, dir, false, times, rootless);
    struct stat st {};
    st.st_mode = S_IFREG | 0644;
    // (an image's symlink there, e.g. /etc/resolv.conf into /run, is replaced by the file)
    if (int fd = open_in(sys, image, path); fd >= 0) {
        SysFd f(sys, fd);
        if (int r = sys.fstat(fd, &st); r < 0) throw_errno("mounts", kLayer, -r, path + " in the image");
    } else if (fd != -ENOENT && fd != -ELOOP && fd != -EXDEV) {
        throw_errno("mounts", kLayer, -fd, "looking " + path + " up in the image");
    }
    SysFd d(sys, sys.openat2(upper, dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, kResolve));
    if (!d) throw_errno("mounts", kLayer, -d.get(), "opening " + dir);
    SysFd out(sys, sys.openat(d.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw_errno("mounts", kLayer, -out.get(), "creating " + path);
    for (std::size_t off = 0; off < content.size();) {
        const long w = sys.write(out.get(), content.data() + off, content.size() - off);
        if (w == -EINTR) continue;
        if (w <= 0) throw_errno("mounts", kLayer, w < 0 ? static_cast<int>(-w) : ENOSPC, "writing " + path);
        off += static_cast<std::size_t>(w);
    }
    if (int r = sys.fchown(out.get(), st.st_uid, st.st_gid); r < 0 && !unmappable(r, rootless))
        throw_errno("mounts", kLayer, -r, "giving " + path + " its owner");
    if (int r = sys.fchmod(out.get(), st.st_mode & 07777); r < 0) throw_errno("mounts", kLayer, -r, "giving " + path + " its mode");
}

// The overlay: a tmpfs (upper and work directories) attached over the image's path in this private mount
// namespace (overlayfs takes its layers by path, and only from mounts of the caller's namespace), the image itself
// (still reachable through its fd) as the lower layer. Returns the overlay's mount, attached in that tmpfs.
SysFd make_layer(Sys& sys, int image, const LaunchPlan& plan, const std::vector<MountPoint>& points) {
    const std::string what = std::string(kLayer) + " (a tmpfs over " + plan.rootfs + ")";
    SysFd t = new_fs(sys, "tmpfs", {{"source", "tmpfs"}, {"size", std::to_string(plan.root_layer_size)}, {"mode", "0755"}},
                     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, what);
    for (const char* d : {"upper", "work", "root"})
        if (int r = sys.mkdirat(t.get(), d, 0700); r < 0) throw_errno("mounts", what, -r, std::string("creating ") + d);
    {
        SysFd upper(sys, sys.openat(t.get(), "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
        if (!upper) throw_errno("mounts", what, -upper.get(), "opening its upper directory");
        std::vector<DirTimes> times;
        struct stat st {};
        if (int r = sys.fstat(image, &st); r < 0) throw_errno("mounts", "rootfs " + plan.rootfs, -r);
        const bool rootless = plan.namespaces.user;
        twin_directory(sys, upper.get(), st, "", times, rootless);
        for (const auto& p : points) scaffold(sys, image, upper.get(), p.path, p.file, times, rootless);
        for (const auto& [path, content] : plan.layer_files)
            write_layer_file(sys, image, upper.get(), path, content, times, rootless);
        // deepest first: setting a directory's times does not change its parent's
        for (auto it = times.rbegin(); it != times.rend(); ++it) {
            const int r = it->rel.empty() ? sys.utimensat(t.get(), "upper", it->times, AT_SYMLINK_NOFOLLOW)
                                          : sys.utimensat(upper.get(), it->rel.c_str(), it->times, AT_SYMLINK_NOFOLLOW);
            if (r < 0) throw_errno("mounts", what, -r, "giving /" + it->rel + " its times");
        }
    }
    attach(sys, t.get(), image, what);
    auto open_dir = [&](const char* name) {
        SysFd f(sys, sys.openat(t.get(), name, O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
        if (!f) throw_errno("mounts", what, -f.get(), std::string("opening its ") + name + " directory");
        return f;
    };
    SysFd upper = open_dir("upper"), work = open_dir("work"), root = open_dir("root");
    auto fd_path = [](int fd) { return "/proc/self/fd/" + std::to_string(fd); };
    std::vector<std::pair<std::string, std::string>> opts = {
        {"source", "overlay"}, {"lowerdir", fd_path(image)}, {"upperdir", fd_path(upper.get())}, {"workdir", fd_path(work.get())}};
    if (plan.namespaces.user) opts.emplace_back("userxattr", "");  // trusted.* xattrs need CAP_SYS_ADMIN in the host's namespace
    SysFd overlay = new_fs(sys, "overlay", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                           std::string(kLayer) + " (an overlay of " + plan.rootfs + ")");
    attach(sys, overlay.get(), root.get(), kLayer);
    return overlay;
}

}  // namespace

void setup(Sys& sys, const LaunchPlan& plan) {
    // Shared would send the sandbox's mounts to the host's peer group: the OCI front end refuses it.
    if (plan.root_propagation == Propagation::Shared)
        throw Error("mounts", "rootfs propagation", "shared propagation would send the sandbox's mounts to the host; refusing");
    const bool slave = plan.root_propagation == Propagation::Slave;
    // 1. nothing we mount may propagate back to the host. Slave (rslave): / becomes a slave of the host's
    // peer group before anything is bound, so the sandbox keeps receiving the host's mount events.
    if (int r = sys.mount(nullptr, "/", nullptr, MS_REC | (slave ? MS_SLAVE : MS_PRIVATE), nullptr); r < 0)
        throw_errno("mounts", slave ? "making / a slave" : "making / private", -r);
    //    named volumes used for the first time are made now, filled from the image
    for (const auto& m : plan.mounts)
        if (m.kind == MountKind::Bind && m.fill) create_named_volume(sys, plan, m);
    // 2. the rootfs becomes a mount of its own (pivot_root needs one): a bind of the image, or, where the launch
    //    must write to a --rootfs image, the overlay of the rootfs layer (the image is never written)
    const bool protect = plan.root_writes == RootWrites::Layer;
    std::vector<MountPoint> points;
    bool layer = false;
    SysFd root(sys, -1);
    if (protect) {
        SysFd image(sys, sys.openat(AT_FDCWD, plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW, 0));
        if (image.get() < 0) throw_errno("mounts", "rootfs " + plan.rootfs, -image.get());
        points = missing_mount_points(sys, image.get(), plan);
        layer = !plan.readonly_root || !plan.layer_files.empty() || !points.empty();
        if (layer) root = make_layer(sys, image.get(), plan, points);
    }
    if (!layer) {
        if (int r = sys.mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr); r < 0)
            throw_errno("mounts", "binding rootfs " + plan.rootfs, -r);
        root = SysFd(sys, sys.openat(AT_FDCWD, plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW, 0));
        if (root.get() < 0) throw_errno("mounts", "rootfs " + plan.rootfs, -root.get());
    }
    //    nodev and nosuid on the root and everything below it: the image's own device nodes and setuid binaries
    //    never work (hardrun's /dev, mounted next, is a mount of its own)
    if (int r = sys.mount_setattr(root.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0); r < 0)
        throw_errno("mounts", "rootfs " + plan.rootfs, -r, "making it nodev and nosuid");
    // 3. every mount, parents first, each onto the fd of its target resolved inside the rootfs
    //    (a mount point is created only in the layer, or inside a filesystem an earlier mount made)
    const bool rootless = plan.namespaces.user;
    for (std::size_t i = 0; i < plan.mounts.size(); ++i) {
        const Mount& m = plan.mounts[i];
        mount_one(sys, root.get(), m, rootless, !protect || layer || inside_earlier_mount(plan, i, m.destination));
    }
    mount_secrets(sys, root.get(), plan, !protect || layer || inside_earlier_mount(plan, plan.mounts.size(), "/run/secrets"));
    // 4. pivot_root into it and detach the old root (never plain chroot)
    if (int r = sys.fchdir(root.get()); r < 0) throw_errno("mounts", "entering rootfs " + plan.rootfs, -r);
    if (int r = sys.pivot_root(".", "."); r < 0) throw_errno("mounts", "pivot_root to " + plan.rootfs, -r);
    if (int r = sys.umount2(".", 2 /* MNT_DETACH */); r < 0) throw_errno("mounts", "detaching the old root", -r);
    if (int r = sys.chdir("/"); r < 0) throw_errno("mounts", "chdir /", -r);
    // (unbindable comes at the end of finalize: open_tree cannot clone an unbindable mount, and the masked and
    // read-only paths are clones)
}

void finalize(Sys& sys, const LaunchPlan& plan) {
    // masked paths: /dev/null over files, an empty read-only tmpfs over directories: one tmpfs instance for all of
    // them, the first attached and the others bind clones of it (a superblock made and destroyed per launch costs
    // more than a clone; nothing can write to it, so sharing it joins nothing)
    std::optional<SysFd> null;   // opened when the first file is masked
    std::optional<SysFd> empty;  // the empty tmpfs, once the first directory is masked
    for (const auto& path : plan.masked_paths) {
        int fd = open_inside(sys, path);
        if (fd == -ENOENT) continue;
        if (fd < 0) throw_errno("mounts", "masking " + path, -fd);
        SysFd target(sys, fd);
        struct stat st {};
        if (int r = sys.fstat(fd, &st); r < 0) throw_errno("mounts", "masking " + path, -r);
        if (S_ISDIR(st.st_mode)) {
            if (empty) {
                SysFd tree = clone_tree(sys, empty->get(), "", false, 0, "masking " + path);
                attach(sys, tree.get(), fd, "masking " + path);
            } else {
                empty.emplace(new_fs(sys, "tmpfs", {{"source", "tmpfs"}, {"size", "4096"}, {"mode", "0555"}},
                                     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                     "masking " + path));
                attach(sys, empty->get(), fd, "masking " + path);
            }
        } else {
            if (!null) {
                null.emplace(sys, open_inside(sys, "/dev/null"));
                if (null->get() < 0) throw_errno("mounts", "masking " + path, -null->get(), "no /dev/null in the sandbox");
                struct stat nst {};
                if (sys.fstat(null->get(), &nst) < 0 || !S_ISCHR(nst.st_mode) || nst.st_rdev != makedev(1, 3))
                    throw Error("mounts", "masking " + path, "/dev/null in the sandbox is not the null device");
            }
            SysFd tree = clone_tree(sys, null->get(), "", false, 0, "masking " + path);
            attach(sys, tree.get(), fd, "masking " + path);
        }
    }
    // read-only paths: a read-only bind of the path onto itself
    for (const auto& path : plan.readonly_paths) {
        int fd = open_inside(sys, path);
        if (fd == -ENOENT) continue;
        if (fd < 0) throw_errno("mounts", "read-only " + path, -fd);
        SysFd target(sys, fd);
        SysFd tree = clone_tree(sys, fd, "", true,
                                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                "read-only " + path);
        attach(sys, tree.get(), fd, "read-only " + path);
    }
    // the root itself, last: read-only (submounts keep their own flags)
    if (plan.readonly_root)
        if (int r = sys.mount_setattr(AT_FDCWD, "/", 0, MOUNT_ATTR_RDONLY, 0, 0); r < 0)
            throw_errno("mounts", "making the root read-only", -r);
    // unbindable (rootfsPropagation unbindable/runbindable), last of all: the root and every mount below it,
    // including the masks and read-only binds just made
    if (plan.root_propagation == Propagation::Unbindable)
        if (int r = sys.mount(nullptr, "/", nullptr, MS_REC | MS_UNBINDABLE, nullptr); r < 0)
            throw_errno("mounts", "making the rootfs unbindable", -r);
}

}  // namespace hardrun::mounts
