/* sd_notify_send MSG...: sends one datagram "MSG\nMSG\n..." to $NOTIFY_SOCKET ("/path" or "@abstract"),
 * the way sd_notify(3) does, and prints "sent N bytes to ADDRESS". Exit 0 on success, 1 on failure (with the
 * reason on stderr), 2 when NOTIFY_SOCKET is unset. Runs inside the sandbox (static). */
#include <errno.h>
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
    char msg[4096] = "";
    size_t len = 0;
    for (int i = 1; i < argc; i++) {
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
    return 0;
}
