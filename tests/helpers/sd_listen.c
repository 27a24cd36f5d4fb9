/* sd_listen [accept]: reports what socket activation handed this process, as sd_listen_fds(3) sees it:
 *   pid=P listen_pid=... listen_fds=N names=...
 *   open=0,1,2,3        (every open fd, from /proc/self/fd)
 *   fd3=listening       (for each LISTEN fd: listening socket, socket, or other)
 * With "accept": accepts one connection on fd 3 and writes "hello from pid P\n" to it.
 * Exit 0 when LISTEN_PID equals getpid() and LISTEN_FDS >= 1, else 3. Runs inside the sandbox (static). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *lpid = getenv("LISTEN_PID"), *lfds = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
    printf("pid=%d listen_pid=%s listen_fds=%s names=%s\n", (int)getpid(), lpid ? lpid : "-", lfds ? lfds : "-",
           names ? names : "-");
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("open=?\n");
    } else {
        int own = dirfd(d), first = 1;
        int fds[1024], n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < 1024) {
            if (e->d_name[0] == '.') continue;
            int fd = atoi(e->d_name);
            if (fd != own) fds[n++] = fd;
        }
        closedir(d);
        for (int i = 0; i < n; i++)  /* sort (small) */
            for (int j = i + 1; j < n; j++)
                if (fds[j] < fds[i]) { int t = fds[i]; fds[i] = fds[j]; fds[j] = t; }
        printf("open=");
        for (int i = 0; i < n; i++) { printf("%s%d", first ? "" : ",", fds[i]); first = 0; }
        printf("\n");
    }
    int count = lfds ? atoi(lfds) : 0;
    for (int fd = 3; fd < 3 + count; fd++) {
        struct stat st;
        int acc = 0;
        socklen_t l = sizeof acc;
        if (fstat(fd, &st) != 0) printf("fd%d=closed\n", fd);
        else if (!S_ISSOCK(st.st_mode)) printf("fd%d=other\n", fd);
        else if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) == 0 && acc) printf("fd%d=listening\n", fd);
        else printf("fd%d=socket\n", fd);
    }
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "accept") == 0 && count >= 1) {
        int c = accept(3, NULL, NULL);
        if (c < 0) {
            fprintf(stderr, "sd_listen: accept on fd 3: %s\n", strerror(errno));
            return 1;
        }
        char line[64];
        int len = snprintf(line, sizeof line, "hello from pid %d\n", (int)getpid());
        if (write(c, line, (size_t)len) != len) return 1;
        close(c);
        printf("accepted\n");
    }
    if (!lpid || atoi(lpid) != (int)getpid() || count < 1) return 3;
    return 0;
}
