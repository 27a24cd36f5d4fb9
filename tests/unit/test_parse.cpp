#include <doctest/doctest.h>
#include <sys/resource.h>

#include "hardrun/support/error.hpp"
#include "hardrun/plan/parse.hpp"

using namespace hardrun;

TEST_CASE("sizes") {
    CHECK(parse::size("--memory", "512m") == 512ULL << 20);
    CHECK(parse::size("--memory", "1g") == 1ULL << 30);
    CHECK(parse::size("--memory", "1G") == 1ULL << 30);
    CHECK(parse::size("--memory", "64k") == 64ULL << 10);
    CHECK(parse::size("--memory", "100") == 100);
    CHECK(parse::size("--memory", "100b") == 100);
    CHECK(parse::size("--memory", "1.5g") == (3ULL << 29));
    CHECK(parse::size("--memory", "2MiB") == 2ULL << 20);
    for (const char* bad : {"12q", "", "m", "-1", "1..5g", ".5g", "1.g", "5 m", "0x10", "99999999999999999999", "20000000t"})
        CHECK_THROWS_AS(parse::size("--memory", bad), UsageError);
    try {
        parse::size("--memory", "12q");
        FAIL("no throw");
    } catch (const UsageError& e) {
        CHECK(std::string(e.what()) == "--memory: '12q' is not a size; use e.g. 512m");
    }
}

TEST_CASE("cpus") {
    CHECK(parse::cpus("--cpus", "0.5").quota_us == 50000);
    CHECK(parse::cpus("--cpus", "2").quota_us == 200000);
    CHECK(parse::cpus("--cpus", "1.25").period_us == 100000);
    for (const char* bad : {"0", "-1", "abc", "", "1.2.3", "0.001", "2000", ".5"})
        CHECK_THROWS_AS(parse::cpus("--cpus", bad), UsageError);
}

TEST_CASE("user") {
    CHECK(parse::user("--user", "10001") == std::pair<uid_t, gid_t>{10001, 10001});
    CHECK(parse::user("--user", "1000:2000") == std::pair<uid_t, gid_t>{1000, 2000});
    CHECK(parse::user("--user", "0") == std::pair<uid_t, gid_t>{0, 0});
    for (const char* bad : {"", "app", "1:2:3", "1:", ":1", "-5", "4294967295", "99999999999"})
        CHECK_THROWS_AS(parse::user("--user", bad), UsageError);
}

TEST_CASE("tmpfs options") {
    auto m = parse::tmpfs("--tmpfs", "/tmp");
    CHECK(m.kind == MountKind::Tmpfs);
    CHECK(m.noexec);  // /tmp is noexec unless asked otherwise
    CHECK(m.nosuid);
    CHECK(m.nodev);
    CHECK(*m.size == 64ULL << 20);
    CHECK(*m.mode == 01777);
    auto c = parse::tmpfs("--tmpfs", "/var/cache/app:size=16m,mode=0700,exec");
    CHECK(c.destination == "/var/cache/app");
    CHECK(*c.size == 16ULL << 20);
    CHECK(*c.mode == 0700);
    CHECK_FALSE(c.noexec);
    // every user tmpfs is noexec by default (issue 16 item 5: secure by default), ":exec" allows it
    CHECK(parse::tmpfs("--tmpfs", "/run").noexec);
    CHECK(parse::tmpfs("--tmpfs", "/var/lib/app").noexec);
    CHECK(parse::tmpfs("--tmpfs", "/run:noexec").noexec);
    CHECK_FALSE(parse::tmpfs("--tmpfs", "/run:exec").noexec);
    CHECK(parse::tmpfs("--tmpfs", "//a/./b/").destination == "/a/b");
    for (const char* bad : {"tmp", "/", "/tmp:size=abc", "/tmp:mode=999", "/tmp:bogus", "/tmp:size=0", "/a/../etc", ""})
        CHECK_THROWS_AS(parse::tmpfs("--tmpfs", bad), UsageError);
}

TEST_CASE("volumes") {
    auto v = parse::volume("--volume", "/srv/data:/data:ro");
    CHECK(v.source == "/srv/data");
    CHECK(v.destination == "/data");
    CHECK(v.readonly);
    CHECK_FALSE(parse::volume("--volume", "/srv:/srv").readonly);
    CHECK(parse::volume("--volume", "/srv:/srv:rw,noexec").noexec);
    // volumes are noexec unless ":exec" is given (issue 16 item 5), read-only or not
    CHECK(parse::volume("--volume", "/srv:/srv").noexec);
    CHECK(parse::volume("--volume", "/srv:/srv:ro").noexec);
    CHECK(parse::volume("--volume", "/srv:/srv:rw").noexec);
    CHECK_FALSE(parse::volume("--volume", "/srv:/srv:exec").noexec);
    CHECK_FALSE(parse::volume("--volume", "/srv:/srv:rw,exec").noexec);
    CHECK_FALSE(parse::volume("--volume", "/srv:/srv:ro,exec").noexec);
    // ("data:/data" is a named volume now: see below)
    for (const char* bad : {"/srv", "/srv:data", "/srv:/", "/srv:/x:rx", "/a:/b:ro:z", ":/x"})
        CHECK_THROWS_AS(parse::volume("--volume", bad), UsageError);
}

TEST_CASE("ulimits") {
    auto r = parse::ulimit("--ulimit", "nofile=1024:2048");
    CHECK(r.resource == RLIMIT_NOFILE);
    CHECK(r.soft == 1024);
    CHECK(r.hard == 2048);
    CHECK(parse::ulimit("--ulimit", "core=0").hard == 0);
    CHECK(parse::ulimit("--ulimit", "nproc=unlimited").soft == RLIM_INFINITY);
    CHECK(parse::ulimit("--ulimit", "RLIMIT_NOFILE=10").resource == RLIMIT_NOFILE);
    for (const char* bad : {"nofile", "bogus=1", "nofile=2048:1024", "nofile=x", "nofile=1:2:3", "=5"})
        CHECK_THROWS_AS(parse::ulimit("--ulimit", bad), UsageError);
}

TEST_CASE("capability names") {
    CHECK(parse::capability("--cap-add", "NET_BIND_SERVICE") == 10);
    CHECK(parse::capability("--cap-add", "CAP_NET_BIND_SERVICE") == 10);
    CHECK(parse::capability("--cap-add", "net_bind_service") == 10);
    CHECK(parse::capability("--cap-add", "chown") == 0);
    CHECK(parse::capability("--cap-add", "ALL") == -1);
    CHECK(parse::capability_name(21) == "CAP_SYS_ADMIN");
    for (const char* bad : {"", "CAP_", "NET_BIND", "CAP_FOO", "41", "sys admin"})
        CHECK_THROWS_AS(parse::capability("--cap-add", bad), UsageError);
}

TEST_CASE("env, hostname, paths") {
    CHECK(parse::env("--env", "A=b=c") == "A=b=c");
    CHECK(parse::env("--env", "EMPTY=") == "EMPTY=");
    setenv("HARDRUN_TEST_PASS", "v", 1);
    CHECK(parse::env("--env", "HARDRUN_TEST_PASS") == "HARDRUN_TEST_PASS=v");
    CHECK_THROWS_AS(parse::env("--env", "HARDRUN_TEST_UNSET_XYZ"), UsageError);
    CHECK_THROWS_AS(parse::env("--env", "=x"), UsageError);
    CHECK_THROWS_AS(parse::env("--env", "1A=x"), UsageError);
    CHECK(parse::hostname("--hostname", "web-1.example") == "web-1.example");
    for (const char* bad : {"", "-a", "a-", "a..b", "a_b", "a b"})
        CHECK_THROWS_AS(parse::hostname("--hostname", bad), UsageError);
    CHECK(parse::sandbox_path("--workdir", "/a//b/") == "/a/b");
    CHECK_THROWS_AS(parse::sandbox_path("--workdir", "rel"), UsageError);
    CHECK_THROWS_AS(parse::sandbox_path("--workdir", "/a/../b"), UsageError);
    CHECK(parse::human_size(64ULL << 20) == "64 MiB");
}

TEST_CASE("parse::number: the whole string, digits only, in range") {
    CHECK(parse::number<std::uint64_t>("18446744073709551615") == UINT64_MAX);
    CHECK_FALSE(parse::number<std::uint64_t>("18446744073709551616"));
    CHECK_FALSE(parse::number<int>(""));
    CHECK_FALSE(parse::number<int>("-1"));
    CHECK_FALSE(parse::number<int>("+1"));
    CHECK_FALSE(parse::number<int>(" 1"));
    CHECK_FALSE(parse::number<int>("1 "));
    CHECK_FALSE(parse::number<int>("0x10"));
    CHECK(parse::number<int>("42", 2, 42) == 42);
    CHECK_FALSE(parse::number<int>("43", 2, 42));
    CHECK_FALSE(parse::number<int>("1", 2, 42));
    CHECK(parse::number<unsigned>("1777", 0, 07777, 8) == 01777u);
    CHECK_FALSE(parse::number<unsigned>("8", 0, 07777, 8));
    CHECK(parse::number_base<std::uint64_t>("a80425fb", 16) == 0xa80425fbULL);
}

TEST_CASE("parse: tmpfs uid=, gid= and tmpcopyup") {
    auto m = parse::tmpfs("--tmpfs", "/run/postgresql:uid=101,gid=104,mode=0700,tmpcopyup");
    CHECK(m.uid == 101U);
    CHECK(m.gid == 104U);
    CHECK(m.mode == 0700U);
    CHECK(m.copy_up);
    CHECK_FALSE(parse::tmpfs("--tmpfs", "/run").copy_up);  // docker's default: a fresh, empty tmpfs
    CHECK_FALSE(parse::tmpfs("--tmpfs", "/run:tmpcopyup,notmpcopyup").copy_up);
    CHECK_FALSE(parse::tmpfs("--tmpfs", "/run").uid);
    CHECK_THROWS_WITH_AS(parse::tmpfs("--tmpfs", "/run:uid=postgres"), doctest::Contains("is not a numeric uid"), UsageError);
    CHECK_THROWS_WITH_AS(parse::tmpfs("--tmpfs", "/run:gid=-1"), doctest::Contains("is not a numeric gid"), UsageError);
    CHECK_THROWS_WITH_AS(parse::tmpfs("--tmpfs", "/run:owner=1"), doctest::Contains("uid=, gid=, tmpcopyup"), UsageError);
}

TEST_CASE("parse: -v NAME:/path is a named volume, docker's names only") {
    auto m = parse::volume("--volume", "pgdata:/var/lib/postgresql/data:rw");
    CHECK(m.volume == "pgdata");
    CHECK(m.source.empty());
    CHECK(m.noexec);
    CHECK(parse::volume("--volume", "a.b_c-1:/x").volume == "a.b_c-1");
    CHECK(parse::volume("--volume", "/srv:/x").volume.empty());
    for (const char* bad : {"../x:/x", ".x:/x", "a/b:/x", "a b:/x", "-x:/x", ":/x"})
        CHECK_THROWS_AS(parse::volume("--volume", bad), UsageError);
}

TEST_CASE("parse: volume names are docker's") {
    for (const char* ok : {"pgdata", "a", "A.b-c_9", "0x"}) CHECK(parse::volume_name(ok));
    for (const char* bad : {"", ".x", "-x", "_x", "a/b", "..", "a b", "a:b"}) CHECK_FALSE(parse::volume_name(bad));
    CHECK(parse::volume_name(std::string(128, 'a')));
    CHECK_FALSE(parse::volume_name(std::string(129, 'a')));
}
