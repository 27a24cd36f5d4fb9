/* hardrun-probe: the multi-call entry point and the helpers every probe shares. */
#include "probe.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *verdict_name(enum verdict v) {
    switch (v) {
        case BLOCKED: return "blocked";
        case NOT_BLOCKED: return "not-blocked";
        case NOT_APPLICABLE: return "not-applicable";
        default: return "error";
    }
}

static void one_line(const char *s) {
    for (; *s; ++s) putchar(*s == '\n' ? ' ' : *s);
    putchar('\n');
}

void finish(enum verdict v, const char *op, int err, const char *fmt, ...) {
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    printf("result=%s\n", verdict_name(v));
    printf("op=");
    one_line(op);
    if (err) printf("errno=%s\n", errname(err));
    printf("detail=");
    one_line(detail);
    fflush(stdout);
    _exit(v == PROBE_ERROR ? 3 : 0);
}

bool refused(int err) { return err == EPERM || err == EACCES || err == EROFS; }

const char *errname(int err) {
    const char *n = strerrorname_np(err);
    return n ? n : "E?";
}

const char *writable_dir(void) {
    static const char *const dirs[] = {"/tmp", "/dev/shm", "/var/tmp", "/run", "/var/cache", "/home", "/", NULL};
    static char found[64];
    for (int i = 0; dirs[i]; ++i) {
        char path[128];
        snprintf(path, sizeof path, "%s/.hardrun-probe-w%d", strcmp(dirs[i], "/") ? dirs[i] : "", (int)getpid());
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            close(fd);
            unlink(path);
            snprintf(found, sizeof found, "%s", dirs[i]);
            return found;
        }
    }
    return "";
}

long read_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t total = 0;
    while (total + 1 < size) {
        ssize_t n = read(fd, buf + total, size - 1 - total);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0) break;
        total += (size_t)n;
    }
    buf[total] = 0;
    close(fd);
    return (long)total;
}

const char *status_field(const char *text, const char *key, char *out, size_t size) {
    size_t klen = strlen(key);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            p += klen + 1;
            while (*p == ' ' || *p == '\t') ++p;
            size_t n = strcspn(p, "\n");
            if (n >= size) n = size - 1;
            memcpy(out, p, n);
            out[n] = 0;
            return out;
        }
        p = strchr(p, '\n');
        if (p) ++p;
    }
    return NULL;
}

static const struct probe *const tables[] = {fs_probes, privs_probes, ns_probes, procfs_probes,
                                             net_probes, kernel_probes, limits_probes};

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: hardrun-probe NAME [ARG...] | list\n");
        return 2;
    }
    /* helpers some probes exec: a copy of ourselves run from a tmpfs, or through a setuid bit */
    if (strcmp(argv[1], "--noop") == 0) return 42;
    if (strcmp(argv[1], "--version") == 0) {
        puts("hardrun-probe");
        return 0;
    }
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; ++t)
        for (const struct probe *p = tables[t]; p->name; ++p) {
            if (strcmp(argv[1], "list") == 0) puts(p->name);
            else if (strcmp(argv[1], p->name) == 0) {
                setvbuf(stdout, NULL, _IOFBF, 0);
                p->run(argc - 1, argv + 1);
                finish(PROBE_ERROR, p->name, 0, "the probe returned without a verdict");
            }
        }
    if (strcmp(argv[1], "list") == 0) return 0;
    fprintf(stderr, "hardrun-probe: no probe named '%s'\n", argv[1]);
    return 2;
}
