/* Resource probes: go past the memory limit, the pids limit, and a fork bomb. hardrun passes the limit it set
 * as the argument; each probe stops by itself at a safety cap, so an unlimited sandbox is not hurt either. */
#include "probe.h"  /* first: it defines _GNU_SOURCE */

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static unsigned long long arg_number(int argc, char **argv, const char *op) {
    if (argc < 2) finish(NOT_APPLICABLE, op, 0, "no limit was given to the probe");
    char *end = NULL;
    unsigned long long v = strtoull(argv[1], &end, 10);
    if (!end || *end || v == 0) finish(PROBE_ERROR, op, 0, "bad limit '%s'", argv[1]);
    return v;
}

/* Touches memory 1 MiB at a time up to twice the limit (at most 1 GiB past it): the OOM killer must stop us. */
static void p_memory_limit(int argc, char **argv) {
    const char *op = "allocate and touch memory past the limit";
    unsigned long long limit = arg_number(argc, argv, op);
    unsigned long long goal = limit * 2;
    if (goal > limit + (1ULL << 30)) goal = limit + (1ULL << 30);
    const size_t chunk = 1 << 20;
    unsigned long long total = 0;
    while (total < goal) {
        char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) finish(BLOCKED, op, errno, "allocation refused after %llu MiB", total >> 20);
        memset(p, 0x5a, chunk);
        total += chunk;
    }
    finish(NOT_BLOCKED, op, 0, "touched %llu MiB, past the %llu MiB limit", total >> 20, limit >> 20);
}

/* Forks idle children until fork fails or we are well past the limit. */
static void p_pids_limit(int argc, char **argv) {
    const char *op = "fork idle processes past the limit";
    unsigned long long limit = arg_number(argc, argv, op);
    unsigned long long cap = limit + 16;
    if (cap > 4096) cap = 4096;
    int hold[2];
    if (pipe(hold) != 0) finish(PROBE_ERROR, op, errno, "pipe");
    unsigned long long made = 0;
    int e = 0;
    while (made < cap) {
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            close(hold[1]);
            (void)!read(hold[0], &c, 1); /* returns at EOF: when we close the write end */
            _exit(0);
        }
        if (pid < 0) {
            e = errno;
            break;
        }
        ++made;
    }
    close(hold[1]);
    while (wait(NULL) > 0) {
    }
    if (e) finish(BLOCKED, op, e, "fork failed after %llu processes (limit %llu)", made + 1, limit);
    finish(NOT_BLOCKED, op, 0, "forked %llu processes, past the limit of %llu", made, limit);
}

struct bomb {
    atomic_ullong started;
    atomic_int failed;
    atomic_int err;
};

/* Every process forks as fast as it can and stays alive; the first failing fork or the safety cap ends it. */
static void p_fork_bomb(int argc, char **argv) {
    const char *op = "fork bomb (every process forks; they all stay alive)";
    unsigned long long limit = arg_number(argc, argv, op);
    unsigned long long cap = limit * 4 < 256 ? 256 : limit * 4;
    if (cap > 2048) cap = 2048;
    struct bomb *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) finish(PROBE_ERROR, op, errno, "mmap");
    memset(b, 0, sizeof *b);
    pid_t root = fork();
    if (root < 0) finish(BLOCKED, op, errno, "the first fork failed");
    if (root == 0) {
        setpgid(0, 0);
        for (;;) {
            if (atomic_load(&b->failed) || atomic_fetch_add(&b->started, 1) >= cap) break;
            pid_t pid = fork();
            if (pid < 0) {
                atomic_store(&b->err, errno);
                atomic_store(&b->failed, 1);
                break;
            }
        }
        for (;;) pause();
    }
    setpgid(root, root);
    while (!atomic_load(&b->failed) && atomic_load(&b->started) < cap) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    unsigned long long started = atomic_load(&b->started);
    int failed = atomic_load(&b->failed), err = atomic_load(&b->err);
    while (kill(-root, SIGKILL) == 0) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (failed) finish(BLOCKED, op, err, "fork failed after about %llu processes (limit %llu)", started, limit);
    finish(NOT_BLOCKED, op, 0, "%llu processes started, past the limit of %llu", started, limit);
}

const struct probe limits_probes[] = {
    {"memory-limit", p_memory_limit},
    {"pids-limit", p_pids_limit},
    {"fork-bomb", p_fork_bomb},
    {NULL, NULL},
};
