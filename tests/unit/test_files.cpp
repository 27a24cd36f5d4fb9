// files.hpp: the one writer of host files, and volume sources resolved without symlinks.
#include <doctest/doctest.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"

#include "scratch_dir.hpp"

using namespace hardrun;

namespace {

struct Scratch : ScratchDir {
    Scratch() : ScratchDir("hardrun-files-unit") {}
};

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::set<std::string> names(const std::string& dir) {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename());
    return out;
}

void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("files: write_atomic creates and replaces a regular file, leaving no temporary file") {
    Scratch s;
    files::write_atomic(s.at("out"), "one", "test", 0600);
    CHECK(slurp(s.at("out")) == "one");
    struct stat st {};
    REQUIRE(::lstat(s.at("out").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    files::write_atomic(s.at("out"), "two", "test");
    CHECK(slurp(s.at("out")) == "two");
    CHECK(names(s.dir) == std::set<std::string>{"out"});
}

TEST_CASE("files: write_atomic never writes through a symlink") {
    Scratch s;
    put(s.at("victim"), "precious");
    REQUIRE(::symlink(s.at("victim").c_str(), s.at("link").c_str()) == 0);
    CHECK_THROWS_WITH_AS(files::write_atomic(s.at("link"), "x", "pid-file"), doctest::Contains("is a symlink"), Error);
    // a dangling one is not followed either (it would create the file it names)
    REQUIRE(::symlink(s.at("new").c_str(), s.at("dangling").c_str()) == 0);
    CHECK_THROWS_WITH_AS(files::write_atomic(s.at("dangling"), "x", "spec"), doctest::Contains("is a symlink"), Error);
    CHECK(slurp(s.at("victim")) == "precious");
    CHECK(names(s.dir) == std::set<std::string>{"victim", "link", "dangling"});
}

TEST_CASE("files: the directory of the target must not be a symlink") {
    Scratch s;
    REQUIRE(::mkdir(s.at("real").c_str(), 0755) == 0);
    REQUIRE(::symlink(s.at("real").c_str(), s.at("linkdir").c_str()) == 0);
    const std::string expected = "its directory " + s.at("linkdir") + " is a symlink";
    CHECK_THROWS_WITH_AS(files::write_atomic(s.at("linkdir") + "/f", "x", "pid-file"),
                         doctest::Contains(expected.c_str()), Error);
    CHECK_THROWS_WITH_AS(files::write_atomic(s.at("linkdir") + "//f", "x", "pid-file"), doctest::Contains("is a symlink"), Error);
    CHECK(names(s.at("real")).empty());
}

TEST_CASE("files: Existing::Refuse keeps what is there; non-regular files are never replaced") {
    Scratch s;
    put(s.at("config.json"), "mine");
    CHECK_THROWS_WITH_AS(files::write_atomic(s.at("config.json"), "x", "spec", 0644, files::Existing::Refuse),
                         doctest::Contains("exists already"), Error);
    CHECK(slurp(s.at("config.json")) == "mine");
    REQUIRE(::mkfifo(s.at("fifo").c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(files::write_atomic(s.at("fifo"), "x", "test"), doctest::Contains("not a regular file"), Error);
    CHECK(names(s.dir) == std::set<std::string>{"config.json", "fifo"});
}

TEST_CASE("files: open_append appends to a regular file and refuses symlinks, FIFOs and directories") {
    Scratch s;
    put(s.at("log"), "a\n");
    {
        UniqueFd fd = files::open_append(s.at("log"), "--log");
        REQUIRE(::write(fd.get(), "b\n", 2) == 2);
    }
    CHECK(slurp(s.at("log")) == "a\nb\n");
    REQUIRE(::symlink(s.at("log").c_str(), s.at("link").c_str()) == 0);
    CHECK_THROWS_WITH_AS(files::open_append(s.at("link"), "--log"), doctest::Contains("is a symlink"), Error);
    REQUIRE(::mkfifo(s.at("fifo").c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(files::open_append(s.at("fifo"), "--log"), doctest::Contains("not a regular file"), Error);
    REQUIRE(::mkdir(s.at("dir").c_str(), 0755) == 0);
    CHECK_THROWS_WITH_AS(files::open_append(s.at("dir"), "--log"), doctest::Contains("not a regular file"), Error);
    CHECK(slurp(s.at("log")) == "a\nb\n");
}

TEST_CASE("files: resolve_without_symlinks gives the canonical path and names the first symlink") {
    Scratch s;
    REQUIRE(::mkdir(s.at("real").c_str(), 0755) == 0);
    REQUIRE(::mkdir(s.at("real/inner").c_str(), 0755) == 0);
    char canon[PATH_MAX];
    REQUIRE(::realpath(s.at("real").c_str(), canon));
    CHECK(files::resolve_without_symlinks(s.at("real")) == canon);
    CHECK(files::resolve_without_symlinks(s.at("real/inner/..")) == canon);  // `..` is not a symlink
    REQUIRE(::symlink("real", s.at("link").c_str()) == 0);
    for (const std::string& p : {s.at("link"), s.at("link/inner")}) {
        try {
            files::resolve_without_symlinks(p);
            FAIL("no error for " << p);
        } catch (const Error& e) {
            const std::string m = e.what();
            CHECK(m.find("the symlink " + s.at("link") + " -> real") != std::string::npos);
            CHECK(m.find("pass the resolved path " + std::string(canon)) != std::string::npos);
        }
    }
    CHECK_THROWS_WITH_AS(files::resolve_without_symlinks(s.at("missing")), doctest::Contains("ENOENT"), Error);
}

TEST_CASE("files: remove_tree removes a workload's tree without following its symlinks") {
    Scratch s;
    put(s.at("precious"), "keep");
    REQUIRE(::mkdir(s.at("outside").c_str(), 0755) == 0);
    put(s.at("outside/f"), "keep too");
    REQUIRE(::mkdir(s.at("vol").c_str(), 0755) == 0);
    REQUIRE(::mkdir(s.at("vol/a").c_str(), 0700) == 0);
    REQUIRE(::mkdir(s.at("vol/a/b").c_str(), 0000) == 0);  // even a directory with no permission bits (as root)
    put(s.at("vol/a/file"), "x");
    REQUIRE(::symlink(s.at("precious").c_str(), s.at("vol/link-to-file").c_str()) == 0);
    REQUIRE(::symlink(s.at("outside").c_str(), s.at("vol/a/link-to-dir").c_str()) == 0);
    REQUIRE(::mkfifo(s.at("vol/fifo").c_str(), 0600) == 0);
    if (::geteuid() != 0) REQUIRE(::chmod(s.at("vol/a/b").c_str(), 0700) == 0);
    files::remove_tree(s.at("vol"), "volume rm");
    CHECK(names(s.dir) == std::set<std::string>{"precious", "outside"});
    CHECK(slurp(s.at("precious")) == "keep");
    CHECK(slurp(s.at("outside/f")) == "keep too");
    // the tree itself must be a directory, not a symlink to one
    REQUIRE(::symlink(s.at("outside").c_str(), s.at("dirlink").c_str()) == 0);
    CHECK_THROWS_AS(files::remove_tree(s.at("dirlink"), "volume rm"), Error);
    CHECK(slurp(s.at("outside/f")) == "keep too");
    CHECK_THROWS_AS(files::remove_tree(s.at("missing"), "volume rm"), Error);
}
