// The seccomp supervisor: which syscalls the filter refused (run --report, check) and which syscalls a
// workload made (seccomp record), built on SECCOMP_RET_USER_NOTIF. No auditd needed.
//
// How a caller (run --report, check) uses it:
//
//     seccomp::Supervisor sup(plan, seccomp::Mode::Report);  // compiles the profile once (throws Error)
//     LaunchOptions opts;
//     sup.attach(opts);        // sets opts.seccomp_mode, opts.seccomp_prepared and hooks.on_listener
//     Outcome out = launch(plan, opts);
//     sup.stop();              // joins the notification thread (launch() has reaped the workload)
//     for (const seccomp::Denial& d : sup.denials())   // sorted by name
//         use(d.name, d.nr, d.arch, d.count, d.error, d.first_args);
//     sup.write_report("report.json", out);           // the JSON described in docs/seccomp.md
//
// In Report mode the program is the profile's own with every ERRNO return turned into USER_NOTIF; for each
// notification the supervisor runs the profile's program in hardrun's BPF interpreter to find the errno
// the profile asks for and answers with exactly that, so the workload sees what it would without --report.
// KILL/TRAP actions are not notifications: a workload killed by SIGSYS shows up in the report's notes.
// Without a report the plain ERRNO filter runs and there is no supervisor cost.
//
// In Record mode ALLOW/LOG returns notify too; allowed syscalls continue (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
// and refused ones are answered like in Report mode, so the workload behaves as under its base profile
// (hardrun's default unless --security-opt seccomp=... says otherwise). recorded_profile() writes the
// minimal allowlist in Docker's JSON format.
#pragma once
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "hardrun/support/fd.hpp"
#include "hardrun/launch/launch.hpp"
#include "hardrun/layers/seccomp/seccomp.hpp"

namespace hardrun::seccomp {

// A syscall the filter refused (Report), aggregated by (arch, number, errno).
struct Denial {
    std::string name;       // "unshare"; "" when neither libseccomp nor hardrun knows the number
    std::uint32_t nr = 0;   // as the kernel saw it (x32: with the 0x40000000 bit)
    std::string arch;       // "x86_64", "x86", "x32", ...
    std::uint64_t count = 0;
    int error = 0;          // the errno the workload got (EPERM = 1, ENOSYS = 38, ...)
    std::array<std::uint64_t, 6> first_args{};  // arguments of the first occurrence
    pid_t first_pid = 0;    // the calling task (in hardrun's pid namespace)
};

// A syscall the workload made (Record), aggregated by (arch, number, verdict).
struct Call {
    std::string name;
    std::uint32_t nr = 0;
    std::string arch;
    std::uint64_t count = 0;
    bool allowed = true;    // false: refused by the base profile with `error`
    int error = 0;
    std::array<std::uint64_t, 6> first_args{};
};

class Supervisor {
public:
    // Compiles plan's profile for `mode` (Report or Record). Throws Error.
    Supervisor(const LaunchPlan& plan, Mode mode);
    explicit Supervisor(std::shared_ptr<const Prepared> prepared);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    const Prepared& prepared() const { return *prepared_; }
    // Makes launch() use this supervisor's filter and hand it the listener.
    void attach(LaunchOptions& options);
    // Starts answering notifications on `listener` in a thread.
    void start(UniqueFd listener);
    // Ends the thread (idempotent). Called after launch() returned.
    void stop();

    std::vector<Denial> denials() const;  // Report: what was refused, sorted by name
    std::vector<Call> calls() const;      // Record: everything the workload called, sorted by name
    std::uint64_t notifications() const;

    // The --report document (see docs/seccomp.md).
    nlohmann::ordered_json report_json(const Outcome& outcome) const;
    void write_report(const std::string& path, const Outcome& outcome) const;
    // Record: the minimal allowlist profile (Docker JSON format). `command` goes into its comment.
    // Names of syscalls hardrun cannot name are left out and listed in `skipped`.
    nlohmann::ordered_json recorded_profile(const std::string& command, std::vector<std::string>* skipped = nullptr) const;
    // Record --merge: what an earlier profile brings in. Its allowed syscalls count as made by this run (their
    // argument restrictions are taken from the base profile again), its sub-architectures stay, and its runs are
    // listed before this one in the comment.
    struct Earlier {
        std::set<std::string> allowed;
        std::set<std::string> sub_arches;
        std::vector<std::string> runs;
        void add(const Earlier& other);  // other's syscalls and sub-architectures too, its runs after these
    };
    static Earlier earlier_profile(const nlohmann::json& profile, const std::string& source);
    // Record --from-report: what a --report document (run --report, check --report) saw refused and this
    // supervisor's base profile allows, judged by the base's own program on the first call's arguments (so an
    // argument restriction of the base holds: clone with CLONE_NEWUSER stays refused). What the base refuses too
    // (clone3's ENOSYS, say) is left out, each with why, in `left_out`. Throws Error for a file that is no report.
    Earlier reported(const nlohmann::json& report, const std::string& source, std::vector<std::string>* left_out) const;
    nlohmann::ordered_json recorded_profile(const std::string& command, const Earlier& earlier,
                                            std::vector<std::string>* skipped) const;

private:
    struct Entry {
        std::uint64_t count = 0;
        std::array<std::uint64_t, 6> first_args{};
        pid_t first_pid = 0;
    };
    using Key = std::tuple<std::uint32_t /*audit arch*/, std::uint32_t /*nr*/, bool /*allowed*/, int /*errno*/>;

    void loop(int listener);

    std::shared_ptr<const Prepared> prepared_;
    UniqueFd listener_;
    UniqueFd stop_fd_;
    std::thread thread_;
    mutable std::mutex mu_;
    std::map<Key, Entry> entries_;
    std::uint64_t notifications_ = 0;
    std::string loop_error_;
};

}  // namespace hardrun::seccomp
