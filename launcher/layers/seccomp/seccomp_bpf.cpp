// Classic BPF interpreter, disassembler and rewrites (see seccomp_bpf.hpp).
#include "hardrun/layers/seccomp/seccomp_bpf.hpp"

#include <linux/audit.h>
#include <seccomp.h>

#include <cstddef>
#include <cstdio>
#include <cstring>

namespace hardrun::seccomp {

namespace {
constexpr std::uint32_t kX32Bit = 0x40000000U;

// seccomp_data as 32-bit words, the way BPF_LD|BPF_W|BPF_ABS sees it.
std::uint32_t load_word(const seccomp_data& d, std::uint32_t offset, bool& ok) {
    if (offset % 4 != 0 || offset + 4 > sizeof(seccomp_data)) {
        ok = false;
        return 0;
    }
    std::uint32_t w;
    std::memcpy(&w, reinterpret_cast<const unsigned char*>(&d) + offset, sizeof w);
    return w;
}
}  // namespace

std::uint32_t arg_lo_offset(unsigned index) {
    std::uint32_t base = static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * index);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return base + 4;
#else
    return base;
#endif
}

std::uint32_t arg_hi_offset(unsigned index) {
    std::uint32_t base = static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * index);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return base;
#else
    return base + 4;
#endif
}

SimResult simulate(std::span<const sock_filter> program, const seccomp_data& data) {
    SimResult r;
    std::uint32_t A = 0, X = 0;
    std::uint32_t mem[BPF_MEMWORDS] = {};
    std::size_t pc = 0;
    auto fail = [&](const char* why) {
        r.ok = false;
        r.error = why;
        r.ret = SECCOMP_RET_KILL_PROCESS;
        return r;
    };
    while (pc < program.size()) {
        const sock_filter& in = program[pc];
        ++r.instructions;
        const std::uint16_t code = in.code;
        const std::uint32_t k = in.k;
        bool ok = true;
        switch (BPF_CLASS(code)) {
            case BPF_LD:
                if (code == (BPF_LD | BPF_W | BPF_ABS)) A = load_word(data, k, ok);
                else if (code == (BPF_LD | BPF_W | BPF_LEN)) A = sizeof(seccomp_data);
                else if (code == (BPF_LD | BPF_IMM)) A = k;
                else if (code == (BPF_LD | BPF_MEM)) {
                    if (k >= BPF_MEMWORDS) return fail("scratch memory index out of range");
                    A = mem[k];
                } else return fail("load mode not allowed in seccomp");
                if (!ok) return fail("load outside seccomp_data or unaligned");
                ++pc;
                break;
            case BPF_LDX:
                if (code == (BPF_LDX | BPF_W | BPF_LEN)) X = sizeof(seccomp_data);
                else if (code == (BPF_LDX | BPF_IMM)) X = k;
                else if (code == (BPF_LDX | BPF_MEM)) {
                    if (k >= BPF_MEMWORDS) return fail("scratch memory index out of range");
                    X = mem[k];
                } else return fail("ldx mode not allowed in seccomp");
                ++pc;
                break;
            case BPF_ST:
                if (k >= BPF_MEMWORDS) return fail("scratch memory index out of range");
                mem[k] = A;
                ++pc;
                break;
            case BPF_STX:
                if (k >= BPF_MEMWORDS) return fail("scratch memory index out of range");
                mem[k] = X;
                ++pc;
                break;
            case BPF_ALU: {
                const std::uint32_t src = BPF_SRC(code) == BPF_X ? X : k;
                switch (BPF_OP(code)) {
                    case BPF_ADD: A += src; break;
                    case BPF_SUB: A -= src; break;
                    case BPF_MUL: A *= src; break;
                    case BPF_DIV:
                        if (src == 0) return fail("division by zero");
                        A /= src;
                        break;
                    case BPF_MOD:
                        if (src == 0) return fail("division by zero");
                        A %= src;
                        break;
                    case BPF_OR: A |= src; break;
                    case BPF_AND: A &= src; break;
                    case BPF_XOR: A ^= src; break;
                    case BPF_LSH: A = src >= 32 ? 0 : A << src; break;
                    case BPF_RSH: A = src >= 32 ? 0 : A >> src; break;
                    case BPF_NEG: A = static_cast<std::uint32_t>(-static_cast<std::int64_t>(A)); break;
                    default: return fail("unknown ALU operation");
                }
                ++pc;
                break;
            }
            case BPF_JMP: {
                if (BPF_OP(code) == BPF_JA) {
                    pc += 1 + k;
                    break;
                }
                const std::uint32_t src = BPF_SRC(code) == BPF_X ? X : k;
                bool taken;
                switch (BPF_OP(code)) {
                    case BPF_JEQ: taken = A == src; break;
                    case BPF_JGT: taken = A > src; break;
                    case BPF_JGE: taken = A >= src; break;
                    case BPF_JSET: taken = (A & src) != 0; break;
                    default: return fail("unknown jump");
                }
                pc += 1 + (taken ? in.jt : in.jf);
                break;
            }
            case BPF_RET:
                if (BPF_RVAL(code) == BPF_K) r.ret = k;
                else if (BPF_RVAL(code) == BPF_A) r.ret = A;
                else return fail("ret X is not allowed");
                return r;
            case BPF_MISC:
                if (BPF_MISCOP(code) == BPF_TAX) X = A;
                else A = X;
                ++pc;
                break;
            default:
                return fail("unknown instruction class");
        }
    }
    return fail("the program ran off its end without a return");
}

seccomp_data make_data(std::uint32_t arch_token, int nr, std::span<const std::uint64_t> args, std::uint64_t ip) {
    seccomp_data d{};
    d.arch = arch_token == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : arch_token;
    d.nr = nr;
    d.instruction_pointer = ip;
    for (std::size_t i = 0; i < args.size() && i < 6; ++i) d.args[i] = args[i];
    return d;
}

std::string disassemble(std::span<const sock_filter> program) {
    std::string out;
    char line[160];
    auto field = [](std::uint32_t k) -> const char* {
        switch (k) {
            case offsetof(seccomp_data, nr): return "nr";
            case offsetof(seccomp_data, arch): return "arch";
            case offsetof(seccomp_data, instruction_pointer): return "ip.lo";
            case offsetof(seccomp_data, instruction_pointer) + 4: return "ip.hi";
            default: break;
        }
        static thread_local char buf[16];
        for (unsigned i = 0; i < 6; ++i) {
            if (k == arg_lo_offset(i)) { std::snprintf(buf, sizeof buf, "a%u.lo", i); return buf; }
            if (k == arg_hi_offset(i)) { std::snprintf(buf, sizeof buf, "a%u.hi", i); return buf; }
        }
        std::snprintf(buf, sizeof buf, "[%u]", k);
        return buf;
    };
    auto ret_text = [](std::uint32_t k) {
        std::string s;
        std::uint32_t data = k & SECCOMP_RET_DATA;
        switch (k & SECCOMP_RET_ACTION_FULL) {
            case SECCOMP_RET_KILL_PROCESS: s = "KILL_PROCESS"; break;
            case SECCOMP_RET_KILL_THREAD: s = "KILL_THREAD"; break;
            case SECCOMP_RET_TRAP: s = "TRAP"; break;
            case SECCOMP_RET_ERRNO: s = "ERRNO(" + std::to_string(data) + ")"; break;
            case SECCOMP_RET_USER_NOTIF: s = "NOTIFY"; break;
            case SECCOMP_RET_TRACE: s = "TRACE(" + std::to_string(data) + ")"; break;
            case SECCOMP_RET_LOG: s = "LOG"; break;
            case SECCOMP_RET_ALLOW: s = "ALLOW"; break;
            default: s = "?"; break;
        }
        return s;
    };
    for (std::size_t i = 0; i < program.size(); ++i) {
        const sock_filter& in = program[i];
        const std::uint16_t c = in.code;
        const char* src = BPF_SRC(c) == BPF_X ? "x" : nullptr;
        switch (BPF_CLASS(c)) {
            case BPF_LD:
                if (c == (BPF_LD | BPF_W | BPF_ABS)) std::snprintf(line, sizeof line, "ld %s", field(in.k));
                else if (c == (BPF_LD | BPF_IMM)) std::snprintf(line, sizeof line, "ld #0x%x", in.k);
                else if (c == (BPF_LD | BPF_MEM)) std::snprintf(line, sizeof line, "ld M[%u]", in.k);
                else if (c == (BPF_LD | BPF_W | BPF_LEN)) std::snprintf(line, sizeof line, "ld #len");
                else std::snprintf(line, sizeof line, "ld ? (code 0x%x)", c);
                break;
            case BPF_LDX:
                if (c == (BPF_LDX | BPF_IMM)) std::snprintf(line, sizeof line, "ldx #0x%x", in.k);
                else if (c == (BPF_LDX | BPF_MEM)) std::snprintf(line, sizeof line, "ldx M[%u]", in.k);
                else std::snprintf(line, sizeof line, "ldx ? (code 0x%x)", c);
                break;
            case BPF_ST: std::snprintf(line, sizeof line, "st M[%u]", in.k); break;
            case BPF_STX: std::snprintf(line, sizeof line, "stx M[%u]", in.k); break;
            case BPF_ALU: {
                static const char* ops[] = {"add", "sub", "mul", "div", "or", "and", "lsh", "rsh",
                                            "neg", "mod", "xor"};
                unsigned op = BPF_OP(c) >> 4;
                const char* name = op < sizeof ops / sizeof *ops ? ops[op] : "alu?";
                if (src) std::snprintf(line, sizeof line, "%s x", name);
                else std::snprintf(line, sizeof line, "%s #0x%x", name, in.k);
                break;
            }
            case BPF_JMP: {
                if (BPF_OP(c) == BPF_JA) {
                    std::snprintf(line, sizeof line, "ja %zu", i + 1 + in.k);
                    break;
                }
                const char* name = BPF_OP(c) == BPF_JEQ ? "jeq" : BPF_OP(c) == BPF_JGT ? "jgt"
                                 : BPF_OP(c) == BPF_JGE ? "jge" : BPF_OP(c) == BPF_JSET ? "jset" : "j?";
                char operand[24];
                if (src) std::snprintf(operand, sizeof operand, "x");
                else std::snprintf(operand, sizeof operand, "#0x%x", in.k);
                std::snprintf(line, sizeof line, "%s %-12s jt %zu jf %zu", name, operand, i + 1 + in.jt, i + 1 + in.jf);
                break;
            }
            case BPF_RET:
                if (BPF_RVAL(c) == BPF_A) std::snprintf(line, sizeof line, "ret a");
                else std::snprintf(line, sizeof line, "ret %s", ret_text(in.k).c_str());
                break;
            case BPF_MISC: std::snprintf(line, sizeof line, "%s", BPF_MISCOP(c) == BPF_TAX ? "tax" : "txa"); break;
            default: std::snprintf(line, sizeof line, "? code 0x%x", c); break;
        }
        char prefix[32];
        std::snprintf(prefix, sizeof prefix, "%5zu: ", i);
        out += prefix;
        out += line;
        out += '\n';
    }
    return out;
}

std::size_t rewrite_returns(std::vector<sock_filter>& program, std::span<const std::uint32_t> from, std::uint32_t to) {
    std::size_t n = 0;
    for (auto& in : program) {
        if (in.code != (BPF_RET | BPF_K)) continue;
        const std::uint32_t action = in.k & SECCOMP_RET_ACTION_FULL;
        for (std::uint32_t f : from)
            if (action == f) {
                in.k = to;
                ++n;
                break;
            }
    }
    return n;
}

}  // namespace hardrun::seccomp
