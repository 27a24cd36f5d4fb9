// A recording fake of the Sys seam (like youki's): logs every call with its arguments and returns fake
// fds, so the order and arguments of the apply steps can be checked without privileges.
#pragma once
#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "hardrun/sys.hpp"

namespace hardrun::test {

class RecordingSys : public Sys {
public:
    std::vector<std::string> calls;
    // Optional failure injection: return -errno for the first call whose text starts with the prefix.
    std::function<int(const std::string& call)> fail;
    int next_fd = 100;

    int fsopen(const char* t, unsigned) override { return fd("fsopen " + s(t)); }
    int fsconfig(int fd_, unsigned cmd, const char* k, const char* v, int) override {
        return rec("fsconfig " + std::to_string(fd_) + " " + std::to_string(cmd) + " " + s(k) + (v ? "=" + s(v) : ""));
    }
    int fsmount(int f, unsigned, unsigned attrs) override { return fd("fsmount " + std::to_string(f) + " attrs=" + std::to_string(attrs)); }
    int move_mount(int from, const char*, int to, const char*, unsigned) override {
        return rec("move_mount " + std::to_string(from) + " -> " + std::to_string(to));
    }
    int open_tree(int dfd, const char* p, unsigned) override { return fd("open_tree " + std::to_string(dfd) + " " + s(p)); }
    int mount_setattr(int dfd, const char* p, unsigned, std::uint64_t set, std::uint64_t, std::uint64_t) override {
        return rec("mount_setattr " + std::to_string(dfd) + " " + s(p) + " set=" + std::to_string(set));
    }
    int mount(const char* src, const char* tgt, const char*, unsigned long flags, const char*) override {
        return rec("mount " + s(src) + " " + s(tgt) + " flags=" + std::to_string(flags));
    }
    int umount2(const char* t, int f) override { return rec("umount2 " + s(t) + " " + std::to_string(f)); }
    int pivot_root(const char* a, const char* b) override { return rec("pivot_root " + s(a) + " " + s(b)); }
    int openat2(int dfd, const char* p, std::uint64_t, std::uint64_t, std::uint64_t resolve) override {
        return fd("openat2 " + std::to_string(dfd) + " " + s(p) + " resolve=" + std::to_string(resolve));
    }
    int openat(int dfd, const char* p, int, mode_t) override { return fd("openat " + std::to_string(dfd) + " " + s(p)); }
    int mkdirat(int dfd, const char* p, mode_t) override { return rec("mkdirat " + std::to_string(dfd) + " " + s(p)); }
    int symlinkat(const char* t, int dfd, const char* p) override {
        return rec("symlinkat " + s(t) + " " + std::to_string(dfd) + " " + s(p));
    }
    int fchmod(int f, mode_t m) override { return rec("fchmod " + std::to_string(f) + " " + std::to_string(m)); }
    int fchown(int f, uid_t u, gid_t g) override {
        return rec("fchown " + std::to_string(f) + " " + std::to_string(u) + ":" + std::to_string(g));
    }
    int chdir(const char* p) override { return rec("chdir " + s(p)); }
    int fchdir(int f) override { return rec("fchdir " + std::to_string(f)); }
    int close(int) override { return 0; }  // not recorded: noise
    long write(int, const void*, std::size_t len) override { return static_cast<long>(len); }
    int close_range(unsigned a, unsigned b, unsigned) override {
        return rec("close_range " + std::to_string(a) + " " + std::to_string(b));
    }
    int dup2(int a, int b) override { return rec("dup2 " + std::to_string(a) + " " + std::to_string(b)); }
    int sethostname(const std::string& n) override { return rec("sethostname " + n); }
    int setrlimit(int r, std::uint64_t soft, std::uint64_t hard) override {
        return rec("setrlimit " + std::to_string(r) + " " + std::to_string(soft) + ":" + std::to_string(hard));
    }
    int setgroups(const std::vector<gid_t>& g) override { return rec("setgroups " + std::to_string(g.size())); }
    int setresgid(gid_t g) override { return rec("setresgid " + std::to_string(g)); }
    int setresuid(uid_t u) override { return rec("setresuid " + std::to_string(u)); }
    int prctl(int o, unsigned long a, unsigned long, unsigned long, unsigned long) override {
        return rec("prctl " + std::to_string(o) + " " + std::to_string(a));
    }
    int umask(mode_t m) override { return rec("umask " + std::to_string(m)); }
    int setsid() override { return rec("setsid"); }
    int seccomp_load(unsigned flags, const sock_fprog*) override { return rec("seccomp_load " + std::to_string(flags)); }
    int loopback_up() override { return rec("loopback_up"); }

    // index of the first call starting with prefix, or -1
    int find(const std::string& prefix, int from = 0) const {
        for (std::size_t i = static_cast<std::size_t>(from); i < calls.size(); ++i)
            if (calls[i].rfind(prefix, 0) == 0) return static_cast<int>(i);
        return -1;
    }

private:
    static std::string s(const char* p) { return p ? p : "(null)"; }
    int rec(const std::string& c) {
        calls.push_back(c);
        if (fail) return fail(c);
        return 0;
    }
    int fd(const std::string& c) {
        int r = rec(c);
        return r < 0 ? r : next_fd++;
    }
};

}  // namespace hardrun::test
