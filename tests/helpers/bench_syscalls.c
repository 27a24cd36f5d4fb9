// bench_syscalls: what one syscall costs inside the sandbox (scripts/bench, seccomp cost).
// Runs hot loops and prints nanoseconds per syscall, the best of REPS repetitions (noise only adds):
//   getppid <ns>      raw getppid(2), the cheapest syscall there is
//   read <ns>         read(2) of 1 byte from /dev/zero
//   write <ns>        write(2) of 1 byte to /dev/null
//   futex <ns>        FUTEX_WAKE on a private word nobody waits on
// Usage: bench_syscalls [--allow-all] [ITERATIONS [REPS]]   (default 200000 iterations, 5 repetitions)
//   --allow-all first installs a one-instruction "allow everything" seccomp filter (needs no_new_privs):
//   the floor any seccomp filter costs on this kernel, whatever its rules.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int zero_fd = -1, null_fd = -1;
static int futex_word;

static void loop_getppid(long n) {
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
}
static void loop_read(long n) {
    char c;
    for (long i = 0; i < n; ++i)
        if (syscall(SYS_read, zero_fd, &c, 1) != 1) _exit(3);
}
static void loop_write(long n) {
    char c = 0;
    for (long i = 0; i < n; ++i)
        if (syscall(SYS_write, null_fd, &c, 1) != 1) _exit(3);
}
static void loop_futex(long n) {
    for (long i = 0; i < n; ++i) syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static double best_ns(void (*fn)(long), long n, int reps) {
    fn(n / 10 + 1);  // warm-up: caches, branch predictors, page faults
    double best = 1e18;
    for (int r = 0; r < reps; ++r) {
        uint64_t t0 = now_ns();
        fn(n);
        double per = (double)(now_ns() - t0) / (double)n;
        if (per < best) best = per;
    }
    return best;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "--allow-all") == 0) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = {1, &allow};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
            perror("bench_syscalls: installing the allow-all filter");
            return 1;
        }
        --argc;
        ++argv;
    }
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (n <= 0 || reps <= 0) {
        fprintf(stderr, "usage: bench_syscalls [--allow-all] [ITERATIONS [REPS]]\n");
        return 2;
    }
    zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (zero_fd < 0 || null_fd < 0) {
        perror("bench_syscalls: opening /dev/zero and /dev/null");
        return 1;
    }
    printf("getppid %.1f\n", best_ns(loop_getppid, n, reps));
    printf("read %.1f\n", best_ns(loop_read, n, reps));
    printf("write %.1f\n", best_ns(loop_write, n, reps));
    printf("futex %.1f\n", best_ns(loop_futex, n, reps));
    return 0;
}
