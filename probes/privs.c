/* Privilege probes: setuid binaries, setuid(0), capabilities, ptrace. */
#include "probe.h"  /* first: it defines _GNU_SOURCE */

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


/* Uid/Gid/CapEff/CapPrm lines of a (possibly zombie) process. */
struct creds {
    long uid[4], gid[4];
    unsigned long long capeff, capprm;
};

static int read_creds(const char *status_path, struct creds *c) {
    char text[8192], v[256];
    if (read_file(status_path, text, sizeof text) < 0) return -1;
    if (!status_field(text, "Uid", v, sizeof v) || sscanf(v, "%ld %ld %ld %ld", &c->uid[0], &c->uid[1], &c->uid[2], &c->uid[3]) != 4)
        return -1;
    if (!status_field(text, "Gid", v, sizeof v) || sscanf(v, "%ld %ld %ld %ld", &c->gid[0], &c->gid[1], &c->gid[2], &c->gid[3]) != 4)
        return -1;
    c->capeff = status_field(text, "CapEff", v, sizeof v) ? strtoull(v, NULL, 16) : 0;
    c->capprm = status_field(text, "CapPrm", v, sizeof v) ? strtoull(v, NULL, 16) : 0;
    return 0;
}

static int find_setuid(char *out, size_t size) {
    static const char *const dirs[] = {"/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin", "/usr/bin",
                                       "/usr/sbin", "/usr/libexec", "/usr/lib/openssh", NULL};
    int seen = 0;
    for (int i = 0; dirs[i]; ++i) {
        DIR *d = opendir(dirs[i]);
        if (!d) continue;
        struct dirent *de;
        while ((de = readdir(d)) && seen < 20000) {
            ++seen;
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
            if (((st.st_mode & S_ISUID) && st.st_uid == 0) || ((st.st_mode & S_ISGID) && st.st_gid == 0)) {
                if (st.st_mode & 0111) {
                    snprintf(out, size, "%s/%s", dirs[i], de->d_name);
                    closedir(d);
                    return 0;
                }
            }
        }
        closedir(d);
    }
    return -1;
}

/* Runs a setuid-root binary of the image and reads its credentials as a zombie (before it is reaped). */
static void p_setuid_exec(int argc, char **argv) {
    (void)argc, (void)argv;
    char path[512];
    struct creds me;
    if (read_creds("/proc/self/status", &me) != 0) finish(PROBE_ERROR, "read /proc/self/status", errno, "failed");
    if (find_setuid(path, sizeof path) != 0) {
        char text[8192], v[64];
        const char *op = "execve() of a setuid-root binary";
        long nnp = read_file("/proc/self/status", text, sizeof text) > 0 && status_field(text, "NoNewPrivs", v, sizeof v)
                       ? atol(v) : 0;
        struct statvfs vfs;
        bool nosuid = statvfs("/", &vfs) == 0 && (vfs.f_flag & ST_NOSUID);
        if (nnp) finish(BLOCKED, op, 0, "no setuid-root binary in the image; NoNewPrivs is 1, so one could not raise privileges");
        if (nosuid) finish(BLOCKED, op, 0, "no setuid-root binary in the image; / is mounted nosuid");
        finish(NOT_BLOCKED, op, 0, "no setuid-root binary in the image, but NoNewPrivs is 0 and / allows setuid: one would raise privileges");
    }
    char op[600];
    snprintf(op, sizeof op, "execve(%s) (setuid-root)", path);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        char *args[] = {path, "--version", NULL};
        execve(path, args, environ);
        _exit(127);
    }
    if (pid < 0) finish(PROBE_ERROR, op, errno, "fork");
    siginfo_t si;
    int waited = -1;
    for (int i = 0; i < 500; ++i) { /* up to 5 s, then kill it: the zombie still shows its credentials */
        memset(&si, 0, sizeof si);
        waited = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (waited == 0 && si.si_pid == pid) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!(waited == 0 && si.si_pid == pid)) {
        kill(pid, SIGKILL);
        waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
    }
    char spath[64];
    snprintf(spath, sizeof spath, "/proc/%d/status", (int)pid);
    struct creds it;
    int r = read_creds(spath, &it);
    waitpid(pid, NULL, 0);
    if (r != 0) finish(PROBE_ERROR, op, 0, "could not read the credentials of the setuid process");
    if (si.si_code == CLD_EXITED && si.si_status == 127) finish(PROBE_ERROR, op, 0, "execve failed");
    bool gained = (it.uid[1] == 0 && me.uid[1] != 0) || (it.uid[2] == 0 && me.uid[2] != 0) ||
                  (it.gid[1] == 0 && me.gid[1] != 0) || (it.capeff & ~me.capeff) || (it.capprm & ~me.capprm);
    if (gained)
        finish(NOT_BLOCKED, op, 0, "the setuid process ran with euid %ld, suid %ld, CapEff %llx", it.uid[1], it.uid[2], it.capeff);
    finish(BLOCKED, op, 0, "the setuid process kept euid %ld and no new capability (no_new_privs)", it.uid[1]);
}

static void p_setuid_root(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "setresuid(0, 0, 0)";
    if (getuid() == 0 && geteuid() == 0) finish(NOT_BLOCKED, op, 0, "the process already runs as uid 0");
    if (syscall(SYS_setresuid, 0, 0, 0) == 0) finish(NOT_BLOCKED, op, 0, "became uid 0");
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "cannot become uid 0");
    if (e == EINVAL) finish(BLOCKED, op, e, "uid 0 does not exist in this user namespace");
    finish(PROBE_ERROR, op, e, "unexpected error");
}

static void p_gain_capability(int argc, char **argv) {
    (void)argc, (void)argv;
    char text[8192], v[5][64];
    const char *names[5] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
    if (read_file("/proc/self/status", text, sizeof text) < 0) finish(PROBE_ERROR, "read /proc/self/status", errno, "failed");
    unsigned long long any = 0;
    for (int i = 0; i < 5; ++i) {
        if (!status_field(text, names[i], v[i], sizeof v[i])) strcpy(v[i], "0");
        any |= strtoull(v[i], NULL, 16);
    }
    if (any)
        finish(NOT_BLOCKED, "read the capability sets", 0, "holds capabilities: CapInh %s CapPrm %s CapEff %s CapBnd %s CapAmb %s",
               v[0], v[1], v[2], v[3], v[4]);
    /* try to raise CAP_SYS_ADMIN into the effective and permitted sets, then into the ambient set */
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    data[0].effective = data[0].permitted = 1u << CAP_SYS_ADMIN;
    const char *op = "capset(CAP_SYS_ADMIN), prctl(PR_CAP_AMBIENT_RAISE)";
    if (syscall(SYS_capset, &hdr, data) == 0) finish(NOT_BLOCKED, op, 0, "raised CAP_SYS_ADMIN with capset");
    int e = errno;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) == 0)
        finish(NOT_BLOCKED, op, 0, "raised CAP_SYS_ADMIN into the ambient set");
    if (refused(e)) finish(BLOCKED, op, e, "all five capability sets are empty and none can be raised");
    finish(PROBE_ERROR, op, e, "unexpected error");
}

/* ptrace: first a plain own child (is ptrace(2) usable at all?), then a non-dumpable one, which is what
 * hardrun's --init reaper and privileged daemons are: attaching to it needs CAP_SYS_PTRACE. */
static pid_t idle_child(bool dumpable) {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) finish(PROBE_ERROR, "pipe", errno, "failed");
    pid_t pid = fork();
    if (pid == 0) {
        if (!dumpable) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        (void)!write(ready[1], "r", 1);
        for (;;) pause();
    }
    char c;
    close(ready[1]);
    (void)!read(ready[0], &c, 1);
    close(ready[0]);
    return pid;
}

static int try_attach(pid_t pid) {
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) == 0) {
        waitpid(pid, NULL, __WALL);
        ptrace(PTRACE_DETACH, pid, NULL, NULL);
        return 0;
    }
    return errno;
}

static void p_ptrace(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "ptrace(PTRACE_ATTACH) a non-dumpable process";
    pid_t plain = idle_child(true);
    int e1 = try_attach(plain);
    kill(plain, SIGKILL);
    waitpid(plain, NULL, 0);
    if (e1 != 0 && refused(e1)) finish(BLOCKED, op, e1, "ptrace(2) is refused even for an own child");
    pid_t guarded = idle_child(false);
    int e2 = try_attach(guarded);
    kill(guarded, SIGKILL);
    waitpid(guarded, NULL, 0);
    if (e2 == 0) finish(NOT_BLOCKED, op, 0, "attached to a non-dumpable process");
    if (refused(e2)) finish(BLOCKED, op, e2, "own children can be traced, a non-dumpable process cannot");
    finish(PROBE_ERROR, op, e2, "unexpected error");
}

const struct probe privs_probes[] = {
    {"setuid-exec", p_setuid_exec},
    {"setuid-root", p_setuid_root},
    {"gain-capability", p_gain_capability},
    {"ptrace", p_ptrace},
    {NULL, NULL},
};
