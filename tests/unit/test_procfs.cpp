// procfs: the one mountinfo parser and the one /proc/PID/stat parser.
#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "hardrun/support/procfs.hpp"

using namespace hardrun;

TEST_CASE("procfs: a mountinfo line, every field") {
    auto m = procfs::parse_mountinfo(
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:4 - ext3 /dev/root rw,errors=continue\n");
    REQUIRE(m.size() == 1);
    CHECK(m[0].mount_id == 36);
    CHECK(m[0].parent_id == 35);
    CHECK(m[0].major == 98);
    CHECK(m[0].minor == 0);
    CHECK(m[0].root == "/mnt1");
    CHECK(m[0].mount_point == "/mnt2");
    CHECK(m[0].options == std::vector<std::string>{"rw", "noatime"});
    CHECK(m[0].optional_fields == std::vector<std::string>{"master:1", "shared:4"});
    CHECK(m[0].fstype == "ext3");
    CHECK(m[0].source == "/dev/root");
    CHECK(m[0].super_options == std::vector<std::string>{"rw", "errors=continue"});
    CHECK(m[0].has_option("noatime"));
    CHECK_FALSE(m[0].has_option("errors=continue"));
}

TEST_CASE("procfs: mountinfo escapes are decoded, malformed lines skipped") {
    auto m = procfs::parse_mountinfo(
        "71 64 0:45 /a\\134b /with\\040space\\011tab rw - tmpfs my\\040src rw\n"
        "garbage\n"
        "72 64 0:46 / /no-dash rw tmpfs none rw\n"
        "x 64 0:46 / /bad-id rw - tmpfs none rw\n"
        "73 64 0:47 / /last rw - tmpfs none");  // no super options, no final newline
    REQUIRE(m.size() == 2);
    CHECK(m[0].root == "/a\\b");
    CHECK(m[0].mount_point == "/with space\ttab");
    CHECK(m[0].source == "my src");
    CHECK(m[1].mount_point == "/last");
    CHECK(m[1].super_options.empty());
    CHECK(procfs::unescape("\\04") == "\\04");    // too short: kept as written
    CHECK(procfs::unescape("\\089") == "\\089");  // not octal
}

TEST_CASE("procfs: /proc/PID/stat, a name with blanks and parentheses") {
    std::string line = "4242 (my (odd) name) S 17";
    for (int field = 5; field <= 21; ++field) line += " 0";
    line += " 123456789 0 0\n";
    auto s = procfs::parse_stat(line);
    REQUIRE(s);
    CHECK(s->state == 'S');
    CHECK(s->ppid == 17);
    CHECK(s->start_time == 123456789ULL);
    CHECK_FALSE(procfs::parse_stat("4242 (short) S 1 2 3\n"));
    CHECK_FALSE(procfs::parse_stat("no parenthesis"));
}

TEST_CASE("procfs: read_stat of this process") {
    auto self = procfs::read_stat("self");
    auto mine = procfs::read_stat(::getpid());
    REQUIRE(self);
    REQUIRE(mine);
    CHECK(self->start_time == mine->start_time);
    CHECK(mine->ppid == ::getppid());
    CHECK(mine->start_time > 0);
    CHECK_FALSE(procfs::read_stat(pid_t{0}));
}
