/* sd_notify_send [--barrier] MSG...: sends one datagram "MSG\nMSG\n..." to $NOTIFY_SOCKET ("/path" or
 * "@abstract"), the way sd_notify(3) does, and prints "sent N bytes to ADDRESS". With --barrier it then waits,
 * like sd_notify_barrier(3), until the receiver has processed the message: it sends BARRIER=1 with the write
 * end of a pipe and waits for that end to be closed. (A real systemd attributes a message by the sender's
 * cgroup: a sender that exits at once may be gone before systemd looks, and its message is then ignored.)
 * Exit 0 on success, 1 on failure (with the reason on stderr), 2 when NOTIFY_SOCKET is unset.
 * Runs inside the sandbox (static). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *addr = getenv("NOTIFY_SOCKET");
    if (!addr || !*addr) {
        fprintf(stderr, "sd_notify_send: NOTIFY_SOCKET is not set\n");
        return 2;
    }
    int barrier = argc > 1 && strcmp(argv[1], "--barrier") == 0;
    char msg[4096] = "";
    size_t len = 0;
    for (int i = 1 + barrier; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (len + n + 2 > sizeof msg) {
            fprintf(stderr, "sd_notify_send: message too long\n");
            return 1;
        }
        memcpy(msg + len, argv[i], n);
        len += n;
        msg[len++] = '\n';
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t alen = strlen(addr);
    if (alen >= sizeof sa.sun_path) {
        fprintf(stderr, "sd_notify_send: address too long\n");
        return 1;
    }
    memcpy(sa.sun_path, addr, alen);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen + 1);
    if (addr[0] == '@') {
        sa.sun_path[0] = '\0';
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "sd_notify_send: socket: %s\n", strerror(errno));
        return 1;
    }
    if (sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0) {
        fprintf(stderr, "sd_notify_send: sendto %s: %s\n", addr, strerror(errno));
        return 1;
    }
    printf("sent %zu bytes to %s\n", len, addr);
    fflush(stdout);
    if (!barrier) return 0;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        fprintf(stderr, "sd_notify_send: pipe: %s\n", strerror(errno));
        return 1;
    }
    char text[] = "BARRIER=1";
    struct iovec iov = {text, sizeof text - 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &sa;
    mh.msg_namelen = salen;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control.buf;
    mh.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[1], sizeof(int));
    if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
        fprintf(stderr, "sd_notify_send: sending BARRIER=1: %s\n", strerror(errno));
        return 1;
    }
    close(p[1]);
    struct pollfd pf = {p[0], POLLIN, 0};
    int r = poll(&pf, 1, 60000);
    if (r != 1) {
        fprintf(stderr, "sd_notify_send: no barrier reply within 60s\n");
        return 1;
    }
    printf("barrier passed\n");
    return 0;
}
