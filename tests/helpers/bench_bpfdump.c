// bench_bpfdump: copies the seccomp BPF programs a running process is confined by (scripts/bench counts
// the instructions they run per syscall). Runs on the HOST as root: it attaches with PTRACE_SEIZE,
// stops the target with PTRACE_INTERRUPT, reads each filter with PTRACE_SECCOMP_GET_FILTER (needs
// CAP_SYS_ADMIN) and detaches; the target continues unharmed.
// Usage: bench_bpfdump PID OUTPREFIX   -> OUTPREFIX.0.bpf (the newest filter), OUTPREFIX.1.bpf, ...
//        and one line per filter on stdout: "<index> <instructions>".
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench_bpfdump PID OUTPREFIX\n");
        return 2;
    }
    pid_t pid = (pid_t)atoi(argv[1]);
    if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) != 0) {
        fprintf(stderr, "bench_bpfdump: PTRACE_SEIZE %d: %s\n", pid, strerror(errno));
        return 1;
    }
    if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) != 0 || waitpid(pid, NULL, __WALL) != pid) {
        fprintf(stderr, "bench_bpfdump: stopping %d: %s\n", pid, strerror(errno));
        return 1;
    }
    int rc = 0, count = 0;
    for (long i = 0;; ++i) {
        long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void*)i, NULL);
        if (n < 0) {
            if (errno != ENOENT && errno != EINVAL) {
                fprintf(stderr, "bench_bpfdump: PTRACE_SECCOMP_GET_FILTER %ld: %s\n", i, strerror(errno));
                rc = 1;
            }
            break;
        }
        struct sock_filter* prog = calloc((size_t)n, sizeof *prog);
        if (!prog || ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void*)i, prog) != n) {
            fprintf(stderr, "bench_bpfdump: reading filter %ld: %s\n", i, strerror(errno));
            rc = 1;
            free(prog);
            break;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s.%ld.bpf", argv[2], i);
        FILE* f = fopen(path, "wb");
        if (!f || fwrite(prog, sizeof *prog, (size_t)n, f) != (size_t)n || fclose(f) != 0) {
            fprintf(stderr, "bench_bpfdump: writing %s: %s\n", path, strerror(errno));
            rc = 1;
        }
        printf("%ld %ld\n", i, n);
        free(prog);
        ++count;
    }
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    if (count == 0 && rc == 0) printf("none 0\n");
    return rc;
}
