// A thin seam over the raw syscalls the apply steps make.
//
// Every call returns the syscall's result (>= 0) or -errno; it never throws, so the same code runs in the
// forked child (which reports errors over a pipe) and under the RecordingSys of the unit tests, which logs
// each call with its arguments so the order and arguments of a launch can be checked without root.
#pragma once
#include <linux/mount.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

struct open_how;
struct stat;
struct statfs;
struct sock_fprog;
struct pollfd;
struct timespec;

namespace hardrun {

class Sys {
public:
    virtual ~Sys() = default;
    // mounts (new mount API and the classic one)
    virtual int fsopen(const char* fstype, unsigned flags) = 0;
    virtual int fsconfig(int fd, unsigned cmd, const char* key, const char* value, int aux) = 0;
    virtual int fsmount(int fd, unsigned flags, unsigned attr_flags) = 0;
    virtual int move_mount(int from_dfd, const char* from_path, int to_dfd, const char* to_path,
                           unsigned flags) = 0;
    virtual int open_tree(int dfd, const char* path, unsigned flags) = 0;
    virtual int mount_setattr(int dfd, const char* path, unsigned flags, std::uint64_t attr_set,
                              std::uint64_t attr_clr, std::uint64_t propagation) = 0;
    virtual int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                      const char* data) = 0;
    virtual int umount2(const char* target, int flags) = 0;
    virtual int pivot_root(const char* new_root, const char* put_old) = 0;
    // paths
    virtual int openat2(int dfd, const char* path, std::uint64_t flags, std::uint64_t mode,
                        std::uint64_t resolve) = 0;
    virtual int openat(int dfd, const char* path, int flags, mode_t mode) = 0;
    virtual int mkdirat(int dfd, const char* path, mode_t mode) = 0;
    virtual int symlinkat(const char* target, int dfd, const char* path) = 0;
    virtual int fstat(int fd, struct ::stat* st) = 0;
    virtual int fstatat(int dfd, const char* path, struct ::stat* st, int flags) = 0;
    virtual long readlinkat(int dfd, const char* path, char* buf, std::size_t len) = 0;
    virtual int mknodat(int dfd, const char* path, mode_t mode, dev_t dev) = 0;  // mkfifoat is mknodat(S_IFIFO)
    virtual long getdents64(int fd, void* buf, std::size_t len) = 0;           // what readdir(3) calls
    virtual int fchmod(int fd, mode_t mode) = 0;
    virtual int fchown(int fd, uid_t uid, gid_t gid) = 0;
    virtual int fchownat(int dfd, const char* path, uid_t uid, gid_t gid, int flags) = 0;
    virtual int utimensat(int dfd, const char* path, const struct ::timespec times[2], int flags) = 0;
    virtual int chdir(const char* path) = 0;
    virtual int fchdir(int fd) = 0;
    virtual int close(int fd) = 0;
    virtual long read(int fd, void* buf, std::size_t len) = 0;
    virtual long write(int fd, const void* buf, std::size_t len) = 0;
    virtual long pread(int fd, void* buf, std::size_t len, off_t offset) = 0;
    virtual int fstatfs(int fd, struct ::statfs* st) = 0;
    virtual int close_range(unsigned first, unsigned last, unsigned flags) = 0;
    virtual int dup2(int from, int to) = 0;
    virtual int fcntl_getfl(int fd) = 0;  // fcntl(F_GETFL): the open flags
    virtual int ioctl(int fd, unsigned long request, unsigned long arg) = 0;  // a pointer argument is passed cast
    virtual int poll(struct ::pollfd* fds, unsigned long nfds, int timeout_ms) = 0;
    // sendmsg of one fd with SCM_RIGHTS and a payload (fd_passing.hpp's send)
    virtual int send_fd(int sock, int fd, const std::string& payload, int flags) = 0;
    virtual int sigprocmask(int how, const sigset_t* set, sigset_t* old) = 0;
    // identity and privileges
    virtual int sethostname(const std::string& name) = 0;
    virtual int setrlimit(int resource, std::uint64_t soft, std::uint64_t hard) = 0;
    virtual int setgroups(const std::vector<gid_t>& groups) = 0;
    virtual int setresgid(gid_t gid) = 0;
    virtual int setresuid(uid_t uid) = 0;
    virtual int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
                      unsigned long a5) = 0;
    virtual int umask(mode_t mask) = 0;
    virtual int setsid() = 0;
    // keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous session keyring; returns its serial
    virtual long join_session_keyring() = 0;
    virtual int seccomp_load(unsigned flags, const sock_fprog* prog) = 0;  // returns listener fd with NEW_LISTENER
    virtual int loopback_up() = 0;  // ioctl(SIOCSIFFLAGS, IFF_UP) on "lo"
    virtual int fcntl_dupfd_cloexec(int fd, int min_fd) = 0;
    // namespaces
    virtual int setns(int fd, int nstype) = 0;
    // capabilities: libcap-ng builds the sets in its own state (pure); applying them (capset, PR_CAPBSET_DROP,
    // PR_CAP_AMBIENT) is the kernel call. `select` is a capng_select_t; returns libcap-ng's result (0 or < 0).
    virtual int capng_apply(int select) = 0;
    // Landlock (the version query returns the ABI, a create returns the ruleset fd)
    virtual long landlock_create_ruleset(const void* attr, std::size_t size, unsigned flags) = 0;
    virtual int landlock_add_rule(int ruleset_fd, int rule_type, const void* attr, unsigned flags) = 0;
    virtual int landlock_restrict_self(int ruleset_fd, unsigned flags) = 0;
};

// The real kernel.
Sys& real_sys();

}  // namespace hardrun
