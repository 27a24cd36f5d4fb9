/* /proc and /sys probes: kernel memory, other processes' secrets, firmware, sysctls, sysrq, runtime binaries. */
#include "probe.h"  /* first: it defines _GNU_SOURCE */

#include <ctype.h>
#include <sched.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>


static bool is_null_device(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static void p_read_kcore(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "open and read /proc/kcore";
    int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            /* masked paths that do not exist are not masked: is it absent on the host kernel too? */
            finish(NOT_APPLICABLE, op, e, "this kernel has no /proc/kcore");
        }
        if (refused(e)) finish(BLOCKED, op, e, "cannot open /proc/kcore");
        finish(PROBE_ERROR, op, e, "unexpected error");
    }
    if (is_null_device(fd)) finish(BLOCKED, op, 0, "/proc/kcore is masked (it is /dev/null)");
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    int e = errno;
    close(fd);
    if (n > 0) finish(NOT_BLOCKED, op, 0, "read %zd bytes of kernel memory", n);
    if (n == 0) finish(BLOCKED, op, 0, "/proc/kcore reads as empty (masked)");
    finish(refused(e) ? BLOCKED : PROBE_ERROR, op, e, "read refused");
}

/* Every visible process that lives in another mount namespace than ours is outside the sandbox (the supervisor,
 * the host's init...): try to read its environment, where secrets live. */
static void p_supervisor_environ(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "read /proc/PID/environ of processes outside the sandbox (the supervisor, pid 1)";
    char mine[128] = "";
    ssize_t n = readlink("/proc/self/ns/mnt", mine, sizeof mine - 1);
    if (n > 0) mine[n] = 0;
    DIR *d = opendir("/proc");
    if (!d) finish(BLOCKED, op, errno, "no /proc");
    int outside = 0, refusedn = 0, last = 0;
    struct dirent *de;
    pid_t self = getpid();
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        pid_t pid = atoi(de->d_name);
        if (pid == self) continue;
        char path[64], theirs[128] = "";
        snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
        ssize_t m = readlink(path, theirs, sizeof theirs - 1);
        if (m > 0) theirs[m] = 0;
        if (m > 0 && strcmp(theirs, mine) == 0) continue; /* a process of the sandbox */
        if (m <= 0 && errno == ENOENT) continue;           /* gone, or a kernel thread */
        ++outside;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            char buf[256];
            ssize_t r = read(fd, buf, sizeof buf);
            int e = errno;
            close(fd);
            if (r > 0) {
                closedir(d);
                finish(NOT_BLOCKED, op, 0, "read the environment of pid %d, a process outside the sandbox", (int)pid);
            }
            if (r < 0) last = e;
        } else {
            last = errno;
        }
        ++refusedn;
    }
    closedir(d);
    if (!outside) finish(BLOCKED, op, 0, "no process outside the sandbox is visible (pid namespace)");
    finish(BLOCKED, op, last, "%d processes outside the sandbox are visible, but none of their environments can be read",
           outside);
}

/* The host's pid namespace: kernel threads (kthreadd and its children) are visible only there. A workload
 * that shares it (no pid namespace, or a pid namespace joined after the fact instead of born in) sees every
 * host process in /proc and can signal what it owns there. */
static void p_host_pid_namespace(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "see the host's processes (kernel threads in /proc)";
    /* kthreadd is pid 2, named so, with parent 0, in the host's pid namespace only. (A process whose parent is
     * pid 2 proves nothing by itself: in a shared pod namespace pid 2 is often an ordinary process.) */
    char text[2048], v[64];
    if (read_file("/proc/2/status", text, sizeof text) <= 0 || !status_field(text, "Name", v, sizeof v) ||
        strcmp(v, "kthreadd") != 0 || !status_field(text, "PPid", v, sizeof v) || strcmp(v, "0") != 0)
        finish(BLOCKED, op, 0, "no kernel thread visible: a pid namespace of its own");
    DIR *d = opendir("/proc");
    int kthreads = 1, total = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        ++total;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
        if (read_file(path, text, sizeof text) > 0 && status_field(text, "PPid", v, sizeof v) && !strcmp(v, "2")) ++kthreads;
    }
    if (d) closedir(d);
    finish(NOT_BLOCKED, op, 0, "kthreadd and %d other kernel threads among %d processes: the workload is in the host's pid namespace",
           kthreads - 1, total);
}

static void p_sys_firmware(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "list /sys/firmware";
    DIR *d = opendir("/sys/firmware");
    if (!d) {
        int e = errno;
        finish(BLOCKED, op, e, e == ENOENT ? "no /sys/firmware in the sandbox" : "cannot open /sys/firmware");
    }
    char names[256] = "";
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        ++count;
        if (strlen(names) + strlen(de->d_name) + 3 < sizeof names) {
            if (*names) strcat(names, ", ");
            strcat(names, de->d_name);
        }
    }
    closedir(d);
    if (count) finish(NOT_BLOCKED, op, 0, "firmware tables are visible: %s", names);
    finish(BLOCKED, op, 0, "/sys/firmware is empty (masked)");
}

static void open_for_write(const char *path, const char *what) {
    char op[256];
    snprintf(op, sizeof op, "open(%s, O_WRONLY) (nothing is written)", path);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) finish(NOT_APPLICABLE, op, e, "this kernel has no %s", path);
        if (refused(e)) finish(BLOCKED, op, e, "%s cannot be opened for writing", what);
        finish(PROBE_ERROR, op, e, "unexpected error");
    }
    bool masked = is_null_device(fd);
    close(fd);
    if (masked) finish(BLOCKED, op, 0, "%s is masked (it is /dev/null)", what);
    finish(NOT_BLOCKED, op, 0, "%s is open for writing", what);
}

static void p_write_proc_sys(int argc, char **argv) {
    (void)argc, (void)argv;
    open_for_write("/proc/sys/kernel/core_pattern", "the host-wide core_pattern sysctl");
}

static void p_sysrq_trigger(int argc, char **argv) {
    (void)argc, (void)argv;
    open_for_write("/proc/sysrq-trigger", "the sysrq trigger");
}

/* CVE-2019-5736: overwrite the binary of a running process (runc's own, through /proc/PID/exe). Tries every
 * visible process (hardrun's --init reaper is pid 1 when used), ourselves, and a child running a binary of the
 * image. Opening for writing is enough: nothing is written. */
static int try_exe(pid_t pid, char *what, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    char target[256] = "";
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0) target[n] = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    /* ETXTBSY comes after the permission checks: writable as soon as the process exits */
    if (fd >= 0 || e == ETXTBSY) {
        snprintf(what, size, "pid %d's binary %s is writable%s", (int)pid, target, e == ETXTBSY ? " once it exits (ETXTBSY now)" : "");
        return 0;
    }
    return e;
}

static void p_proc_exe_write(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "open(/proc/PID/exe, O_WRONLY) of every visible process";
    char what[512];
    int last = 0, tried = 0;
    /* a child running a binary of the image (a shell reading a pipe that never delivers) */
    int in[2] = {-1, -1};
    pid_t child = -1;
    static const char *const shells[] = {"/bin/sh", "/usr/bin/sh", "/bin/busybox", NULL};
    for (int i = 0; shells[i] && child < 0; ++i)
        if (access(shells[i], X_OK) == 0 && pipe2(in, O_CLOEXEC) == 0) {
            child = fork();
            if (child == 0) {
                dup2(in[0], 0);
                int devnull = open("/dev/null", O_WRONLY);
                if (devnull >= 0) dup2(devnull, 1), dup2(devnull, 2);
                char *args[] = {(char *)shells[i], strcmp(shells[i], "/bin/busybox") ? NULL : "sh", NULL};
                execve(shells[i], args, environ);
                _exit(127);
            }
            close(in[0]);
            /* wait until it is the shell (its exe changed from ours) */
            char self_exe[256] = "", its[256] = "", path[64];
            ssize_t m = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
            if (m > 0) self_exe[m] = 0;
            snprintf(path, sizeof path, "/proc/%d/exe", (int)child);
            for (int k = 0; k < 100000; ++k) {
                ssize_t q = readlink(path, its, sizeof its - 1);
                if (q > 0) {
                    its[q] = 0;
                    if (strcmp(its, self_exe) != 0) break;
                }
                sched_yield();
            }
        }
    int found = 1;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        ++tried;
        int e = try_exe(atoi(de->d_name), what, sizeof what);
        if (e == 0) {
            found = 0;
            break;
        }
        last = e;
    }
    if (d) closedir(d);
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    if (found == 0) finish(NOT_BLOCKED, op, 0, "%s", what);
    finish(BLOCKED, op, last, "%d process binaries, none writable", tried);
}

const struct probe procfs_probes[] = {
    {"read-kcore", p_read_kcore},
    {"supervisor-environ", p_supervisor_environ},
    {"host-pid-namespace", p_host_pid_namespace},
    {"sys-firmware", p_sys_firmware},
    {"write-proc-sys", p_write_proc_sys},
    {"sysrq-trigger", p_sysrq_trigger},
    {"proc-exe-write", p_proc_exe_write},
    {NULL, NULL},
};
