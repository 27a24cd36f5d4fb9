#include "hardrun/console.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hardrun/error.hpp"
#include "hardrun/fd_passing.hpp"

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

void attach(int socket_fd, uid_t uid) {
    UniqueFd master(::open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master)
        throw_errno("console", "/dev/pts/ptmx", errno, "process.terminal needs a devpts mount at /dev/pts");
    int unlock = 0;
    if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) throw_errno("console", "unlocking the pty", errno);
    // the peer is opened through the master, never by a path name the rootfs could redirect
    UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY));
    if (!slave) throw_errno("console", "opening the pty slave (TIOCGPTPEER)", errno);
    if (::fchown(slave.get(), uid, static_cast<gid_t>(-1)) != 0) throw_errno("console", "giving the pty to uid " + std::to_string(uid), errno);
    if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) throw_errno("console", "making the pty the controlling terminal", errno);
    for (int fd = 0; fd <= 2; ++fd)
        if (::dup2(slave.get(), fd) < 0) throw_errno("console", "pty as fd " + std::to_string(fd), errno);
    // send the master: runc's protocol (one message, SCM_RIGHTS, the pty's name as payload)
    if (int r = fdpass::send(socket_fd, master.get(), "/dev/pts/ptmx", MSG_NOSIGNAL); r < 0)
        throw_errno("console", "sending the pty master to --console-socket", -r);
    ::close(socket_fd);
}

}  // namespace hardrun::console
