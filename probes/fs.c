/* Filesystem probes: write the image, run a dropped binary, create a device node, use a leaked fd. */
#include "probe.h"  /* first: it defines _GNU_SOURCE */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>


static void write_into(const char *dir) {
    char path[256], op[300];
    snprintf(path, sizeof path, "%s/.hardrun-probe-%d", strcmp(dir, "/") ? dir : "", (int)getpid());
    snprintf(op, sizeof op, "open(%s, O_CREAT|O_WRONLY)", path);
    struct stat st;
    if (stat(dir, &st) != 0) finish(NOT_APPLICABLE, op, errno, "%s does not exist in the image", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        close(fd);
        unlink(path);
        finish(NOT_BLOCKED, op, 0, "created (and removed) a file in %s", dir);
    }
    int e = errno;
    if (refused(e)) finish(BLOCKED, op, e, "%s cannot be written", dir);
    finish(PROBE_ERROR, op, e, "unexpected error");
}

static void p_write_root(int argc, char **argv) { (void)argc, (void)argv; write_into("/"); }
static void p_write_etc(int argc, char **argv) { (void)argc, (void)argv; write_into("/etc"); }
static void p_write_usr(int argc, char **argv) { (void)argc, (void)argv; write_into("/usr"); }

/* Copies our own binary into every writable directory we find and tries to run it. */
static int copy_self(const char *dst) {
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0700);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int ok = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            ok = -1;
            break;
        }
    if (n < 0) ok = -1;
    close(in);
    if (close(out) != 0) ok = -1;
    if (ok != 0) unlink(dst);
    return ok;
}

/* The directories to try: the usual writable places, then every mount point of the sandbox (a volume or tmpfs
 * anywhere, e.g. /data), as mountinfo lists them (octal escapes decoded), but /proc and /sys. */
#define MAX_DIRS 96
static int exec_dirs(char dirs[][256]) {
    static const char *const usual[] = {"/tmp", "/dev/shm", "/var/tmp", "/run", "/var/cache", "/var/log", "/home", "/", NULL};
    int n = 0;
    for (int i = 0; usual[i]; ++i) snprintf(dirs[n++], 256, "%s", usual[i]);
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    if (!mi) return n;
    char line[4096];
    while (n < MAX_DIRS && fgets(line, sizeof line, mi)) {
        /* id parent major:minor root MOUNTPOINT ... */
        char *f = line;
        for (int k = 0; k < 4 && f; ++k) f = strchr(f, ' ') ? strchr(f, ' ') + 1 : NULL;
        if (!f) continue;
        char mp[256];
        size_t j = 0;
        for (; *f && *f != ' ' && j + 1 < sizeof mp; ++f) {
            if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' && f[2] && f[3]) {
                mp[j++] = (char)(((f[1] - '0') << 6) | ((f[2] - '0') << 3) | (f[3] - '0'));
                f += 3;
            } else {
                mp[j++] = *f;
            }
        }
        mp[j] = '\0';
        if (!strncmp(mp, "/proc", 5) || !strncmp(mp, "/sys", 4)) continue;
        int seen = 0;
        for (int i = 0; i < n && !seen; ++i) seen = !strcmp(dirs[i], mp);
        if (!seen) snprintf(dirs[n++], 256, "%s", mp);
    }
    fclose(mi);
    return n;
}

static void p_exec_noexec(int argc, char **argv) {
    (void)argc, (void)argv;
    static char dirs[MAX_DIRS][256];
    const int ndirs = exec_dirs(dirs);
    const char *op = "execve() of a binary copied into a writable directory";
    char tried[1024] = "";
    int last = 0;
    for (int i = 0; i < ndirs; ++i) {
        char path[300];
        snprintf(path, sizeof path, "%.255s/.hardrun-probe-x%d", strcmp(dirs[i], "/") ? dirs[i] : "", (int)getpid());
        if (copy_self(path) != 0) continue;
        pid_t pid = fork();
        if (pid == 0) {
            char *args[] = {path, "--noop", NULL};
            execve(path, args, environ);
            _exit(100 + (errno & 0x1f));
        }
        int status = 0;
        waitpid(pid, &status, 0);
        unlink(path);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 42)
            finish(NOT_BLOCKED, op, 0, "dropped a binary into %s and ran it", dirs[i]);
        last = WIFEXITED(status) && WEXITSTATUS(status) >= 100 ? WEXITSTATUS(status) - 100 : 0;
        if (strlen(tried) + strlen(dirs[i]) + 3 < sizeof tried) {
            if (*tried) strcat(tried, ", ");
            strcat(tried, dirs[i]);
        }
    }
    if (!*tried) finish(BLOCKED, op, 0, "no directory accepts a new file");
    finish(BLOCKED, op, last ? last : EACCES, "every writable directory refuses exec (noexec): %s", tried);
}

/* A device node: mknod needs CAP_MKNOD, opening it needs a mount without nodev. Uses the null device. */
static void p_mknod_device(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *dir = writable_dir();
    const char *op = "mknod(c 1:3) in a writable directory and open it";
    if (!*dir) finish(BLOCKED, op, 0, "no directory accepts a new file");
    char path[128];
    snprintf(path, sizeof path, "%s/.hardrun-probe-dev%d", strcmp(dir, "/") ? dir : "", (int)getpid());
    if (mknod(path, S_IFCHR | 0600, makedev(1, 3)) != 0) {
        int e = errno;
        if (refused(e)) finish(BLOCKED, op, e, "mknod in %s refused", dir);
        finish(PROBE_ERROR, op, e, "mknod in %s", dir);
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    int e = errno;
    unlink(path);
    if (fd >= 0) {
        close(fd);
        finish(NOT_BLOCKED, op, 0, "created and opened a device node in %s", dir);
    }
    if (refused(e)) finish(BLOCKED, op, e, "the node was created in %s but cannot be opened (nodev)", dir);
    finish(PROBE_ERROR, op, e, "open of the node in %s", dir);
}

/* hardrun's own device mounts: devpts, a bind of one host device node (/dev/null, its masks...). */
static int device_mount(const char *point, const char *fstype) {
    struct stat st;
    if (!strcmp(fstype, "devpts")) return 1;
    return stat(point, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode));
}

/* Walks one filesystem from dir (not crossing into other mounts), trying to open every device node found;
 * returns 1 and names the node when one opens. Bounded: at most *budget entries in all. */
static int open_a_node(const char *dir, dev_t fs, int depth, long *budget, char *found, size_t size) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int hit = 0;
    while (!hit && (e = readdir(d)) && --*budget > 0) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || st.st_dev != fs) continue;
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);  /* opened, never read */
            if (fd >= 0) {
                close(fd);
                snprintf(found, size, "%s (%s %u:%u)", path, S_ISBLK(st.st_mode) ? "block" : "char",
                         major(st.st_rdev), minor(st.st_rdev));
                hit = 1;
            }
        } else if (S_ISDIR(st.st_mode) && depth < 6) {
            hit = open_a_node(path, fs, depth + 1, budget, found, size);
        }
    }
    closedir(d);
    return hit;
}

/* A device node shipped in the image or a volume: every mount but hardrun's own device mounts must be nodev,
 * so no such node opens. Tries the nodes it finds, then names any mount that would let one work. */
static void p_image_device(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "open(2) of a device node in the image or a volume";
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    if (!mi) finish(NOT_APPLICABLE, op, errno, "no /proc/self/mountinfo");
    char line[4096], open_mount[1100] = "", found[4200] = "";
    long budget = 200000;
    int opened = 0;
    while (fgets(line, sizeof line, mi)) {
        char point[1024], opts[512], fstype[64];
        /* id parent major:minor root point options [optional fields...] - fstype source superoptions */
        if (sscanf(line, "%*s %*s %*s %*s %1023s %511s", point, opts) != 2) continue;
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(dash + 3, "%63s", fstype) != 1) continue;
        if (!strncmp(point, "/proc", 5) || !strncmp(point, "/sys", 4) || device_mount(point, fstype)) continue;
        char *tok, *save, o[512];
        snprintf(o, sizeof o, "%s", opts);
        int nodev = 0;
        for (tok = strtok_r(o, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) nodev |= !strcmp(tok, "nodev");
        if (nodev) continue;
        if (!*open_mount) snprintf(open_mount, sizeof open_mount, "%s (%s)", point, fstype);
        struct stat st;
        if (!opened && stat(point, &st) == 0 && S_ISDIR(st.st_mode))
            opened = open_a_node(point, st.st_dev, 0, &budget, found, sizeof found);
    }
    fclose(mi);
    if (opened) finish(NOT_BLOCKED, op, 0, "opened %s", found);
    if (*open_mount) finish(NOT_BLOCKED, op, 0, "%s is mounted without nodev: a device node there would open", open_mount);
    finish(BLOCKED, op, EACCES, "every mount but hardrun's own device mounts is nodev");
}

/* Leaky Vessels (CVE-2024-21626): an inherited fd or working directory that points outside the root. */
static void p_host_fd(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *op = "use an inherited fd or working directory outside the root";
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/')
        finish(NOT_BLOCKED, op, 0, "the working directory is outside the root");
    DIR *d = opendir("/proc/self/fd");
    if (!d) finish(NOT_APPLICABLE, op, errno, "no /proc/self/fd");
    int found = 0;
    char leaks[1024] = "";
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        if (de->d_name[0] == '.' || fd == dirfd(d)) continue;
        struct stat st;
        if (fstat(fd, &st) != 0) continue;
        char link[64], target[512];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        /* a directory fd (at any number) or any other file beyond stdio (sockets are deliberate: LISTEN_FDS) */
        if (S_ISDIR(st.st_mode) || (fd > 2 && !S_ISSOCK(st.st_mode))) {
            ++found;
            char one[600];
            snprintf(one, sizeof one, "%sfd %d -> %s", *leaks ? ", " : "", fd, target);
            if (strlen(leaks) + strlen(one) < sizeof leaks) strcat(leaks, one);
        }
    }
    closedir(d);
    if (found) finish(NOT_BLOCKED, op, 0, "inherited: %s", leaks);
    finish(BLOCKED, op, 0, "only stdin/stdout/stderr (and sockets) are open; the working directory %s is inside the root",
           cwd);
}

const struct probe fs_probes[] = {
    {"write-root", p_write_root},
    {"write-etc", p_write_etc},
    {"write-usr", p_write_usr},
    {"exec-noexec-tmpfs", p_exec_noexec},
    {"mknod-device", p_mknod_device},
    {"image-device", p_image_device},
    {"host-fd", p_host_fd},
    {NULL, NULL},
};
