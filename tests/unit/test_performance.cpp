// Performance changes that must not change a verdict (docs/performance.md): the hot-syscall fast path in
// front of the compiled seccomp program.
#include <doctest/doctest.h>
#include <seccomp.h>

#include <string>
#include <vector>

#include "hardrun/layers/seccomp/seccomp_bpf.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

using namespace hardrun;
using namespace hardrun::seccomp;

namespace {
const std::string kData = std::string(HARDRUN_TEST_DATA) + "/seccomp/";
const std::string kProfiles = std::string(HARDRUN_SOURCE_DIR) + "/profiles/seccomp/";

Target bench_target() {
    Target t;
    t.native = &native_arch();
    t.kernel = {6, 18, 0};
    t.available = {ActionKind::Allow, ActionKind::Errno, ActionKind::KillProcess, ActionKind::KillThread,
                   ActionKind::Trap, ActionKind::Log, ActionKind::Notify, ActionKind::Trace};
    return t;
}

SimResult run(const Compiled& c, const char* name, std::vector<std::uint64_t> args = {}, const ArchInfo* arch = nullptr) {
    const ArchInfo& a = arch ? *arch : native_arch();
    int nr = syscall_number(a, name);
    REQUIRE_MESSAGE(nr >= 0, name);
    SimResult r = simulate(c.program, make_data(a.token, nr, args));
    REQUIRE_MESSAGE(r.ok, r.error);
    return r;
}

}  // namespace

TEST_CASE("seccomp fast path: read, write, futex and getppid return ALLOW after 5 to 8 instructions") {
    if (native_arch().token != SCMP_ARCH_X86_64) return;  // the counts below are x86_64's
    for (const std::string profile : {kProfiles + "default.json", kData + "docker-default.json"}) {
        Compiled c = compile(resolve(load_profile(profile), bench_target()));
        // Docker's profile as crun compiles it (libseccomp defaults): read 5, write 6, futex 173, getppid 112
        CHECK(run(c, "read").instructions == 5);
        CHECK(run(c, "write").instructions == 6);
        CHECK(run(c, "futex").instructions == 7);
        CHECK(run(c, "getppid").instructions == 8);
        for (const char* name : {"read", "write", "futex", "getppid"}) CHECK(run(c, name).ret == SECCOMP_RET_ALLOW);
    }
}

TEST_CASE("seccomp fast path: every verdict is the one of the program behind it") {
    Resolved r = resolve(load_profile(kData + "docker-default.json"), bench_target());
    Compiled c = compile(r);
    // the fast path: ld arch, jeq, ld nr, 4 x jeq, ret ALLOW
    REQUIRE(c.program.size() > 8);
    CHECK(c.program[0].code == (BPF_LD | BPF_W | BPF_ABS));
    REQUIRE(c.program[7].code == (BPF_RET | BPF_K));
    CHECK(c.program[7].k == SECCOMP_RET_ALLOW);
    const std::vector<sock_filter> behind(c.program.begin() + 8, c.program.end());
    const std::vector<std::vector<std::uint64_t>> arg_sets = {{}, {3, 0x7ffc0000, 1, 0, 0, 0}, {1, 2, 3, 4, 5, 6}};
    for (const ArchInfo* a : r.arches)
        for (int n = 0; n < 460; ++n)
            for (const auto& args : arg_sets) {
                const int nr = static_cast<int>(a->nr_base) + n;
                SimResult whole = simulate(c.program, make_data(a->token, nr, args));
                SimResult rest = simulate(behind, make_data(a->token, nr, args));
                REQUIRE(whole.ok);
                CHECK_MESSAGE(whole.ret == rest.ret, a->name, " syscall ", nr);
            }
}

TEST_CASE("seccomp fast path: a conditional rule keeps its syscall on the full path") {
    const char* text = R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "futex", "getppid", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]})";
    Compiled c = compile(resolve(parse_profile(text, "t.json"), bench_target()));
    CHECK(run(c, "write", {1}).ret == SECCOMP_RET_ALLOW);
    CHECK((run(c, "write", {2}).ret & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO);
    CHECK(run(c, "write", {1}).instructions > 8);  // not on the fast path
    CHECK(run(c, "read").ret == SECCOMP_RET_ALLOW);
    // a denylist (default ALLOW) gets no fast path: nothing to gain
    Compiled d = compile(resolve(parse_profile(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]})", "t.json"), bench_target()));
    CHECK(run(d, "read").ret == SECCOMP_RET_ALLOW);
    CHECK((run(d, "ptrace").ret & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO);
}

TEST_CASE("seccomp fast path: x32 and i386 numbers never take it") {
    if (native_arch().token != SCMP_ARCH_X86_64) return;
    Compiled c = compile(resolve(load_profile(kData + "docker-default.json"), bench_target()));
    // x32's read is nr 0x40000000 | 0 with the x86_64 audit arch; i386's getppid is 64 (x86_64's is 110)
    const ArchInfo* x32 = find_arch(SCMP_ARCH_X32);
    const ArchInfo* i386 = find_arch(SCMP_ARCH_X86);
    REQUIRE(x32);
    REQUIRE(i386);
    CHECK(run(c, "read", {}, x32).instructions > 8);
    CHECK(run(c, "read", {}, x32).ret == SECCOMP_RET_ALLOW);
    CHECK(run(c, "getppid", {}, i386).instructions > 8);
    CHECK(run(c, "getppid", {}, i386).ret == SECCOMP_RET_ALLOW);
}
