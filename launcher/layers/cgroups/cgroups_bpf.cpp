// cgroup v2 device rules: cgroup v2 has no devices.allow file; a BPF_PROG_TYPE_CGROUP_DEVICE program
// attached to the cgroup decides every open/mknod of a device node. This file builds that program from
// the plan's rules (pure) and loads and attaches it.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>

#include "hardrun/layers/cgroups/cgroups.hpp"
#include "hardrun/support/error.hpp"

namespace hardrun::cgroups {

namespace {

// Registers: r1 = context, r2 = access asked, r3 = device type, r4 = major, r5 = minor, r6 = scratch.
constexpr std::uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6;

bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
bpf_insn load_u32(std::uint8_t dst, std::int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, R1, off, 0); }
bpf_insn mov_reg(std::uint8_t dst, std::uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov_imm(std::uint8_t dst, std::int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn alu_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm) { return insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm); }
bpf_insn jmp_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm, std::int16_t off) {
    return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int access_bits(const DeviceRule& r) {
    int bits = 0;
    for (char c : r.access) {
        if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
        else if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
        else if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
        else throw Error("cgroups", "device rule access '" + r.access + "'", "only r, w and m are allowed");
    }
    return bits;
}

}  // namespace

std::vector<DeviceRule> default_device_rules() {
    auto c = [](std::int64_t maj, std::optional<std::int64_t> min) {
        DeviceRule r;
        r.allow = true;
        r.type = 'c';
        r.major = maj;
        r.minor = min;
        r.access = "rwm";
        return r;
    };
    return {c(1, 3), c(1, 5), c(1, 7), c(1, 8), c(1, 9), c(5, 0), c(5, 2), c(136, std::nullopt)};
}

std::vector<DeviceRule> enforced_device_rules(const Resources& res, bool privileged) {
    if (!res.devices.empty()) return res.devices;
    if (!privileged) return {};
    return default_device_rules();
}

std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules) {
    constexpr int kAll = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
    std::vector<bpf_insn> p;
    p.push_back(load_u32(R2, offsetof(bpf_cgroup_dev_ctx, access_type)));
    p.push_back(mov_reg(R3, R2));
    p.push_back(alu_imm(BPF_AND, R3, 0xffff));  // type
    p.push_back(alu_imm(BPF_RSH, R2, 16));      // access
    p.push_back(load_u32(R4, offsetof(bpf_cgroup_dev_ctx, major)));
    p.push_back(load_u32(R5, offsetof(bpf_cgroup_dev_ctx, minor)));
    // The last matching rule decides: test them from the last to the first, each block falling through
    // to the next when its rule does not match.
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
        const DeviceRule& r = *it;
        const int bits = access_bits(r);
        if (bits == 0) continue;  // matches nothing
        std::vector<bpf_insn> block;
        std::vector<std::size_t> skips;  // jumps to the end of the block
        auto skip_if = [&](bpf_insn j) {
            skips.push_back(block.size());
            block.push_back(j);
        };
        if (r.type == 'c' || r.type == 'b')
            skip_if(jmp_imm(BPF_JNE, R3, r.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0));
        else if (r.type != 'a')
            throw Error("cgroups", std::string("device rule type '") + r.type + "'", "only a, c and b are allowed");
        if (r.allow && bits != kAll) {  // every access asked must be granted
            block.push_back(mov_reg(R6, R2));
            block.push_back(alu_imm(BPF_AND, R6, ~bits & kAll));
            skip_if(jmp_imm(BPF_JNE, R6, 0, 0));
        } else if (!r.allow && bits != kAll) {  // any access asked that the rule covers is denied
            block.push_back(mov_reg(R6, R2));
            block.push_back(alu_imm(BPF_AND, R6, bits));
            skip_if(jmp_imm(BPF_JEQ, R6, 0, 0));
        }
        if (r.major && *r.major >= 0) skip_if(jmp_imm(BPF_JNE, R4, static_cast<std::int32_t>(*r.major), 0));
        if (r.minor && *r.minor >= 0) skip_if(jmp_imm(BPF_JNE, R5, static_cast<std::int32_t>(*r.minor), 0));
        block.push_back(mov_imm(R0, r.allow ? 1 : 0));
        block.push_back(exit_insn());
        for (std::size_t j : skips) block[j].off = static_cast<std::int16_t>(block.size() - j - 1);
        p.insert(p.end(), block.begin(), block.end());
        // an unconditional rule (e.g. OCI's leading {"allow": false, "access": "rwm"}) decides whatever reaches
        // it: code after it is unreachable, and the verifier refuses unreachable instructions
        if (skips.empty()) return p;
    }
    p.push_back(mov_imm(R0, 0));  // nothing matched: deny
    p.push_back(exit_insn());
    return p;
}

// Loads the program and attaches it to the cgroup; checks with BPF_PROG_QUERY that it is there.
void attach_device_program(int cgroup_fd, const std::string& cgroup_path, const std::vector<DeviceRule>& rules) {
    const std::vector<bpf_insn> prog = device_program(rules);
    static char license[] = "GPL";
    std::vector<char> log(8192);
    union bpf_attr load {};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<std::uint64_t>(prog.data());
    load.insn_cnt = static_cast<std::uint32_t>(prog.size());
    load.license = reinterpret_cast<std::uint64_t>(license);
    load.log_buf = reinterpret_cast<std::uint64_t>(log.data());
    load.log_size = static_cast<std::uint32_t>(log.size());
    load.log_level = 1;
    long fd = ::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
    if (fd < 0) {
        int err = errno;
        if (err == EPERM || err == EACCES)
            throw_errno("cgroups", "device rules (BPF_PROG_TYPE_CGROUP_DEVICE)", err,
                        "loading a cgroup device program needs CAP_BPF or CAP_SYS_ADMIN (root); a rootless run "
                        "cannot enforce device rules, drop them or run as root");
        // the verifier's reason is its first line; the last one is only its statistics
        std::string verifier(log.data(), strnlen(log.data(), log.size()));
        verifier = verifier.substr(0, verifier.find('\n'));
        throw_errno("cgroups", "device rules (BPF_PROG_TYPE_CGROUP_DEVICE)", err,
                    verifier.empty() ? "" : "verifier: " + verifier);
    }
    UniqueFd prog_fd(static_cast<int>(fd));
    union bpf_attr attach {};
    attach.target_fd = static_cast<std::uint32_t>(cgroup_fd);
    attach.attach_bpf_fd = static_cast<std::uint32_t>(prog_fd.get());
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = 0;  // exclusive: nothing below may replace it
    if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) != 0)
        throw_errno("cgroups", "attaching the device program to " + cgroup_path, errno,
                    errno == EPERM ? "an ancestor cgroup holds a device program that forbids overriding it" : "");
    std::uint32_t ids[8] = {};
    union bpf_attr query {};
    query.query.target_fd = static_cast<std::uint32_t>(cgroup_fd);
    query.query.attach_type = BPF_CGROUP_DEVICE;
    query.query.prog_ids = reinterpret_cast<std::uint64_t>(ids);
    query.query.prog_cnt = 8;
    if (::syscall(SYS_bpf, BPF_PROG_QUERY, &query, sizeof query) != 0 || query.query.prog_cnt != 1)
        throw Error("cgroups", "device rules on " + cgroup_path, "the device program is not attached after BPF_PROG_ATTACH");
}

}  // namespace hardrun::cgroups
