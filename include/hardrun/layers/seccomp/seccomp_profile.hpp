// Seccomp profiles: the model, the parsers and the resolution for one target.
//
// Formats (auto-detected by parse_profile):
//   * Docker's current JSON format: `names`, `archMap`, `includes`/`excludes` by arches, caps and minKernel,
//     `args` with every SCMP_CMP_* operator and `valueTwo`, `errnoRet`, `defaultErrnoRet`;
//   * Docker's old format: one `name` per rule and a top-level `architectures` list;
//   * the OCI runtime-spec `linux.seccomp` object (parse_oci: the OCI front end calls it on the object).
// Every problem is reported as hardrun::Error("seccomp", <profile source>, "<JSON path>: <problem>"), e.g.
//   seccomp: app.json: syscalls[3].args[0].op: 'SCMP_CMP_FOO' is not an operator
//
// resolve() evaluates includes/excludes against the native architecture, the capabilities the workload
// will really hold and the running kernel, maps names to numbers per architecture, and rejects rules that
// conflict. compile() (seccomp_compile.cpp) turns the result into a classic BPF program with libseccomp.
#pragma once
#include <linux/filter.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "hardrun/plan/plan.hpp"

namespace hardrun::seccomp {

// ---- actions --------------------------------------------------------------------------------------------
enum class ActionKind { Allow, Errno, KillProcess, KillThread, Trap, Log, Notify, Trace };

struct Action {
    ActionKind kind = ActionKind::Errno;
    std::uint32_t value = 0;  // the errno (Errno) or the tracer's message (Trace); 0 otherwise
    bool operator==(const Action&) const = default;
};

std::string action_json_name(ActionKind kind);      // "SCMP_ACT_ERRNO"
std::string action_kernel_name(ActionKind kind);    // "errno", as in /proc/sys/kernel/seccomp/actions_avail
std::string describe(const Action& action);         // "ERRNO(EPERM)", "ALLOW", "KILL_PROCESS"
std::uint32_t to_scmp(const Action& action);        // libseccomp's SCMP_ACT_* value
std::uint32_t to_ret(const Action& action);         // the SECCOMP_RET_* value a BPF program returns
Action from_ret(std::uint32_t ret);                 // inverse of to_ret (unknown actions: KillProcess)
bool is_allowing(ActionKind kind);                  // Allow and Log: the syscall runs

// ---- profile model (as written) ------------------------------------------------------------------------
enum class Op { NotEqual, Less, LessEqual, Equal, GreaterEqual, Greater, MaskedEqual };
std::string op_json_name(Op op);  // "SCMP_CMP_MASKED_EQ"

struct ArgCmp {
    unsigned index = 0;          // 0..5
    Op op = Op::Equal;
    std::uint64_t value = 0;     // MaskedEqual: the mask
    std::uint64_t value_two = 0; // MaskedEqual: the value the masked argument must equal
    bool operator==(const ArgCmp&) const = default;
    auto operator<=>(const ArgCmp&) const = default;
};
std::string describe(const ArgCmp& cmp);  // "a0 & 0x7e020000 == 0", "a0 < 38"

struct Condition {
    std::vector<std::string> arches;       // Go (amd64, arm64, x86...) or SCMP_ARCH_* names, as written
    std::vector<std::string> caps;         // "CAP_SYS_ADMIN"
    std::string min_kernel;                // "4.8"; empty = none
    bool empty() const { return arches.empty() && caps.empty() && min_kernel.empty(); }
};

struct Rule {
    std::vector<std::string> names;
    Action action;
    std::vector<ArgCmp> args;
    Condition includes, excludes;
    std::string comment;
    std::string path;  // JSON path of the rule, e.g. "syscalls[3]"
    bool single_name = false;  // written with the old format's `name`
};

enum class Format { Docker, DockerOld, Oci };
std::string format_name(Format f);

struct ArchMapEntry {
    std::string architecture;                 // SCMP_ARCH_*
    std::vector<std::string> sub_architectures;
};

struct Profile {
    std::string source;  // file path, or e.g. "config.json linux.seccomp"
    Format format = Format::Docker;
    Action default_action{ActionKind::Errno, 1};
    std::vector<std::string> architectures;  // explicit list (old format, OCI); SCMP_ARCH_* names
    std::vector<ArchMapEntry> arch_map;      // Docker's current format
    std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_* names
    std::string listener_path, listener_metadata;  // OCI seccomp notify agent
    std::vector<Rule> rules;
    std::vector<std::string> warnings;       // harmless oddities (unknown keys...)
};

// Parses a profile in any supported format. `source` names it in errors. Throws Error.
Profile parse_profile(std::string_view json_text, const std::string& source);
// Parses an already-decoded JSON object (Docker or OCI format). Throws Error.
Profile parse_profile_json(const nlohmann::json& object, const std::string& source);
// The OCI runtime-spec linux.seccomp object (no includes/excludes/archMap). Throws Error.
Profile parse_oci(const nlohmann::json& seccomp_object, const std::string& source);
// Reads a profile file whole (at most 64 MiB), following symlinks, any owner (the file is the user's choice).
// Throws Error naming the file. Read a file once and use those bytes for everything (seccomp::prepare hashes
// and compiles the same bytes: a file changed between two reads must not pair one profile with another).
std::string read_profile_file(const std::string& path);
// Reads (read_profile_file) and parses a file. Throws Error naming the file.
Profile load_profile(const std::string& path);

// ---- architectures and syscall names -------------------------------------------------------------------
struct ArchInfo {
    std::uint32_t token;       // libseccomp SCMP_ARCH_* value
    std::uint32_t audit_arch;  // what the kernel puts in seccomp_data.arch (x32: AUDIT_ARCH_X86_64)
    std::string name;          // "x86_64"
    std::string scmp_name;     // "SCMP_ARCH_X86_64"
    std::uint32_t nr_base;     // first syscall number (x32: 0x40000000, MIPS o32: 4000 ...)
};
// nullptr for names libseccomp does not support here. Accepts "SCMP_ARCH_X86_64", "x86_64", "amd64", "386".
const ArchInfo* find_arch(std::string_view name);
const ArchInfo* find_arch(std::uint32_t token);
const ArchInfo& native_arch();

// Syscall number of `name` on `arch`; -1 when unknown or absent on that architecture. Names newer than the
// libseccomp hardrun was built with are resolved from hardrun's own table (see kNewerSyscalls).
int syscall_number(const ArchInfo& arch, std::string_view name);
// Whether libseccomp or hardrun's table knows the name at all (on any architecture).
bool syscall_known(std::string_view name);
// Name of syscall `nr` (as the kernel reports it in seccomp_data) on audit arch `audit_arch`; "" if unknown.
std::string syscall_name(std::uint32_t audit_arch, std::uint32_t nr);
// The architecture a (audit_arch, nr) pair belongs to (x32 syscalls come with AUDIT_ARCH_X86_64).
const ArchInfo* arch_of(std::uint32_t audit_arch, std::uint32_t nr);

// ---- resolution ----------------------------------------------------------------------------------------
struct KernelVersion {
    int major = 0, minor = 0, patch = 0;
    auto operator<=>(const KernelVersion&) const = default;
};
std::optional<KernelVersion> parse_kernel_version(std::string_view text);  // "6.18.44-fc" -> 6.18.44
KernelVersion running_kernel();
// The actions this kernel supports (/proc/sys/kernel/seccomp/actions_avail, else libseccomp's API level).
std::set<ActionKind> kernel_actions();

struct Target {
    const ArchInfo* native = nullptr;   // default: native_arch()
    CapSet caps;                        // the capabilities the workload can use
    KernelVersion kernel;               // for minKernel
    std::set<ActionKind> available;     // actions the kernel supports
    bool strict = false;                // unknown syscall names are errors, not warnings
};
// The target of a launch: native arch, the capabilities the workload will really be able to use (permitted,
// effective and ambient; plus the bounding set when no_new_privs is off, since a setuid/file-capability
// exec could then raise them), the running kernel and its actions.
Target target_for(const LaunchPlan& plan);

struct ResolvedRule {
    std::string name;
    Action action;
    std::vector<ArgCmp> args;  // sorted by index
    std::string path;          // "syscalls[3].names[2]"
    std::map<std::uint32_t, int> numbers;  // arch token -> syscall number, for the arches it exists on
};

struct Resolved {
    std::string source;
    Format format = Format::Docker;
    Action default_action;
    std::vector<const ArchInfo*> arches;        // the filter's arches, native first
    std::vector<ResolvedRule> rules;            // active rules (default-action duplicates dropped)
    std::map<std::uint32_t, int> max_known;     // arch token -> highest syscall number the profile names
    std::set<std::string> names_known;          // every name the profile mentions (active or not)
    unsigned filter_flags = 0;                  // SECCOMP_FILTER_FLAG_LOG / SPEC_ALLOW
    std::string listener_path, listener_metadata;
    std::vector<std::string> warnings;
    bool uses(ActionKind kind) const;
};

// Throws Error naming the profile source and the JSON path of the problem.
Resolved resolve(const Profile& profile, const Target& target);

// ---- argument widths (seccomp_args.cpp) -----------------------------------------------------------------
// seccomp gives a filter whole 64-bit argument registers, but the kernel reads an int or unsigned int argument
// (socket's domain, type and protocol, ioctl's command, prctl's option, setsockopt's level and name...) from the
// low 32 bits only, and a umode_t from the low 16: socket(0x100000028, ...) is socket(AF_VSOCK, ...) to it. The
// compiler therefore compares only those bits (narrow() below).
//
// How many low bits of argument `index` (0-5) of `syscall` the kernel reads, from its SYSCALL_DEFINE
// signatures (the same on every 64-bit ABI; a 32-bit ABI has 32-bit registers anyway): 32 or 16 as above, 64 for
// long, unsigned long (clone's and unshare's flags, mmap's), size_t, loff_t and pointers, for arguments past the
// signature (the kernel does not read them) and for syscalls hardrun has no signature for.
unsigned argument_bits(std::string_view syscall, unsigned index);
bool argument_widths_known(std::string_view syscall);  // hardrun has the signature (unit tests: all of x86_64)

// The value of `cmp` as the kernel sees it for an argument `bits` wide: the value itself when it fits, the low 32
// bits of a negative int written sign-extended (18446744073709551615 for -1), nullopt for anything else (bits the
// kernel never reads). SCMP_CMP_MASKED_EQ always fits (only the masked bits of its values count).
std::optional<std::uint64_t> kernel_value(const ArgCmp& cmp, unsigned bits);
// "" when the value of `cmp` fits the argument of `syscall`, else the problem: "socket a0: 0x100000028 does not fit
// the 32-bit argument the kernel reads (it sees only 0x28)". resolve() refuses such rules, active or not.
std::string argument_misfit(std::string_view syscall, const ArgCmp& cmp);

// `cmp` on an argument the kernel reads `bits` (< 64) wide, rewritten as masked comparisons of those bits only,
// with the same meaning for every value the kernel can see: the comparison holds iff one of the returned ones
// does (libseccomp gets one rule per alternative; they never overlap). EQ and MASKED_EQ give one, NE, LT, LE, GT
// and GE up to `bits` (the prefixes of the value, like CIDR blocks); empty when it can never hold (< 0); a single
// MASKED_EQ with mask 0 when it always holds (<= 0xffffffff). Comparisons stay unsigned, as in libseccomp.
// Precondition: kernel_value(cmp, bits) has a value.
std::vector<ArgCmp> narrow(const ArgCmp& cmp, unsigned bits);

// ---- compilation (seccomp_compile.cpp) ------------------------------------------------------------------
struct Compiled {
    std::vector<sock_filter> program;
    std::size_t stub_length = 0;  // instructions hardrun put in front of libseccomp's program (ENOSYS rule)
};
// Compiles with libseccomp's binary-tree optimiser. Architectures not in the filter are killed
// (KILL_PROCESS); when the default action refuses, syscall numbers above the highest one the profile knows
// (per arch) return ENOSYS so programs fall back as on an older kernel. Throws Error.
Compiled compile(const Resolved& resolved);
// The program libseccomp generates for a default action only (e.g. record mode without a base profile).
Compiled compile_default_only(const Action& default_action, const ArchInfo& arch);

// ---- the profile files hardrun ships -------------------------------------------------------------------
std::string default_profile_path();  // data_file("seccomp/default.json")

}  // namespace hardrun::seccomp
