#include "hardrun/layers/console.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "hardrun/support/error.hpp"
#include "hardrun/support/fd_passing.hpp"
#include "hardrun/support/sys_fd.hpp"

namespace hardrun::console {

UniqueFd connect_socket(const std::string& path) {
    sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        throw Error("console", "--console-socket " + path, "not a usable unix socket path (empty or too long)");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("console", "socket", errno);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw_errno("console", "connecting to --console-socket " + path, errno);
    return fd;
}

void attach(Sys& sys, int socket_fd, uid_t uid) {
    SysFd master(sys, sys.openat(AT_FDCWD, "/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0));
    if (!master)
        throw_errno("console", "/dev/pts/ptmx", -master.get(), "process.terminal needs a devpts mount at /dev/pts");
    int unlock = 0;
    if (int r = sys.ioctl(master.get(), TIOCSPTLCK, reinterpret_cast<unsigned long>(&unlock)); r < 0)
        throw_errno("console", "unlocking the pty", -r);
    // the peer is opened through the master, never by a path name the rootfs could redirect
    SysFd slave(sys, sys.ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY));
    if (!slave) throw_errno("console", "opening the pty slave (TIOCGPTPEER)", -slave.get());
    if (int r = sys.fchown(slave.get(), uid, static_cast<gid_t>(-1)); r < 0)
        throw_errno("console", "giving the pty to uid " + std::to_string(uid), -r);
    if (int r = sys.ioctl(slave.get(), TIOCSCTTY, 0); r < 0)
        throw_errno("console", "making the pty the controlling terminal", -r);
    for (int fd = 0; fd <= 2; ++fd)
        if (int r = sys.dup2(slave.get(), fd); r < 0) throw_errno("console", "pty as fd " + std::to_string(fd), -r);
    // send the master: runc's protocol (one message, SCM_RIGHTS, the pty's name as payload)
    if (int r = sys.send_fd(socket_fd, master.get(), "/dev/pts/ptmx", MSG_NOSIGNAL); r < 0)
        throw_errno("console", "sending the pty master to --console-socket", -r);
    sys.close(socket_fd);
}

namespace {

std::string fd_name(int fd) {
    static const char* const names[] = {"stdin", "stdout", "stderr"};
    return "fd " + std::to_string(fd) + " (" + names[fd] + ")";
}

std::string fd_target(int fd) {
    char buf[PATH_MAX];
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("?");
}

bool same_settings(const struct termios& a, const struct termios& b) {
    return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag && a.c_lflag == b.c_lflag &&
           std::memcmp(a.c_cc, b.c_cc, sizeof a.c_cc) == 0 && ::cfgetispeed(&a) == ::cfgetispeed(&b) &&
           ::cfgetospeed(&a) == ::cfgetospeed(&b);
}

}  // namespace

void refuse_unsafe_stdio() {
    for (int fd = 0; fd <= 2; ++fd) {
        const int fl = ::fcntl(fd, F_GETFL);
        if (fl < 0) continue;  // closed
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw_errno("stdio", fd_name(fd), errno);
        if (S_ISDIR(st.st_mode))
            throw Error("stdio", fd_name(fd),
                        "is the directory " + fd_target(fd) +
                            "; a directory as stdio would let the sandbox into the host's tree; refusing (redirect "
                            "it from a file, a pipe or /dev/null)");
        if (fl & O_PATH)
            throw Error("stdio", fd_name(fd),
                        "is an O_PATH file descriptor of " + fd_target(fd) +
                            "; the sandbox could reopen it past its mounts; refusing (redirect it from a file, a "
                            "pipe or /dev/null)");
    }
}

TerminalGuard::TerminalGuard() {
    std::vector<dev_t> seen;
    for (int fd = 0; fd <= 2; ++fd) {
        struct stat st {};
        Saved s{fd, {}};
        if (!::isatty(fd) || ::fstat(fd, &st) != 0 || ::tcgetattr(fd, &s.attr) != 0) continue;
        bool dup = false;
        for (dev_t d : seen) dup |= d == st.st_rdev;
        if (dup) continue;  // the same terminal on another fd
        seen.push_back(st.st_rdev);
        saved_.push_back(s);
    }
}

TerminalGuard::~TerminalGuard() {
    if (saved_.empty()) return;
    // tcsetattr from a background process group raises SIGTTOU (and stops hardrun) unless it is blocked
    sigset_t ttou, old;
    ::sigemptyset(&ttou);
    ::sigaddset(&ttou, SIGTTOU);
    const bool blocked = ::pthread_sigmask(SIG_BLOCK, &ttou, &old) == 0;
    for (const auto& s : saved_) {
        struct termios now {};
        if (::tcgetattr(s.fd, &now) == 0 && same_settings(now, s.attr)) continue;
        (void)::tcsetattr(s.fd, TCSANOW, &s.attr);  // nothing to report this late: the terminal may be gone
    }
    if (blocked) ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace hardrun::console
