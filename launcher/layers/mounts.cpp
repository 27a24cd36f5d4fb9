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
    if (m.kind == MountKind::Bind) s = "volume " + m.source + " at " + m.destination;
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
SysFd resolve_target(Sys& sys, int rootfd, const std::string& dest, bool want_file, const std::string& what) {
    SysFd cur(sys, sys.openat2(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kResolve));
    if (cur.get() < 0) throw_errno("mounts", what, -cur.get(), "cannot open the rootfs");
    auto comps = components(dest);
    for (std::size_t i = 0; i < comps.size(); ++i) {
        const bool last = i + 1 == comps.size();
        const std::string& c = comps[i];
        // no O_NOFOLLOW: with it, openat2 returns an fd to a trailing symlink instead of failing with ELOOP
        int fd = sys.openat2(cur.get(), c.c_str(), O_PATH | O_CLOEXEC, 0, kResolve);
        if (fd == -ENOENT) {
            int r = (last && want_file)
                        ? sys.openat(cur.get(), c.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644)
                        : sys.mkdirat(cur.get(), c.c_str(), 0755);
            if (r >= 0 && last && want_file) sys.close(r);
            if (r < 0 && r != -EEXIST)
                throw_errno("mounts", what, -r,
                            "the mount point /" + c + " is missing and cannot be created" +
                                (r == -EROFS ? " (the rootfs is on a read-only filesystem: create it in the image)" : ""));
            fd = sys.openat2(cur.get(), c.c_str(), O_PATH | O_CLOEXEC, 0, kResolve);
        }
        if (fd == -ELOOP || fd == -EXDEV)
            throw Error("mounts", what,
                        "the mount target's path component '" + c +
                            "' in the rootfs is a symlink; refusing to follow it (mount targets must be real directories)");
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
    if (fs.get() < 0) throw_errno("mounts", what, -fs.get(), std::string("fsopen(") + fstype + ")");
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

void setup_dev(Sys& sys, int rootfd, const Mount& m) {
    const std::string what = describe(m);
    SysFd target = resolve_target(sys, rootfd, m.destination, false, what);
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

void mount_one(Sys& sys, int rootfd, const Mount& m, bool rootless) {
    const std::string what = describe(m);
    refuse_fake_procfs(sys, m, what);
    switch (m.kind) {
        case MountKind::Dev:
            setup_dev(sys, rootfd, m);
            return;
        case MountKind::Bind: {
            // the source is a host path: resolved here, in the host's view, before pivot_root
            SysFd source = open_bind_source(sys, m, what);
            struct stat st {};
            if (int r = sys.fstat(source.get(), &st); r < 0) throw_errno("mounts", what, -r, "the volume source");
            SysFd tree = clone_tree(sys, source.get(), "", m.recursive, bind_attrs(m, st), what);
            SysFd target = resolve_target(sys, rootfd, m.destination, !S_ISDIR(st.st_mode), what);
            attach(sys, tree.get(), target.get(), what);
            return;
        }
        default:
            break;
    }
    SysFd target = resolve_target(sys, rootfd, m.destination, false, what);
    std::vector<std::pair<std::string, std::string>> opts;
    const char* fstype = "tmpfs";
    switch (m.kind) {
        case MountKind::Tmpfs:
            if (m.size) opts.emplace_back("size", std::to_string(*m.size));
            if (m.mode) opts.emplace_back("mode", octal(*m.mode));
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
            copyup::copy_tree(sys, target.get(), mnt.get(), m.destination, m.mode);
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
void mount_secrets(Sys& sys, int rootfd, const LaunchPlan& plan) {
    if (plan.secrets.empty()) return;
    const std::string what = "secrets tmpfs at /run/secrets";
    SysFd target = resolve_target(sys, rootfd, "/run/secrets", false, what);
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
int open_inside(Sys& sys, const std::string& path) {
    return sys.openat2(AT_FDCWD, path.c_str(), O_PATH | O_CLOEXEC, 0, kResolve);
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
    // 2. the rootfs becomes a mount of its own (pivot_root needs one)
    if (int r = sys.mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr); r < 0)
        throw_errno("mounts", "binding rootfs " + plan.rootfs, -r);
    SysFd root(sys, sys.openat(AT_FDCWD, plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW, 0));
    if (root.get() < 0) throw_errno("mounts", "rootfs " + plan.rootfs, -root.get());
    //    nodev and nosuid on the root and everything below it: the image's own device nodes and setuid binaries
    //    never work (hardrun's /dev, mounted next, is a mount of its own)
    if (int r = sys.mount_setattr(root.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0); r < 0)
        throw_errno("mounts", "rootfs " + plan.rootfs, -r, "making it nodev and nosuid");
    // 3. every mount, parents first, each onto the fd of its target resolved inside the rootfs
    const bool rootless = plan.namespaces.user;
    for (const auto& m : plan.mounts) mount_one(sys, root.get(), m, rootless);
    mount_secrets(sys, root.get(), plan);
    // 4. pivot_root into it and detach the old root (never plain chroot)
    if (int r = sys.fchdir(root.get()); r < 0) throw_errno("mounts", "entering rootfs " + plan.rootfs, -r);
    if (int r = sys.pivot_root(".", "."); r < 0) throw_errno("mounts", "pivot_root to " + plan.rootfs, -r);
    if (int r = sys.umount2(".", 2 /* MNT_DETACH */); r < 0) throw_errno("mounts", "detaching the old root", -r);
    if (int r = sys.chdir("/"); r < 0) throw_errno("mounts", "chdir /", -r);
    // (unbindable comes at the end of finalize: open_tree cannot clone an unbindable mount, and the masked and
    // read-only paths are clones)
}

void finalize(Sys& sys, const LaunchPlan& plan) {
    // masked paths: /dev/null over files, an empty read-only tmpfs over directories
    std::optional<SysFd> null;  // opened when the first file is masked
    for (const auto& path : plan.masked_paths) {
        int fd = open_inside(sys, path);
        if (fd == -ENOENT) continue;
        if (fd < 0) throw_errno("mounts", "masking " + path, -fd);
        SysFd target(sys, fd);
        struct stat st {};
        if (int r = sys.fstat(fd, &st); r < 0) throw_errno("mounts", "masking " + path, -r);
        if (S_ISDIR(st.st_mode)) {
            SysFd mnt = new_fs(sys, "tmpfs", {{"source", "tmpfs"}, {"size", "4096"}, {"mode", "0555"}},
                               MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                               "masking " + path);
            attach(sys, mnt.get(), fd, "masking " + path);
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
