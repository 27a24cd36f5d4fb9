/* hardrun's escape probes: small static programs run inside the sandbox by `hardrun check --probes`.
 *
 * One multi-call binary (hardrun-probe NAME [ARG]) holds every probe, one function each, grouped by topic in
 * fs.c, privs.c, ns.c, procfs.c, net.c, kernel.c and limits.c. Each probe tries one thing an attacker with
 * code execution would try and prints its verdict on stdout as key=value lines:
 *
 *   result=blocked | not-blocked | not-applicable | error
 *   op=mount(2) tmpfs on /tmp
 *   errno=EPERM            (when a syscall failed)
 *   detail=free text
 *
 * A probe never does damage when it is not blocked: it opens for writing without writing, loads an invalid
 * module image, creates and removes its own files, injects into its own pseudo-terminal, and so on.
 */
#ifndef HARDRUN_PROBE_H
#define HARDRUN_PROBE_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

enum verdict { BLOCKED, NOT_BLOCKED, NOT_APPLICABLE, PROBE_ERROR };

/* Prints the verdict and exits 0 (PROBE_ERROR: exits 3). err = 0 when no syscall failed. */
__attribute__((noreturn, format(printf, 4, 5))) void finish(enum verdict v, const char *op, int err,
                                                            const char *fmt, ...);

/* EPERM, EACCES, EROFS: the kernel (or a filter) refused. */
bool refused(int err);
/* A short errno name such as "EPERM". */
const char *errname(int err);
/* First directory of the list that exists and accepts a new file from us ("" if none): /tmp, /dev/shm... */
const char *writable_dir(void);
/* Reads a whole small file into buf (NUL-terminated); returns bytes read or -errno. */
long read_file(const char *path, char *buf, size_t size);
/* The value of a "Key:\tvalue" line of /proc/self/status (or another status file), or NULL. */
const char *status_field(const char *status_text, const char *key, char *out, size_t size);

typedef void (*probe_fn)(int argc, char **argv);
struct probe {
    const char *name;
    probe_fn run;
};

/* Each topic file defines its table; main.c concatenates them. */
extern const struct probe fs_probes[], privs_probes[], ns_probes[], procfs_probes[], net_probes[],
    kernel_probes[], limits_probes[];

#endif
