/* cgstress: the workloads of the VM tier's cgroup tests (runs inside the sandbox, static).
 *   cgstress mem MIB      allocate and touch MIB MiB (1 MiB at a time), print "allocated N MiB", exit 0
 *   cgstress forks N      fork up to N children that wait; stop at the first failure; print
 *                         "forked K of N (then ERRNO)"; kill the children; exit 0
 *   cgstress spin SECONDS burn CPU for SECONDS of wall-clock time, print "spun", exit 0
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int mem(long mib) {
    long done = 0;
    for (; done < mib; ++done) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("malloc failed after %ld MiB\n", done);
            return 1;
        }
        memset(p, 0x5a, 1 << 20);
        if (done % 8 == 7) {
            printf("touched %ld MiB\n", done + 1);
            fflush(stdout);
        }
    }
    printf("allocated %ld MiB\n", done);
    return 0;
}

static int forks(long n) {
    pid_t *kids = calloc((size_t)n, sizeof *kids);
    long k = 0;
    int err = 0;
    for (; k < n; ++k) {
        pid_t p = fork();
        if (p < 0) {
            err = errno;
            break;
        }
        if (p == 0) {
            pause();
            _exit(0);
        }
        kids[k] = p;
    }
    printf("forked %ld of %ld (then %s)\n", k, n, err ? strerror(err) : "no failure");
    fflush(stdout);
    for (long i = 0; i < k; ++i) kill(kids[i], SIGKILL);
    for (long i = 0; i < k; ++i) waitpid(kids[i], NULL, 0);
    return 0;
}

static int spin(long seconds) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 1000000; ++i) x += (unsigned long)i;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < seconds);
    printf("spun\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: cgstress mem MIB | forks N | spin SECONDS\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(argv[1], "mem")) return mem(n);
    if (!strcmp(argv[1], "forks")) return forks(n);
    if (!strcmp(argv[1], "spin")) return spin(n);
    fprintf(stderr, "cgstress: unknown verb %s\n", argv[1]);
    return 2;
}
