// The real kernel behind the Sys seam: raw syscalls, -errno on failure.
#include "hardrun/support/sys.hpp"

#include <cap-ng.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hardrun/support/fd.hpp"
#include "hardrun/support/fd_passing.hpp"

namespace hardrun {

namespace {

long ret(long r) { return r < 0 ? -errno : r; }
int iret(long r) { return static_cast<int>(ret(r)); }

class RealSys final : public Sys {
public:
    int fsopen(const char* fstype, unsigned flags) override { return iret(::syscall(SYS_fsopen, fstype, flags)); }
    int fsconfig(int fd, unsigned cmd, const char* key, const char* value, int aux) override {
        return iret(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
    }
    int fsmount(int fd, unsigned flags, unsigned attr_flags) override {
        return iret(::syscall(SYS_fsmount, fd, flags, attr_flags));
    }
    int move_mount(int from_dfd, const char* from_path, int to_dfd, const char* to_path, unsigned flags) override {
        return iret(::syscall(SYS_move_mount, from_dfd, from_path, to_dfd, to_path, flags));
    }
    int open_tree(int dfd, const char* path, unsigned flags) override {
        return iret(::syscall(SYS_open_tree, dfd, path, flags));
    }
    int mount_setattr(int dfd, const char* path, unsigned flags, std::uint64_t attr_set, std::uint64_t attr_clr,
                      std::uint64_t propagation) override {
        struct mount_attr attr {};
        attr.attr_set = attr_set;
        attr.attr_clr = attr_clr;
        attr.propagation = propagation;
        return iret(::syscall(SYS_mount_setattr, dfd, path, flags, &attr, sizeof attr));
    }
    int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
              const char* data) override {
        return iret(::syscall(SYS_mount, source, target, fstype, flags, data));
    }
    int umount2(const char* target, int flags) override { return iret(::syscall(SYS_umount2, target, flags)); }
    int pivot_root(const char* new_root, const char* put_old) override {
        return iret(::syscall(SYS_pivot_root, new_root, put_old));
    }
    int openat2(int dfd, const char* path, std::uint64_t flags, std::uint64_t mode, std::uint64_t resolve) override {
        struct open_how how {};
        how.flags = flags;
        how.mode = mode;
        how.resolve = resolve;
        return iret(::syscall(SYS_openat2, dfd, path, &how, sizeof how));
    }
    int fstat(int fd, struct ::stat* st) override { return iret(::fstat(fd, st)); }
    int fstatat(int dfd, const char* path, struct ::stat* st, int flags) override {
        return iret(::fstatat(dfd, path, st, flags));
    }
    long readlinkat(int dfd, const char* path, char* buf, std::size_t len) override {
        return ret(::readlinkat(dfd, path, buf, len));
    }
    int mknodat(int dfd, const char* path, mode_t mode, dev_t dev) override {
        return iret(::mknodat(dfd, path, mode, dev));
    }
    long getdents64(int fd, void* buf, std::size_t len) override { return ret(::syscall(SYS_getdents64, fd, buf, len)); }
    int openat(int dfd, const char* path, int flags, mode_t mode) override {
        return iret(::openat(dfd, path, flags, mode));
    }
    int mkdirat(int dfd, const char* path, mode_t mode) override { return iret(::mkdirat(dfd, path, mode)); }
    int symlinkat(const char* target, int dfd, const char* path) override {
        return iret(::symlinkat(target, dfd, path));
    }
    int fchmod(int fd, mode_t mode) override { return iret(::fchmod(fd, mode)); }
    // fchownat(AT_EMPTY_PATH) also works on O_PATH and mount fds (fsmount), where fchown() gives EBADF
    int fchown(int fd, uid_t uid, gid_t gid) override { return iret(::fchownat(fd, "", uid, gid, AT_EMPTY_PATH)); }
    int fchownat(int dfd, const char* path, uid_t uid, gid_t gid, int flags) override {
        return iret(::fchownat(dfd, path, uid, gid, flags));
    }
    int utimensat(int dfd, const char* path, const struct ::timespec times[2], int flags) override {
        return iret(::utimensat(dfd, path, times, flags));
    }
    int chdir(const char* path) override { return iret(::chdir(path)); }
    int fchdir(int fd) override { return iret(::fchdir(fd)); }
    int close(int fd) override { return iret(::close(fd)); }
    long read(int fd, void* buf, std::size_t len) override { return ret(::read(fd, buf, len)); }
    long write(int fd, const void* buf, std::size_t len) override { return ret(::write(fd, buf, len)); }
    long pread(int fd, void* buf, std::size_t len, off_t offset) override { return ret(::pread(fd, buf, len, offset)); }
    int fstatfs(int fd, struct ::statfs* st) override { return iret(::fstatfs(fd, st)); }
    int close_range(unsigned first, unsigned last, unsigned flags) override {
        return iret(::syscall(SYS_close_range, first, last, flags));
    }
    int dup2(int from, int to) override { return iret(::dup2(from, to)); }
    int fcntl_getfl(int fd) override { return iret(::fcntl(fd, F_GETFL)); }
    int ioctl(int fd, unsigned long request, unsigned long arg) override { return iret(::ioctl(fd, request, arg)); }
    int poll(struct ::pollfd* fds, unsigned long nfds, int timeout_ms) override {
        return iret(::poll(fds, static_cast<nfds_t>(nfds), timeout_ms));
    }
    int send_fd(int sock, int fd, const std::string& payload, int flags) override {
        return fdpass::send(sock, fd, payload, flags);  // already 0 or -errno
    }
    int sigprocmask(int how, const sigset_t* set, sigset_t* old) override { return iret(::sigprocmask(how, set, old)); }
    int sethostname(const std::string& name) override { return iret(::sethostname(name.data(), name.size())); }
    int setrlimit(int resource, std::uint64_t soft, std::uint64_t hard) override {
        struct rlimit rl {};
        rl.rlim_cur = soft;
        rl.rlim_max = hard;
        return iret(::setrlimit(static_cast<__rlimit_resource>(resource), &rl));
    }
    int setgroups(const std::vector<gid_t>& groups) override {
        // raw syscall: glibc's wrapper would broadcast to threads (we have one) and is fine too
        return iret(::syscall(SYS_setgroups, groups.size(), groups.data()));
    }
    int setresgid(gid_t gid) override { return iret(::syscall(SYS_setresgid, gid, gid, gid)); }
    int setresuid(uid_t uid) override { return iret(::syscall(SYS_setresuid, uid, uid, uid)); }
    int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) override {
        return iret(::prctl(option, a2, a3, a4, a5));
    }
    int umask(mode_t mask) override {
        ::umask(mask);
        return 0;
    }
    int setsid() override { return iret(::setsid()); }
    long join_session_keyring() override {
        const long r = ::syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, nullptr, 0, 0, 0);
        return r < 0 ? -errno : r;
    }
    int seccomp_load(unsigned flags, const sock_fprog* prog) override {
        return iret(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog));
    }
    int loopback_up() override {
        UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!s) return -errno;
        struct ifreq ifr {};
        std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return -errno;
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
        if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return -errno;
        return 0;
    }
    int fcntl_dupfd_cloexec(int fd, int min_fd) override { return iret(::fcntl(fd, F_DUPFD_CLOEXEC, min_fd)); }
    int setns(int fd, int nstype) override { return iret(::setns(fd, nstype)); }
    int capng_apply(int select) override { return ::capng_apply(static_cast<capng_select_t>(select)); }
    long landlock_create_ruleset(const void* attr, std::size_t size, unsigned flags) override {
        return ret(::syscall(SYS_landlock_create_ruleset, attr, size, flags));
    }
    int landlock_add_rule(int ruleset_fd, int rule_type, const void* attr, unsigned flags) override {
        return iret(::syscall(SYS_landlock_add_rule, ruleset_fd, rule_type, attr, flags));
    }
    int landlock_restrict_self(int ruleset_fd, unsigned flags) override {
        return iret(::syscall(SYS_landlock_restrict_self, ruleset_fd, flags));
    }
};

}  // namespace

Sys& real_sys() {
    static RealSys sys;
    return sys;
}

}  // namespace hardrun
