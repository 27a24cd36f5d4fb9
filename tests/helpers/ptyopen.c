/* Opens a pseudo-terminal pair inside the sandbox: prints "pty ok NAME" or the failing step and errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) { printf("posix_openpt: %s\n", strerror(errno)); return 1; }
    if (unlockpt(m) != 0) { printf("unlockpt: %s\n", strerror(errno)); return 1; }
    const char *name = ptsname(m);
    if (!name) { printf("ptsname: %s\n", strerror(errno)); return 1; }
    int s = open(name, O_RDWR | O_NOCTTY);
    if (s < 0) { printf("open %s: %s\n", name, strerror(errno)); return 1; }
    if (write(s, "x", 1) != 1) { printf("write: %s\n", strerror(errno)); return 1; }
    char c = 0;
    if (read(m, &c, 1) != 1 || c != 'x') { printf("read back failed\n"); return 1; }
    printf("pty ok %s\n", name);
    return 0;
}
