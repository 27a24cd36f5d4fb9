// secprobe: tries one forbidden (or allowed) thing from inside the sandbox and prints what the kernel said,
// as "ok" or the errno name (EACCES, ELOOP, ...), so the security tests assert on exact outcomes.
// Also the host-side racer for the symlink-swap tests (swap).
//
//   secprobe fds                       open fds other than the one listing /proc/self/fd
//   secprobe open PATH r|w|rw|creat    open(2) a path
//   secprobe exec PATH                 execve a path (prints only on failure)
//   secprobe mkdir PATH
//   secprobe exe-write                 every /proc/PID/exe: open for writing, directly and through O_PATH reopen
//   secprobe tiocsti TEXT              push TEXT into the input queue of the terminal on fd 0
//   secprobe session                   "leader=1|0 ctty=ok|ERRNO"
//   secprobe bind PORT | connect PORT  TCP on 127.0.0.1
//   secprobe listen PORT               bind+listen, print "listening", accept one connection, print "accepted"
//   secprobe unix-connect NAME         connect to the abstract unix socket @NAME
//   secprobe fill PATH                 write to PATH until an error; prints the errno name
//   secprobe nofile                    open /dev/null until an error; prints "COUNT ERRNO"
//   secprobe forks N                   fork N children that sleep; prints "COUNT ERRNO|ok"
//   secprobe keyread ID                keyctl(KEYCTL_READ) of key ID: "ok" or the errno name
//   secprobe keysession                the serial of the session keyring (KEYCTL_GET_KEYRING_ID)
//   secprobe swap A B                  host side: renameat2(RENAME_EXCHANGE) A and B forever
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static const char* ename(int e) {
    const char* n = strerrorname_np(e);
    return n ? n : "EUNKNOWN";
}

static int result(int r) {
    if (r < 0) printf("%s\n", ename(errno));
    else printf("ok\n");
    return 0;
}

static int cmd_fds(void) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return result(-1);
    int self = dirfd(d);
    struct dirent* e;
    int first = 1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == self) continue;
        printf(first ? "%d" : " %d", fd);
        first = 0;
    }
    printf("\n");
    closedir(d);
    return 0;
}

static int cmd_open(const char* path, const char* mode) {
    int flags = O_RDONLY;
    if (!strcmp(mode, "w")) flags = O_WRONLY;
    else if (!strcmp(mode, "rw")) flags = O_RDWR;
    else if (!strcmp(mode, "creat")) flags = O_WRONLY | O_CREAT | O_EXCL;
    int fd = open(path, flags | O_CLOEXEC, 0600);
    result(fd);
    if (fd >= 0) close(fd);
    return 0;
}

static int cmd_exe_write(void) {
    DIR* d = opendir("/proc");
    if (!d) return result(-1);
    struct dirent* e;
    int writable = 0, seen = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        if (atoi(e->d_name) == getpid()) continue;
        char path[300], self[64];
        snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
        ++seen;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        int direct = fd >= 0 ? 0 : errno;
        if (fd >= 0) { ++writable; close(fd); }
        int reopen = -1;
        int p = open(path, O_PATH | O_CLOEXEC);
        int opath = p >= 0 ? 0 : errno;
        if (p >= 0) {
            snprintf(self, sizeof self, "/proc/self/fd/%d", p);
            fd = open(self, O_WRONLY | O_CLOEXEC);
            reopen = fd >= 0 ? 0 : errno;
            if (fd >= 0) { ++writable; close(fd); }
            close(p);
        }
        char target[256] = "";
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n >= 0) target[n] = 0;
        printf("pid %s: open-wronly=%s opath=%s reopen-wronly=%s readlink=%s\n", e->d_name,
               direct ? ename(direct) : "ok", opath ? ename(opath) : "ok",
               reopen < 0 ? "-" : (reopen ? ename(reopen) : "ok"), n >= 0 ? target : ename(errno));
    }
    closedir(d);
    printf("seen %d writable %d\n", seen, writable);
    return 0;
}

static int cmd_tiocsti(const char* text) {
    for (const char* c = text; *c; ++c)
        if (ioctl(0, TIOCSTI, c) != 0) return result(-1);
    return result(0);
}

static int cmd_session(void) {
    printf("leader=%d ", getsid(0) == getpid());
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    printf("ctty=%s\n", fd >= 0 ? "ok" : ename(errno));
    return 0;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int cmd_bind(int port, int do_listen) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    if (bind(s, (struct sockaddr*)&a, sizeof a) != 0) return result(-1);
    if (!do_listen) return result(0);
    if (listen(s, 4) != 0) return result(-1);
    printf("listening\n");
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0) return result(-1);
    printf("accepted\n");
    return 0;
}

static int cmd_connect(int port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(port);
    return result(connect(s, (struct sockaddr*)&a, sizeof a));
}

static int cmd_unix_connect(const char* name) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t len = strlen(name);
    if (len > sizeof a.sun_path - 2) len = sizeof a.sun_path - 2;
    memcpy(a.sun_path + 1, name, len);
    return result(connect(s, (struct sockaddr*)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)));
}

static int cmd_fill(const char* path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return result(-1);
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    for (;;) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n < 0) return result(-1);
        if (n == 0) { printf("EOF\n"); return 0; }
    }
}

static int cmd_nofile(void) {
    int count = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) { printf("%d %s\n", count, ename(errno)); return 0; }
        ++count;
        if (count > 1000000) { printf("%d unlimited\n", count); return 0; }
    }
}

static int cmd_forks(int n) {
    int count = 0;
    for (int i = 0; i < n; ++i) {
        pid_t p = fork();
        if (p < 0) { printf("%d %s\n", count, ename(errno)); goto out; }
        if (p == 0) { pause(); _exit(0); }
        ++count;
    }
    printf("%d ok\n", count);
out:
    kill(0, SIGTERM);
    return 0;
}

__attribute__((noreturn)) static int cmd_swap(const char* a, const char* b) {
    for (;;) syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: secprobe COMMAND [ARGS]\n"); return 2; }
    const char* c = argv[1];
    if (!strcmp(c, "fds")) return cmd_fds();
    if (!strcmp(c, "open") && argc == 4) return cmd_open(argv[2], argv[3]);
    if (!strcmp(c, "exec") && argc >= 3) { execv(argv[2], argv + 2); return result(-1); }
    if (!strcmp(c, "mkdir") && argc == 3) return result(mkdir(argv[2], 0755));
    if (!strcmp(c, "exe-write")) return cmd_exe_write();
    if (!strcmp(c, "tiocsti") && argc == 3) return cmd_tiocsti(argv[2]);
    if (!strcmp(c, "session")) return cmd_session();
    if (!strcmp(c, "bind") && argc == 3) return cmd_bind(atoi(argv[2]), 0);
    if (!strcmp(c, "listen") && argc == 3) return cmd_bind(atoi(argv[2]), 1);
    if (!strcmp(c, "connect") && argc == 3) return cmd_connect(atoi(argv[2]));
    if (!strcmp(c, "unix-connect") && argc == 3) return cmd_unix_connect(argv[2]);
    if (!strcmp(c, "fill") && argc == 3) return cmd_fill(argv[2]);
    if (!strcmp(c, "nofile")) return cmd_nofile();
    if (!strcmp(c, "forks") && argc == 3) return cmd_forks(atoi(argv[2]));
    if (!strcmp(c, "keyread") && argc == 3) {
        char buf[256];
        return result((int)syscall(SYS_keyctl, 11 /* KEYCTL_READ */, atol(argv[2]), buf, sizeof buf, 0));
    }
    if (!strcmp(c, "keysession")) {
        long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0, 0, 0);
        if (id < 0) return result(-1);
        printf("%ld\n", id);
        return 0;
    }
    if (!strcmp(c, "swap") && argc == 4) return cmd_swap(argv[2], argv[3]);
    fprintf(stderr, "secprobe: unknown command %s\n", c);
    return 2;
}
