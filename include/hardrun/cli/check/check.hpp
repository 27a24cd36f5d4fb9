// `hardrun check`: the test harness. One run of the workload under the requested hardening (the same plan and
// launch as `hardrun run`), then a report: each layer asked / applied / read back from the kernel, the warnings,
// the outcome, what the hardening refused with the fix for each, and (--probes) the escape probes.
//
// The report model and its pure parts live here (assess(), advise(), classify(), the renderers) so that they are
// unit-tested on canned evidence; cmd_check.cpp runs the launches.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hardrun/cli/check/check_trace.hpp"
#include "hardrun/cli/check/evidence.hpp"
#include "hardrun/launch/launch.hpp"
#include "hardrun/plan/plan.hpp"
#include "hardrun/launch/seccomp_notify.hpp"

namespace hardrun::check {

enum class Status {
    Ok,             // asked and applied: the kernel says so
    Warning,        // turned off or weakened by a choice (plan.warnings), or not available on this host
    Failed,         // asked, and the kernel says otherwise (or it could not be applied)
    NotApplicable,  // nothing asked (e.g. no resource limit)
};
std::string status_name(Status s);  // "ok", "warning", "failed", "n/a"

struct Layer {
    std::string name;      // "user", "capabilities", "no_new_privs", "seccomp", "apparmor", "landlock", "cgroup",
                           // "namespaces", "filesystem", "network", "rlimits"
    std::string asked;     // from the plan
    std::string applied;   // what hardrun did
    std::string evidence;  // what the kernel says about the workload's own process
    Status status = Status::Ok;
    std::vector<std::string> warnings;  // plan.warnings that belong to this layer, and mismatches
    std::vector<std::string> notes;     // not failures, not warnings: what `hardrun lint` would flag (no limits)
};

// Compares the plan with the evidence of the workload's process. `evidence` may be partial (notes say why).
std::vector<Layer> assess(const LaunchPlan& plan, const evidence::Evidence& evidence);

// A thing the hardening refused (or a limit the workload hit), with the fix.
struct Finding {
    std::string kind;     // "seccomp", "filesystem", "capability", "exec", "memory", "pids", "setup", "permission"
    std::string layer;    // the layer that refused it
    std::string message;  // what happened, one line
    std::string fix;      // what to change, one line
    unsigned count = 1;
};

// The outcome of the workload, for the report.
struct OutcomeView {
    std::optional<int> status, signal;
    bool oom_killed = false;
    std::optional<std::string> error;
    std::string error_step;
    int exit_code = 0;
    double wall_seconds = 0;
    double user_cpu_seconds = 0, sys_cpu_seconds = 0;
    long max_rss_kib = 0;
    std::optional<std::uint64_t> memory_peak;
    bool pids_limit_hit = false;
};
OutcomeView view_of(const Outcome& out);

// A refusal the workload survives by design (the profile's deliberate ENOSYS for clone3, or for a syscall newer
// than the profile: libc falls back to one the filter checks). Never a finding, never the verdict.
bool expected_refusal(const std::string& name, int err);

// Findings from the failing syscalls the tracer saw (--diagnose), the seccomp denials, the outcome.
std::vector<Finding> advise(const LaunchPlan& plan, const std::vector<FailedCall>& failures,
                            const std::vector<seccomp::Denial>& denials, const OutcomeView& outcome);

// ---- probes --------------------------------------------------------------------------------------------------
struct ProbeInfo {
    std::string name;     // "mount"
    std::string title;    // "mount a filesystem"
    std::string op;       // "mount(2)": the operation in the expected line
    std::string refusal;  // "EPERM": what a blocked attempt gets
};
const std::vector<ProbeInfo>& probe_catalog();
const ProbeInfo* find_probe(const std::string& name);

// The layers of `plan` that stop a probe ("seccomp", "missing CAP_SYS_ADMIN", "the read-only root"...).
// seccomp_program: the compiled filter of the plan (empty: unconfined), simulated for the probe's syscalls.
std::vector<std::string> probe_defenses(const std::string& probe, const LaunchPlan& plan,
                                        const std::vector<sock_filter>& seccomp_program);
// "mount(2) -> EPERM: blocked by seccomp and by missing CAP_SYS_ADMIN", or "... -> NOT blocked: ..." when no
// layer of the plan stops it.
// `refusal`: what the first layer to answer returns under this plan (expected_refusal), "" for the catalog's.
std::string expected_line(const ProbeInfo& info, const std::vector<std::string>& defenses, const std::string& refusal = "");
// The errno a blocked attempt gets under `plan`, where it depends on which layer answers first: a write into the
// root is EROFS on a read-only root and EACCES (the uid) on a writable one; mknod is EPERM from seccomp, else
// EACCES from Landlock (its hook runs before the capability check), else EPERM (CAP_MKNOD). "" elsewhere: the
// catalog's refusal holds whatever answers.
std::string expected_refusal(const std::string& probe, const LaunchPlan& plan, const std::vector<sock_filter>& seccomp_program);

struct ProbeResult {
    std::string name, title;
    std::string expected;  // expected_line()
    std::string verdict;   // "blocked", "not-blocked", "not-applicable", "error"
    std::string op, err, detail;  // as the probe printed them (or from the outcome: OOM kill...)
    bool passed = false;   // blocked, or not applicable on this host
};
// Parses the probe's stdout (key=value lines) and the launch outcome into a result.
ProbeResult probe_result(const ProbeInfo& info, const std::string& expected, const std::string& stdout_text,
                         const OutcomeView& outcome, const std::string& limit_note);

// ---- the report ----------------------------------------------------------------------------------------------
// A server check stopped itself (--timeout, --exercise).
struct Serve {
    bool stopped = false;  // check sent SIGTERM (the workload had not exited by itself)
    bool killed = false;   // ... and SIGKILL, the workload ignoring SIGTERM for the grace period
    double seconds = 0;    // how long it served before that
    std::string exercise;  // the client command, if any
    std::optional<int> exercise_status;
};

struct Report {
    std::vector<std::string> command;
    std::optional<Serve> serve;
    bool ran_workload = false;
    bool diagnose = false;
    std::vector<Layer> layers;
    std::vector<std::string> warnings;  // plan.warnings
    std::vector<std::string> notes;     // evidence notes, tracer problems
    std::optional<OutcomeView> outcome;
    std::vector<Finding> findings;
    std::vector<ProbeResult> probes;
    int exit_code = 0;
    std::string verdict;  // one line
};

// 0: succeeded under full hardening with no warning and every probe blocked; 1: failed because of the hardening
// (findings, a failed layer, a probe not blocked) or succeeded only with a layer weakened (warnings);
// 2: failed on its own. Sets report.exit_code and report.verdict.
void classify(Report& report);

std::string render_human(const Report& report, bool color);
nlohmann::json render_json(const Report& report);
std::string render_junit(const Report& report);

}  // namespace hardrun::check
