/* Namespace and mount probes: mount, unshare/clone of namespaces, setns, pivot_root, chroot escape, hostname. */
#include "probe.h"  /* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>


static const char *existing_dir(void) {
    struct stat st;
    if (stat("/tmp", &st) == 0 && S_ISDIR(st.st_mode)) return "/tmp";
    return "/dev";
}

static void p_mount(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *dir = existing_dir();
    char op[128];
    snprintf(op, sizeof op, "mount(2) tmpfs on %s", dir);
    if (mount("hardrun-probe", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k") == 0) {
        umount2(dir, MNT_DETACH);
        finish(NOT_BLOCKED, op, 0, "mounted (and unmounted) a tmpfs");
    }
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "cannot mount");
    finish(NOT_BLOCKED, op, e, "mount(2) reached the filesystem (the permission check passed)");
}

/* In a child, so that a success does not change the probe: 0 = worked, else errno. */
static int in_child_unshare(int flags) {
    pid_t pid = fork();
    if (pid == 0) _exit(unshare(flags) == 0 ? 0 : errno);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

static int clone_newuser(void) {
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid < 0) return errno;
    waitpid(pid, NULL, 0);
    return 0;
}

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* clone3 with one CLONE_NEW* flag: its flags are in memory, so seccomp cannot refuse them; hardrun's profiles
 * answer ENOSYS for every clone3, and a profile that allows it lets the kernel decide. 0 = the namespace was
 * created, else errno. */
static int clone3_ns(unsigned long long flag) {
    unsigned long long args[8] = {0};  /* struct clone_args, CLONE_ARGS_SIZE_VER0 */
    args[0] = flag;                    /* flags */
    args[4] = SIGCHLD;                 /* exit_signal */
    long pid = syscall(435 /* SYS_clone3, one number on every ABI */, args, sizeof args);
    if (pid == 0) _exit(0);
    if (pid < 0) return errno;
    waitpid((pid_t)pid, NULL, 0);
    return 0;
}

static const struct {
    unsigned long long flag;
    const char *name;
} ns_flags[] = {
    {CLONE_NEWUSER, "CLONE_NEWUSER"}, {CLONE_NEWNS, "CLONE_NEWNS"},   {CLONE_NEWPID, "CLONE_NEWPID"},
    {CLONE_NEWNET, "CLONE_NEWNET"},   {CLONE_NEWUTS, "CLONE_NEWUTS"}, {CLONE_NEWIPC, "CLONE_NEWIPC"},
    {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {CLONE_NEWTIME, "CLONE_NEWTIME"},
};

static void p_unshare(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "unshare(CLONE_NEWUSER), unshare(CLONE_NEWNS), clone(CLONE_NEWUSER), clone3(each CLONE_NEW*)";
    int e1 = in_child_unshare(CLONE_NEWUSER);
    if (e1 == 0) finish(NOT_BLOCKED, op, 0, "created a user namespace (full capabilities inside it)");
    int e2 = in_child_unshare(CLONE_NEWNS);
    if (e2 == 0) finish(NOT_BLOCKED, op, 0, "created a mount namespace");
    int e3 = clone_newuser();
    if (e3 == 0) finish(NOT_BLOCKED, op, 0, "clone(CLONE_NEWUSER) created a user namespace");
    for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; ++i)
        if (clone3_ns(ns_flags[i].flag) == 0)
            finish(NOT_BLOCKED, op, 0, "clone3(%s) created a namespace (seccomp cannot see clone3's flags)", ns_flags[i].name);
    if (refused(e1) && refused(e2) && refused(e3))
        finish(BLOCKED, op, e1, "no new namespace (unshare user: %s, mount: %s; clone user: %s; clone3: %s)", errname(e1),
               errname(e2), errname(e3), errname(clone3_ns(CLONE_NEWUSER)));
    /* ENOSPC (max_user_namespaces = 0), EINVAL...: the kernel refused for another reason */
    finish(BLOCKED, op, e1, "no new namespace (unshare user: %s, mount: %s; clone user: %s; clone3: %s)", errname(e1),
           errname(e2), errname(e3), errname(clone3_ns(CLONE_NEWUSER)));
}

static void p_setns(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "setns(2) into /proc/1/ns/mnt and /proc/self/ns/net";
    int fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) {
        int r = setns(fd, CLONE_NEWNS);
        e = r == 0 ? 0 : errno;
        close(fd);
        if (r == 0) finish(NOT_BLOCKED, op, 0, "joined the mount namespace of pid 1");
    }
    fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) finish(refused(e) ? BLOCKED : PROBE_ERROR, op, e, "cannot open a namespace file");
    int r = setns(fd, CLONE_NEWNET);
    int e2 = errno;
    close(fd);
    if (r == 0) finish(NOT_BLOCKED, op, 0, "setns(2) is allowed (joined the own network namespace)");
    if (refused(e2)) finish(BLOCKED, op, e2, "cannot join a namespace");
    finish(NOT_BLOCKED, op, e2, "setns(2) passed the permission check");
}

static void p_pivot_root(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "pivot_root(\".\", \".\") in /";
    if (chdir("/") != 0) finish(PROBE_ERROR, op, errno, "chdir /");
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        umount2(".", MNT_DETACH);
        finish(NOT_BLOCKED, op, 0, "pivot_root worked");
    }
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "cannot pivot_root");
    finish(NOT_BLOCKED, op, e, "pivot_root passed the permission check");
}

/* The classic escape: chroot into a subdirectory while the working directory stays outside, climb "..", then
 * chroot(".") there. Under pivot_root the climb ends at the sandbox's own root. */
static void p_chroot_escape(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "chroot(subdir), chdir(\"..\") x64, chroot(\".\")";
    struct stat before, after;
    if (stat("/", &before) != 0) finish(PROBE_ERROR, op, errno, "stat /");
    const char *dir = existing_dir();
    if (chdir("/") != 0) finish(PROBE_ERROR, op, errno, "chdir /");
    if (chroot(dir) != 0) {
        int e = errno;
        if (refused(e)) finish(BLOCKED, op, e, "chroot refused");
        finish(PROBE_ERROR, op, e, "chroot %s", dir);
    }
    for (int i = 0; i < 64; ++i)
        if (chdir("..") != 0) break;
    if (chroot(".") != 0) finish(PROBE_ERROR, op, errno, "second chroot");
    if (stat("/", &after) != 0) finish(PROBE_ERROR, op, errno, "stat / after");
    if (after.st_dev != before.st_dev || after.st_ino != before.st_ino)
        finish(NOT_BLOCKED, op, 0, "escaped: / is now a directory above the original root");
    finish(BLOCKED, op, 0, "chroot works, but the climb ends at the sandbox's own root (pivot_root, not chroot)");
}

static void p_hostname(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "sethostname(2) (to the current name)";
    char name[256];
    if (gethostname(name, sizeof name) != 0) finish(PROBE_ERROR, op, errno, "gethostname");
    if (sethostname(name, strlen(name)) == 0) finish(NOT_BLOCKED, op, 0, "the host name can be changed");
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "cannot change the host name");
    finish(PROBE_ERROR, op, e, "unexpected error");
}

const struct probe ns_probes[] = {
    {"mount", p_mount},
    {"unshare", p_unshare},
    {"setns", p_setns},
    {"pivot-root", p_pivot_root},
    {"chroot-escape", p_chroot_escape},
    {"hostname", p_hostname},
    {NULL, NULL},
};
