// Classic BPF as the kernel runs it for seccomp: an interpreter (what a program answers for a syscall and
// how many instructions that took), a disassembler, and the small rewrites hardrun applies to libseccomp's
// output. Pure code: no syscalls, no allocation in simulate(), so the child may call it too.
#pragma once
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hardrun::seccomp {

struct SimResult {
    std::uint32_t ret = 0;          // SECCOMP_RET_* | data
    unsigned instructions = 0;      // instructions executed, including the final ret
    bool ok = true;                 // false: the program is invalid for seccomp (the kernel would refuse it)
    const char* error = "";         // why, when !ok
};

// Runs `program` on `data` like the kernel's seccomp BPF interpreter.
SimResult simulate(std::span<const sock_filter> program, const seccomp_data& data);

// seccomp_data for a syscall: `arch_token` is libseccomp's SCMP_ARCH_* value (x32 is mapped to the audit arch
// AUDIT_ARCH_X86_64 and the __X32_SYSCALL_BIT is expected in nr already, as syscall_number() returns it).
seccomp_data make_data(std::uint32_t arch_token, int nr, std::span<const std::uint64_t> args = {},
                       std::uint64_t ip = 0);

// One instruction per line: "  12: jeq #0xc000003e   jt 13 jf 40".
std::string disassemble(std::span<const sock_filter> program);

// Byte offset of the low / high 32 bits of argument `index` in seccomp_data (endianness aware).
std::uint32_t arg_lo_offset(unsigned index);
std::uint32_t arg_hi_offset(unsigned index);

// Replaces the return value of every `ret #k` whose action (k & SECCOMP_RET_ACTION_FULL) is in `from`
// by `to`. Returns how many were replaced.
std::size_t rewrite_returns(std::vector<sock_filter>& program, std::span<const std::uint32_t> from, std::uint32_t to);

}  // namespace hardrun::seccomp
