// AppArmor through libapparmor and the kernel's procattr protocol.
//
// The supervisor decides (is AppArmor enabled, is the profile loaded) before anything runs, so an impossible
// request fails closed with the fix. The child, after no_new_privs and just before seccomp and execve,
// writes "exec PROFILE" (what aa_change_onexec(3) writes) to its own attr/apparmor/exec, but through a
// /proc it has checked is procfs, and reads the pending label back.
#include "hardrun/layers/apparmor.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/apparmor.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "hardrun/support/error.hpp"
#include "hardrun/support/log.hpp"

namespace hardrun::apparmor {

std::set<std::string> parse_profiles(const std::string& text) {
    std::set<std::string> names;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto mode = line.rfind(" (");
        std::string name = mode == std::string::npos ? line : line.substr(0, mode);
        if (!name.empty()) names.insert(name);
    }
    return names;
}

HostFacts host_facts() {
    HostFacts f;
    errno = 0;
    f.enabled = aa_is_enabled() == 1;
    if (!f.enabled) {
        int err = errno;
        if (err == ENOSYS) f.why_disabled = "the kernel has no AppArmor, or another LSM is active";
        else if (err == ECANCELED) f.why_disabled = "AppArmor is built in but disabled (boot with apparmor=1 security=apparmor)";
        else if (err == ENOENT) f.why_disabled = "securityfs is not mounted (/sys/kernel/security)";
        else if (err == EPERM || err == EACCES) f.why_disabled = "its status cannot be read by this user";
        else f.why_disabled = err ? errno_text(err) : "not enabled";
        return f;
    }
    char* mnt = nullptr;
    if (aa_find_mountpoint(&mnt) == 0 && mnt) {
        std::ifstream in(std::string(mnt) + "/profiles");
        std::free(mnt);
        if (in) {
            std::stringstream ss;
            ss << in.rdbuf();
            f.loaded = parse_profiles(ss.str());
        }
    }
    return f;
}

Decision decide_with(const LaunchPlan& plan, const HostFacts& facts) {
    Decision d;
    const auto& choice = plan.apparmor;
    if (choice.mode == AppArmorChoice::Mode::Unconfined) {
        d.note = "unconfined (asked with --security-opt apparmor=unconfined)";
        return d;
    }
    if (choice.mode == AppArmorChoice::Mode::Named) {
        if (!facts.enabled)
            throw Error("apparmor", "profile " + choice.profile,
                        "AppArmor is not enabled on this host (" + facts.why_disabled +
                            "); run where it is, or drop --security-opt apparmor=" + choice.profile);
        if (facts.loaded && !facts.loaded->count(choice.profile))
            throw Error("apparmor", "profile " + choice.profile,
                        "not loaded in the kernel; load it with `hardrun apparmor load FILE` (root) or apparmor_parser -r FILE");
        d.apply = true;
        d.profile = choice.profile;
        return d;
    }
    // Default: hardrun-default where AppArmor is enabled.
    if (!facts.enabled) {
        d.note = "AppArmor is not enabled on this host (" + facts.why_disabled + "); no profile applied";
        return d;
    }
    if (facts.loaded && !facts.loaded->count(kDefaultProfile))
        throw Error("apparmor", std::string("profile ") + kDefaultProfile,
                    "AppArmor is enabled but hardrun's default profile is not loaded; load it with `hardrun apparmor "
                    "load` (as root), or run with --security-opt apparmor=unconfined");
    d.apply = true;
    d.profile = kDefaultProfile;
    return d;
}

Decision decide(const LaunchPlan& plan) {
    if (plan.apparmor.mode == AppArmorChoice::Mode::Unconfined) return decide_with(plan, {});
    Decision d = decide_with(plan, host_facts());
    if (!d.apply && log::verbose()) log::info("apparmor: " + d.note);
    return d;
}

void refuse_ptrace_of_unconfined_reaper(const LaunchPlan& plan, const Decision& d, bool reaper) {
    constexpr int kSysPtrace = 19;  // CAP_SYS_PTRACE
    const auto& c = plan.caps;
    if (!d.apply || !reaper || !(c.effective.has(kSysPtrace) || c.permitted.has(kSysPtrace) || c.ambient.has(kSysPtrace)))
        return;
    throw Error("apparmor", "profile " + d.profile + " with CAP_SYS_PTRACE",
                "hardrun's PID 1 (the reaper that ties the workload to hardrun) never execs, so the profile does not "
                "confine it, and CAP_SYS_PTRACE would let the workload take it over; drop the capability or run with "
                "--security-opt apparmor=unconfined");
}

void verify_procfs(Sys& sys, int fd, const std::string& what) {
    struct statfs st {};
    if (int r = sys.fstatfs(fd, &st); r < 0) throw_errno("apparmor", what, -r);
    if (st.f_type != PROC_SUPER_MAGIC) {
        std::ostringstream t;
        t << std::hex << st.f_type;
        throw Error("apparmor", what,
                    "is not on procfs (filesystem type 0x" + t.str() +
                        "): refusing to write the AppArmor label through it (runc CVE-2019-16884)");
    }
}

void apply(Sys& sys, const Decision& d) {
    if (!d.apply) return;
    // /proc itself, without following any symlink the rootfs might have put there
    int proc = sys.openat2(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                           RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (proc < 0) throw_errno("apparmor", "/proc", -proc, "the AppArmor label is written through /proc");
    struct Closer {
        Sys& s;
        int fd;
        ~Closer() { s.close(fd); }
    } close_proc{sys, proc};
    verify_procfs(sys, proc, "/proc");

    // our own task's attr file (the kernel lets a task write only its own), by number: no /proc/self link
    const std::string tid = std::to_string(::syscall(SYS_gettid));
    const std::uint64_t resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    std::string rel = tid + "/attr/apparmor/exec";
    int fd = sys.openat2(proc, rel.c_str(), O_RDWR | O_CLOEXEC, 0, resolve);
    if (fd == -ENOENT) {  // kernels before 5.8 have no per-LSM directory
        rel = tid + "/attr/exec";
        fd = sys.openat2(proc, rel.c_str(), O_RDWR | O_CLOEXEC, 0, resolve);
    }
    if (fd < 0) throw_errno("apparmor", "/proc/" + rel, -fd);
    Closer close_attr{sys, fd};
    verify_procfs(sys, fd, "/proc/" + rel);

    const std::string cmd = "exec " + d.profile;
    long n = sys.write(fd, cmd.data(), cmd.size());
    if (n < 0) {
        int err = static_cast<int>(-n);
        std::string hint;
        if (err == ENOENT) hint = "the profile is not loaded; load it with `hardrun apparmor load FILE`";
        else if (err == EACCES || err == EPERM) hint = "the current confinement does not allow changing to it";
        throw_errno("apparmor", "setting the exec profile " + d.profile, err, hint);
    }
    if (n != static_cast<long>(cmd.size())) throw Error("apparmor", "setting the exec profile " + d.profile, "short write");

    // read back: the pending exec label must name the profile
    char buf[256] = {};
    long got = sys.pread(fd, buf, sizeof buf - 1, 0);
    if (got < 0) throw_errno("apparmor", "reading back the exec profile " + d.profile, static_cast<int>(-got));
    {
        std::string label(buf, static_cast<std::size_t>(got));
        if (!(label.starts_with(d.profile + " ") || label.starts_with(d.profile + "\n") || label == d.profile))
            throw Error("apparmor", "exec profile " + d.profile, "the kernel reports '" + label + "' after setting it");
    }
}

}  // namespace hardrun::apparmor
