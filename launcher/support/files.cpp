// The one writer of host files (files.hpp): never through a symlink, never half a file.
#include "hardrun/support/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "hardrun/support/error.hpp"

namespace hardrun::files {

namespace {

struct Target {
    std::string dir, name;
};

Target split(const std::string& path, const std::string& what) {
    if (path.empty()) throw Error(what, "''", "the path is empty");
    if (path.back() == '/') throw Error(what, path, "names a directory, not a file");
    const auto slash = path.rfind('/');
    Target t;
    t.name = slash == std::string::npos ? path : path.substr(slash + 1);
    t.dir = slash == std::string::npos ? "." : path.substr(0, slash);
    // a trailing slash would make the kernel follow a symlink despite O_NOFOLLOW
    while (t.dir.size() > 1 && t.dir.back() == '/') t.dir.pop_back();
    if (t.dir.empty()) t.dir = "/";
    if (t.name == "." || t.name == "..") throw Error(what, path, "names a directory, not a file");
    return t;
}

std::string resolved_hint(const std::string& p) {
    char buf[PATH_MAX];
    if (!::realpath(p.c_str(), buf)) return "give the real path";
    return std::string("give the real path, ") + buf;
}

[[noreturn]] void refuse_symlink(const std::string& what, const std::string& path, const std::string& link, bool is_dir) {
    throw Error(what, path,
                std::string(is_dir ? "its directory " + link + " is a symlink" : "is a symlink") +
                    "; hardrun does not write through symlinks (" + resolved_hint(link) + ")");
}

// The directory of the target, as an O_PATH fd; its last component must not be a symlink.
UniqueFd open_dir(const Target& t, const std::string& path, const std::string& what) {
    UniqueFd fd(::open(t.dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd) return fd;
    const int err = errno;
    struct stat st {};
    // O_PATH|O_NOFOLLOW opens a symlink itself, which O_DIRECTORY then refuses with ENOTDIR
    if ((err == ENOTDIR || err == ELOOP) && ::lstat(t.dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        refuse_symlink(what, path, t.dir, true);
    throw_errno(what, path, err, "opening its directory " + t.dir);
}

std::string random_suffix() {
    unsigned char b[8];
    if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) throw_errno("random", "getrandom", errno);
    std::string s;
    for (unsigned char c : b) {
        char hex[3];
        std::snprintf(hex, sizeof hex, "%02x", c);
        s += hex;
    }
    return s;
}

// The temporary file, removed again unless it was renamed onto the target.
class TempFile {
public:
    TempFile(int dirfd, mode_t mode, const std::string& path, const std::string& what) : dirfd_(dirfd) {
        for (int attempt = 0; attempt < 8; ++attempt) {
            name_ = ".hardrun-" + random_suffix() + ".tmp";
            fd_.reset(::openat(dirfd, name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode));
            if (fd_) return;
            if (errno != EEXIST) throw_errno(what, path, errno, "creating a temporary file beside it");
        }
        throw_errno(what, path, EEXIST, "creating a temporary file beside it");
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        fd_.reset();
        if (!name_.empty()) ::unlinkat(dirfd_, name_.c_str(), 0);
    }
    int fd() const { return fd_.get(); }
    const std::string& name() const { return name_; }
    void close() { fd_.reset(); }
    void renamed() { name_.clear(); }

private:
    int dirfd_;
    std::string name_;
    UniqueFd fd_;
};

}  // namespace

void write_atomic(const std::string& path, std::string_view data, const std::string& what, mode_t mode, Existing existing,
                  Durable durable) {
    const Target t = split(path, what);
    UniqueFd dir = open_dir(t, path, what);
    struct stat st {};
    if (::fstatat(dir.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) refuse_symlink(what, path, path, false);
        if (!S_ISREG(st.st_mode)) throw Error(what, path, "is not a regular file; refusing to replace it");
        if (existing == Existing::Refuse) throw Error(what, path, "exists already; remove it first");
    } else if (errno != ENOENT) {
        throw_errno(what, path, errno);
    }
    TempFile tmp(dir.get(), mode, path, what);
    for (std::size_t off = 0; off < data.size();) {
        const ssize_t n = ::write(tmp.fd(), data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno(what, path, n < 0 ? errno : EIO, "writing it");
        off += static_cast<std::size_t>(n);
    }
    if (durable == Durable::Yes && ::fsync(tmp.fd()) != 0) throw_errno(what, path, errno, "fsync");
    tmp.close();
    if (existing == Existing::Replace) {
        // relative to the directory fd: a symlink that appeared at the name since is replaced, never followed
        if (::renameat(dir.get(), tmp.name().c_str(), dir.get(), t.name.c_str()) != 0) throw_errno(what, path, errno);
    } else {
        int r = ::renameat2(dir.get(), tmp.name().c_str(), dir.get(), t.name.c_str(), RENAME_NOREPLACE);
        if (r != 0 && errno == EINVAL)  // a filesystem without RENAME_NOREPLACE: link(2) never replaces either
            r = ::linkat(dir.get(), tmp.name().c_str(), dir.get(), t.name.c_str(), 0);
        else if (r == 0)
            tmp.renamed();
        if (r != 0) throw_errno(what, path, errno, errno == EEXIST ? "it exists already; remove it first" : "");
    }
    if (existing == Existing::Replace) tmp.renamed();
}

UniqueFd open_append(const std::string& path, const std::string& what, mode_t mode) {
    const Target t = split(path, what);
    UniqueFd dir = open_dir(t, path, what);
    // O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of blocking; cleared below for a regular file
    UniqueFd fd(::openat(dir.get(), t.name.c_str(),
                         O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode));
    if (!fd) {
        const int err = errno;
        if (err == ELOOP) refuse_symlink(what, path, path, false);
        if (err == ENXIO || err == EISDIR) throw Error(what, path, "is not a regular file; refusing to append to it");
        throw_errno(what, path, err);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno(what, path, errno);
    if (!S_ISREG(st.st_mode)) throw Error(what, path, "is not a regular file; refusing to append to it");
    if (::fcntl(fd.get(), F_SETFL, O_APPEND) != 0) throw_errno(what, path, errno);
    return fd;
}

std::string resolve_without_symlinks(const std::string& path) {
    if (path.empty()) throw Error("", "''", "the path is empty");
    std::string abs = path;
    if (abs.front() != '/') {
        char cwd[PATH_MAX];
        if (!::getcwd(cwd, sizeof cwd)) throw_errno("", path, errno, "the working directory");
        abs = std::string(cwd) + "/" + path;
    }
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const long r = ::syscall(SYS_openat2, AT_FDCWD, abs.c_str(), &how, sizeof how);
    if (r < 0) {
        const int err = errno;
        if (err != ELOOP) throw_errno("", path, err);
        // name the first symlink along the path (lexically: no symlink precedes it, so `..` is the real parent)
        std::string prefix;
        for (std::size_t i = 0; i < abs.size();) {
            while (i < abs.size() && abs[i] == '/') ++i;
            std::size_t j = abs.find('/', i);
            if (j == std::string::npos) j = abs.size();
            const std::string comp = abs.substr(i, j - i);
            i = j;
            if (comp.empty() || comp == ".") continue;
            if (comp == "..") {
                prefix = prefix.substr(0, prefix.rfind('/'));
                continue;
            }
            prefix += "/" + comp;
            struct stat st {};
            if (::lstat(prefix.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                const ssize_t n = ::readlink(prefix.c_str(), target, sizeof target - 1);
                const std::string to = n > 0 ? " -> " + std::string(target, static_cast<std::size_t>(n)) : "";
                // what the whole path resolves to, or (if it does not exist) the link's target plus the rest
                char real[PATH_MAX];
                std::string resolved;
                if (::realpath(abs.c_str(), real)) resolved = real;
                else if (::realpath(prefix.c_str(), real)) resolved = std::string(real) + abs.substr(i);
                const std::string fix = "pass the resolved path" + (resolved.empty() ? "" : " " + resolved);
                throw Error("", path,
                            "runs through the symlink " + prefix + to +
                                "; hardrun follows no symlink in a volume source (another sandbox may have planted it): " + fix);
            }
        }
        throw_errno("", path, err);
    }
    UniqueFd fd(static_cast<int>(r));
    // the canonical name of what was opened
    char buf[PATH_MAX];
    const std::string self = "/proc/self/fd/" + std::to_string(fd.get());
    const ssize_t n = ::readlink(self.c_str(), buf, sizeof buf - 1);
    if (n <= 0 || buf[0] != '/') throw_errno("", path, n < 0 ? errno : EIO, "reading back its canonical path");
    return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace hardrun::files

namespace hardrun::files {

UniqueFd open_in_root(int rootfd, const std::string& path, int flags) {
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(flags) | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return UniqueFd(static_cast<int>(::syscall(SYS_openat2, rootfd, path.c_str(), &how, sizeof how)));
}

std::optional<std::string> read_in_root(const std::string& root, const std::string& path, const std::string& what,
                                        std::size_t limit) {
    UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_errno(what, root, errno);
    UniqueFd fd = open_in_root(dir.get(), path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (!fd) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno(what, root + path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno(what, root + path, errno);
    if (!S_ISREG(st.st_mode)) throw Error(what, root + path, "is not a regular file");
    if (static_cast<std::uint64_t>(st.st_size) > limit)
        throw Error(what, root + path, "is larger than " + std::to_string(limit) + " bytes");
    std::string out;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno(what, root + path, errno);
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > limit) throw Error(what, root + path, "is larger than " + std::to_string(limit) + " bytes");
    }
    return out;
}

std::optional<std::string> read_in_root_if_readable(const std::string& root, const std::string& path) {
    try {
        return read_in_root(root, path, "reading the image");
    } catch (const Error&) {
        return std::nullopt;
    }
}

std::optional<std::vector<std::string>> account_entry(std::string_view text, std::size_t key, std::string_view value) {
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        std::vector<std::string> fields;
        for (std::size_t a = 0;;) {
            const auto b = line.find(':', a);
            fields.emplace_back(line.substr(a, b == std::string_view::npos ? b : b - a));
            if (b == std::string_view::npos) break;
            a = b + 1;
        }
        if (key < fields.size() && fields[key] == value) return fields;
    }
    return std::nullopt;
}

std::string read_input(const std::string& file, const std::string& step, const std::string& what) {
    if (file == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
    std::ifstream in(file);
    if (!in) throw_errno(step, what + " " + file, errno);
    return {std::istreambuf_iterator<char>(in), {}};
}

namespace {
// Empties the directory `fd` (on device `dev`), or (remove false) only checks that nothing below it is another
// filesystem; `where` names it for errors.
void empty_dir(int fd, dev_t dev, const std::string& where, const std::string& what, bool remove) {
    UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!dup) throw_errno(what, where, errno);
    DIR* d = ::fdopendir(dup.get());
    if (!d) throw_errno(what, where, errno);
    (void)dup.release();
    std::unique_ptr<DIR, int (*)(DIR*)> dir(d, ::closedir);
    ::rewinddir(dir.get());  // the dup shares fd's offset, which an earlier pass left at the end
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(dir.get())) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    if (errno != 0) throw_errno(what, where, errno, "reading the directory");
    for (const auto& n : names) {
        const std::string child = where + "/" + n;
        struct stat st {};
        if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;
            throw_errno(what, child, errno);
        }
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) throw Error(what, child, "is another filesystem mounted there; unmount it first");
            UniqueFd sub(::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) throw_errno(what, child, errno);
            struct stat again {};
            if (::fstat(sub.get(), &again) != 0 || again.st_dev != dev || again.st_ino != st.st_ino)
                throw Error(what, child, "changed while it was being removed");
            empty_dir(sub.get(), dev, child, what, remove);
            if (remove && ::unlinkat(fd, n.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_errno(what, child, errno);
        } else if (remove && ::unlinkat(fd, n.c_str(), 0) != 0 && errno != ENOENT) {
            throw_errno(what, child, errno);
        }
    }
}
}  // namespace

void remove_tree(const std::string& path, const std::string& what) {
    const Target t = split(path, what);
    UniqueFd parent = open_dir(t, path, what);
    UniqueFd fd(::openat(parent.get(), t.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno(what, path, errno);
    struct stat st {}, pst {};
    if (::fstat(fd.get(), &st) != 0 || ::fstat(parent.get(), &pst) != 0) throw_errno(what, path, errno);
    if (st.st_dev != pst.st_dev) throw Error(what, path, "is a mount point; unmount it first");
    empty_dir(fd.get(), st.st_dev, path, what, false);  // a mount below it: refused before anything is removed
    empty_dir(fd.get(), st.st_dev, path, what, true);
    if (::unlinkat(parent.get(), t.name.c_str(), AT_REMOVEDIR) != 0) throw_errno(what, path, errno);
}

}  // namespace hardrun::files
