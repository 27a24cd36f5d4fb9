// Seccomp: every public fixture parses and resolves to the expected allow/deny table (checked by running the
// compiled BPF in hardrun's interpreter), malformed profiles give their exact error, hardrun's default is at
// least as strict as Docker's, and the Report/Record programs are the profile's with the right rewrites.
#include <doctest/doctest.h>
#include <linux/audit.h>
#include <sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <linux/capability.h>
#include <sys/socket.h>

#include <csignal>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "hardrun/support/error.hpp"
#include "hardrun/layers/seccomp/seccomp.hpp"
#include "hardrun/layers/seccomp/seccomp_bpf.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"
#include "recording_sys.hpp"

using namespace hardrun;
using namespace hardrun::seccomp;

namespace {

const std::string kData = std::string(HARDRUN_TEST_DATA) + "/seccomp/";
const std::string kProfiles = std::string(HARDRUN_SOURCE_DIR) + "/profiles/seccomp/";

Target target(std::initializer_list<int> caps = {}, KernelVersion kernel = {6, 18, 0}) {
    Target t;
    t.native = &native_arch();
    for (int c : caps) t.caps.add(c);
    t.kernel = kernel;
    t.available = {ActionKind::Allow,     ActionKind::Errno, ActionKind::KillProcess, ActionKind::KillThread,
                   ActionKind::Trap,      ActionKind::Log,   ActionKind::Notify,      ActionKind::Trace};
    return t;
}

struct Filter {
    Resolved resolved;
    Compiled compiled;
    // What the program answers for a syscall of `arch` (default: native) with these arguments.
    std::string verdict(const std::string& name, std::vector<std::uint64_t> args = {}, std::uint32_t arch = 0) const {
        const ArchInfo* a = arch ? find_arch(arch) : &native_arch();
        REQUIRE(a);
        int nr = syscall_number(*a, name);
        REQUIRE_MESSAGE(nr >= 0, name);
        return verdict_nr(nr, args, a->token);
    }
    std::string verdict_nr(int nr, std::vector<std::uint64_t> args = {}, std::uint32_t arch = 0) const {
        SimResult r = simulate(compiled.program, make_data(arch ? arch : native_arch().token, nr, args));
        REQUIRE_MESSAGE(r.ok, r.error);
        return describe(from_ret(r.ret));
    }
};

Filter load(const std::string& path, const Target& t = target()) {
    Filter f{resolve(load_profile(path), t), {}};
    f.compiled = compile(f.resolved);
    return f;
}

Filter from_text(const std::string& text, const Target& t = target()) {
    Filter f{resolve(parse_profile(text, "t.json"), t), {}};
    f.compiled = compile(f.resolved);
    return f;
}

// The exact one-line error a profile gives.
std::string error_of(const std::string& text, const Target& t = target(), bool oci = false) {
    try {
        if (oci) compile(resolve(parse_oci(nlohmann::json::parse(text), "oci"), t));
        else compile(resolve(parse_profile(text, "t.json"), t));
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string rule(const std::string& body) {
    return R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [)" + body + "]}";
}

constexpr std::uint64_t kNsFlags = CLONE_NEWNS | CLONE_NEWUSER;
const std::string EPERM_ = "ERRNO(EPERM)";
const std::string ENOSYS_ = "ERRNO(ENOSYS)";

}  // namespace

TEST_CASE("seccomp fixture: Docker's current default profile (names, archMap, includes/excludes)") {
    Filter f = load(kData + "docker-default.json");
    CHECK(f.resolved.format == Format::Docker);
    CHECK(f.resolved.warnings.empty());
    REQUIRE(f.resolved.arches.size() == 3);  // archMap: x86_64 with x86 and x32
    CHECK(f.resolved.arches[1]->name == "x86");
    CHECK(f.resolved.arches[2]->name == "x32");
    CHECK(f.verdict("read") == "ALLOW");
    CHECK(f.verdict("getppid") == "ALLOW");
    CHECK(f.verdict("ptrace") == "ALLOW");  // includes minKernel 4.8
    CHECK(f.verdict("process_vm_readv") == "ALLOW");
    CHECK(f.verdict("mount") == EPERM_);
    CHECK(f.verdict("unshare") == EPERM_);
    CHECK(f.verdict("keyctl") == EPERM_);
    CHECK(f.verdict("bpf") == EPERM_);
    CHECK(f.verdict("kexec_load") == EPERM_);
    CHECK(f.verdict("open_by_handle_at") == EPERM_);
    CHECK(f.verdict("clone", {SIGCHLD}) == "ALLOW");
    CHECK(f.verdict("clone", {kNsFlags | SIGCHLD}) == EPERM_);
    CHECK(f.verdict("clone3") == ENOSYS_);  // excludes CAP_SYS_ADMIN, errnoRet 38
    CHECK(f.verdict("socket", {AF_INET}) == "ALLOW");
    CHECK(f.verdict("socket", {38}) == EPERM_);
    CHECK(f.verdict("socket", {39}) == "ALLOW");
    CHECK(f.verdict("socket", {40}) == EPERM_);
    CHECK(f.verdict("personality", {8}) == "ALLOW");
    CHECK(f.verdict("personality", {0xffff}) == EPERM_);
    CHECK(f.verdict("arch_prctl") == "ALLOW");  // includes arches amd64
    CHECK(f.verdict("modify_ldt") == "ALLOW");
    CHECK(f.verdict("mseal") == "ALLOW");  // newer than libseccomp 2.5.4: hardrun's own table
    CHECK(f.resolved.max_known.at(SCMP_ARCH_X86_64) == 466);  // removexattrat
    CHECK(f.verdict_nr(467) == ENOSYS_);  // open_tree_attr: newer than the profile
    CHECK(f.verdict_nr(469) == ENOSYS_);
    CHECK(f.verdict_nr(1023) == ENOSYS_);
    // i386 is in the filter (int 0x80 getpid is allowed), as is x32
    CHECK(f.verdict("getpid", {}, SCMP_ARCH_X86) == "ALLOW");
    CHECK(f.verdict_nr(359, {AF_INET}, SCMP_ARCH_X86) == "ALLOW");  // i386 socket
    CHECK(f.verdict_nr(359, {40}, SCMP_ARCH_X86) == EPERM_);
    CHECK(f.verdict_nr(102, {1}, SCMP_ARCH_X86) == "ALLOW");  // socketcall(SYS_SOCKET): libseccomp cannot see the family
    CHECK(f.verdict("mount", {}, SCMP_ARCH_X86) == EPERM_);
    CHECK(f.verdict("read", {}, SCMP_ARCH_X32) == "ALLOW");
    // an ABI the filter does not cover is killed
    CHECK(f.verdict("read", {}, SCMP_ARCH_AARCH64) == "KILL_PROCESS");
}

TEST_CASE("seccomp fixture: includes/excludes follow the capabilities and the kernel") {
    Filter old_kernel = load(kData + "docker-default.json", target({}, {4, 4, 0}));
    CHECK(old_kernel.verdict("ptrace") == EPERM_);
    Filter admin = load(kData + "docker-default.json", target({CAP_SYS_ADMIN}));
    CHECK(admin.verdict("mount") == "ALLOW");
    CHECK(admin.verdict("clone", {kNsFlags | SIGCHLD}) == "ALLOW");
    CHECK(admin.verdict("clone3") == "ALLOW");
    CHECK(admin.verdict("perf_event_open") == "ALLOW");
    Filter ptrace = load(kData + "docker-default.json", target({CAP_SYS_PTRACE}));
    CHECK(ptrace.verdict("kcmp") == "ALLOW");
    CHECK(ptrace.verdict("mount") == EPERM_);

    Filter none = load(kData + "docker-conditional_include.json");
    CHECK(none.verdict("chmod") == "ALLOW");
    CHECK(none.verdict("syslog") == EPERM_);
    CHECK(none.verdict("ptrace") == "ALLOW");
    Filter syslog = load(kData + "docker-conditional_include.json", target({CAP_SYSLOG}));
    CHECK(syslog.verdict("syslog") == "ALLOW");
    Filter sysadmin = load(kData + "docker-conditional_include.json", target({CAP_SYS_ADMIN}));
    CHECK(sysadmin.verdict("ptrace") == EPERM_);
}

TEST_CASE("seccomp fixture: Docker's old single-name format") {
    Filter f = load(kData + "docker-default-old-format.json");
    CHECK(f.resolved.format == Format::DockerOld);
    REQUIRE(f.resolved.arches.size() == 3);  // "architectures"
    CHECK(f.verdict("read") == "ALLOW");
    CHECK(f.verdict("mount") == EPERM_);
    CHECK(f.verdict("clone", {SIGCHLD}) == "ALLOW");
    CHECK(f.verdict("clone", {CLONE_NEWUSER | SIGCHLD}) == EPERM_);  // mask 2080505856
    CHECK(f.verdict("personality", {0xffffffff}) == "ALLOW");
    CHECK(f.verdict("personality", {0x20000}) == EPERM_);
    CHECK(f.verdict("getpid", {}, SCMP_ARCH_X86) == "ALLOW");
}

TEST_CASE("seccomp fixture: the small example (valueTwo, errnoRet, defaultErrnoRet)") {
    Filter f = load(kData + "docker-example.json");
    CHECK(f.resolved.default_action == Action{ActionKind::Errno, 1});
    CHECK(f.verdict("open") == "ALLOW");
    CHECK(f.verdict("close") == "ALLOW");
    CHECK(f.verdict("clone", {SIGCHLD}) == "ALLOW");
    CHECK(f.verdict("clone", {CLONE_NEWNS}) == EPERM_);
    CHECK(f.verdict("read") == EPERM_);
    // errnoRet 12345 is no errno (the kernel would cap it at 4095, libseccomp refuses above 4094): hardrun says so
    CHECK(f.verdict("syslog") == "ERRNO(4094)");
    REQUIRE(f.resolved.warnings.size() == 1);
    CHECK(f.resolved.warnings[0] == "syscalls[3].errnoRet: 12345 is not an errno (libseccomp takes at most 4094); using 4094");
}

TEST_CASE("seccomp: hardrun's default profile refuses what the issue lists and keeps the native ABI only") {
    Filter f = load(kProfiles + "default.json");
    CHECK(f.resolved.warnings.empty());
    REQUIRE(f.resolved.arches.size() == 1);
    for (const char* name : {"unshare", "mount", "umount2", "setns", "keyctl", "add_key", "ptrace", "process_vm_readv",
                             "bpf", "perf_event_open", "kexec_load", "open_by_handle_at", "init_module", "modify_ldt",
                             "userfaultfd", "io_uring_setup", "reboot", "swapon", "pivot_root", "chroot"})
        CHECK_MESSAGE(f.verdict(name) == EPERM_, name);
    CHECK(f.verdict("clone", {CLONE_NEWNS | SIGCHLD}) == EPERM_);
    CHECK(f.verdict("clone", {CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD}) == "ALLOW");
    CHECK(f.verdict("clone3") == ENOSYS_);
    CHECK(f.verdict("socket", {40}) == EPERM_);
    CHECK(f.verdict("socket", {38}) == EPERM_);
    CHECK(f.verdict("socket", {AF_INET6}) == "ALLOW");
    CHECK(f.verdict("personality", {0xffff}) == EPERM_);
    CHECK(f.verdict("personality", {0}) == "ALLOW");
    CHECK(f.verdict("getpid", {}, SCMP_ARCH_X86) == "KILL_PROCESS");  // int 0x80
    CHECK(f.verdict("read", {}, SCMP_ARCH_X32) == "KILL_PROCESS");
    CHECK(f.resolved.max_known.at(SCMP_ARCH_X86_64) == 466);  // removexattrat, like Docker's
    CHECK(f.verdict("file_getattr") == ENOSYS_);  // newer than the profile: as on an older kernel
    CHECK(f.verdict_nr(471) == ENOSYS_);
    // capabilities given back bring their syscalls back, as in Docker's profile
    Filter ptrace = load(kProfiles + "default.json", target({CAP_SYS_PTRACE}));
    CHECK(ptrace.verdict("ptrace") == "ALLOW");
    Filter admin = load(kProfiles + "default.json", target({CAP_SYS_ADMIN}));
    CHECK(admin.verdict("mount") == "ALLOW");
    CHECK(admin.verdict("getpid", {}, SCMP_ARCH_X86) == "KILL_PROCESS");
}

TEST_CASE("seccomp: target_for() evaluates includes/excludes against the capabilities the workload can use") {
    LaunchPlan plan;
    plan.caps = Capabilities{};
    plan.caps.bounding.add(CAP_SYS_PTRACE);  // bounding only: usable only through an exec that raises it
    plan.no_new_privs = true;
    Target t = target_for(plan);
    CHECK(t.native == &native_arch());
    CHECK(!t.caps.has(CAP_SYS_PTRACE));
    CHECK(load(kProfiles + "default.json", t).verdict("ptrace") == EPERM_);
    // no-new-privileges off: a setuid or file-capability exec could raise a bounding capability
    plan.no_new_privs = false;
    t = target_for(plan);
    CHECK(t.caps.has(CAP_SYS_PTRACE));
    CHECK(load(kProfiles + "default.json", t).verdict("ptrace") == "ALLOW");
    // permitted, effective and ambient count whatever no-new-privileges says
    plan = LaunchPlan{};
    plan.caps = Capabilities{};
    plan.no_new_privs = true;
    plan.caps.permitted.add(CAP_SYS_ADMIN);
    plan.caps.effective.add(CAP_SYS_PTRACE);
    plan.caps.ambient.add(CAP_NET_ADMIN);
    t = target_for(plan);
    CHECK(t.caps.has(CAP_SYS_ADMIN));
    CHECK(t.caps.has(CAP_SYS_PTRACE));
    CHECK(t.caps.has(CAP_NET_ADMIN));
    CHECK(!t.caps.has(CAP_SYS_MODULE));
    Filter f = load(kProfiles + "default.json", t);
    CHECK(f.verdict("ptrace") == "ALLOW");
    CHECK(f.verdict("mount") == "ALLOW");
    CHECK(f.verdict("init_module") == EPERM_);
    plan.caps.inheritable.add(CAP_SYS_MODULE);  // inheritable alone gives nothing to an exec of a plain file
    CHECK(!target_for(plan).caps.has(CAP_SYS_MODULE));
}

TEST_CASE("seccomp: hardrun's default is at least as strict as Docker's for the same capabilities") {
    for (auto caps : {std::initializer_list<int>{}, {CAP_SYS_ADMIN}, {CAP_SYS_PTRACE, CAP_NET_ADMIN}}) {
        Filter ours = load(kProfiles + "default.json", target(caps));
        Filter docker = load(kData + "docker-default.json", target(caps));
        const std::vector<std::vector<std::uint64_t>> arg_sets = {
            {}, {SIGCHLD}, {kNsFlags}, {38}, {40}, {0xffff}, {8}, {0xffffffff}, {AF_INET}};
        int compared = 0;
        for (int nr = 0; nr < 480; ++nr)
            for (const auto& args : arg_sets) {
                std::string o = ours.verdict_nr(nr, args), d = docker.verdict_nr(nr, args);
                if (o == "ALLOW") CHECK_MESSAGE(d == "ALLOW", "nr ", nr, " allowed by hardrun but not by Docker");
                ++compared;
            }
        CHECK(compared == 480 * 9);
    }
}

TEST_CASE("seccomp: the strict profile allows a network service's syscalls and little else") {
    Filter f = load(kProfiles + "strict.json");
    CHECK(f.resolved.warnings.empty());
    for (const char* name : {"read", "write", "openat", "mmap", "futex", "epoll_wait", "accept4", "bind", "listen",
                             "sendmsg", "recvfrom", "execve", "wait4", "rt_sigaction", "getrandom", "exit_group"})
        CHECK_MESSAGE(f.verdict(name) == "ALLOW", name);
    for (const char* name : {"setuid", "setresuid", "setgroups", "mount", "ptrace", "keyctl", "bpf", "io_uring_setup",
                             "chroot", "mknodat", "semget", "msgget", "sethostname"})
        CHECK_MESSAGE(f.verdict(name) == EPERM_, name);
    CHECK(f.verdict("socket", {AF_UNIX}) == "ALLOW");
    CHECK(f.verdict("socket", {AF_INET6}) == "ALLOW");
    CHECK(f.verdict("socket", {AF_PACKET}) == EPERM_);
    CHECK(f.verdict("socket", {40}) == EPERM_);
    CHECK(f.verdict("clone", {SIGCHLD}) == "ALLOW");
    CHECK(f.verdict("clone", {CLONE_NEWNET}) == EPERM_);
    CHECK(f.verdict("clone3") == ENOSYS_);
    CHECK(f.verdict("personality", {8}) == EPERM_);
}

TEST_CASE("seccomp: the OCI linux.seccomp object") {
    const std::string oci = R"({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["getppid"], "action": "SCMP_ACT_LOG"},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["mmap"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["getpid"], "action": "SCMP_ACT_TRAP"}
        ]})";
    Profile p = parse_oci(nlohmann::json::parse(oci), "config.json linux.seccomp");
    CHECK(p.format == Format::Oci);
    Resolved r = resolve(p, target());
    CHECK(r.filter_flags == SECCOMP_FILTER_FLAG_LOG);
    Filter f{r, compile(r)};
    CHECK(f.verdict("read") == "ALLOW");
    CHECK(f.verdict("getppid") == "LOG");
    CHECK(f.verdict("kill") == "KILL_PROCESS");
    CHECK(f.verdict("uname") == "ERRNO(EIO)");
    CHECK(f.verdict("mmap") == "TRACE(7)");
    CHECK(f.verdict("getpid") == "TRAP");
    CHECK(f.verdict("socket", {AF_UNIX, SOCK_STREAM, 0}) == "ALLOW");
    CHECK(f.verdict("socket", {AF_UNIX, SOCK_STREAM, 1}) == "ERRNO(ENOSYS)");
    CHECK(f.verdict("open") == "ERRNO(ENOSYS)");  // the default errno
    CHECK(f.verdict("read", {}, SCMP_ARCH_X86) == "ALLOW");
    // Docker-only keys are refused in the OCI object rather than silently ignored
    CHECK(error_of(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                     "includes": {"caps": ["CAP_SYS_ADMIN"]}}]})", target(), true) ==
          "seccomp: oci: syscalls[0].includes: not part of the OCI format (Docker profiles only)");
}

TEST_CASE("seccomp: every SCMP_CMP operator") {
    Filter f = from_text(rule(R"(
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_NE"}]},
        {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_LT"}]},
        {"names": ["close"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 5, "op": "SCMP_CMP_LE"}]},
        {"names": ["dup"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 3, "value": 5, "op": "SCMP_CMP_EQ"}]},
        {"names": ["dup2"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 4, "value": 5, "op": "SCMP_CMP_GE"}]},
        {"names": ["dup3"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 5, "value": 5, "op": "SCMP_CMP_GT"}]},
        {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 1, "value": 240, "valueTwo": 16, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_EQ"}]})"));
    CHECK(f.verdict("read", {4}) == "ALLOW");
    CHECK(f.verdict("read", {5}) == EPERM_);
    CHECK(f.verdict("write", {0, 4}) == "ALLOW");
    CHECK(f.verdict("write", {0, 5}) == EPERM_);
    CHECK(f.verdict("close", {0, 0, 5}) == "ALLOW");
    CHECK(f.verdict("close", {0, 0, 6}) == EPERM_);
    CHECK(f.verdict("dup", {0, 0, 0, 5}) == "ALLOW");
    CHECK(f.verdict("dup", {0, 0, 0, 6}) == EPERM_);
    CHECK(f.verdict("dup2", {0, 0, 0, 0, 5}) == "ALLOW");
    CHECK(f.verdict("dup2", {0, 0, 0, 0, 4}) == EPERM_);
    CHECK(f.verdict("dup3", {0, 0, 0, 0, 0, 6}) == "ALLOW");
    CHECK(f.verdict("dup3", {0, 0, 0, 0, 0, 5}) == EPERM_);
    CHECK(f.verdict("fcntl", {0, 0x1f}) == "ALLOW");   // 0x1f & 0xf0 == 0x10
    CHECK(f.verdict("fcntl", {0, 0x2f}) == EPERM_);
    CHECK(f.verdict("lseek", {0, 4294967296ULL}) == "ALLOW");  // 64-bit values compare both halves (off_t)
    CHECK(f.verdict("lseek", {0, 0}) == EPERM_);
    // lseek's fd is an unsigned int: a value above 32 bits is one the kernel can never see there
    CHECK(error_of(rule(R"({"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967296, "op": "SCMP_CMP_EQ"}]})")) ==
          "seccomp: t.json: syscalls[0].names[0]: lseek a0: 0x100000000 does not fit the 32-bit argument the kernel reads "
          "(it sees only 0x0)");
}

TEST_CASE("seccomp: malformed profiles give their exact error") {
    CHECK(error_of(R"({"defaultAction": "SCMP_ACT_ERRNO",)") ==
          "seccomp: t.json: invalid JSON: parse error at line 1, column 36: syntax error while parsing object key - "
          "unexpected end of input; expected string literal");
    CHECK(error_of(R"([1, 2])") == "seccomp: t.json: the profile must be a JSON object, not array");
    CHECK(error_of(R"({"syscalls": []})") == "seccomp: t.json: defaultAction: missing");
    CHECK(error_of(R"({"defaultAction": "SCMP_ACT_DENY"})") ==
          "seccomp: t.json: defaultAction: 'SCMP_ACT_DENY' is not an action (SCMP_ACT_ALLOW, _ERRNO, _KILL_PROCESS, "
          "_KILL_THREAD, _KILL, _TRAP, _LOG, _NOTIFY, _TRACE)");
    const std::string ok = R"({"names": ["read"], "action": "SCMP_ACT_ALLOW"}, )";
    CHECK(error_of(rule(ok + ok + ok + R"({"names": ["write"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]})")) ==
          "seccomp: t.json: syscalls[3].args[0].op: 'SCMP_CMP_FOO' is not an operator (SCMP_CMP_NE, _LT, _LE, _EQ, _GE, "
          "_GT, _MASKED_EQ)");
    CHECK(error_of(rule(R"({"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]})")) ==
          "seccomp: t.json: syscalls[0].args[0].index: 6 is not an argument index (0-5)");
    CHECK(error_of(rule(R"({"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]})")) ==
          "seccomp: t.json: syscalls[0].args[0].value: -1 is negative; must be an unsigned 64-bit integer");
    CHECK(error_of(rule(R"({"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000})")) ==
          "seccomp: t.json: syscalls[0].errnoRet: 70000 is out of range (0-65535)");
    CHECK(error_of(rule(R"({"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1})")) ==
          "seccomp: t.json: syscalls[0].errnoRet: -1 is out of range (0-65535)");
    CHECK(error_of(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536})") ==
          "seccomp: t.json: defaultErrnoRet: 65536 is out of range (0-65535)");
    CHECK(error_of(rule(R"({"names": ["write"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1})")) ==
          "seccomp: t.json: syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return value, not "
          "SCMP_ACT_ALLOW");
    // duplicate rules: the same syscall and arguments with two different actions, or one name twice in a rule
    CHECK(error_of(rule(ok + R"({"names": ["write", "read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5})")) ==
          "seccomp: t.json: syscalls[1].names[1]: 'read' conflicts with syscalls[0].names[0]: ERRNO(EIO) vs ALLOW for "
          "the same arguments");
    CHECK(error_of(rule(R"({"names": ["read", "write", "read"], "action": "SCMP_ACT_ALLOW"})")) ==
          "seccomp: t.json: syscalls[0].names[2]: 'read' is listed twice in this rule");
    CHECK(error_of(rule(R"({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                       {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]})")) ==
          "seccomp: t.json: syscalls[0].args[1].index: argument 0 is compared twice in one rule (libseccomp cannot "
          "combine them)");
    // empty names
    CHECK(error_of(rule(R"({"names": [], "action": "SCMP_ACT_ALLOW"})")) ==
          "seccomp: t.json: syscalls[0].names: empty list; a rule needs at least one syscall name");
    CHECK(error_of(rule(ok + R"({"names": ["write", ""], "action": "SCMP_ACT_ALLOW"})")) ==
          "seccomp: t.json: syscalls[1].names[1]: empty syscall name");
    CHECK(error_of(rule(R"({"name": "", "action": "SCMP_ACT_ALLOW"})")) == "seccomp: t.json: syscalls[0].name: empty syscall name");
    CHECK(error_of(rule(R"({"action": "SCMP_ACT_ALLOW"})")) == "seccomp: t.json: syscalls[0]: no syscall names (give 'names')");
    CHECK(error_of(rule(R"({"name": "read", "names": ["read"], "action": "SCMP_ACT_ALLOW"})")) ==
          "seccomp: t.json: syscalls[0]: has both 'name' and 'names'; use one");
    CHECK(error_of(rule(R"({"names": ["read"]})")) == "seccomp: t.json: syscalls[0].action: missing");
    CHECK(error_of(R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["X86_64"]})") ==
          "seccomp: t.json: architectures[0]: 'X86_64' is not an SCMP_ARCH_* name");
    CHECK(error_of(rule(R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}})")) ==
          "seccomp: t.json: syscalls[0].includes.minKernel: 'four' is not a kernel version (e.g. \"4.8\")");
    CHECK(error_of(rule(R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"kernel": "4.8"}})")) ==
          "seccomp: t.json: syscalls[0].includes.kernel: unknown condition (arches, caps, minKernel)");
    // an unconditional rule makes conditional ones with another action dead (libseccomp would drop them)
    CHECK(error_of(rule(R"({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                           {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5})")) ==
          "seccomp: t.json: syscalls[0].names[0]: 'socket' ALLOW with argument conditions can never apply: "
          "syscalls[1].names[0] gives it ERRNO(EIO) unconditionally");
    // the same action with and without conditions is fine (the condition is redundant)
    CHECK(error_of(rule(R"({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                           {"names": ["socket"], "action": "SCMP_ACT_ALLOW"})")) == "(no error)");
}

TEST_CASE("seccomp: unknown syscall names are warnings, errors with --strict-profile") {
    const std::string text = rule(R"({"names": ["read", "no_such_call"], "action": "SCMP_ACT_ALLOW"})");
    Resolved r = resolve(parse_profile(text, "t.json"), target());
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0] == "syscalls[0].names[1]: unknown syscall 'no_such_call' (newer than this libseccomp, or a typo); ignored");
    Target strict = target();
    strict.strict = true;
    CHECK(error_of(text, strict) == "seccomp: t.json: syscalls[0].names[1]: unknown syscall 'no_such_call' (--strict-profile)");
}

TEST_CASE("seccomp: an action the kernel lacks is a clear error") {
    Target t = target();
    t.available = {ActionKind::Allow, ActionKind::Errno, ActionKind::KillThread, ActionKind::Trap};
    CHECK(error_of(rule(R"({"names": ["read"], "action": "SCMP_ACT_LOG"})"), t) ==
          "seccomp: t.json: syscalls[0].action: SCMP_ACT_LOG is not available on this kernel (it supports: allow errno "
          "kill_thread trap)");
    CHECK(error_of(R"({"defaultAction": "SCMP_ACT_KILL_PROCESS"})", t) ==
          "seccomp: t.json: defaultAction: SCMP_ACT_KILL_PROCESS is not available on this kernel (it supports: allow "
          "errno kill_thread trap)");
}

TEST_CASE("seccomp BPF interpreter: instructions, counts and invalid programs") {
    // A = nr; A = A * 2 + 1; X = A; M[0] = A; if (A == 7) ret ALLOW else ret ERRNO(A & 0xff)
    std::vector<sock_filter> p = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 2),
        BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_ST, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 7, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_MEM, 0),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),
        BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    SimResult a = simulate(p, make_data(SCMP_ARCH_X86_64, 3));
    CHECK(a.ok);
    CHECK(a.ret == SECCOMP_RET_ALLOW);
    CHECK(a.instructions == 7);
    SimResult b = simulate(p, make_data(SCMP_ARCH_X86_64, 4));
    CHECK(b.ret == (SECCOMP_RET_ERRNO | 9));
    CHECK(b.instructions == 10);
    // arguments: low and high halves
    std::vector<sock_filter> q = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_hi_offset(1)),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_lo_offset(1)),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 10, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    const std::uint64_t small[] = {0, 5}, big[] = {0, 11}, high[] = {0, 1ULL << 32};
    CHECK(simulate(q, make_data(SCMP_ARCH_X86_64, 0, small)).ret == SECCOMP_RET_ALLOW);
    CHECK(simulate(q, make_data(SCMP_ARCH_X86_64, 0, big)).ret == SECCOMP_RET_TRAP);
    CHECK(simulate(q, make_data(SCMP_ARCH_X86_64, 0, high)).ret == SECCOMP_RET_KILL_PROCESS);
    // x32 keeps the x86_64 audit arch
    CHECK(make_data(SCMP_ARCH_X32, 0x40000000).arch == AUDIT_ARCH_X86_64);
    // invalid: a load outside seccomp_data, running off the end, division by zero
    std::vector<sock_filter> bad1 = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_A, 0)};
    CHECK_FALSE(simulate(bad1, make_data(SCMP_ARCH_X86_64, 0)).ok);
    std::vector<sock_filter> bad2 = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
    CHECK(std::string(simulate(bad2, make_data(SCMP_ARCH_X86_64, 0)).error) == "the program ran off its end without a return");
    std::vector<sock_filter> bad3 = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0), BPF_STMT(BPF_RET | BPF_A, 0)};
    CHECK_FALSE(simulate(bad3, make_data(SCMP_ARCH_X86_64, 0)).ok);
    // the disassembler names the seccomp_data fields
    CHECK(disassemble(q).find("ld a1.hi") != std::string::npos);
    CHECK(disassemble(p).find("ret ALLOW") != std::string::npos);
}

TEST_CASE("seccomp: the interpreter agrees with the kernel's own check of the hot paths (instruction counts)") {
    // The default profile's binary tree: hot syscalls take a few dozen instructions, not hundreds
    Filter f = load(kProfiles + "default.json");
    for (const char* name : {"read", "write", "futex", "getppid", "epoll_wait"}) {
        SimResult r = simulate(f.compiled.program, make_data(native_arch().token, syscall_number(native_arch(), name)));
        CHECK(r.ret == SECCOMP_RET_ALLOW);
        CHECK_MESSAGE(r.instructions <= 30, name, " took ", r.instructions);
    }
    // the ENOSYS rule is 4 instructions in front of libseccomp's program for a native syscall
    CHECK(f.compiled.stub_length == 6);
}

TEST_CASE("seccomp: Report and Record programs are the profile's with notifying returns") {
    LaunchPlan plan;
    plan.seccomp.mode = SeccompChoice::Mode::Profile;
    plan.seccomp.profile_path = kData + "docker-default.json";
    Prepared enforce = prepare(plan, Mode::Enforce);
    CHECK(enforce.program.size() == enforce.enforce.size());
    CHECK(std::memcmp(enforce.program.data(), enforce.enforce.data(), enforce.program.size() * sizeof(sock_filter)) == 0);
    CHECK_FALSE(enforce.wants_listener());
    Prepared report = prepare(plan, Mode::Report);
    REQUIRE(report.wants_listener());
    const std::uint32_t native = native_arch().token;
    auto run = [&](const Prepared& p, const char* name, std::vector<std::uint64_t> args = {}) {
        return simulate(p.program, make_data(native, syscall_number(native_arch(), name), args)).ret;
    };
    CHECK(run(report, "read") == SECCOMP_RET_ALLOW);
    CHECK(run(report, "mount") == SECCOMP_RET_USER_NOTIF);  // was ERRNO(EPERM)
    CHECK(run(report, "clone3") == SECCOMP_RET_USER_NOTIF);  // was ERRNO(ENOSYS)
    CHECK(simulate(report.program, make_data(native, 467)).ret == SECCOMP_RET_USER_NOTIF);  // the ENOSYS rule too
    CHECK(simulate(report.program, make_data(SCMP_ARCH_AARCH64, 0)).ret == SECCOMP_RET_KILL_PROCESS);
    // the handoff: sendmsg on the patched fd with hardrun's flags is let through before anything else
    std::vector<sock_filter> patched = report.program;
    patched[static_cast<std::size_t>(report.handoff_fd_insn)].k = 7;
    const std::uint64_t handoff[] = {7, 0, static_cast<std::uint64_t>(kHandoffSendFlags)};
    const std::uint64_t other_fd[] = {8, 0, static_cast<std::uint64_t>(kHandoffSendFlags)};
    const int sendmsg_nr = syscall_number(native_arch(), "sendmsg");
    SimResult h = simulate(patched, make_data(native, sendmsg_nr, handoff));
    CHECK(h.ret == SECCOMP_RET_ALLOW);
    CHECK(h.instructions == 13);
    CHECK(simulate(patched, make_data(native, sendmsg_nr, other_fd)).ret == SECCOMP_RET_ALLOW);  // the profile allows it
    Prepared record = prepare(plan, Mode::Record);
    CHECK(run(record, "read") == SECCOMP_RET_USER_NOTIF);
    CHECK(run(record, "mount") == SECCOMP_RET_USER_NOTIF);
    // the supervisor answers from the profile's own program
    CHECK(describe(from_ret(simulate(record.enforce, make_data(native, syscall_number(native_arch(), "clone3"))).ret)) == ENOSYS_);
    // unconfined: nothing to report; recording still notifies everything
    plan.seccomp.mode = SeccompChoice::Mode::Unconfined;
    CHECK(prepare(plan, Mode::Report).program.empty());
    Prepared rec_all = prepare(plan, Mode::Record);
    CHECK(run(rec_all, "mount") == SECCOMP_RET_USER_NOTIF);
    CHECK(simulate(rec_all.program, make_data(SCMP_ARCH_X86, 20)).ret == SECCOMP_RET_KILL_PROCESS);
}

TEST_CASE("seccomp: a profile refusing sendmsg is reported on by taking the listener; NOTIFY is refused") {
    char tmpl[] = "/tmp/hardrun-seccomp-unit-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    {
        std::ofstream(tmpl) << rule(R"({"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"})");
    }
    LaunchPlan plan;
    plan.seccomp.mode = SeccompChoice::Mode::Profile;
    plan.seccomp.profile_path = tmpl;
    // the supervisor takes the listener (pidfd_getfd) and answers the handoff sendmsg, a notification now: no stub
    // rule, nothing let through that the profile refuses
    Prepared take = prepare(plan, Mode::Report);
    CHECK(take.handoff == Handoff::Take);
    CHECK(take.handoff_fd_insn == -1);
    CHECK(take.wants_listener());
    const int sendmsg_nr = syscall_number(*find_arch("x86_64"), "sendmsg");
    for (std::uint64_t fd : {3, 9}) {
        const std::uint64_t handoff[] = {fd, 0, static_cast<std::uint64_t>(kHandoffSendFlags)};
        CHECK(simulate(take.program, make_data(take.native_arch, sendmsg_nr, handoff)).ret == SECCOMP_RET_USER_NOTIF);
    }
    {
        // load() first offers the number the listener will get (the lowest free fd) on the handoff socket
        test::RecordingSys sys;
        CHECK_THROWS_WITH_AS(load(sys, take, -1), doctest::Contains("needs a socket to the supervisor"), Error);
        sys.next_fd = 5;
        sys.listener_fd = 5;
        CHECK(load(sys, take, 9) == 5);
        REQUIRE(sys.calls.size() == 3);
        CHECK(sys.calls[0] == "dupfd 9 >=0");
        CHECK(sys.calls[1].rfind("write 9 ", 0) == 0);
        CHECK(sys.calls[2] == "seccomp_load " + std::to_string(SECCOMP_FILTER_FLAG_NEW_LISTENER));
        HandoffOffer offer;
        REQUIRE(sys.written[9].size() == sizeof offer);
        std::memcpy(&offer, sys.written[9].data(), sizeof offer);
        CHECK(offer.listener_fd == 5);
        CHECK(offer.socket_fd == 9);
        // the kernel gave another number (it cannot): fail closed, the supervisor would take the wrong fd
        sys.listener_fd = 8;  // the offer is 6 now
        CHECK_THROWS_WITH_AS(load(sys, take, 9), doctest::Contains("the listener got fd 8, not the offered 6"), Error);
    }
    // a profile that allows sendmsg keeps the one-call handoff; Record always lets it through
    {
        std::ofstream(tmpl) << rule(R"({"names": ["read", "write", "execve", "sendmsg"], "action": "SCMP_ACT_ALLOW"})");
    }
    CHECK(prepare(plan, Mode::Report).handoff == Handoff::Sendmsg);
    CHECK(prepare(plan, Mode::Record).handoff == Handoff::Sendmsg);
    // a profile that kills on sendmsg: the supervisor could not answer in its place
    {
        std::ofstream(tmpl) << R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [)"
                               R"({"names": ["execve"], "action": "SCMP_ACT_ALLOW"},)"
                               R"({"names": ["sendmsg"], "action": "SCMP_ACT_KILL_PROCESS"}]})";
    }
    std::string err;
    try {
        prepare(plan, Mode::Report);
    } catch (const Error& e) {
        err = e.what();
    }
    CHECK(err == "seccomp: " + std::string(tmpl) +
                     ": --report needs the profile to allow sendmsg or to refuse it with an errno (hardrun hands the "
                     "notification listener to the supervisor with it); the profile answers KILL_PROCESS");
    {
        std::ofstream(tmpl) << rule(R"({"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"})");
    }
    err.clear();
    try {
        prepare(plan, Mode::Enforce);
    } catch (const Error& e) {
        err = e.what();
    }
    const std::string notify_err = "seccomp: " + std::string(tmpl) +
                                   ": SCMP_ACT_NOTIFY is not supported: hardrun does not hand the seccomp listener to an "
                                   "outside agent (use SCMP_ACT_ERRNO, or `hardrun run --report` to see what the profile refuses)";
    CHECK(err == notify_err);
    // a listenerPath in a profile file does not make it usable: nothing would read the listener
    {
        std::ofstream(tmpl) << R"({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/agent.sock", "syscalls": [)"
                               R"({"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]})";
    }
    err.clear();
    try {
        prepare(plan, Mode::Enforce);
    } catch (const Error& e) {
        err = e.what();
    }
    CHECK(err == notify_err);
    ::unlink(tmpl);
}

TEST_CASE("seccomp: the reaper's own calls under the filter are checked before the launch") {
    LaunchPlan plan;
    CHECK(refused_reaper_calls(prepare(plan)) == "");  // hardrun's default profile
    char tmpl[] = "/tmp/hardrun-seccomp-unit-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    plan.seccomp.mode = SeccompChoice::Mode::Profile;
    plan.seccomp.profile_path = tmpl;
    {
        std::ofstream(tmpl) << rule(R"({"names": ["execve", "exit_group", "rt_sigprocmask", "kill"], "action": "SCMP_ACT_ALLOW"})");
    }
    CHECK(refused_reaper_calls(prepare(plan)) == "clone, wait4, rt_sigtimedwait");
    // a fork is a clone without namespace flags: a profile that allows only that passes
    {
        std::ofstream(tmpl) << rule(R"({"names": ["execve", "exit_group", "rt_sigprocmask", "kill", "wait4", "rt_sigtimedwait"], "action": "SCMP_ACT_ALLOW"},)"
                                    R"({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]})");
    }
    CHECK(refused_reaper_calls(prepare(plan)) == "");
    plan.seccomp.mode = SeccompChoice::Mode::Unconfined;
    CHECK(refused_reaper_calls(prepare(plan)) == "");
    ::unlink(tmpl);
}

TEST_CASE("seccomp: load() patches the handoff socket and passes the flags") {
    LaunchPlan plan;
    Prepared report = prepare(plan, Mode::Report);  // hardrun's default profile
    test::RecordingSys sys;
    CHECK_THROWS_WITH_AS(load(sys, report, -1), doctest::Contains("needs a socket to the supervisor"), Error);
    CHECK(sys.calls.empty());
    load(sys, report, 9);
    REQUIRE(sys.calls.size() == 1);
    CHECK(sys.calls[0] == "seccomp_load " + std::to_string(SECCOMP_FILTER_FLAG_NEW_LISTENER));
    Prepared none = prepare([] {
        LaunchPlan p;
        p.seccomp.mode = SeccompChoice::Mode::Unconfined;
        return p;
    }());
    CHECK(load(sys, none) == -1);
    CHECK(sys.calls.size() == 1);
}

TEST_CASE("seccomp: syscall names and numbers per architecture") {
    const ArchInfo& x64 = *find_arch("amd64");
    CHECK(x64.token == SCMP_ARCH_X86_64);
    CHECK(find_arch("SCMP_ARCH_X86")->name == "x86");
    CHECK(find_arch("386")->name == "x86");
    CHECK(find_arch("loongarch64") == nullptr);
    CHECK(syscall_number(x64, "read") == 0);
    CHECK(syscall_number(x64, "mseal") == 462);  // hardrun's table of newer syscalls
    CHECK(syscall_number(x64, "chown32") == -1);  // not an x86_64 syscall
    CHECK(syscall_number(*find_arch("x86"), "getpid") == 20);
    CHECK(syscall_number(*find_arch("x32"), "read") == 0x40000000);
    CHECK(syscall_name(AUDIT_ARCH_X86_64, 272) == "unshare");
    CHECK(syscall_name(AUDIT_ARCH_X86_64, 0x40000000) == "read");  // x32
    CHECK(syscall_name(AUDIT_ARCH_I386, 20) == "getpid");
    CHECK(syscall_name(AUDIT_ARCH_X86_64, 462) == "mseal");
    CHECK(syscall_name(AUDIT_ARCH_X86_64, 999) == "");
    CHECK(syscall_known("uretprobe"));
    CHECK_FALSE(syscall_known("no_such_call"));
    CHECK(parse_kernel_version("6.18.44-fc-v657") == KernelVersion{6, 18, 44});
    CHECK(parse_kernel_version("4.8") == KernelVersion{4, 8, 0});
    CHECK_FALSE(parse_kernel_version("4").has_value());
    CHECK_FALSE(parse_kernel_version("v4.8").has_value());
}

// ---- 32-bit arguments (issue 12, class 1) -----------------------------------------------------------------
// seccomp gives the filter all 64 bits of each argument register; the kernel reads an int argument (socket's
// domain, ioctl's command...) from the low 32 bits. A comparison of all 64 bits missed socket(0x100000028): the
// filter saw "not 40, greater than 40", the kernel opened AF_VSOCK. The filter must judge what the kernel sees.

namespace {
constexpr std::uint64_t kHighs[] = {1ULL << 32, 0xffffffff00000000ULL, 0x8000000000000000ULL, 0x7fffffff00000000ULL};
std::string hex64(std::uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}
}  // namespace

TEST_CASE("seccomp 32-bit arguments: socket(0x100000028) is refused like socket(0x28) by hardrun's and Docker's profiles") {
    for (const std::string& path : {kProfiles + "default.json", kProfiles + "strict.json", kData + "docker-default.json"}) {
        INFO(path);
        Filter f = load(path);
        for (std::uint64_t domain : {38ULL, 40ULL, 17ULL /* AF_PACKET */, 2ULL /* AF_INET */, 1ULL /* AF_UNIX */})
            for (std::uint64_t high : kHighs) {
                INFO("domain " << domain << " high " << high);
                CHECK(f.verdict("socket", {high | domain, SOCK_STREAM, 0}) == f.verdict("socket", {domain, SOCK_STREAM, 0}));
            }
        CHECK(f.verdict("socket", {0x100000028ULL, SOCK_STREAM, 0}) == EPERM_);
        CHECK(f.verdict("socket", {0x100000026ULL, SOCK_SEQPACKET, 0}) == EPERM_);
        CHECK(f.verdict("socket", {0xffffffff00000028ULL, SOCK_STREAM, 0}) == EPERM_);
    }
    // personality's argument is an unsigned int too: the query 0xffffffff is the query with any high bits
    Filter d = load(kProfiles + "default.json");
    CHECK(d.verdict("personality", {0xffffffffffffffffULL}) == "ALLOW");
    CHECK(d.verdict("personality", {(1ULL << 32) | 0x0040000}) == EPERM_);  // READ_IMPLIES_EXEC, high bit set
}

TEST_CASE("seccomp 32-bit arguments: a user profile's deny rule catches every value with the same low 32 bits") {
    for (const char* arg : {R"({"index": 0, "value": 40, "op": "SCMP_CMP_EQ"})",
                            R"({"index": 0, "value": 4294967295, "valueTwo": 40, "op": "SCMP_CMP_MASKED_EQ"})",
                            R"({"index": 0, "value": 18446744073709551615, "valueTwo": 40, "op": "SCMP_CMP_MASKED_EQ"})"}) {
        INFO(arg);
        Filter f = from_text(std::string(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["socket"],
            "action": "SCMP_ACT_ERRNO", "args": [)") + arg + "]}]}");
        CHECK(f.verdict("socket", {40, SOCK_STREAM}) == EPERM_);
        for (std::uint64_t high : kHighs) CHECK(f.verdict("socket", {high | 40, SOCK_STREAM}) == EPERM_);
        CHECK(f.verdict("socket", {AF_INET, SOCK_STREAM}) == "ALLOW");
        CHECK(f.verdict("socket", {(1ULL << 32) | AF_INET, SOCK_STREAM}) == "ALLOW");
    }
    // the same rule in an OCI config's linux.seccomp object
    Profile p = parse_oci(nlohmann::json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["socket"],
        "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}]})"), "config.json linux.seccomp");
    Resolved r = resolve(p, target());
    Filter oci{r, compile(r)};
    CHECK(oci.verdict("socket", {0x100000028ULL, SOCK_STREAM}) == EPERM_);
    // an allow list written with NE (Docker's old style): high bits do not turn AF_VSOCK into "not 40"
    Filter ne = from_text(rule(R"({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]})"));
    CHECK(ne.verdict("socket", {AF_INET}) == "ALLOW");
    CHECK(ne.verdict("socket", {40}) == EPERM_);
    for (std::uint64_t high : kHighs) CHECK(ne.verdict("socket", {high | 40}) == EPERM_);
}

TEST_CASE("seccomp 32-bit arguments: every operator judges the low 32 bits, in allow rules and in deny rules") {
    // the reference: the comparison of the value the kernel sees (unsigned, 32 bits) with the rule's value
    auto holds = [](const std::string& op, std::uint32_t a, std::uint32_t v) {
        if (op == "SCMP_CMP_NE") return a != v;
        if (op == "SCMP_CMP_LT") return a < v;
        if (op == "SCMP_CMP_LE") return a <= v;
        if (op == "SCMP_CMP_EQ") return a == v;
        if (op == "SCMP_CMP_GE") return a >= v;
        return a > v;  // SCMP_CMP_GT
    };
    const std::uint32_t values[] = {0, 1, 5, 38, 40, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
    const std::uint32_t lows[] = {0, 1, 4, 5, 6, 37, 38, 39, 40, 41, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001,
                                  0xfffffffe, 0xffffffff};
    const std::uint64_t highs[] = {0, 1, 0x80000000, 0xffffffff};
    for (const char* op : {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"})
        for (std::uint32_t v : values) {
            // ioctl's command (an unsigned int); the fd argument stays unconditional
            const std::string cmp = R"({"index": 1, "value": )" + std::to_string(v) + R"(, "op": ")" + op + R"("})";
            Filter allow = from_text(rule(R"({"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [)" + cmp + "]}"));
            Filter deny = from_text(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ioctl"],
                "action": "SCMP_ACT_ERRNO", "errnoRet": 5, "args": [)" + cmp + "]}]}");
            for (std::uint32_t low : lows)
                for (std::uint64_t high : highs) {
                    const std::uint64_t a = high << 32 | low;
                    INFO(op << " " << hex64(v) << " on " << hex64(a));
                    const bool h = holds(op, low, v);
                    CHECK(allow.verdict("ioctl", {3, a}) == std::string(h ? "ALLOW" : EPERM_));
                    CHECK(deny.verdict("ioctl", {3, a}) == std::string(h ? "ERRNO(EIO)" : "ALLOW"));
                }
        }
    // MASKED_EQ, as libseccomp defines it ((arg & mask) == (valueTwo & mask), seccomp_rule_add(3)): the mask's high
    // bits select nothing the kernel reads
    for (std::uint64_t mask : {0xffULL, 0xf0ULL, 0xffffffffULL, 0xffffffff000000f0ULL, 0x80000000ULL})
        for (std::uint32_t want : {0U, 0x10U, 0x80000000U}) {
            const std::string cmp = R"({"index": 1, "value": )" + std::to_string(mask) + R"(, "valueTwo": )" +
                                    std::to_string(want) + R"(, "op": "SCMP_CMP_MASKED_EQ"})";
            Filter deny = from_text(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ioctl"],
                "action": "SCMP_ACT_ERRNO", "errnoRet": 5, "args": [)" + cmp + "]}]}");
            for (std::uint32_t low : lows)
                for (std::uint64_t high : highs) {
                    const std::uint64_t a = high << 32 | low;
                    INFO("mask " << hex64(mask) << " == " << hex64(want) << " on " << hex64(a));
                    const auto m = static_cast<std::uint32_t>(mask);
                    const bool h = (low & m) == (want & m);
                    CHECK(deny.verdict("ioctl", {3, a}) == std::string(h ? "ERRNO(EIO)" : "ALLOW"));
                }
        }
}

TEST_CASE("seccomp 32-bit arguments: 64-bit arguments still compare all 64 bits") {
    Filter f = from_text(rule(R"(
        {"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_EQ"}]},
        {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4096, "op": "SCMP_CMP_LE"}]})"));
    CHECK(f.verdict("lseek", {3, 1ULL << 32}) == "ALLOW");  // off_t
    CHECK(f.verdict("lseek", {3, 0}) == EPERM_);
    CHECK(f.verdict("mmap", {0, 4096}) == "ALLOW");  // size_t
    CHECK(f.verdict("mmap", {0, (1ULL << 32) | 4096}) == EPERM_);
    // clone's flags are an unsigned long in the kernel's signature: the namespace mask is checked as before
    Filter d = load(kProfiles + "default.json");
    CHECK(d.verdict("clone", {(1ULL << 32) | CLONE_NEWUSER | SIGCHLD}) == EPERM_);
}

TEST_CASE("seccomp 32-bit arguments: every syscall of the native ABI has a signature, and spot checks against the kernel's") {
    const ArchInfo& native = native_arch();
    int checked = 0;
    for (std::uint32_t i = 0; i < 1024; ++i) {
        const std::string name = syscall_name(native.audit_arch, native.nr_base + i);
        if (name.empty()) continue;
        CHECK_MESSAGE(argument_widths_known(name), name, " has no signature in seccomp_args.cpp");
        ++checked;
    }
    CHECK(checked > 300);
    // include/linux/syscalls.h
    for (unsigned i = 0; i < 3; ++i) CHECK(argument_bits("socket", i) == 32);      // int, int, int
    for (unsigned i = 0; i < 5; ++i) CHECK(argument_bits("clone", i) == 64);       // unsigned long flags, pointers
    CHECK(argument_bits("unshare", 0) == 64);                                       // unsigned long
    CHECK(argument_bits("ioctl", 0) == 32);                                         // unsigned int fd
    CHECK(argument_bits("ioctl", 1) == 32);                                         // unsigned int cmd
    CHECK(argument_bits("ioctl", 2) == 64);                                         // unsigned long arg
    CHECK(argument_bits("prctl", 0) == 32);                                         // int option
    CHECK(argument_bits("prctl", 1) == 64);                                         // unsigned long arg2
    CHECK(argument_bits("personality", 0) == 32);                                   // unsigned int
    CHECK(argument_bits("setsockopt", 1) == 32);                                    // int level
    CHECK(argument_bits("setsockopt", 2) == 32);                                    // int optname
    CHECK(argument_bits("setsockopt", 3) == 64);                                    // char __user *
    CHECK(argument_bits("setsockopt", 4) == 32);                                    // int optlen
    CHECK(argument_bits("mmap", 2) == 64);                                          // unsigned long prot (x86)
    CHECK(argument_bits("mprotect", 2) == 64);                                      // unsigned long prot
    CHECK(argument_bits("fchmodat", 2) == 16);                                      // umode_t
    CHECK(argument_bits("openat", 2) == 32);                                        // int flags
    CHECK(argument_bits("openat", 3) == 16);                                        // umode_t
    CHECK(argument_bits("kill", 0) == 32);                                          // pid_t
    CHECK(argument_bits("setuid", 0) == 32);                                        // uid_t
    CHECK(argument_bits("ptrace", 0) == 64);                                        // long request
    CHECK(argument_bits("keyctl", 0) == 32);                                        // int cmd
    CHECK(argument_bits("keyctl", 1) == 64);                                        // unsigned long arg2
    CHECK(argument_bits("mseal", 0) == 64);                                         // newer than libseccomp
    CHECK(argument_bits("dup", 3) == 64);      // past the signature: the kernel never reads it
    CHECK(argument_bits("no_such_call", 0) == 64);
    CHECK_FALSE(argument_widths_known("no_such_call"));
}

TEST_CASE("seccomp 32-bit arguments: narrow() gives disjoint prefixes of the value, as few as the value needs") {
    auto n = [](Op op, std::uint64_t v, unsigned bits = 32) { return narrow(ArgCmp{0, op, v, 0}, bits); };
    CHECK(n(Op::Equal, 40) == std::vector<ArgCmp>{{0, Op::MaskedEqual, 0xffffffff, 40}});
    CHECK(n(Op::Equal, 0xffffffffffffffffULL) == std::vector<ArgCmp>{{0, Op::MaskedEqual, 0xffffffff, 0xffffffff}});
    CHECK(n(Op::Less, 38).size() == 3);       // 0b100110: one prefix per bit set
    CHECK(n(Op::Greater, 40).size() == 30);   // 0b101000: one prefix per bit clear
    CHECK(n(Op::NotEqual, 40).size() == 32);
    CHECK(n(Op::Less, 0).empty());            // never
    CHECK(n(Op::Greater, 0xffffffff).empty());
    CHECK(n(Op::LessEqual, 0xffffffff) == std::vector<ArgCmp>{{0, Op::MaskedEqual, 0, 0}});  // always
    CHECK(n(Op::GreaterEqual, 0) == std::vector<ArgCmp>{{0, Op::MaskedEqual, 0, 0}});
    CHECK(n(Op::Greater, 0xfff0, 16).size() == 4);
    CHECK(narrow(ArgCmp{1, Op::MaskedEqual, 0xffffffff000000f0ULL, 0x1000000010ULL}, 32) ==
          std::vector<ArgCmp>{{1, Op::MaskedEqual, 0xf0, 0x10}});
    // the value the kernel sees: fits, a sign-extended negative int, or nothing
    CHECK(kernel_value(ArgCmp{0, Op::Equal, 0xffffff9cULL, 0}, 32) == 0xffffff9cULL);
    CHECK(kernel_value(ArgCmp{0, Op::Equal, 0xffffffffffffff9cULL, 0}, 32) == 0xffffff9cULL);  // AT_FDCWD, -100
    CHECK_FALSE(kernel_value(ArgCmp{0, Op::Equal, 0x100000028ULL, 0}, 32).has_value());
    CHECK_FALSE(kernel_value(ArgCmp{0, Op::Equal, 0x10000, 0}, 16).has_value());
    CHECK(kernel_value(ArgCmp{0, Op::MaskedEqual, 0xffffffffffffffffULL, 7}, 32).has_value());
}

TEST_CASE("seccomp 32-bit arguments: umode_t is 16 bits, sign-extended ints count, and the rule count stays bounded") {
    // a deny rule on chmod's mode (umode_t): the kernel keeps the low 16 bits, so 0x10000 | 04755 is 04755
    Filter f = from_text(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod", "fchmodat"],
        "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 2541, "op": "SCMP_CMP_EQ"}]}]})");
    CHECK(f.verdict("chmod", {0, 04755}) == EPERM_);
    CHECK(f.verdict("chmod", {0, 0x10000 | 04755}) == EPERM_);
    CHECK(f.verdict("chmod", {0, (1ULL << 40) | 04755}) == EPERM_);
    CHECK(f.verdict("chmod", {0, 0755}) == "ALLOW");
    CHECK(f.verdict("fchmodat", {3, 0, 0x10000 | 04755}) == "ALLOW");  // index 1 is fchmodat's path pointer (64 bits)
    // -100 (AT_FDCWD) written as a 64-bit number is the int -100
    Filter at = from_text(rule(R"({"names": ["openat"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 18446744073709551516, "op": "SCMP_CMP_EQ"}]})"));
    CHECK(at.verdict("openat", {0xffffff9cULL}) == "ALLOW");
    CHECK(at.verdict("openat", {0xffffffffffffff9cULL}) == "ALLOW");
    CHECK(at.verdict("openat", {3}) == EPERM_);
    // a value with bits the kernel never reads is refused, not silently truncated
    CHECK(error_of(rule(R"({"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 4294967336, "op": "SCMP_CMP_EQ"}]})")) ==
          "seccomp: t.json: syscalls[0].names[0]: socket a0: 0x100000028 does not fit the 32-bit argument the kernel "
          "reads (it sees only 0x28)");
    CHECK(error_of(rule(R"({"names": ["chmod"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 65536, "op": "SCMP_CMP_LT"}]})")) ==
          "seccomp: t.json: syscalls[0].names[0]: chmod a1: 0x10000 does not fit the 16-bit argument the kernel reads "
          "(it sees only 0x0)");
    // NE on three 32-bit arguments would be 32^3 libseccomp rules
    CHECK(error_of(rule(R"({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 40, "op": "SCMP_CMP_NE"}, {"index": 1, "value": 3, "op": "SCMP_CMP_NE"},
        {"index": 2, "value": 1, "op": "SCMP_CMP_NE"}]})")) ==
          "seccomp: t.json: syscalls[0].names[0]: 'socket' needs more than 1024 masked comparisons of its 32-bit "
          "arguments; split the rule or use SCMP_CMP_EQ/MASKED_EQ");
    // a rule that can never match (a0 < 0) is left out, the rest of the profile compiles
    Filter never = from_text(rule(R"({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_LT"}]},
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"})"));
    CHECK(never.verdict("socket", {0}) == EPERM_);
    CHECK(never.verdict("read") == "ALLOW");
}
