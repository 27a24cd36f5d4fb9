#include "hardrun/support/fd_passing.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace hardrun::fdpass {

namespace {
// One message: `iov` as its data, room for one fd as its control part.
struct OneFd {
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    explicit OneFd(struct iovec* iov) {
        msg.msg_iov = iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
    }
    OneFd(const OneFd&) = delete;
    OneFd& operator=(const OneFd&) = delete;
};
}  // namespace

int send(int sock, int fd, std::string_view payload, int flags) {
    static const char kDefault[] = "F";
    if (payload.empty()) payload = std::string_view(kDefault, 1);
    struct iovec iov {const_cast<char*>(payload.data()), payload.size()};
    OneFd m(&iov);
    struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n = ::sendmsg(sock, &m.msg, flags);
    if (n < 0) return -errno;
    return static_cast<std::size_t>(n) == payload.size() ? 0 : -EMSGSIZE;
}

UniqueFd receive(int sock, std::string* payload) {
    char data[256];
    struct iovec iov {data, sizeof data};
    OneFd m(&iov);
    ssize_t n = ::recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return UniqueFd();
    if (payload) payload->assign(data, static_cast<std::size_t>(n));
    struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return UniqueFd();
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return UniqueFd(fd);
}

}  // namespace hardrun::fdpass
