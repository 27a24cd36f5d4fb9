#include "hardrun/fd_passing.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace hardrun::fdpass {

int send(int sock, int fd, std::string_view payload, int flags) {
    static const char kDefault[] = "F";
    if (payload.empty()) payload = std::string_view(kDefault, 1);
    struct iovec iov {const_cast<char*>(payload.data()), payload.size()};
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
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n = ::sendmsg(sock, &msg, flags);
    if (n < 0) return -errno;
    return static_cast<std::size_t>(n) == payload.size() ? 0 : -EMSGSIZE;
}

UniqueFd receive(int sock, std::string* payload) {
    char data[256];
    struct iovec iov {data, sizeof data};
    alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf;
    msg.msg_controllen = sizeof buf;
    ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return UniqueFd();
    if (payload) payload->assign(data, static_cast<std::size_t>(n));
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return UniqueFd();
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return UniqueFd(fd);
}

}  // namespace hardrun::fdpass
