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
    char name[] = "/dev/pts/ptmx";
    struct iovec iov {name, sizeof name - 1};
    alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf;
    msg.msg_controllen = sizeof buf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int mfd = master.get();
    std::memcpy(CMSG_DATA(c), &mfd, sizeof mfd);
    if (::sendmsg(socket_fd, &msg, MSG_NOSIGNAL) < 0) throw_errno("console", "sending the pty master to --console-socket", errno);
    ::close(socket_fd);
}

UniqueFd receive_fd(int sock) {
    char data[256];
    struct iovec iov {data, sizeof data};
    alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf;
    msg.msg_controllen = sizeof buf;
    if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0) return UniqueFd();
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) return UniqueFd();
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return UniqueFd(fd);
}

}  // namespace hardrun::console
