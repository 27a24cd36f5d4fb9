// Files hardrun creates on the host (often as root, in directories the invoker may not own): --pid-file, the
// config.json of `spec`, --report, -o/--output, --junit, the OCI state records, the seccomp filter cache and
// the --log of the OCI runtime. Every one goes through here, so none is ever written through a symlink
// someone else planted (issue 12, item 10; docs/security.md).
//
// The directory of the path is opened once with O_DIRECTORY|O_NOFOLLOW (its own name must not be a symlink)
// and everything after happens relative to that fd: a whole file is written to a temporary file created with
// O_CREAT|O_EXCL|O_NOFOLLOW under a random name, fsynced (unless Durable::No) and renamed onto the final name (so a reader never
// sees half a file, and a link planted at a predictable temporary name is never followed); a symlink or a
// non-regular file at the final name is refused. An append log is opened with O_NOFOLLOW|O_NONBLOCK and must
// be a regular file (a FIFO would block, a device be written to).
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hardrun/support/fd.hpp"

namespace hardrun::files {

enum class Existing {
    Replace,  // an existing regular file at the name is replaced (atomically)
    Refuse,   // an existing file is an error ("exists already; remove it first")
};

enum class Durable {
    Yes,  // fsync before the rename: the file survives a crash (profiles, reports, config.json, the filter cache)
    No,   // no fsync: the OCI state (under /run), which describes processes that do not outlive a crash (runc and
          // crun do not fsync theirs either); the rename still means a reader never sees half a file
};

// Writes `data` to `path` as described above. mode is the new file's mode (the umask applies). Throws
// hardrun::Error(what, path, cause): a symlink at the name or as the directory, a non-regular file at the name,
// or the errno of the failed step.
void write_atomic(const std::string& path, std::string_view data, const std::string& what, mode_t mode = 0644,
                  Existing existing = Existing::Replace, Durable durable = Durable::Yes);

// Removes the directory `path` and everything below it without following a symlink (a link is removed, never
// its target) and without crossing into another mount (one below it is refused before anything is removed). For trees a workload wrote (a named volume). Throws hardrun::Error(what, path, cause).
void remove_tree(const std::string& path, const std::string& what);

// A file the user named for input, whole ("-" reads stdin). Throws hardrun::Error(step, what + " " + file, errno).
std::string read_input(const std::string& file, const std::string& step, const std::string& what);

// Opens `path` for appending (O_WRONLY|O_APPEND|O_CLOEXEC), creating it with mode if missing; the same symlink
// rules, and it must be a regular file. Throws hardrun::Error(what, path, cause).
UniqueFd open_append(const std::string& path, const std::string& what, mode_t mode = 0644);

// A host path the invoker named (a volume source, an OCI bind source), resolved without following any symlink
// (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS from /; `..` is fine). Returns the canonical absolute path
// of exactly what was opened. Throws hardrun::Error("", path, cause); for a symlink the cause names the first
// symlink component and the resolved path to pass instead. Relative paths are taken from the working directory.
std::string resolve_without_symlinks(const std::string& path);

// Reads a small regular file of an image (`path` inside the directory `root`, e.g. /etc/group of a rootfs) the way
// the sandbox would see it: openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, so an image's symlink can never make
// hardrun read a host file. nullopt if it does not exist; throws hardrun::Error(what, path, cause) when it is not a
// regular file, is larger than `limit` bytes or cannot be read.
std::optional<std::string> read_in_root(const std::string& root, const std::string& path, const std::string& what,
                                        std::size_t limit = 1 << 20);
// The same for a file that only helps (the image's passwd, group, hosts): nullopt also when it cannot be read, as
// the workload could not read it either.
std::optional<std::string> read_in_root_if_readable(const std::string& root, const std::string& path);

// Opens `path` inside the directory `rootfd` the way the sandbox resolves it (openat2 RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS: the image's symlinks stay inside the image). Not open on failure, errno set.
UniqueFd open_in_root(int rootfd, const std::string& path, int flags);

// The fields of the first line of an /etc/passwd or /etc/group text whose field `key` (0: the name, 2: the id)
// is `value`, or nullopt.
std::optional<std::vector<std::string>> account_entry(std::string_view text, std::size_t key, std::string_view value);

}  // namespace hardrun::files
