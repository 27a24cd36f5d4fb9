// How wide the kernel reads each syscall argument: seccomp hands the filter whole 64-bit registers, but an
// `int`/`unsigned int` argument is only its low 32 bits to the kernel (a `umode_t` its low 16), so a rule on
// such an argument must compare those bits only (seccomp_compile.cpp narrows it). See seccomp_profile.hpp.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::seccomp {

namespace {

// One letter per argument, from the kernel's SYSCALL_DEFINE (include/linux/syscalls.h, and arch/x86 for
// mmap, arch_prctl, modify_ldt, iopl, ioperm): 'l' the whole register (long, unsigned long, size_t, loff_t,
// off_t, u64, pointers), 'i' 32 bits (int, unsigned int, u32, s32, pid_t, uid_t, gid_t, key_t, key_serial_t,
// clockid_t, timer_t, mqd_t, qid_t, rwf_t, an enum), 'h' 16 bits (umode_t). "" takes no arguments. Arguments past
// the signature are not read by the kernel at all and compare as written (64 bits). Sorted by name.
struct Signature {
    std::string_view name;
    std::string_view args;
};
constexpr Signature kSignatures[] = {
    {"_sysctl", "l"},
    {"accept", "ill"},
    {"accept4", "illi"},
    {"access", "li"},
    {"acct", "l"},
    {"add_key", "lllli"},
    {"adjtimex", "l"},
    {"afs_syscall", ""},
    {"alarm", "i"},
    {"arch_prctl", "il"},
    {"arm_fadvise64_64", "iill"},
    {"bind", "ili"},
    {"bpf", "ili"},
    {"brk", "l"},
    {"cachestat", "illi"},
    {"capget", "ll"},
    {"capset", "ll"},
    {"chdir", "l"},
    {"chmod", "lh"},
    {"chown", "lii"},
    {"chroot", "l"},
    {"clock_adjtime", "il"},
    {"clock_getres", "il"},
    {"clock_gettime", "il"},
    {"clock_nanosleep", "iill"},
    {"clock_settime", "il"},
    {"clone", "lllll"},
    {"clone3", "ll"},
    {"close", "i"},
    {"close_range", "iii"},
    {"connect", "ili"},
    {"copy_file_range", "ililli"},
    {"creat", "lh"},
    {"create_module", ""},
    {"delete_module", "li"},
    {"dup", "i"},
    {"dup2", "ii"},
    {"dup3", "iii"},
    {"epoll_create", "i"},
    {"epoll_create1", "i"},
    {"epoll_ctl", "iiil"},
    {"epoll_ctl_old", ""},
    {"epoll_pwait", "iliill"},
    {"epoll_pwait2", "ililll"},
    {"epoll_wait", "ilii"},
    {"epoll_wait_old", ""},
    {"eventfd", "i"},
    {"eventfd2", "ii"},
    {"execve", "lll"},
    {"execveat", "illli"},
    {"exit", "i"},
    {"exit_group", "i"},
    {"faccessat", "ili"},
    {"faccessat2", "ilii"},
    {"fadvise64", "illi"},
    {"fadvise64_64", "illi"},
    {"fallocate", "iill"},
    {"fanotify_init", "ii"},
    {"fanotify_mark", "iilil"},
    {"fchdir", "i"},
    {"fchmod", "ih"},
    {"fchmodat", "ilh"},
    {"fchmodat2", "ilhi"},
    {"fchown", "iii"},
    {"fchownat", "iliii"},
    {"fcntl", "iil"},
    {"fdatasync", "i"},
    {"fgetxattr", "illl"},
    {"file_getattr", "illli"},
    {"file_setattr", "illli"},
    {"finit_module", "ili"},
    {"flistxattr", "ill"},
    {"flock", "ii"},
    {"fork", ""},
    {"fremovexattr", "il"},
    {"fsconfig", "iilli"},
    {"fsetxattr", "illli"},
    {"fsmount", "iii"},
    {"fsopen", "li"},
    {"fspick", "ili"},
    {"fstat", "il"},
    {"fstatfs", "il"},
    {"fsync", "i"},
    {"ftruncate", "il"},
    {"futex", "liilli"},
    {"futex_requeue", "liii"},
    {"futex_wait", "lllili"},
    {"futex_waitv", "liili"},
    {"futex_wake", "llii"},
    {"futimesat", "ill"},
    {"get_kernel_syms", ""},
    {"get_mempolicy", "lllll"},
    {"get_robust_list", "ill"},
    {"get_thread_area", "l"},
    {"getcpu", "lll"},
    {"getcwd", "ll"},
    {"getdents", "ili"},
    {"getdents64", "ili"},
    {"getegid", ""},
    {"geteuid", ""},
    {"getgid", ""},
    {"getgroups", "il"},
    {"getitimer", "il"},
    {"getpeername", "ill"},
    {"getpgid", "i"},
    {"getpgrp", ""},
    {"getpid", ""},
    {"getpmsg", ""},
    {"getppid", ""},
    {"getpriority", "ii"},
    {"getrandom", "lli"},
    {"getresgid", "lll"},
    {"getresuid", "lll"},
    {"getrlimit", "il"},
    {"getrusage", "il"},
    {"getsid", "i"},
    {"getsockname", "ill"},
    {"getsockopt", "iiill"},
    {"gettid", ""},
    {"gettimeofday", "ll"},
    {"getuid", ""},
    {"getxattr", "llll"},
    {"getxattrat", "ililll"},
    {"init_module", "lll"},
    {"inotify_add_watch", "ili"},
    {"inotify_init", ""},
    {"inotify_init1", "i"},
    {"inotify_rm_watch", "ii"},
    {"io_cancel", "lll"},
    {"io_destroy", "l"},
    {"io_getevents", "lllll"},
    {"io_pgetevents", "llllll"},
    {"io_setup", "il"},
    {"io_submit", "lll"},
    {"io_uring_enter", "iiiill"},
    {"io_uring_register", "iili"},
    {"io_uring_setup", "il"},
    {"ioctl", "iil"},
    {"ioperm", "lli"},
    {"iopl", "i"},
    {"ioprio_get", "ii"},
    {"ioprio_set", "iii"},
    {"kcmp", "iiill"},
    {"kexec_file_load", "iilll"},
    {"kexec_load", "llll"},
    {"keyctl", "illll"},
    {"kill", "ii"},
    {"landlock_add_rule", "iili"},
    {"landlock_create_ruleset", "lli"},
    {"landlock_restrict_self", "ii"},
    {"lchown", "lii"},
    {"lgetxattr", "llll"},
    {"link", "ll"},
    {"linkat", "ilili"},
    {"listen", "ii"},
    {"listmount", "llli"},
    {"listns", "llli"},
    {"listxattr", "lll"},
    {"listxattrat", "ilill"},
    {"llistxattr", "lll"},
    {"lookup_dcookie", "lll"},
    {"lremovexattr", "ll"},
    {"lseek", "ili"},
    {"lsetxattr", "lllli"},
    {"lsm_get_self_attr", "illi"},
    {"lsm_list_modules", "lli"},
    {"lsm_set_self_attr", "ilii"},
    {"lstat", "ll"},
    {"madvise", "lli"},
    {"map_shadow_stack", "lli"},
    {"mbind", "llllli"},
    {"membarrier", "iii"},
    {"memfd_create", "li"},
    {"memfd_secret", "i"},
    {"migrate_pages", "illl"},
    {"mincore", "lll"},
    {"mkdir", "lh"},
    {"mkdirat", "ilh"},
    {"mknod", "lhi"},
    {"mknodat", "ilhi"},
    {"mlock", "ll"},
    {"mlock2", "lli"},
    {"mlockall", "i"},
    {"mmap", "llllll"},
    {"modify_ldt", "ill"},
    {"mount", "lllll"},
    {"mount_setattr", "ilill"},
    {"move_mount", "ilili"},
    {"move_pages", "illlli"},
    {"mprotect", "lll"},
    {"mq_getsetattr", "ill"},
    {"mq_notify", "il"},
    {"mq_open", "lihl"},
    {"mq_timedreceive", "illll"},
    {"mq_timedsend", "illil"},
    {"mq_unlink", "l"},
    {"mremap", "lllll"},
    {"mseal", "lll"},
    {"msgctl", "iil"},
    {"msgget", "ii"},
    {"msgrcv", "illli"},
    {"msgsnd", "illi"},
    {"msync", "lli"},
    {"munlock", "ll"},
    {"munlockall", ""},
    {"munmap", "ll"},
    {"name_to_handle_at", "illli"},
    {"nanosleep", "ll"},
    {"newfstatat", "illi"},
    {"nfsservctl", ""},
    {"open", "lih"},
    {"open_by_handle_at", "ili"},
    {"open_tree", "ili"},
    {"open_tree_attr", "ilill"},
    {"openat", "ilih"},
    {"openat2", "illl"},
    {"pause", ""},
    {"perf_event_open", "liiil"},
    {"personality", "i"},
    {"pidfd_getfd", "iii"},
    {"pidfd_open", "ii"},
    {"pidfd_send_signal", "iili"},
    {"pipe", "l"},
    {"pipe2", "li"},
    {"pivot_root", "ll"},
    {"pkey_alloc", "ll"},
    {"pkey_free", "i"},
    {"pkey_mprotect", "llli"},
    {"poll", "lii"},
    {"ppoll", "lilll"},
    {"prctl", "illll"},
    {"pread64", "illl"},
    {"preadv", "lllll"},
    {"preadv2", "llllli"},
    {"prlimit64", "iill"},
    {"process_madvise", "illii"},
    {"process_mrelease", "ii"},
    {"process_vm_readv", "illlll"},
    {"process_vm_writev", "illlll"},
    {"pselect6", "illlll"},
    {"ptrace", "llll"},
    {"putpmsg", ""},
    {"pwrite64", "illl"},
    {"pwritev", "lllll"},
    {"pwritev2", "llllli"},
    {"query_module", ""},
    {"quotactl", "ilil"},
    {"quotactl_fd", "iiil"},
    {"read", "ill"},
    {"readahead", "ill"},
    {"readlink", "lli"},
    {"readlinkat", "illi"},
    {"readv", "lll"},
    {"reboot", "iiil"},
    {"recvfrom", "illill"},
    {"recvmmsg", "iliil"},
    {"recvmsg", "ili"},
    {"remap_file_pages", "lllll"},
    {"removexattr", "ll"},
    {"removexattrat", "ilil"},
    {"rename", "ll"},
    {"renameat", "ilil"},
    {"renameat2", "ilili"},
    {"request_key", "llli"},
    {"restart_syscall", ""},
    {"riscv_flush_icache", "lll"},
    {"riscv_hwprobe", "lllli"},
    {"rmdir", "l"},
    {"rseq", "liii"},
    {"rt_sigaction", "illl"},
    {"rt_sigpending", "ll"},
    {"rt_sigprocmask", "illl"},
    {"rt_sigqueueinfo", "iil"},
    {"rt_sigreturn", ""},
    {"rt_sigsuspend", "ll"},
    {"rt_sigtimedwait", "llll"},
    {"rt_tgsigqueueinfo", "iiil"},
    {"sched_get_priority_max", "i"},
    {"sched_get_priority_min", "i"},
    {"sched_getaffinity", "iil"},
    {"sched_getattr", "ilii"},
    {"sched_getparam", "il"},
    {"sched_getscheduler", "i"},
    {"sched_rr_get_interval", "il"},
    {"sched_setaffinity", "iil"},
    {"sched_setattr", "ili"},
    {"sched_setparam", "il"},
    {"sched_setscheduler", "iil"},
    {"sched_yield", ""},
    {"seccomp", "iil"},
    {"security", ""},
    {"select", "illll"},
    {"semctl", "iiil"},
    {"semget", "iii"},
    {"semop", "ili"},
    {"semtimedop", "ilil"},
    {"sendfile", "iill"},
    {"sendmmsg", "ilii"},
    {"sendmsg", "ili"},
    {"sendto", "illili"},
    {"set_mempolicy", "ill"},
    {"set_mempolicy_home_node", "llll"},
    {"set_robust_list", "ll"},
    {"set_thread_area", "l"},
    {"set_tid_address", "l"},
    {"setdomainname", "li"},
    {"setfsgid", "i"},
    {"setfsuid", "i"},
    {"setgid", "i"},
    {"setgroups", "il"},
    {"sethostname", "li"},
    {"setitimer", "ill"},
    {"setns", "ii"},
    {"setpgid", "ii"},
    {"setpriority", "iii"},
    {"setregid", "ii"},
    {"setresgid", "iii"},
    {"setresuid", "iii"},
    {"setreuid", "ii"},
    {"setrlimit", "il"},
    {"setsid", ""},
    {"setsockopt", "iiili"},
    {"settimeofday", "ll"},
    {"setuid", "i"},
    {"setxattr", "lllli"},
    {"setxattrat", "ililll"},
    {"shmat", "ili"},
    {"shmctl", "iil"},
    {"shmdt", "l"},
    {"shmget", "ili"},
    {"shutdown", "ii"},
    {"sigaltstack", "ll"},
    {"signalfd", "ill"},
    {"signalfd4", "illi"},
    {"socket", "iii"},
    {"socketpair", "iiil"},
    {"splice", "ililli"},
    {"stat", "ll"},
    {"statfs", "ll"},
    {"statmount", "llli"},
    {"statx", "iliil"},
    {"swapoff", "l"},
    {"swapon", "li"},
    {"symlink", "ll"},
    {"symlinkat", "lil"},
    {"sync", ""},
    {"sync_file_range", "illi"},
    {"sync_file_range2", "iill"},
    {"syncfs", "i"},
    {"sysfs", "ill"},
    {"sysinfo", "l"},
    {"syslog", "ili"},
    {"tee", "iili"},
    {"tgkill", "iii"},
    {"time", "l"},
    {"timer_create", "ill"},
    {"timer_delete", "i"},
    {"timer_getoverrun", "i"},
    {"timer_gettime", "il"},
    {"timer_settime", "iill"},
    {"timerfd_create", "ii"},
    {"timerfd_gettime", "il"},
    {"timerfd_settime", "iill"},
    {"times", "l"},
    {"tkill", "ii"},
    {"truncate", "ll"},
    {"tuxcall", ""},
    {"umask", "i"},
    {"umount2", "li"},
    {"uname", "l"},
    {"unlink", "l"},
    {"unlinkat", "ili"},
    {"unshare", "l"},
    {"uretprobe", ""},
    {"uselib", "l"},
    {"userfaultfd", "i"},
    {"ustat", "il"},
    {"utime", "ll"},
    {"utimensat", "illi"},
    {"utimes", "ll"},
    {"vfork", ""},
    {"vhangup", ""},
    {"vmsplice", "illi"},
    {"vserver", ""},
    {"wait4", "ilil"},
    {"waitid", "iilil"},
    {"write", "ill"},
    {"writev", "lll"},
};

constexpr bool sorted() {
    for (std::size_t i = 1; i < std::size(kSignatures); ++i)
        if (!(kSignatures[i - 1].name < kSignatures[i].name)) return false;
    return true;
}
static_assert(sorted(), "kSignatures must stay sorted by name (binary search)");

const Signature* find(std::string_view name) {
    const auto* end = std::end(kSignatures);
    const auto* it = std::lower_bound(std::begin(kSignatures), end, name,
                                      [](const Signature& s, std::string_view n) { return s.name < n; });
    return it != end && it->name == name ? it : nullptr;
}

}  // namespace

bool argument_widths_known(std::string_view syscall) { return find(syscall) != nullptr; }

namespace {
constexpr std::uint64_t low_bits(unsigned bits) { return bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1; }
}  // namespace

std::optional<std::uint64_t> kernel_value(const ArgCmp& cmp, unsigned bits) {
    if (cmp.op == Op::MaskedEqual || bits >= 64) return cmp.value;
    if (cmp.value <= low_bits(bits)) return cmp.value;
    // a negative int as a 64-bit number (Go's and JSON writers' way of writing -1): what the kernel sees is its low half
    if (bits == 32 && cmp.value >= 0xffffffff80000000ULL) return cmp.value & low_bits(32);
    return std::nullopt;
}

std::string argument_misfit(std::string_view syscall, const ArgCmp& cmp) {
    const unsigned bits = argument_bits(syscall, cmp.index);
    if (kernel_value(cmp, bits)) return "";
    auto hex = [](std::uint64_t v) {
        char b[24];
        std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
        return std::string(b);
    };
    return std::string(syscall) + " a" + std::to_string(cmp.index) + ": " + hex(cmp.value) + " does not fit the " +
           std::to_string(bits) + "-bit argument the kernel reads (it sees only " + hex(cmp.value & low_bits(bits)) + ")";
}

std::vector<ArgCmp> narrow(const ArgCmp& cmp, unsigned bits) {
    const std::uint64_t all = low_bits(bits);
    // the argument's bits from `i` up (to bits - 1)
    auto from = [&](unsigned i) { return i >= bits ? std::uint64_t{0} : all & ~((std::uint64_t{1} << i) - 1); };
    auto masked = [&](std::uint64_t mask, std::uint64_t value) { return ArgCmp{cmp.index, Op::MaskedEqual, mask, value & mask}; };
    const std::uint64_t v = kernel_value(cmp, bits).value_or(0);
    std::vector<ArgCmp> out;
    // arguments whose bits above `i` equal v's and whose bit `i` is `bit`: one prefix of the value space
    auto prefix = [&](unsigned i, bool bit) {
        out.push_back(masked(from(i), (v & from(i + 1)) | (bit ? std::uint64_t{1} << i : 0)));
    };
    switch (cmp.op) {
        case Op::Equal: out.push_back(masked(all, v)); break;
        case Op::MaskedEqual: out.push_back(masked(cmp.value & all, cmp.value_two)); break;
        case Op::NotEqual:  // some bit differs: the highest one that does, with every bit above it equal
            for (unsigned i = bits; i-- > 0;) prefix(i, ((v >> i) & 1) == 0);
            break;
        case Op::Less:  // the highest bit where the argument differs from v is 0 in the argument, 1 in v
            for (unsigned i = bits; i-- > 0;)
                if ((v >> i) & 1) prefix(i, false);
            break;
        case Op::Greater:
            for (unsigned i = bits; i-- > 0;)
                if (!((v >> i) & 1)) prefix(i, true);
            break;
        case Op::LessEqual:
            if (v == all) out.push_back(masked(0, 0));
            else return narrow(ArgCmp{cmp.index, Op::Less, v + 1, 0}, bits);
            break;
        case Op::GreaterEqual:
            if (v == 0) out.push_back(masked(0, 0));
            else return narrow(ArgCmp{cmp.index, Op::Greater, v - 1, 0}, bits);
            break;
    }
    return out;
}

unsigned argument_bits(std::string_view syscall, unsigned index) {
    const Signature* s = find(syscall);
    if (!s || index >= s->args.size()) return 64;
    switch (s->args[index]) {
        case 'i': return 32;
        case 'h': return 16;
        default: return 64;
    }
}

}  // namespace hardrun::seccomp
