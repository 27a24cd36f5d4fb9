// A recording fake of the Sys seam (like youki's): logs every call with its arguments and returns fake
// fds, so the order and arguments of the apply steps can be checked without privileges.
#pragma once
#include <linux/seccomp.h>
#include <cap-ng.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "hardrun/support/sys.hpp"

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
        return path_fd(fd("openat2 " + std::to_string(dfd) + " " + s(p) + " resolve=" + std::to_string(resolve)), p);
    }
    int openat(int dfd, const char* p, int, mode_t) override { return path_fd(fd("openat " + std::to_string(dfd) + " " + s(p)), p); }
    // fstat answers from the path an fd was opened with (not recorded): "/dev/null" is the null device, a path
    // in `files` (or in `contents`) a regular file, fds 0-2 opened with no path a terminal, anything else a
    // directory.
    std::map<int, std::string> fd_paths;
    std::set<std::string> files;
    int fstat(int f, struct ::stat* st) override {
        *st = {};
        auto it = fd_paths.find(f);
        const std::string p = it == fd_paths.end() ? "" : it->second;
        if (p == "/dev/null" || p == "dev/null") {
            st->st_mode = S_IFCHR | 0666;
            st->st_rdev = makedev(1, 3);
        } else if (it == fd_paths.end() && f >= 0 && f <= 2) {
            st->st_mode = S_IFCHR | 0620;
            st->st_rdev = makedev(136, 0);
        } else {
            st->st_mode = (files.count(p) || contents.count(p) ? S_IFREG : S_IFDIR) | 0755;
        }
        return 0;
    }
    // fstatat, readlinkat and mknodat are what a copy-up does for each entry of a listing; the fake's listings
    // are empty (getdents64 reads the end at once), so they are recorded but only reached by a test calling them
    int fstatat(int dfd, const char* p, struct ::stat* st, int) override {
        *st = {};
        st->st_mode = S_IFDIR | 0755;
        return rec("fstatat " + std::to_string(dfd) + " " + s(p));
    }
    long readlinkat(int dfd, const char* p, char*, std::size_t) override {
        return rec("readlinkat " + std::to_string(dfd) + " " + s(p));
    }
    int mknodat(int dfd, const char* p, mode_t m, dev_t) override {
        return rec("mknodat " + std::to_string(dfd) + " " + s(p) + " " + std::to_string(m));
    }
    long getdents64(int f, void*, std::size_t) override { return rec("getdents64 " + std::to_string(f)); }
    int mkdirat(int dfd, const char* p, mode_t) override { return rec("mkdirat " + std::to_string(dfd) + " " + s(p)); }
    int symlinkat(const char* t, int dfd, const char* p) override {
        return rec("symlinkat " + s(t) + " " + std::to_string(dfd) + " " + s(p));
    }
    int fchmod(int f, mode_t m) override { return rec("fchmod " + std::to_string(f) + " " + std::to_string(m)); }
    int fchown(int f, uid_t u, gid_t g) override {
        return rec("fchown " + std::to_string(f) + " " + std::to_string(u) + ":" + std::to_string(g));
    }
    int fchownat(int dfd, const char* p, uid_t u, gid_t g, int) override {
        return rec("fchownat " + std::to_string(dfd) + " " + s(p) + " " + std::to_string(u) + ":" + std::to_string(g));
    }
    int utimensat(int dfd, const char* p, const struct ::timespec*, int) override {
        return rec("utimensat " + std::to_string(dfd) + " " + s(p));
    }
    int chdir(const char* p) override { return rec("chdir " + s(p)); }
    int fchdir(int f) override { return rec("fchdir " + std::to_string(f)); }
    int close(int) override { return 0; }  // not recorded: noise
    // reads are recorded with the path the fd was opened with and give the file's `contents` in turn (then
    // end of file); writes likewise, and pread gives back what was last written there
    std::map<std::string, std::string> contents;
    std::map<int, std::size_t> read_at;
    long read(int f, void* buf, std::size_t len) override {
        auto it = fd_paths.find(f);
        const std::string p = it == fd_paths.end() ? std::to_string(f) : it->second;
        int r = rec("read " + p);
        if (r < 0) return r;
        auto c = contents.find(p);
        if (c == contents.end()) return 0;
        std::size_t& at = read_at[f];
        const std::size_t n = std::min(len, c->second.size() - std::min(at, c->second.size()));
        std::memcpy(buf, c->second.data() + at, n);
        at += n;
        return static_cast<long>(n);
    }
    std::map<int, std::string> written;
    long write(int f, const void* buf, std::size_t len) override {
        const std::string data(static_cast<const char*>(buf), len);
        auto it = fd_paths.find(f);
        int r = rec("write " + (it == fd_paths.end() ? std::to_string(f) : it->second) + " " + data);
        if (r < 0) return r;
        written[f] = data;
        return static_cast<long>(len);
    }
    long pread(int f, void* buf, std::size_t len, off_t) override {
        std::string d = written[f];
        if (d.rfind("exec ", 0) == 0) d = d.substr(5) + " (enforce)\n";  // an LSM attr file reads back the label
        const std::size_t n = std::min(len, d.size());
        std::memcpy(buf, d.data(), n);
        return static_cast<long>(n);
    }
    // every fd opened below a path starting with "/proc" (or relative to one) is on procfs, unless turned off
    bool proc_is_procfs = true;
    int fstatfs(int f, struct ::statfs* st) override {
        *st = {};
        auto it = fd_paths.find(f);
        const bool proc = it != fd_paths.end() && (it->second.rfind("/proc", 0) == 0 || it->second.find("/attr/") != std::string::npos);
        st->f_type = proc && proc_is_procfs ? 0x9fa0 /* PROC_SUPER_MAGIC */ : 0x01021994 /* TMPFS_MAGIC */;
        return 0;
    }
    int close_range(unsigned a, unsigned b, unsigned) override {
        return rec("close_range " + std::to_string(a) + " " + std::to_string(b));
    }
    int dup2(int a, int b) override { return rec("dup2 " + std::to_string(a) + " " + std::to_string(b)); }
    // queries whose failure the callers tolerate by design (not recorded: noise): the stdio fds are open
    // read-write, poll sees nothing pending, a signal mask change works
    int fcntl_getfl(int f) override { return f >= 0 && f <= 2 ? O_RDWR : O_RDONLY; }
    int poll(struct ::pollfd*, unsigned long, int) override { return 0; }
    int sigprocmask(int, const sigset_t*, sigset_t* old) override {
        if (old) sigemptyset(old);
        return 0;
    }
    // TIOCGPTPEER opens the pty's peer: a new fake fd
    int ioctl(int f, unsigned long req, unsigned long) override {
        const std::string c = "ioctl " + std::to_string(f) + " " + ioctl_name(req);
        return req == TIOCGPTPEER ? fd(c) : rec(c);
    }
    int send_fd(int sock, int f, const std::string& payload, int) override {
        return rec("send_fd " + std::to_string(sock) + " " + std::to_string(f) + " " + payload);
    }
    int sethostname(const std::string& n) override { return rec("sethostname " + n); }
    int setrlimit(int r, std::uint64_t soft, std::uint64_t hard) override {
        return rec("setrlimit " + std::to_string(r) + " " + std::to_string(soft) + ":" + std::to_string(hard));
    }
    int setgroups(const std::vector<gid_t>& g) override { return rec("setgroups " + std::to_string(g.size())); }
    int setresgid(gid_t g) override { return rec("setresgid " + std::to_string(g)); }
    int setresuid(uid_t u) override { return rec("setresuid " + std::to_string(u)); }
    // A tiny model of the queries (not recorded: noise): every capability is in the bounding set unless listed in
    // bounding_missing, and PR_GET_NO_NEW_PRIVS answers what an earlier PR_SET_NO_NEW_PRIVS set.
    std::vector<int> bounding_missing;
    bool no_new_privs = false;
    int prctl(int o, unsigned long a, unsigned long, unsigned long, unsigned long) override {
        if (o == PR_CAPBSET_READ) {
            for (int c : bounding_missing)
                if (static_cast<unsigned long>(c) == a) return 0;
            return 1;
        }
        if (o == PR_GET_NO_NEW_PRIVS) return no_new_privs ? 1 : 0;
        int r = rec("prctl " + prctl_name(o) + " " + std::to_string(a));
        if (r == 0 && o == PR_SET_NO_NEW_PRIVS) no_new_privs = a == 1;
        return r;
    }
    int umask(mode_t m) override { return rec("umask " + std::to_string(m)); }
    int setsid() override { return rec("setsid"); }
    long join_session_keyring() override { return rec("join_session_keyring"); }
    // the fd a filter with SECCOMP_FILTER_FLAG_NEW_LISTENER returns, when set (the kernel's lowest free fd)
    int listener_fd = -1;
    int seccomp_load(unsigned flags, const sock_fprog*) override {
        const int r = rec("seccomp_load " + std::to_string(flags));
        return r < 0 || listener_fd < 0 || !(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ? r : listener_fd;
    }
    int loopback_up() override { return rec("loopback_up"); }
    int fcntl_dupfd_cloexec(int f, int min) override { return fd("dupfd " + std::to_string(f) + " >=" + std::to_string(min)); }
    int setns(int f, int type) override { return rec("setns " + std::to_string(f) + " " + std::to_string(type)); }
    // what libcap-ng would apply, read back from its (process-local, pure) state: "capng_apply bounds=net_raw"
    int capng_apply(int select) override {
        auto list = [](capng_type_t t) {
            std::string out;
            for (unsigned c = 0; c <= CAP_LAST_CAP; ++c)
                if (capng_have_capability(t, c)) {
                    const char* n = capng_capability_to_name(c);
                    out += (out.empty() ? "" : ",") + std::string(n ? n : std::to_string(c));
                }
            return out.empty() ? std::string("-") : out;
        };
        switch (select) {
            case CAPNG_SELECT_BOUNDS: return rec("capng_apply bounds=" + list(CAPNG_BOUNDING_SET));
            case CAPNG_SELECT_CAPS:
                return rec("capng_apply eff=" + list(CAPNG_EFFECTIVE) + " prm=" + list(CAPNG_PERMITTED) +
                           " inh=" + list(CAPNG_INHERITABLE));
            case CAPNG_SELECT_AMBIENT: return rec("capng_apply ambient=" + list(CAPNG_AMBIENT));
            default: return rec("capng_apply " + std::to_string(select));
        }
    }
    int landlock_abi = 7;  // 0: this "kernel" has no Landlock
    long landlock_create_ruleset(const void* attr, std::size_t, unsigned flags) override {
        if (!attr && flags == 1U) return landlock_abi > 0 ? landlock_abi : -EOPNOTSUPP;  // the version query
        if (landlock_abi == 0) return -EOPNOTSUPP;
        return fd("landlock_create_ruleset");
    }
    // a path rule (type 1) names the directory fd it is for: struct landlock_path_beneath_attr is
    // { u64 allowed_access; s32 parent_fd } (packed)
    int landlock_add_rule(int r, int type, const void* attr, unsigned) override {
        std::string c = "landlock_add_rule " + std::to_string(r) + " type=" + std::to_string(type);
        if (type == 1 && attr) {
            std::int32_t parent = 0;
            std::memcpy(&parent, static_cast<const char*>(attr) + sizeof(std::uint64_t), sizeof parent);
            c += " fd=" + std::to_string(parent);
        }
        return rec(c);
    }
    int landlock_restrict_self(int r, unsigned) override { return rec("landlock_restrict_self " + std::to_string(r)); }

    // index of the first call starting with prefix, or -1
    int find(const std::string& prefix, int from = 0) const {
        for (std::size_t i = static_cast<std::size_t>(from); i < calls.size(); ++i)
            if (calls[i].rfind(prefix, 0) == 0) return static_cast<int>(i);
        return -1;
    }

private:
    static std::string s(const char* p) { return p ? p : "(null)"; }
    static std::string prctl_name(int o) {
        switch (o) {
            case PR_SET_NO_NEW_PRIVS: return "NO_NEW_PRIVS";
            case PR_SET_DUMPABLE: return "DUMPABLE";
            case PR_SET_PDEATHSIG: return "PDEATHSIG";
            case PR_SET_KEEPCAPS: return "KEEPCAPS";
            case PR_CAP_AMBIENT: return "CAP_AMBIENT";
            case PR_SET_SECCOMP: return "SECCOMP";
            default: return std::to_string(o);
        }
    }
    static std::string ioctl_name(unsigned long r) {
        switch (r) {
            case TIOCSPTLCK: return "TIOCSPTLCK";
            case TIOCGPTPEER: return "TIOCGPTPEER";
            case TIOCSCTTY: return "TIOCSCTTY";
            default: return std::to_string(r);
        }
    }
    int rec(const std::string& c) {
        calls.push_back(c);
        if (fail) return fail(c);
        return 0;
    }
    int path_fd(int f, const char* p) {
        if (f >= 0) fd_paths[f] = s(p);
        return f;
    }
    int fd(const std::string& c) {
        int r = rec(c);
        return r < 0 ? r : next_fd++;
    }
};

}  // namespace hardrun::test
