// TEMPORARY minimal seccomp: a default-allow filter that refuses a few dangerous syscalls.
// The seccomp issue replaces this with profile loading (Docker/OCI formats) and compilation.
#include "hardrun/seccomp.hpp"

#include <seccomp.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>

#include "hardrun/error.hpp"

namespace hardrun::seccomp {

bool Prepared::wants_listener() const { return (load_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0; }

Prepared prepare(const LaunchPlan& plan, Mode) {
    Prepared p;
    if (plan.seccomp.mode == SeccompChoice::Mode::Unconfined) return p;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    for (const char* name : {"mount", "umount2", "unshare", "setns", "keyctl", "ptrace", "bpf", "kexec_load",
                             "perf_event_open", "open_by_handle_at", "init_module", "finit_module"})
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), seccomp_syscall_resolve_name(name), 0);
    int fd = memfd_create("bpf", MFD_CLOEXEC);
    seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    off_t len = lseek(fd, 0, SEEK_END);
    p.program.resize(static_cast<size_t>(len) / sizeof(sock_filter));
    (void)!pread(fd, p.program.data(), static_cast<size_t>(len), 0);
    close(fd);
    p.description = "temporary filter";
    return p;
}

int load(Sys& sys, const Prepared& prepared) {
    if (prepared.program.empty()) return -1;
    sock_fprog prog{static_cast<unsigned short>(prepared.program.size()),
                    const_cast<sock_filter*>(prepared.program.data())};
    int r = sys.seccomp_load(prepared.load_flags, &prog);
    if (r < 0) throw_errno("seccomp", prepared.description, -r);
    return prepared.wants_listener() ? r : -1;
}

}  // namespace hardrun::seccomp
