/* sysx: a static syscall exerciser run inside the sandbox by the seccomp tests.
 *
 *   sysx TEST [TEST...]     runs each test and prints one line per test:
 *                           "TEST ok" (the call succeeded) or "TEST ERRNO" (e.g. "mount EPERM")
 *   sysx getppid-loop N     N getppid() calls; prints "getppid-loop ns/call=X.X"
 *   sysx raw NR [A0 ...]    syscall(NR, A0...): prints "raw-NR ok" or "raw-NR ERRNO"
 *   sysx fds                the open file descriptors: "fds 0,1,2"
 *
 * vsock_hi, vsock_hi_ff and alg_hi call socket() with AF_VSOCK / AF_ALG in the low 32 bits of the domain and
 * high bits set (0x100000028, 0xffffffff00000028, 0x100000026): the kernel reads the int domain as AF_VSOCK /
 * AF_ALG, so the filter must refuse them like the plain calls.
 *
 * Tests use arguments that make an unfiltered kernel answer differently from the seccomp filter's EPERM
 * where possible (e.g. mount on an empty path: ENOENT; unshare(0): success), so a refusal is the filter's.
 * Exit status 0 unless the process is killed (int80_getpid under a native-only filter: SIGSYS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

static void report(const char *name, long r, int err) {
    if (r >= 0) printf("%s ok\n", name);
    else printf("%s %s\n", name, strerrorname_np(err) ? strerrorname_np(err) : "E?");
    fflush(stdout);
}

static long sc(long nr, long a, long b, long c, long d, long e, long f) {
    errno = 0;
    return syscall(nr, a, b, c, d, e, f);
}

static int run_test(const char *t) {
    long r;
    if (!strcmp(t, "unshare")) {
        r = sc(SYS_unshare, 0, 0, 0, 0, 0, 0);  /* unshare(0) succeeds unless filtered */
    } else if (!strcmp(t, "mount")) {
        r = sc(SYS_mount, (long)"none", (long)"", (long)"tmpfs", 0, 0, 0);  /* "" -> ENOENT unless filtered */
    } else if (!strcmp(t, "umount")) {
        r = sc(SYS_umount2, (long)"", 0, 0, 0, 0, 0);
    } else if (!strcmp(t, "setns")) {
        r = sc(SYS_setns, -1, 0, 0, 0, 0, 0);  /* EBADF unless filtered */
    } else if (!strcmp(t, "keyctl")) {
        r = sc(SYS_keyctl, 9999, 0, 0, 0, 0, 0);  /* unknown command: EOPNOTSUPP unless filtered */
    } else if (!strcmp(t, "add_key")) {
        r = sc(SYS_add_key, 0, 0, 0, 0, 0, 0);
    } else if (!strcmp(t, "ptrace")) {
        r = sc(SYS_ptrace, PTRACE_PEEKUSER, getpid(), 0, 0, 0, 0);  /* not traced: ESRCH unless filtered */
    } else if (!strcmp(t, "bpf")) {
        r = sc(SYS_bpf, 0, 0, 0x100000, 0, 0, 0);  /* oversized attr: E2BIG unless filtered */
    } else if (!strcmp(t, "perf_event_open")) {
        r = sc(SYS_perf_event_open, 0, 0, -1, -1, 0, 0);  /* NULL attr: EFAULT unless filtered */
    } else if (!strcmp(t, "kexec_load")) {
        r = sc(SYS_kexec_load, 0, 0, 0, 0, 0, 0);
    } else if (!strcmp(t, "open_by_handle_at")) {
        r = sc(SYS_open_by_handle_at, -1, 0, 0, 0, 0, 0);
    } else if (!strcmp(t, "init_module")) {
        r = sc(SYS_init_module, 0, 0, (long)"", 0, 0, 0);
    } else if (!strcmp(t, "clone_newns") || !strcmp(t, "clone_newuser")) {
        long flags = (!strcmp(t, "clone_newns") ? CLONE_NEWNS : CLONE_NEWUSER) | SIGCHLD;
        r = sc(SYS_clone, flags, 0, 0, 0, 0, 0);
        if (r == 0) _exit(0);
        int saved = errno;
        if (r > 0) waitpid((pid_t)r, NULL, 0);
        errno = saved;
    } else if (!strcmp(t, "clone_thread")) {  /* a plain fork through clone: allowed */
        r = sc(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
        if (r == 0) _exit(0);
        int saved = errno;
        if (r > 0) waitpid((pid_t)r, NULL, 0);
        errno = saved;
    } else if (!strcmp(t, "clone3")) {
        r = sc(SYS_clone3, 0, 0, 0, 0, 0, 0);  /* NULL args: EFAULT/EINVAL unless filtered (ENOSYS) */
    } else if (!strcmp(t, "vsock")) {
        r = sc(SYS_socket, AF_VSOCK, SOCK_STREAM, 0, 0, 0, 0);
        if (r >= 0) close((int)r);
    } else if (!strcmp(t, "alg")) {
        r = sc(SYS_socket, AF_ALG, SOCK_SEQPACKET, 0, 0, 0, 0);
        if (r >= 0) close((int)r);
    } else if (!strcmp(t, "vsock_hi") || !strcmp(t, "alg_hi") || !strcmp(t, "vsock_hi_ff")) {
        /* socket()'s domain is an int: the kernel uses the low 32 bits of the register, so these are AF_VSOCK
           and AF_ALG to it; a filter comparing all 64 bits would not recognise them */
        long domain = !strcmp(t, "alg_hi") ? (long)0x100000026L : !strcmp(t, "vsock_hi") ? (long)0x100000028L
                                                                                          : (long)0xffffffff00000028UL;
        r = sc(SYS_socket, domain, !strcmp(t, "alg_hi") ? SOCK_SEQPACKET : SOCK_STREAM, 0, 0, 0, 0);
        if (r >= 0) close((int)r);
    } else if (!strcmp(t, "inet")) {
        r = sc(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
        if (r >= 0) close((int)r);
    } else if (!strcmp(t, "packet")) {
        r = sc(SYS_socket, 17 /* AF_PACKET */, SOCK_RAW, 0, 0, 0, 0);
        if (r >= 0) close((int)r);
    } else if (!strcmp(t, "personality")) {
        r = sc(SYS_personality, 0xffff, 0, 0, 0, 0, 0);
        if (r >= 0) sc(SYS_personality, PER_LINUX, 0, 0, 0, 0, 0);
    } else if (!strcmp(t, "personality_query")) {
        r = sc(SYS_personality, 0xffffffff, 0, 0, 0, 0, 0);
    } else if (!strcmp(t, "modify_ldt")) {
        char buf[16];
        r = sc(SYS_modify_ldt, 0, (long)buf, sizeof buf, 0, 0, 0);
    } else if (!strcmp(t, "userfaultfd")) {
        r = sc(SYS_userfaultfd, 0, 0, 0, 0, 0, 0);
        if (r >= 0) close((int)r);
    } else if (!strcmp(t, "io_uring_setup")) {
        r = sc(SYS_io_uring_setup, 1, 0, 0, 0, 0, 0);  /* NULL params: EFAULT unless filtered */
    } else if (!strcmp(t, "setuid")) {
        r = sc(SYS_setuid, (long)getuid(), 0, 0, 0, 0, 0);
    } else if (!strcmp(t, "getpid")) {
        r = sc(SYS_getpid, 0, 0, 0, 0, 0, 0);
    } else if (!strcmp(t, "fds")) {  /* the open fds below 1024, e.g. "fds 0,1,2" (fcntl only: no /proc) */
        char list[4096] = "";
        size_t len = 0;
        for (int fd = 0; fd < 1024 && len < sizeof list - 8; fd++)
            if (fcntl(fd, F_GETFD) >= 0) len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", len ? "," : "", fd);
        printf("fds %s\n", len ? list : "none");
        fflush(stdout);
        return 0;
    } else if (!strcmp(t, "int80_getpid")) {
#if defined(__x86_64__)
        long ret;
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");  /* i386 getpid */
        r = ret < 0 && ret > -4096 ? -1 : ret;
        errno = ret < 0 && ret > -4096 ? (int)-ret : 0;
        if (r >= 0 && r != getpid()) { printf("int80_getpid mismatch %ld\n", r); return 1; }
#else
        printf("int80_getpid unsupported\n");
        return 0;
#endif
    } else {
        fprintf(stderr, "sysx: unknown test '%s'\n", t);
        return 2;
    }
    report(t, r, errno);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sysx TEST... | getppid-loop N | raw NR [ARGS...]\n");
        return 2;
    }
    if (!strcmp(argv[1], "getppid-loop")) {
        long n = argc > 2 ? atol(argv[2]) : 1000000;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) syscall(SYS_getppid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
        printf("getppid-loop ns/call=%.1f\n", n > 0 ? ns / (double)n : 0.0);
        return 0;
    }
    if (!strcmp(argv[1], "raw")) {
        if (argc < 3) return 2;
        long nr = strtol(argv[2], NULL, 0), a[6] = {0};
        for (int i = 0; i < 6 && 3 + i < argc; i++) a[i] = strtol(argv[3 + i], NULL, 0);
        long r = sc(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        char name[32];
        snprintf(name, sizeof name, "raw-%ld", nr);
        report(name, r, errno);
        return 0;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (run_test(argv[i]) != 0) rc = 2;
    return rc;
}
