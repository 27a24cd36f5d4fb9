#include "hardrun/oci_copyup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "hardrun/error.hpp"
#include "hardrun/fd.hpp"

namespace hardrun::copyup {

namespace {

void copy_owner_and_times(int dst_dir, const char* name, const struct stat& st, const std::string& what) {
    if (::fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        throw_errno("mounts", "tmpcopyup " + what, errno, "giving the copy its owner");
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0)
        throw_errno("mounts", "tmpcopyup " + what, errno, "setting its times");
}

void copy_file(int src_dir, int dst_dir, const char* name, const struct stat& st, const std::string& what) {
    UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!in) throw_errno("mounts", "tmpcopyup " + what, errno, "reading it from the image");
    UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777));
    if (!out) throw_errno("mounts", "tmpcopyup " + what, errno, "creating the copy");
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(in.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("mounts", "tmpcopyup " + what, errno, "reading it from the image");
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(out.get(), buf + off, static_cast<std::size_t>(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw_errno("mounts", "tmpcopyup " + what, errno, errno == ENOSPC ? "the tmpfs is too small for the image's files" : "writing the copy");
            off += w;
        }
    }
    if (::fchmod(out.get(), st.st_mode & 07777) != 0) throw_errno("mounts", "tmpcopyup " + what, errno, "chmod");
}

void copy_dir(int src, int dst, const std::string& where, int depth) {
    if (depth > 64) throw Error("mounts", "tmpcopyup " + where, "the directory tree is deeper than 64 levels");
    int dupfd = ::openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dupfd < 0) throw_errno("mounts", "tmpcopyup " + where, errno, "listing it in the image");
    DIR* d = ::fdopendir(dupfd);
    if (!d) {
        int err = errno;
        ::close(dupfd);
        throw_errno("mounts", "tmpcopyup " + where, err);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : names) {
        const std::string what = where + "/" + n;
        struct stat st {};
        if (::fstatat(src, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("mounts", "tmpcopyup " + what, errno);
        if (S_ISDIR(st.st_mode)) {
            if (::mkdirat(dst, n.c_str(), 0700) != 0) throw_errno("mounts", "tmpcopyup " + what, errno, "creating the copy");
            UniqueFd s(::openat(src, n.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            UniqueFd t(::openat(dst, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!s || !t) throw_errno("mounts", "tmpcopyup " + what, errno);
            copy_dir(s.get(), t.get(), what, depth + 1);
            if (::fchmod(t.get(), st.st_mode & 07777) != 0) throw_errno("mounts", "tmpcopyup " + what, errno, "chmod");
        } else if (S_ISREG(st.st_mode)) {
            copy_file(src, dst, n.c_str(), st, what);
        } else if (S_ISLNK(st.st_mode)) {
            std::vector<char> target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 4095) + 1);
            ssize_t len = ::readlinkat(src, n.c_str(), target.data(), target.size() - 1);
            if (len < 0) throw_errno("mounts", "tmpcopyup " + what, errno);
            target[static_cast<std::size_t>(len)] = '\0';
            if (::symlinkat(target.data(), dst, n.c_str()) != 0) throw_errno("mounts", "tmpcopyup " + what, errno);
        } else if (S_ISFIFO(st.st_mode)) {
            if (::mkfifoat(dst, n.c_str(), st.st_mode & 07777) != 0) throw_errno("mounts", "tmpcopyup " + what, errno);
        } else {
            throw Error("mounts", "tmpcopyup " + what,
                        "is a device node or socket; hardrun copies only directories, files, symlinks and FIFOs");
        }
        copy_owner_and_times(dst, n.c_str(), st, what);
    }
}

}  // namespace

void copy_tree(int src_dir, int dst_dir, const std::string& what, std::optional<mode_t> mode) {
    struct stat st {};
    if (::fstat(src_dir, &st) != 0) throw_errno("mounts", "tmpcopyup " + what, errno);
    UniqueFd dst(::openat(dst_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dst) throw_errno("mounts", "tmpcopyup " + what, errno, "opening the new tmpfs");
    copy_dir(src_dir, dst.get(), what, 0);
    if (::fchown(dst.get(), st.st_uid, st.st_gid) != 0) throw_errno("mounts", "tmpcopyup " + what, errno, "chown");
    if (::fchmod(dst.get(), mode ? *mode : (st.st_mode & 07777)) != 0) throw_errno("mounts", "tmpcopyup " + what, errno, "chmod");
}

}  // namespace hardrun::copyup
