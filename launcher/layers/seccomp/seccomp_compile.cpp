// Resolved profile -> classic BPF, with libseccomp's binary-tree optimiser, plus hardrun's ENOSYS rule.
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>

#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/layers/seccomp/seccomp_bpf.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::seccomp {

namespace {

struct CtxDeleter {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

[[noreturn]] void lib_fail(const std::string& source, const std::string& what, int rc) {
    throw Error("seccomp", source, what + ": " + errno_text(rc < 0 ? -rc : rc));
}

std::uint32_t bad_arch_action() {
    // a syscall from an ABI the filter does not cover is killed, never allowed
    return kernel_actions().count(ActionKind::KillProcess) ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL_THREAD;
}

Ctx new_ctx(const std::string& source, std::uint32_t default_action, const ArchInfo& arch) {
    Ctx ctx(seccomp_init(default_action));
    if (!ctx) throw Error("seccomp", source, "libseccomp could not create a filter for default action " + std::to_string(default_action));
    auto attr = [&](scmp_filter_attr a, std::uint32_t v, const char* what) {
        if (int rc = seccomp_attr_set(ctx.get(), a, v); rc != 0) lib_fail(source, what, rc);
    };
    attr(SCMP_FLTATR_ACT_BADARCH, bad_arch_action(), "setting the bad-architecture action");
    attr(SCMP_FLTATR_CTL_NNP, 0, "leaving no_new_privs to hardrun");
    attr(SCMP_FLTATR_CTL_OPTIMIZE, 2, "selecting the binary-tree optimiser");
    if (arch.token != seccomp_arch_native()) {
        if (int rc = seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE); rc != 0) lib_fail(source, "arch " + arch.name, rc);
        if (int rc = seccomp_arch_add(ctx.get(), arch.token); rc != 0) lib_fail(source, "adding arch " + arch.name, rc);
    }
    return ctx;
}

scmp_compare to_scmp_op(Op op) {
    switch (op) {
        case Op::NotEqual: return SCMP_CMP_NE;
        case Op::Less: return SCMP_CMP_LT;
        case Op::LessEqual: return SCMP_CMP_LE;
        case Op::Equal: return SCMP_CMP_EQ;
        case Op::GreaterEqual: return SCMP_CMP_GE;
        case Op::Greater: return SCMP_CMP_GT;
        case Op::MaskedEqual: return SCMP_CMP_MASKED_EQ;
    }
    return SCMP_CMP_EQ;
}

std::vector<sock_filter> export_bpf(const std::string& source, void* ctx) {
    UniqueFd fd(::memfd_create("hardrun-seccomp", MFD_CLOEXEC));
    if (!fd) throw_errno("seccomp", source, errno, "memfd_create for the compiled filter");
    if (int rc = seccomp_export_bpf(ctx, fd.get()); rc != 0) lib_fail(source, "exporting the BPF program", rc);
    off_t len = ::lseek(fd.get(), 0, SEEK_END);
    if (len <= 0 || len % static_cast<off_t>(sizeof(sock_filter)) != 0)
        throw Error("seccomp", source, "libseccomp exported a malformed program (" + std::to_string(len) + " bytes)");
    std::vector<sock_filter> prog(static_cast<std::size_t>(len) / sizeof(sock_filter));
    if (::pread(fd.get(), prog.data(), static_cast<std::size_t>(len), 0) != len)
        throw_errno("seccomp", source, errno, "reading the compiled filter");
    return prog;
}

// The ENOSYS rule in front of libseccomp's program: per architecture, a syscall number above the highest one
// the profile names (and below the end of that ABI's table) gets ENOSYS, so a program probing a syscall
// newer than the profile falls back as on an older kernel instead of failing on EPERM.
struct Interval {
    std::uint32_t above, below;  // ENOSYS when above < nr < below
};

std::vector<sock_filter> enosys_stub(const Resolved& r) {
    // group by audit arch (x86_64 and x32 share one)
    std::vector<std::pair<std::uint32_t, std::vector<Interval>>> groups;
    for (const ArchInfo* a : r.arches) {
        auto it = r.max_known.find(a->token);
        if (it == r.max_known.end() || it->second < 0) continue;
        const std::uint32_t span = a->token == SCMP_ARCH_X32 ? 512 : 1024;
        Interval iv{static_cast<std::uint32_t>(it->second), a->nr_base + span};
        if (iv.above + 1 >= iv.below) continue;
        auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == a->audit_arch; });
        if (g == groups.end()) groups.push_back({a->audit_arch, {iv}});
        else g->second.push_back(iv);
    }
    std::vector<sock_filter> stub;
    if (groups.empty()) return stub;
    // emit with placeholder jumps; targets: index of the next group, or the end (libseccomp's program)
    std::vector<std::size_t> group_start(groups.size() + 1, 0);
    std::vector<std::pair<std::size_t, int>> jt_fix, jf_fix;  // (insn, group index to jump to, -1 = end)
    const std::uint32_t ret_enosys = SECCOMP_RET_ERRNO | ENOSYS;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        group_start[g] = stub.size();
        stub.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
        jf_fix.push_back({stub.size(), static_cast<int>(g + 1)});
        stub.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, groups[g].first, 0, 0));
        stub.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
        const auto& ivs = groups[g].second;
        for (std::size_t i = 0; i < ivs.size(); ++i) {
            const bool last = i + 1 == ivs.size();
            // jgt above: false -> next interval (3 insns on) or the end
            stub.push_back(BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, ivs[i].above, 0, static_cast<std::uint8_t>(last ? 0 : 2)));
            if (last) jf_fix.push_back({stub.size() - 1, -1});
            // jge below: true -> next interval or the end
            stub.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, ivs[i].below, static_cast<std::uint8_t>(last ? 0 : 1), 0));
            if (last) jt_fix.push_back({stub.size() - 1, -1});
            stub.push_back(BPF_STMT(BPF_RET | BPF_K, ret_enosys));
        }
    }
    group_start[groups.size()] = stub.size();  // the end: libseccomp's first instruction
    auto resolve = [&](std::size_t at, int target) {
        std::size_t dest = target < 0 ? stub.size() : group_start[static_cast<std::size_t>(target)];
        std::size_t off = dest - (at + 1);
        if (off > 255) throw Error("seccomp", "ENOSYS rule", "jump too far");
        return static_cast<std::uint8_t>(off);
    };
    for (auto [at, target] : jf_fix) stub[at].jf = resolve(at, target);
    for (auto [at, target] : jt_fix) stub[at].jt = resolve(at, target);
    return stub;
}

// The hot-syscall fast path in front of everything: read, write, futex and getppid, when the profile allows
// them unconditionally on the native ABI, return ALLOW after 5 to 8 instructions instead of walking the ENOSYS
// rule and libseccomp's tree (24 to 28 instructions in all on x86_64, per `hardrun seccomp show default --cost`). Kernels since 5.11 skip the filter for such syscalls anyway (their
// action cache); older ones run it on every call. Docker's profile as crun compiles it takes 5 and 6
// instructions for read and write, 173 for futex (docs/performance.md). Other syscalls pay 3 + one per hot
// syscall; x32 numbers (nr | 0x40000000) never match, so they take the full path.
std::vector<sock_filter> hot_path(const Resolved& r) {
    std::vector<sock_filter> out;
    if (r.arches.empty() || r.default_action.kind == ActionKind::Allow) return out;
    const ArchInfo& native = *r.arches.front();
    std::vector<std::uint32_t> nrs;
    for (const char* name : {"read", "write", "futex", "getppid"}) {
        const ResolvedRule* only = nullptr;
        int count = 0;
        for (const ResolvedRule& rule : r.rules)
            if (rule.name == name) {
                ++count;
                only = &rule;
            }
        // exactly one rule, an unconditional ALLOW with a number on the native ABI (else: the full path)
        if (count == 1 && only->action.kind == ActionKind::Allow && only->args.empty() && only->numbers.count(native.token))
            nrs.push_back(static_cast<std::uint32_t>(only->numbers.at(native.token)));
    }
    if (nrs.empty()) return out;
    const auto n = static_cast<std::uint8_t>(nrs.size());
    out.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
    out.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, native.audit_arch, 0, static_cast<std::uint8_t>(n + 2)));
    out.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    for (std::uint8_t i = 0; i < n; ++i)  // true: to the RET (n - 1 - i on); false: next compare, the last skips the RET
        out.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], static_cast<std::uint8_t>(n - 1 - i),
                               static_cast<std::uint8_t>(i + 1 == n ? 1 : 0)));
    out.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    return out;
}

// At most this many libseccomp rules for one profile rule (the product of its comparisons' alternatives: a NE on
// two 32-bit arguments is 32 x 32); beyond it the program would not fit the kernel's 4096 instructions anyway.
constexpr std::size_t kMaxAlternatives = 1024;

// The argument comparisons libseccomp gets for `rule`: one list per libseccomp rule, any of which matching means
// the profile rule matches (none: it can never match). Comparisons on arguments the kernel reads as 32 or 16 bits
// look at those bits only (argument_bits, narrow), so socket(0x100000028) is judged as the AF_VSOCK it is.
std::vector<std::vector<scmp_arg_cmp>> libseccomp_comparisons(const std::string& source, const ResolvedRule& rule) {
    std::vector<std::vector<scmp_arg_cmp>> out(1);
    for (const ArgCmp& c : rule.args) {
        const unsigned bits = argument_bits(rule.name, c.index);
        std::vector<ArgCmp> alternatives{c};
        if (bits < 64) {
            if (std::string misfit = argument_misfit(rule.name, c); !misfit.empty())
                throw Error("seccomp", source, rule.path + ": " + misfit);  // resolve() refuses it first
            alternatives = narrow(c, bits);
        }
        if (out.size() * alternatives.size() > kMaxAlternatives)
            throw Error("seccomp", source,
                        rule.path + ": '" + rule.name + "' needs more than " + std::to_string(kMaxAlternatives) +
                            " masked comparisons of its 32-bit arguments; split the rule or use SCMP_CMP_EQ/MASKED_EQ");
        std::vector<std::vector<scmp_arg_cmp>> next;
        for (const auto& prefix : out)
            for (const ArgCmp& a : alternatives) {
                next.push_back(prefix);
                next.back().push_back(scmp_arg_cmp{a.index, to_scmp_op(a.op), a.value, a.value_two});
            }
        out = std::move(next);
    }
    return out;
}

bool refuses(const Action& a) {
    return a.kind == ActionKind::Errno || a.kind == ActionKind::KillProcess || a.kind == ActionKind::KillThread ||
           a.kind == ActionKind::Trap;
}

}  // namespace

Compiled compile(const Resolved& r) {
    Ctx main;
    const std::uint32_t lib_native = seccomp_arch_native();
    std::vector<std::vector<std::vector<scmp_arg_cmp>>> comparisons;  // per rule
    comparisons.reserve(r.rules.size());
    for (const ResolvedRule& rule : r.rules) comparisons.push_back(libseccomp_comparisons(r.source, rule));
    for (const ArchInfo* arch : r.arches) {
        Ctx ctx = new_ctx(r.source, to_scmp(r.default_action), *arch);
        for (std::size_t i = 0; i < r.rules.size(); ++i) {
            const ResolvedRule& rule = r.rules[i];
            auto it = rule.numbers.find(arch->token);
            if (it == rule.numbers.end()) continue;
            // libseccomp takes native numbers and translates them by name for the other ABIs
            int nr = arch->token == lib_native ? it->second : seccomp_syscall_resolve_name(rule.name.c_str());
            if (nr == __NR_SCMP_ERROR) continue;  // newer than libseccomp: only placeable on the native ABI
            for (const std::vector<scmp_arg_cmp>& cmps : comparisons[i]) {
                int rc = seccomp_rule_add_array(ctx.get(), to_scmp(rule.action), nr, static_cast<unsigned>(cmps.size()),
                                                cmps.empty() ? nullptr : cmps.data());
                if (rc == -EEXIST)
                    throw Error("seccomp", r.source,
                                rule.path + ": '" + rule.name + "' " + describe(rule.action) +
                                    " clashes with another rule for the same syscall (libseccomp cannot mix an "
                                    "unconditional rule with conditional ones of another action)");
                if (rc != 0)
                    lib_fail(r.source, rule.path + ": libseccomp refused the rule for '" + rule.name + "' on " + arch->name, rc);
            }
        }
        if (!main) main = std::move(ctx);
        else if (int rc = seccomp_merge(main.get(), ctx.release()); rc != 0)
            lib_fail(r.source, "merging the " + arch->name + " filter", rc);
    }
    Compiled c;
    std::vector<sock_filter> lib = export_bpf(r.source, main.get());
    if (refuses(r.default_action)) c.program = enosys_stub(r);
    c.stub_length = c.program.size();
    const std::vector<sock_filter> hot = hot_path(r);
    c.program.insert(c.program.begin(), hot.begin(), hot.end());
    c.program.insert(c.program.end(), lib.begin(), lib.end());
    if (c.program.size() > BPF_MAXINSNS)
        throw Error("seccomp", r.source, "the compiled filter has " + std::to_string(c.program.size()) +
                                             " instructions; the kernel accepts at most " + std::to_string(BPF_MAXINSNS));
    return c;
}

Compiled compile_default_only(const Action& default_action, const ArchInfo& arch) {
    Ctx ctx = new_ctx("filter", to_scmp(default_action), arch);
    Compiled c;
    c.program = export_bpf("filter", ctx.get());
    return c;
}

}  // namespace hardrun::seccomp
