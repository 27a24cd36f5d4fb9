// Seccomp: choose and compile the profile for a launch (supervisor), load it (child). See seccomp.hpp.
#include "hardrun/layers/seccomp/seccomp.hpp"

#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "hardrun/support/error.hpp"
#include "hardrun/layers/seccomp/filter_cache.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/layers/seccomp/seccomp_bpf.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::seccomp {

bool Prepared::wants_listener() const { return (load_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0; }

namespace {

// The profile of a launch as read, once: its name in errors, the path the cache key names ("" for the OCI
// object) and the bytes both the cache key and the compiler use.
struct ProfileText {
    std::string source, path, text;
    bool oci = false;
};

ProfileText read_profile(const LaunchPlan& plan, const ProfileReader& read) {
    if (!plan.seccomp.inline_json.empty()) return {"OCI config linux.seccomp", "", plan.seccomp.inline_json, true};
    std::string path = plan.seccomp.mode == SeccompChoice::Mode::Profile ? plan.seccomp.profile_path : default_profile_path();
    std::string text = read ? read(path) : read_profile_file(path);
    return {path, path, std::move(text), false};
}

Profile parse(const ProfileText& t) {
    if (!t.oci) return parse_profile(t.text, t.source);
    return parse_oci(parse_json(t.text, "seccomp", t.source), t.source);
}

// sendmsg(fd, msg, kHandoffSendFlags) on the native ABI -> `ret`, else on to the rest of the program.
// Instruction 5 compares the fd (patched in load()); instruction 12 is the return.
std::vector<sock_filter> handoff_stub(std::uint32_t audit_arch, int sendmsg_nr) {
    const std::uint8_t end = 0;  // placeholder, fixed below
    std::vector<sock_filter> s = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),                       // 0
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, audit_arch, 0, end),                                 // 1
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),                          // 2
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(sendmsg_nr), 0, end),     // 3
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_lo_offset(0)),                                    // 4
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffU, 0, end),                                // 5: the fd
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_hi_offset(0)),                                    // 6
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, end),                                          // 7
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_lo_offset(2)),                                    // 8
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(kHandoffSendFlags), 0, end),  // 9
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_hi_offset(2)),                                    // 10
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, end),                                          // 11
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),                                            // 12
    };
    for (std::size_t i = 0; i < s.size(); ++i)
        if (BPF_CLASS(s[i].code) == BPF_JMP) s[i].jf = static_cast<std::uint8_t>(s.size() - (i + 1));
    return s;
}
constexpr int kHandoffFdInsn = 5;
constexpr int kHandoffRetInsn = 12;

std::string arches_text(const Resolved& r) {
    std::string s;
    for (const ArchInfo* a : r.arches) s += (s.empty() ? "" : "+") + a->name;
    return s;
}

}  // namespace

Prepared prepare(const LaunchPlan& plan, Mode mode, const ProfileReader& read) {
    Prepared p;
    p.mode = mode;
    const bool unconfined = plan.seccomp.mode == SeccompChoice::Mode::Unconfined && plan.seccomp.inline_json.empty();
    if (unconfined && mode != Mode::Record) {
        p.description = "unconfined";
        return p;  // nothing is filtered, so nothing can be refused either
    }
    const Target target = target_for(plan);
    std::shared_ptr<Resolved> resolved;
    ProfileText source;  // read once: what the cache key hashes is what is compiled
    if (!unconfined) source = read_profile(plan, read);
    // Enforce: reuse the program compiled before for the same build, profile bytes and target (compiling is
    // the largest CPU cost of a launch; filter_cache.hpp, docs/performance.md)
    std::string cache_key;
    if (!unconfined && mode == Mode::Enforce) {
        cache_key = filter_cache::seccomp_key(plan, target, source.path, source.text);
        if (auto hit = filter_cache::load(cache_key); hit && filter_cache::decode(*hit, p)) {
            for (const auto& w : p.warnings) log::warning("seccomp: " + w);
            return p;
        }
    }
    if (!unconfined) {
        Profile profile = parse(source);
        resolved = std::make_shared<Resolved>(resolve(profile, target));
        for (const auto& w : resolved->warnings) {
            p.warnings.push_back(resolved->source + ": " + w);
            log::warning("seccomp: " + resolved->source + ": " + w);
        }
        Compiled c = compile(*resolved);
        p.enforce = std::move(c.program);
        p.enosys_stub = c.stub_length;
        p.load_flags = resolved->filter_flags;
        p.listener_path = resolved->listener_path;
        p.listener_metadata = resolved->listener_metadata;
        p.description = "profile " + resolved->source + " (" + format_name(resolved->format) + ", " +
                        std::to_string(resolved->rules.size()) + " rules, " + arches_text(*resolved) + ")";
    } else {
        p.enforce = compile_default_only(Action{ActionKind::Allow, 0}, *target.native).program;
        p.description = "unconfined (recording every syscall)";
    }
    p.resolved = resolved;

    if (mode == Mode::Enforce) {
        p.program = p.enforce;
        // No outside agent can answer: hardrun does not hand the listener to a listenerPath (the OCI front
        // end refuses that field), and a listener nobody reads would turn each such syscall into ENOSYS.
        if (resolved && resolved->uses(ActionKind::Notify))
            throw Error("seccomp", resolved->source,
                        "SCMP_ACT_NOTIFY is not supported: hardrun does not hand the seccomp listener to an outside agent "
                        "(use SCMP_ACT_ERRNO, or `hardrun run --report` to see what the profile refuses)");
        if (!cache_key.empty()) {
            filter_cache::store(cache_key, filter_cache::encode(p));
        }
        return p;
    }

    // Report / Record
    const char* what = mode == Mode::Report ? "--report" : "seccomp record";
    if (!target.available.count(ActionKind::Notify))
        throw Error("seccomp", what, "this kernel has no SECCOMP_RET_USER_NOTIF (Linux 5.0+; CONTINUE needs 5.5+)");
    if (resolved && resolved->uses(ActionKind::Notify))
        throw Error("seccomp", resolved->source, std::string(what) + " cannot be combined with a profile that uses SCMP_ACT_NOTIFY");
    std::vector<sock_filter> body = p.enforce;
    std::vector<std::uint32_t> from = {SECCOMP_RET_ERRNO};
    if (mode == Mode::Record) from = {SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW, SECCOMP_RET_LOG};
    rewrite_returns(body, from, SECCOMP_RET_USER_NOTIF);

    const int sendmsg_nr = syscall_number(*target.native, "sendmsg");
    if (sendmsg_nr < 0) throw Error("seccomp", what, "no sendmsg syscall on " + target.native->name);
    p.native_arch = target.native->token;
    p.handoff_sendmsg_nr = sendmsg_nr;
    p.load_flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    p.load_flags &= ~static_cast<unsigned>(SECCOMP_FILTER_FLAG_TSYNC);
    // Report: the handoff gets what the profile answers (it is hardrun's own call, but letting a call through
    // that the profile refuses would make the report lie). A profile that refuses sendmsg with an errno: the
    // supervisor takes the listener and answers that sendmsg in the profile's place (Handoff::Take).
    if (mode == Mode::Report) {
        const std::uint64_t args[] = {3, 0, static_cast<std::uint64_t>(kHandoffSendFlags)};
        SimResult r = simulate(p.enforce, make_data(target.native->token, sendmsg_nr, args));
        const Action answer = from_ret(r.ret);
        if (!is_allowing(answer.kind)) {
            if (answer.kind != ActionKind::Errno)
                throw Error("seccomp", resolved ? resolved->source : "profile",
                            "--report needs the profile to allow sendmsg or to refuse it with an errno (hardrun hands "
                            "the notification listener to the supervisor with it); the profile answers " + describe(answer));
            p.handoff = Handoff::Take;
            p.program = std::move(body);
            if (p.program.size() > BPF_MAXINSNS) throw Error("seccomp", p.description, "the filter is too long for the kernel");
            return p;
        }
    }
    p.handoff = Handoff::Sendmsg;
    std::vector<sock_filter> stub = handoff_stub(target.native->audit_arch, sendmsg_nr);
    p.handoff_fd_insn = kHandoffFdInsn;
    p.handoff_ret_insn = kHandoffRetInsn;
    p.program = std::move(stub);
    p.program.insert(p.program.end(), body.begin(), body.end());
    if (p.program.size() > BPF_MAXINSNS)
        throw Error("seccomp", p.description, "the filter is too long for the kernel with the report rule");
    return p;
}

std::string refused_reaper_calls(const Prepared& prepared) {
    if (prepared.enforce.empty()) return {};
    const ArchInfo& arch = native_arch();
    constexpr std::uint64_t kForkFlags = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD;  // glibc's fork()
    // the arguments the reaper passes, in kReaperCalls' order
    const std::vector<std::uint64_t> args[] = {{SIG_BLOCK}, {kForkFlags}, {static_cast<std::uint64_t>(-1), 0, WNOHANG},
                                               {}, {2, SIGTERM}, {0}};
    static_assert(std::size(args) == std::size(kReaperCalls));
    std::string refused;
    for (std::size_t i = 0; i < std::size(kReaperCalls); ++i) {
        const int nr = syscall_number(arch, kReaperCalls[i]);
        if (nr < 0) continue;  // not on this ABI (glibc uses another)
        const Action a = from_ret(simulate(prepared.enforce, make_data(arch.token, nr, args[i])).ret);
        if (!is_allowing(a.kind)) refused += (refused.empty() ? "" : ", ") + std::string(kReaperCalls[i]);
    }
    return refused;
}

int load(Sys& sys, const Prepared& prepared, int handoff_socket) {
    if (prepared.program.empty()) return -1;
    const sock_filter* insns = prepared.program.data();
    std::vector<sock_filter> patched;
    int offered = -1;  // Handoff::Take: the listener's number, as told to the supervisor
    if (prepared.handoff == Handoff::Take) {
        if (handoff_socket < 0)
            throw Error("seccomp", prepared.description, "the notification listener needs a socket to the supervisor");
        // the handoff sendmsg must become a notification for the supervisor to answer: what the profile answers
        // for this socket (prepare() judged fd 3)
        const std::uint64_t args[] = {static_cast<std::uint64_t>(handoff_socket), 0, static_cast<std::uint64_t>(kHandoffSendFlags)};
        const Action a = from_ret(simulate(prepared.enforce, make_data(prepared.native_arch, prepared.handoff_sendmsg_nr, args)).ret);
        if (a.kind != ActionKind::Errno)
            throw Error("seccomp", prepared.description,
                        "the profile answers " + describe(a) + " to the listener's handoff on fd " + std::to_string(handoff_socket) +
                            ", not an errno the supervisor could answer instead");
        // the number seccomp(2) gives the listener: the lowest free one (nothing else opens an fd in between)
        HandoffOffer offer;
        offer.socket_fd = handoff_socket;
        offer.listener_fd = sys.fcntl_dupfd_cloexec(handoff_socket, 0);
        if (offer.listener_fd < 0) throw_errno("seccomp", "the listener's fd number", -offer.listener_fd);
        sys.close(offer.listener_fd);
        if (long n = sys.write(handoff_socket, &offer, sizeof offer); n != static_cast<long>(sizeof offer))
            throw_errno("seccomp", "offering the listener to the supervisor", n < 0 ? static_cast<int>(-n) : EPIPE);
        offered = offer.listener_fd;
    } else if (prepared.handoff_fd_insn >= 0) {
        if (handoff_socket < 0)
            throw Error("seccomp", prepared.description, "the notification listener needs a socket to the supervisor");
        patched = prepared.program;
        patched[static_cast<std::size_t>(prepared.handoff_fd_insn)].k = static_cast<std::uint32_t>(handoff_socket);
        // Report: the handoff gets exactly what the profile answers for it; Record: it is let through
        if (prepared.mode == Mode::Report && !prepared.enforce.empty()) {
            const std::uint64_t args[] = {static_cast<std::uint64_t>(handoff_socket), 0,
                                          static_cast<std::uint64_t>(kHandoffSendFlags)};
            SimResult r = simulate(prepared.enforce, make_data(prepared.native_arch, prepared.handoff_sendmsg_nr, args));
            patched[static_cast<std::size_t>(prepared.handoff_ret_insn)].k = r.ret;
        }
        insns = patched.data();
    }
    sock_fprog prog{static_cast<unsigned short>(prepared.program.size()), const_cast<sock_filter*>(insns)};
    int r = sys.seccomp_load(prepared.load_flags, &prog);
    if (r < 0) {
        std::string hint;
        if (-r == EACCES) hint = "loading a filter without no_new_privs needs CAP_SYS_ADMIN";
        else if (-r == EINVAL) hint = "the kernel refused the program or its flags (" + std::to_string(prepared.load_flags) + ")";
        throw_errno("seccomp", prepared.description, -r, hint);
    }
    // cannot happen (nothing opened an fd in between); the supervisor would take another fd, which it refuses
    if (offered >= 0 && r != offered)
        throw Error("seccomp", prepared.description, "the listener got fd " + std::to_string(r) + ", not the offered " + std::to_string(offered));
    return prepared.wants_listener() ? r : -1;
}

NotifyBuffers::NotifyBuffers() {
    seccomp_notif_sizes sizes{};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
        sizes.seccomp_notif = sizeof(seccomp_notif);
        sizes.seccomp_notif_resp = sizeof(seccomp_notif_resp);
    }
    req_.resize(std::max<std::size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
    resp_.resize(std::max<std::size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
}

void NotifyBuffers::clear() {
    std::memset(req_.data(), 0, req_.size());
    std::memset(resp_.data(), 0, resp_.size());
}

UniqueFd take_listener(pid_t child, int sock, const Prepared& prepared) {
    HandoffOffer offer;
    ssize_t got;
    do got = ::read(sock, &offer, sizeof offer);
    while (got < 0 && errno == EINTR);
    if (got != static_cast<ssize_t>(sizeof offer)) return {};  // the child failed before its filter
    const std::string what = "the child's notification listener (pid " + std::to_string(child) + ", fd " +
                             std::to_string(offer.listener_fd) + ")";
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    if (!pidfd) throw_errno("seccomp", what, errno, "pidfd_open");
    // the filter, and so the fd, exists a few microseconds after the offer
    UniqueFd fd;
    for (long wait_ns = 20'000, waited = 0;; waited += wait_ns, wait_ns = std::min(wait_ns * 2, 2'000'000L)) {
        fd.reset(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), offer.listener_fd, 0)));
        if (fd) break;
        if (errno != EBADF)
            throw_errno("seccomp", what, errno,
                        errno == EPERM ? "pidfd_getfd needs ptrace access to the child (CAP_SYS_PTRACE; Yama's "
                                         "kernel.yama.ptrace_scope at most 1); or allow sendmsg in the profile"
                                       : "pidfd_getfd (Linux 5.6+)");
        struct pollfd exited {pidfd.get(), POLLIN, 0};
        if (::poll(&exited, 1, 0) == 1) return {};  // it failed before loading: its report says why
        if (waited > 10'000'000'000L) throw Error("seccomp", what, "the child did not load its filter within 10 s");
        struct timespec ts {0, wait_ns};
        ::nanosleep(&ts, nullptr);
    }
    char link[64] = {};
    const std::string self = "/proc/self/fd/" + std::to_string(fd.get());
    if (::readlink(self.c_str(), link, sizeof link - 1) < 0 || std::string_view(link) != "anon_inode:seccomp notify")
        throw Error("seccomp", what, std::string("is not a seccomp listener (") + link + ")");
    // the child's next call is the handoff sendmsg: a notification (the profile refuses it) to answer
    struct pollfd ready {fd.get(), POLLIN, 0};
    if (int n = ::poll(&ready, 1, 10'000); n != 1 || !(ready.revents & POLLIN))
        throw Error("seccomp", what, n == 0 ? "no handoff from the child within 10 s" : "the child is gone");
    NotifyBuffers b;
    b.clear();
    if (::ioctl(fd.get(), SECCOMP_IOCTL_NOTIF_RECV, b.req()) != 0) throw_errno("seccomp", what, errno, "receiving the handoff");
    const auto& d = b.req()->data;
    if (static_cast<pid_t>(b.req()->pid) != child || d.nr != prepared.handoff_sendmsg_nr ||
        d.args[0] != static_cast<std::uint64_t>(offer.socket_fd) || static_cast<int>(d.args[2]) != kHandoffSendFlags)
        throw Error("seccomp", what, "its first notification (syscall " + std::to_string(d.nr) + ") is not the handoff");
    b.resp()->id = b.req()->id;
    b.resp()->val = 1;  // the one byte fdpass::send sends: the handoff "succeeded"; nothing was sent
    if (::ioctl(fd.get(), SECCOMP_IOCTL_NOTIF_SEND, b.resp()) != 0) throw_errno("seccomp", what, errno, "answering the handoff");
    return fd;
}

}  // namespace hardrun::seccomp
