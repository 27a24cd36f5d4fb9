/* Kernel attack-surface probes: modules, keyrings, bpf, perf, userfaultfd, io_uring, TIOCSTI, file handles,
 * the kernel log, I/O ports. Each only checks that the door opens; nothing is done through it. */
#include "probe.h"  /* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <sys/io.h>
#define HAVE_IOPERM 1
#endif
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>


#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* result of a syscall that returns an fd or 0 on success */
static void fd_result(long r, const char *op, const char *what) {
    if (r >= 0) {
        if (r > 2) close((int)r);
        finish(NOT_BLOCKED, op, 0, "%s", what);
    }
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "refused");
    if (e == ENOSYS) finish(BLOCKED, op, e, "not available (ENOSYS)");
    finish(NOT_BLOCKED, op, e, "the call passed the permission check");
}

/* An invalid module image: the kernel rejects it after the permission checks, so a reply other than
 * EPERM means a real module would load. */
static void p_load_module(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "init_module(2) with an invalid image";
    static char image[64];
    if (syscall(SYS_init_module, image, sizeof image, "") == 0) finish(NOT_BLOCKED, op, 0, "module loaded?!");
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "module loading refused");
    if (e == ENOSYS) {
        struct stat st;
        if (stat("/proc/modules", &st) != 0 && errno == ENOENT)
            finish(NOT_APPLICABLE, op, e, "this kernel has no module support");
        finish(BLOCKED, op, e, "init_module(2) is filtered (ENOSYS)");
    }
    finish(NOT_BLOCKED, op, e, "the kernel parsed the image: a valid module would load");
}

static void p_keyctl(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "add_key(2) \"user\" key, keyctl(KEYCTL_JOIN_SESSION_KEYRING)";
    long k = syscall(SYS_add_key, "user", "hardrun-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
    if (k >= 0) finish(NOT_BLOCKED, op, 0, "added a key to the process keyring");
    int e = errno;
    long s = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "hardrun-probe");
    if (s >= 0) finish(NOT_BLOCKED, op, 0, "joined a new session keyring");
    if (refused(e) || e == ENOSYS) finish(BLOCKED, op, e, "the kernel keyrings are unreachable");
    finish(NOT_BLOCKED, op, e, "add_key passed the permission check");
}

static void p_bpf(int argc, char **argv) {
    (void)argc, (void)argv;
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    fd_result(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr), "bpf(BPF_MAP_CREATE)", "created a BPF map");
}

static void p_perf_event_open(int argc, char **argv) {
    (void)argc, (void)argv;
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.disabled = 1;
    fd_result(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0), "perf_event_open(2) on itself",
              "opened a perf event");
}

static void p_userfaultfd(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "userfaultfd(2) (with and without UFFD_USER_MODE_ONLY)";
    long r = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
    if (r >= 0) {
        close((int)r);
        finish(NOT_BLOCKED, op, 0, "created a user-mode userfaultfd");
    }
    int e = errno;
    r = syscall(SYS_userfaultfd, O_CLOEXEC);
    if (r >= 0) {
        close((int)r);
        finish(NOT_BLOCKED, op, 0, "created a userfaultfd");
    }
    if (refused(e) || e == ENOSYS) finish(BLOCKED, op, e, "refused");
    finish(NOT_BLOCKED, op, e, "userfaultfd passed the permission check");
}

static void p_io_uring(int argc, char **argv) {
    (void)argc, (void)argv;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    fd_result(syscall(SYS_io_uring_setup, 1, &p), "io_uring_setup(2)", "created an io_uring instance");
}

/* TIOCSTI into a terminal that is not our controlling one (the user's shell, in the attack): done on a private
 * pseudo-terminal of our own, where the same check applies, so nothing reaches a real terminal. */
static void p_tiocsti(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "ioctl(TIOCSTI) on a terminal that is not the controlling one";
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) finish(BLOCKED, op, errno, "no pseudo-terminal can be opened (/dev/ptmx)");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) != 0) finish(PROBE_ERROR, op, errno, "unlockpt");
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) finish(PROBE_ERROR, op, errno, "TIOCGPTPEER");
    char c = '\n';
    int r = ioctl(slave, TIOCSTI, &c);
    int e = errno;
    close(slave);
    close(master);
    if (r == 0) finish(NOT_BLOCKED, op, 0, "injected input into a terminal");
    if (refused(e) || e == EIO) finish(BLOCKED, op, e, "input injection refused");
    finish(PROBE_ERROR, op, e, "unexpected error");
}

/* The "shocker" escape: open_by_handle_at() reaches any inode of a filesystem, ignoring the mount tree. */
static void p_open_by_handle(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "name_to_handle_at(/) + open_by_handle_at()";
    char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    struct file_handle *fh = (struct file_handle *)buf;
    static const char *const paths[] = {"/", "/tmp", "/dev", NULL};
    int mount_id = 0, got = -1;
    const char *used = "/";
    for (int i = 0; paths[i] && got != 0; ++i) {
        fh->handle_bytes = MAX_HANDLE_SZ;
        got = name_to_handle_at(AT_FDCWD, paths[i], fh, &mount_id, 0);
        used = paths[i];
    }
    if (got != 0) { /* no exportable filesystem: a made-up handle still meets the permission check first */
        fh->handle_bytes = 8;
        fh->handle_type = 1;
        memset(fh->f_handle, 0, 8);
        used = "/";
    }
    int mfd = open(used, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long r = open_by_handle_at(mfd, fh, O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (mfd >= 0) close(mfd);
    if (r >= 0) {
        close((int)r);
        finish(NOT_BLOCKED, op, 0, "opened an inode by its handle");
    }
    if (refused(e) || e == ENOSYS) finish(BLOCKED, op, e, "refused");
    finish(NOT_BLOCKED, op, e, "open_by_handle_at passed the permission check");
}

static void p_kernel_log(int argc, char **argv) {
    (void)argc, (void)argv;
    char buf[128];
    int r = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof buf);
    if (r >= 0) finish(NOT_BLOCKED, "syslog(SYSLOG_ACTION_READ_ALL)", 0, "read the kernel log");
    int e = errno;
    if (refused(e) || e == ENOSYS) finish(BLOCKED, "syslog(SYSLOG_ACTION_READ_ALL)", e, "refused");
    finish(PROBE_ERROR, "syslog(SYSLOG_ACTION_READ_ALL)", e, "unexpected error");
}

static void p_ioperm(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "ioperm(0x80, 1, 1) (no I/O is done)";
#ifndef HAVE_IOPERM
    finish(NOT_APPLICABLE, op, 0, "this architecture has no I/O ports");
#else
    if (ioperm(0x80, 1, 1) == 0) {
        ioperm(0x80, 1, 0);
        finish(NOT_BLOCKED, op, 0, "got access to an I/O port");
    }
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "refused");
    if (e == ENOSYS) finish(NOT_APPLICABLE, op, e, "this kernel has no ioperm(2) (CONFIG_X86_IOPL_IOPERM is off)");
    finish(PROBE_ERROR, op, e, "unexpected error");
#endif
}

const struct probe kernel_probes[] = {
    {"load-module", p_load_module},
    {"keyctl", p_keyctl},
    {"bpf", p_bpf},
    {"perf-event-open", p_perf_event_open},
    {"userfaultfd", p_userfaultfd},
    {"io-uring", p_io_uring},
    {"tiocsti", p_tiocsti},
    {"open-by-handle", p_open_by_handle},
    {"kernel-log", p_kernel_log},
    {"ioperm", p_ioperm},
    {NULL, NULL},
};
