#include "hardrun/layers/copyup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "hardrun/support/error.hpp"
#include "hardrun/support/sys_fd.hpp"

namespace hardrun::copyup {

namespace {

void copy_owner_and_times(Sys& sys, int dst_dir, const char* name, const struct stat& st, const std::string& what, bool rootless) {
    if (int r = sys.fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW); r < 0 && !unmappable(r, rootless))
        throw_errno("mounts", "tmpcopyup " + what, -r, "giving the copy its owner");
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (int r = sys.utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW); r < 0)
        throw_errno("mounts", "tmpcopyup " + what, -r, "setting its times");
}

void copy_file(Sys& sys, int src_dir, int dst_dir, const char* name, const struct stat& st, const std::string& what) {
    SysFd in(sys, sys.openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0));
    if (!in) throw_errno("mounts", "tmpcopyup " + what, -in.get(), "reading it from the image");
    SysFd out(sys, sys.openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777));
    if (!out) throw_errno("mounts", "tmpcopyup " + what, -out.get(), "creating the copy");
    char buf[65536];
    for (;;) {
        const long n = sys.read(in.get(), buf, sizeof buf);
        if (n == -EINTR) continue;
        if (n < 0) throw_errno("mounts", "tmpcopyup " + what, static_cast<int>(-n), "reading it from the image");
        if (n == 0) break;
        for (long off = 0; off < n;) {
            const long w = sys.write(out.get(), buf + off, static_cast<std::size_t>(n - off));
            if (w == -EINTR) continue;
            if (w < 0)
                throw_errno("mounts", "tmpcopyup " + what, static_cast<int>(-w),
                            w == -ENOSPC ? "the tmpfs is too small for the image's files" : "writing the copy");
            off += w;
        }
    }
    if (int r = sys.fchmod(out.get(), st.st_mode & 07777); r < 0) throw_errno("mounts", "tmpcopyup " + what, -r, "chmod");
}

// The names in a directory but "." and "..": what fdopendir + readdir do, on a dup of the fd (an O_PATH fd
// cannot be listed), with getdents64 through the seam.
std::vector<std::string> list_names(Sys& sys, int dir, const std::string& where) {
    SysFd d(sys, sys.openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
    if (!d) throw_errno("mounts", "tmpcopyup " + where, -d.get(), "listing it in the image");
    std::vector<std::string> names;
    alignas(8) char buf[32768];
    for (;;) {
        const long n = sys.getdents64(d.get(), buf, sizeof buf);
        if (n < 0) throw_errno("mounts", "tmpcopyup " + where, static_cast<int>(-n), "listing it in the image");
        if (n == 0) break;
        // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        constexpr std::size_t kReclen = 16, kName = 19;
        for (long off = 0; off < n;) {
            std::uint16_t reclen = 0;
            std::memcpy(&reclen, buf + off + kReclen, sizeof reclen);
            if (reclen == 0) break;
            const std::string name(buf + off + kName);
            if (name != "." && name != "..") names.push_back(name);
            off += reclen;
        }
    }
    return names;
}

void copy_dir(Sys& sys, int src, int dst, const std::string& where, int depth, bool rootless) {
    if (depth > 64) throw Error("mounts", "tmpcopyup " + where, "the directory tree is deeper than 64 levels");
    const std::vector<std::string> names = list_names(sys, src, where);
    for (const auto& n : names) {
        const std::string what = where + "/" + n;
        struct stat st {};
        if (int r = sys.fstatat(src, n.c_str(), &st, AT_SYMLINK_NOFOLLOW); r < 0) throw_errno("mounts", "tmpcopyup " + what, -r);
        if (S_ISDIR(st.st_mode)) {
            if (int r = sys.mkdirat(dst, n.c_str(), 0700); r < 0) throw_errno("mounts", "tmpcopyup " + what, -r, "creating the copy");
            SysFd s(sys, sys.openat(src, n.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0));
            if (!s) throw_errno("mounts", "tmpcopyup " + what, -s.get());
            SysFd t(sys, sys.openat(dst, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0));
            if (!t) throw_errno("mounts", "tmpcopyup " + what, -t.get());
            copy_dir(sys, s.get(), t.get(), what, depth + 1, rootless);
            if (int r = sys.fchmod(t.get(), st.st_mode & 07777); r < 0) throw_errno("mounts", "tmpcopyup " + what, -r, "chmod");
        } else if (S_ISREG(st.st_mode)) {
            copy_file(sys, src, dst, n.c_str(), st, what);
        } else if (S_ISLNK(st.st_mode)) {
            std::vector<char> target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 4095) + 1);
            const long len = sys.readlinkat(src, n.c_str(), target.data(), target.size() - 1);
            if (len < 0) throw_errno("mounts", "tmpcopyup " + what, static_cast<int>(-len));
            target[static_cast<std::size_t>(len)] = '\0';
            if (int r = sys.symlinkat(target.data(), dst, n.c_str()); r < 0) throw_errno("mounts", "tmpcopyup " + what, -r);
        } else if (S_ISFIFO(st.st_mode)) {
            if (int r = sys.mknodat(dst, n.c_str(), S_IFIFO | (st.st_mode & 07777), 0); r < 0)
                throw_errno("mounts", "tmpcopyup " + what, -r);
        } else {
            throw Error("mounts", "tmpcopyup " + what,
                        "is a device node or socket; hardrun copies only directories, files, symlinks and FIFOs");
        }
        copy_owner_and_times(sys, dst, n.c_str(), st, what, rootless);
    }
}

}  // namespace

bool unmappable(int r, bool rootless) { return rootless && (r == -EINVAL || r == -EPERM || r == -EOVERFLOW); }

void copy_tree(Sys& sys, int src_dir, int dst_dir, const std::string& what, std::optional<mode_t> mode, bool rootless) {
    struct stat st {};
    if (int r = sys.fstat(src_dir, &st); r < 0) throw_errno("mounts", "tmpcopyup " + what, -r);
    SysFd dst(sys, sys.openat(dst_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
    if (!dst) throw_errno("mounts", "tmpcopyup " + what, -dst.get(), "opening the new tmpfs");
    copy_dir(sys, src_dir, dst.get(), what, 0, rootless);
    if (int r = sys.fchown(dst.get(), st.st_uid, st.st_gid); r < 0 && !unmappable(r, rootless)) throw_errno("mounts", "tmpcopyup " + what, -r, "chown");
    if (int r = sys.fchmod(dst.get(), mode ? *mode : (st.st_mode & 07777)); r < 0)
        throw_errno("mounts", "tmpcopyup " + what, -r, "chmod");
}

}  // namespace hardrun::copyup
