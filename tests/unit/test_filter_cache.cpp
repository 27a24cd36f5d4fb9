// filter_cache: compiled seccomp programs kept across launches (docs/performance.md). The entries must be
// trusted only when nobody but the owner can write them, and a key must match byte for byte.
#include <doctest/doctest.h>
#include <linux/seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hardrun/support/error.hpp"
#include "hardrun/layers/seccomp/filter_cache.hpp"
#include "hardrun/layers/seccomp/seccomp.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

#include "scratch_dir.hpp"

using namespace hardrun;
namespace fs = std::filesystem;

namespace {
// A private cache directory for one test case, removed afterwards; HARDRUN_CACHE_DIR points at it.
struct TempCache : ScratchDir {
    TempCache() : ScratchDir("hardrun-cache-test") {
        ::setenv("HARDRUN_CACHE_DIR", (dir + "/cache").c_str(), 1);
        ::unsetenv("HARDRUN_CACHE");
    }
    ~TempCache() { ::unsetenv("HARDRUN_CACHE_DIR"); }
    std::string cache() const { return dir + "/cache"; }
    std::string only_entry() const {
        for (const auto& e : fs::directory_iterator(cache())) return e.path();
        return "";
    }
};
}  // namespace

TEST_CASE("filter cache: an entry comes back only for exactly the same key") {
    TempCache t;
    CHECK_FALSE(filter_cache::load("key one").has_value());
    filter_cache::store("key one", std::string("value\0with nul", 14));
    auto v = filter_cache::load("key one");
    REQUIRE(v.has_value());
    CHECK(*v == std::string("value\0with nul", 14));
    CHECK_FALSE(filter_cache::load("key one ").has_value());
    CHECK_FALSE(filter_cache::load("key two").has_value());
    struct stat st {};
    REQUIRE(::stat(t.cache().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(t.only_entry().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("filter cache: entries others can write, symlinks and damaged files are ignored") {
    TempCache t;
    filter_cache::store("k", "v");
    const std::string entry = t.only_entry();
    REQUIRE_FALSE(entry.empty());

    SUBCASE("group-writable entry") {
        ::chmod(entry.c_str(), 0620);
        CHECK_FALSE(filter_cache::load("k").has_value());
    }
    SUBCASE("world-writable directory") {
        ::chmod(t.cache().c_str(), 0777);
        CHECK_FALSE(filter_cache::load("k").has_value());
        ::chmod(t.cache().c_str(), 0700);
    }
    SUBCASE("entry replaced by a symlink to a good copy") {
        const std::string copy = t.dir + "/copy";
        fs::copy_file(entry, copy);
        fs::remove(entry);
        fs::create_symlink(copy, entry);
        CHECK_FALSE(filter_cache::load("k").has_value());
    }
    SUBCASE("truncated entry") {
        fs::resize_file(entry, fs::file_size(entry) - 1);
        CHECK_FALSE(filter_cache::load("k").has_value());
    }
    SUBCASE("HARDRUN_CACHE=off") {
        ::setenv("HARDRUN_CACHE", "off", 1);
        CHECK(filter_cache::directory().empty());
        CHECK_FALSE(filter_cache::load("k").has_value());
        ::unsetenv("HARDRUN_CACHE");
    }
}

TEST_CASE("filter cache: a prepared Enforce program survives encode/decode unchanged") {
    seccomp::Prepared p;
    p.enforce = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xC000003E, 1, 0),
                 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    p.program = p.enforce;
    p.enosys_stub = 2;
    p.load_flags = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    p.description = "profile default.json (docker, 350 rules, x86_64)";
    p.warnings = {"default.json: one", "default.json: two"};
    seccomp::Prepared q;
    REQUIRE(filter_cache::decode(filter_cache::encode(p), q));
    REQUIRE(q.program.size() == p.program.size());
    for (std::size_t i = 0; i < p.program.size(); ++i) {
        CHECK(q.program[i].code == p.program[i].code);
        CHECK(q.program[i].k == p.program[i].k);
        CHECK(q.program[i].jt == p.program[i].jt);
        CHECK(q.program[i].jf == p.program[i].jf);
    }
    CHECK(q.enforce.size() == p.enforce.size());
    CHECK(q.enosys_stub == 2);
    CHECK(q.load_flags == p.load_flags);
    CHECK(q.description == p.description);
    CHECK(q.warnings == p.warnings);
    CHECK(q.mode == seccomp::Mode::Enforce);
    CHECK_FALSE(q.wants_listener());

    std::string damaged = filter_cache::encode(p);
    damaged.pop_back();
    CHECK_FALSE(filter_cache::decode(damaged, q));
    CHECK_FALSE(filter_cache::decode("", q));
}

TEST_CASE("filter cache: the seccomp key changes with the profile bytes, the capabilities and the kernel") {
    TempCache t;
    const std::string profile = t.dir + "/profile.json";
    const std::string text = R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []})";
    LaunchPlan plan;
    seccomp::Target target;
    target.native = &seccomp::native_arch();
    target.kernel = seccomp::KernelVersion{6, 1, 0};
    target.available = {seccomp::ActionKind::Allow, seccomp::ActionKind::Errno};
    const std::string k1 = filter_cache::seccomp_key(plan, target, profile, text);
    REQUIRE_FALSE(k1.empty());
    CHECK(filter_cache::seccomp_key(plan, target, profile, text) == k1);

    seccomp::Target caps = target;
    caps.caps.add(21);  // CAP_SYS_ADMIN
    CHECK(filter_cache::seccomp_key(plan, caps, profile, text) != k1);
    seccomp::Target kernel = target;
    kernel.kernel.minor = 2;
    CHECK(filter_cache::seccomp_key(plan, kernel, profile, text) != k1);
    seccomp::Target strict = target;
    strict.strict = true;
    CHECK(filter_cache::seccomp_key(plan, strict, profile, text) != k1);

    CHECK(filter_cache::seccomp_key(plan, target, profile, R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})") != k1);
    CHECK(filter_cache::seccomp_key(plan, target, t.dir + "/other.json", text) != k1);  // the path counts too

    LaunchPlan inline_plan;
    inline_plan.seccomp.inline_json = R"({"defaultAction": "SCMP_ACT_ERRNO"})";
    CHECK(filter_cache::seccomp_key(inline_plan, target, "", inline_plan.seccomp.inline_json) != k1);
    CHECK(filter_cache::seccomp_key(plan, target, profile, std::string(9 << 20, ' ')).empty());  // too big to keep

    // a profile that cannot be read is an error of the launch, and nothing is stored
    LaunchPlan missing;
    missing.seccomp.mode = SeccompChoice::Mode::Profile;
    missing.seccomp.profile_path = t.dir + "/missing.json";
    CHECK_THROWS_WITH_AS(seccomp::prepare(missing),
                         ("seccomp: " + t.dir + "/missing.json: cannot read the profile: No such file or directory (ENOENT)").c_str(), Error);
    CHECK_FALSE(fs::exists(t.cache()));
}

namespace {
bool same_program(const std::vector<sock_filter>& a, const std::vector<sock_filter>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const sock_filter& x, const sock_filter& y) {
               return x.code == y.code && x.jt == y.jt && x.jf == y.jf && x.k == y.k;
           });
}
}  // namespace

// Issue 12, class 2: the key came from one read of the profile file and the program from a second one, so a file
// swapped in between stored the permissive profile's program under the strict profile's key, for every later
// launch. The reader here is such a file: the strict profile the first time it is read, the permissive one after.
TEST_CASE("filter cache: prepare reads the profile once, so a file swapped between reads cannot poison the cache") {
    TempCache t;
    const std::string strict = R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write", "exit_group", "futex", "sendmsg"], "action": "SCMP_ACT_ALLOW"}]})";
    const std::string permissive = R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})";
    LaunchPlan plan;
    plan.seccomp.mode = SeccompChoice::Mode::Profile;
    plan.seccomp.profile_path = t.dir + "/profile.json";
    auto always = [](std::string text) { return [text](const std::string&) { return text; }; };

    ::setenv("HARDRUN_CACHE", "off", 1);
    const seccomp::Prepared strict_program = seccomp::prepare(plan, seccomp::Mode::Enforce, always(strict));
    const seccomp::Prepared permissive_program = seccomp::prepare(plan, seccomp::Mode::Enforce, always(permissive));
    ::unsetenv("HARDRUN_CACHE");
    REQUIRE_FALSE(same_program(strict_program.program, permissive_program.program));

    int reads = 0;
    std::vector<std::string> paths;
    auto swapped = [&](const std::string& path) {
        paths.push_back(path);
        return reads++ == 0 ? strict : permissive;
    };
    const seccomp::Prepared first = seccomp::prepare(plan, seccomp::Mode::Enforce, swapped);
    CHECK(reads == 1);
    CHECK(paths == std::vector<std::string>{plan.seccomp.profile_path});
    REQUIRE(first.resolved);  // compiled (and stored) from the bytes it read
    CHECK(same_program(first.program, strict_program.program));
    // the entry under the strict profile's key holds the strict program: a later launch gets it from the cache
    const seccomp::Prepared later = seccomp::prepare(plan, seccomp::Mode::Enforce, always(strict));
    CHECK_FALSE(later.resolved);
    CHECK(same_program(later.program, strict_program.program));
    // a launch that now reads the permissive bytes: another key, compiled from those bytes
    reads = 0;
    const seccomp::Prepared next = seccomp::prepare(plan, seccomp::Mode::Enforce, [&](const std::string&) {
        return reads++ == 0 ? permissive : strict;
    });
    CHECK(reads == 1);
    CHECK(next.resolved);
    CHECK(same_program(next.program, permissive_program.program));
    // on a cache hit and in Report mode the file is read once as well
    reads = 0;
    seccomp::prepare(plan, seccomp::Mode::Enforce, swapped);
    CHECK(reads == 1);
    reads = 0;
    seccomp::prepare(plan, seccomp::Mode::Report, swapped);
    CHECK(reads == 1);
}

TEST_CASE("filter cache: seccomp::prepare reuses the program it compiled, byte for byte, and only for the same profile") {
    TempCache t;
    const std::string profile = t.dir + "/profile.json";
    std::ofstream(profile) << R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "syscalls": [{"names": ["read", "write", "exit_group", "futex", "sendmsg"], "action": "SCMP_ACT_ALLOW"}]})";
    LaunchPlan plan;
    plan.seccomp.mode = SeccompChoice::Mode::Profile;
    plan.seccomp.profile_path = profile;

    ::setenv("HARDRUN_CACHE", "off", 1);
    const seccomp::Prepared fresh = seccomp::prepare(plan);
    ::unsetenv("HARDRUN_CACHE");
    REQUIRE(fresh.resolved);  // compiled
    const seccomp::Prepared first = seccomp::prepare(plan);
    CHECK(first.resolved);  // compiled, and stored
    const seccomp::Prepared hit = seccomp::prepare(plan);
    CHECK_FALSE(hit.resolved);  // from the cache: nothing was resolved or compiled
    REQUIRE(hit.program.size() == fresh.program.size());
    for (std::size_t i = 0; i < fresh.program.size(); ++i) {
        CHECK(hit.program[i].code == fresh.program[i].code);
        CHECK(hit.program[i].jt == fresh.program[i].jt);
        CHECK(hit.program[i].jf == fresh.program[i].jf);
        CHECK(hit.program[i].k == fresh.program[i].k);
    }
    CHECK(hit.load_flags == fresh.load_flags);
    CHECK(hit.description == fresh.description);

    // one byte more in the profile: compiled again
    std::ofstream(profile, std::ios::app) << " ";
    CHECK(seccomp::prepare(plan).resolved);
    // report mode never uses the cache (its program differs and needs the resolved profile)
    CHECK(seccomp::prepare(plan, seccomp::Mode::Report).resolved);
}
