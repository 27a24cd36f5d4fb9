// The seccomp supervisor: user notifications for --report and seccomp record (see seccomp_notify.hpp).
#include "hardrun/launch/seccomp_notify.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/layers/seccomp/seccomp_bpf.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::seccomp {

using json = nlohmann::ordered_json;

Supervisor::Supervisor(const LaunchPlan& plan, Mode mode)
    : Supervisor(std::make_shared<const Prepared>(prepare(plan, mode))) {}

Supervisor::Supervisor(std::shared_ptr<const Prepared> prepared) : prepared_(std::move(prepared)) {
    stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_fd_) throw_errno("seccomp", "supervisor", errno, "eventfd");
}

Supervisor::~Supervisor() { stop(); }

void Supervisor::attach(LaunchOptions& options) {
    options.seccomp_mode = prepared_->mode;
    options.seccomp_prepared = prepared_;
    options.hooks.on_listener = [this](UniqueFd listener, pid_t) { start(std::move(listener)); };
}

void Supervisor::start(UniqueFd listener) {
    if (thread_.joinable()) return;
    listener_ = std::move(listener);
    const int fd = listener_.get();
    thread_ = std::thread([this, fd] { loop(fd); });
}

void Supervisor::stop() {
    if (!thread_.joinable()) return;
    const std::uint64_t one = 1;
    (void)!::write(stop_fd_.get(), &one, sizeof one);
    thread_.join();
    listener_.reset();
    if (!loop_error_.empty()) log::warning("seccomp: supervisor: " + loop_error_);
}

std::uint64_t Supervisor::notifications() const {
    std::lock_guard lock(mu_);
    return notifications_;
}

void Supervisor::loop(int listener) {
    NotifyBuffers buffers;
    seccomp_notif* req = buffers.req();
    seccomp_notif_resp* resp = buffers.resp();
    const bool record = prepared_->mode == Mode::Record;

    for (;;) {
        struct pollfd fds[2] = {{listener, POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
        int n = ::poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            loop_error_ = "poll: " + errno_text(errno);
            return;
        }
        if (fds[0].revents & POLLIN) {
            buffers.clear();
            if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
                if (errno == EINTR || errno == ENOENT) continue;  // the task died before we read it
                loop_error_ = "receiving a notification: " + errno_text(errno);
                return;
            }
            const SimResult sim = simulate(prepared_->enforce, req->data);
            const Action verdict = from_ret(sim.ret);
            resp->id = req->id;
            bool allowed = false;
            int err = 0;
            if (is_allowing(verdict.kind) && record) {
                resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;  // the workload's own call, unchanged
                allowed = true;
            } else if (verdict.kind == ActionKind::Errno) {
                err = static_cast<int>(std::min<std::uint32_t>(verdict.value, 4095));
                resp->error = -err;  // errno 0: the call "succeeds" with 0, as SCMP_ACT_ERRNO(0) does
            } else {
                err = ENOSYS;  // cannot happen: only ERRNO (and in Record ALLOW/LOG) returns notify
                resp->error = -ENOSYS;
            }
            {
                std::lock_guard lock(mu_);
                ++notifications_;
                Entry& e = entries_[Key{req->data.arch, static_cast<std::uint32_t>(req->data.nr), allowed, err}];
                if (e.count++ == 0) {
                    for (int i = 0; i < 6; ++i) e.first_args[static_cast<std::size_t>(i)] = req->data.args[i];
                    e.first_pid = static_cast<pid_t>(req->pid);
                }
            }
            if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0 && errno != ENOENT && errno != EINTR) {
                loop_error_ = "answering a notification: " + errno_text(errno);
                return;
            }
            continue;
        }
        if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) return;  // every filtered task is gone
        if (fds[1].revents & POLLIN) return;
    }
}

namespace {
std::string arch_name_of(std::uint32_t audit_arch, std::uint32_t nr) {
    const ArchInfo* a = arch_of(audit_arch, nr);
    return a ? a->name : "audit-arch-" + std::to_string(audit_arch);
}

// What a Denial and a Call share, from one aggregated entry.
template <class T, class E>
T described(std::uint32_t audit, std::uint32_t nr, int err, const E& e) {
    T t;
    t.name = syscall_name(audit, nr);
    t.nr = nr;
    t.arch = arch_name_of(audit, nr);
    t.count = e.count;
    t.error = err;
    t.first_args = e.first_args;
    return t;
}
}  // namespace

std::vector<Denial> Supervisor::denials() const {
    std::vector<Denial> out;
    std::lock_guard lock(mu_);
    for (const auto& [key, e] : entries_) {
        const auto& [audit, nr, allowed, err] = key;
        if (allowed) continue;
        auto d = described<Denial>(audit, nr, err, e);
        d.first_pid = e.first_pid;
        out.push_back(std::move(d));
    }
    std::sort(out.begin(), out.end(), [](const Denial& a, const Denial& b) {
        return std::tie(a.name, a.arch, a.nr, a.error) < std::tie(b.name, b.arch, b.nr, b.error);
    });
    return out;
}

std::vector<Call> Supervisor::calls() const {
    std::vector<Call> out;
    std::lock_guard lock(mu_);
    for (const auto& [key, e] : entries_) {
        const auto& [audit, nr, allowed, err] = key;
        auto c = described<Call>(audit, nr, err, e);
        c.allowed = allowed;
        out.push_back(std::move(c));
    }
    std::sort(out.begin(), out.end(), [](const Call& a, const Call& b) {
        return std::tie(a.name, a.arch, a.nr, a.allowed) < std::tie(b.name, b.arch, b.nr, b.allowed);
    });
    return out;
}

json Supervisor::report_json(const Outcome& outcome) const {
    json denied = json::array();
    for (const Denial& d : denials()) {
        const char* ename = strerrorname_np(d.error);
        denied.push_back({{"syscall", d.name.empty() ? json(nullptr) : json(d.name)},
                          {"nr", d.nr},
                          {"arch", d.arch},
                          {"count", d.count},
                          {"errno", d.error},
                          {"errno_name", ename ? ename : std::to_string(d.error)},
                          {"first_args", d.first_args}});
    }
    json notes = json::array();
    if (outcome.signal && *outcome.signal == SIGSYS)
        notes.push_back("the workload was killed by SIGSYS: a syscall the profile kills (or one from an ABI the filter "
                        "does not cover, e.g. i386 int 0x80); kills are not notifications and are not listed");
    if (prepared_->program.empty()) notes.push_back("seccomp is unconfined: nothing can be refused");
    json workload = {{"exit_code", outcome.exit_code}};
    workload["status"] = outcome.status ? json(*outcome.status) : json(nullptr);
    workload["signal"] = outcome.signal ? json(*outcome.signal) : json(nullptr);
    if (outcome.error) workload["error"] = *outcome.error;
    return {{"hardrun", HARDRUN_VERSION},
            {"profile", prepared_->description},
            {"arch", native_arch().name},
            {"denied", denied},
            {"workload", workload},
            {"notes", notes}};
}

void Supervisor::write_report(const std::string& path, const Outcome& outcome) const {
    files::write_atomic(path, report_json(outcome).dump(2) + "\n", "--report");
}

// ---- record ---------------------------------------------------------------------------------------------

namespace {
json rule_json(const std::vector<std::string>& names, const Action& action, const std::vector<ArgCmp>& args,
               const std::string& comment) {
    json r = {{"names", names}, {"action", action_json_name(action.kind)}};
    if (action.kind == ActionKind::Errno || action.kind == ActionKind::Trace) r["errnoRet"] = action.value;
    if (!args.empty()) {
        json a = json::array();
        for (const ArgCmp& c : args)
            a.push_back({{"index", c.index}, {"value", c.value}, {"valueTwo", c.value_two}, {"op", op_json_name(c.op)}});
        r["args"] = a;
    }
    if (!comment.empty()) r["comment"] = comment;
    return r;
}
}  // namespace

json Supervisor::recorded_profile(const std::string& command, std::vector<std::string>* skipped) const {
    return recorded_profile(command, Earlier{}, skipped);
}

namespace {
constexpr const char* kRunsFrom = " seccomp record from: ";
constexpr const char* kRunsEnd = ". The syscalls the workload made";
constexpr const char* kRunSep = " | ";
}  // namespace

Supervisor::Earlier Supervisor::earlier_profile(const nlohmann::json& p, const std::string& source) {
    Earlier e;
    if (!p.is_object() || !p.contains("syscalls") || !p.at("syscalls").is_array())
        throw Error("seccomp record", source, "--merge needs a profile in Docker's format (a syscalls list), such as one seccomp record wrote");
    for (const auto& r : p.at("syscalls")) {
        if (!r.is_object() || r.value("action", "") != "SCMP_ACT_ALLOW") continue;
        if (r.contains("names") && r.at("names").is_array())
            for (const auto& n : r.at("names"))
                if (n.is_string()) e.allowed.insert(n.get<std::string>());
        if (r.contains("name") && r.at("name").is_string()) e.allowed.insert(r.at("name").get<std::string>());
    }
    if (p.contains("archMap") && p.at("archMap").is_array())
        for (const auto& a : p.at("archMap"))
            if (a.is_object() && a.contains("subArchitectures") && a.at("subArchitectures").is_array())
                for (const auto& s : a.at("subArchitectures"))
                    if (s.is_string()) e.sub_arches.insert(s.get<std::string>());
    // the runs it came from, as this function's own comment lists them
    const std::string comment = p.value("comment", "");
    const auto from = comment.find(kRunsFrom), end = comment.find(kRunsEnd);
    if (from != std::string::npos && end != std::string::npos && end > from) {
        std::string runs = comment.substr(from + std::strlen(kRunsFrom), end - from - std::strlen(kRunsFrom));
        for (std::size_t i = 0;;) {
            const auto j = runs.find(kRunSep, i);
            e.runs.push_back(runs.substr(i, j == std::string::npos ? j : j - i));
            if (j == std::string::npos) break;
            i = j + std::strlen(kRunSep);
        }
    } else {
        e.runs.push_back("the profile " + source);
    }
    return e;
}

void Supervisor::Earlier::add(const Earlier& other) {
    allowed.insert(other.allowed.begin(), other.allowed.end());
    sub_arches.insert(other.sub_arches.begin(), other.sub_arches.end());
    runs.insert(runs.end(), other.runs.begin(), other.runs.end());
}

Supervisor::Earlier Supervisor::reported(const nlohmann::json& report, const std::string& source,
                                         std::vector<std::string>* left_out) const {
    if (!report.is_object() || !report.contains("denied") || !report.at("denied").is_array())
        throw Error("seccomp record", source, "--from-report needs a report that run --report or check --report wrote (a denied list)");
    Earlier e;
    auto leave = [&](const std::string& why) {
        if (left_out) left_out->push_back(why);
    };
    for (const auto& d : report.at("denied")) {
        const std::string name = d.is_object() && d.contains("syscall") && d.at("syscall").is_string()
                                     ? d.at("syscall").get<std::string>() : std::string();
        const std::string arch_name = d.is_object() ? d.value("arch", std::string()) : std::string();
        const ArchInfo* arch = find_arch(arch_name);
        if (!d.is_object() || !d.contains("nr") || !d.at("nr").is_number_integer() || d.at("nr").get<std::int64_t>() < 0 ||
            d.at("nr").get<std::int64_t>() > UINT32_MAX)
            throw Error("seccomp record", source, "--from-report: a denied entry without a syscall number");
        const auto nr = d.at("nr").get<std::uint32_t>();
        const std::string what = (name.empty() ? "syscall " + std::to_string(nr) : name) + " (" + arch_name + ")";
        if (name.empty()) {
            leave(what + " has no name hardrun knows");
            continue;
        }
        if (!arch) {
            leave(what + ": the architecture is not one libseccomp supports here");
            continue;
        }
        std::vector<std::uint64_t> args;
        if (d.contains("first_args") && d.at("first_args").is_array())
            for (const auto& a : d.at("first_args"))
                if (a.is_number_integer()) args.push_back(a.get<std::uint64_t>());
        const Action verdict = prepared_->enforce.empty()
                                   ? Action{ActionKind::Allow, 0}
                                   : from_ret(simulate(prepared_->enforce, make_data(arch->token, static_cast<int>(nr), args)).ret);
        if (verdict.kind != ActionKind::Allow && verdict.kind != ActionKind::Log) {
            leave(what + " stays refused: the base profile (" + prepared_->description + ") refuses it too, " +
                  describe(verdict));
            continue;
        }
        e.allowed.insert(name);
        if (arch->token != prepared_->native_arch) e.sub_arches.insert(arch->scmp_name);
    }
    std::string profile = report.value("profile", std::string());
    e.runs.push_back("the report " + source + (profile.empty() ? std::string() : " (under " + profile + ")"));
    return e;
}

json Supervisor::recorded_profile(const std::string& command, const Earlier& earlier, std::vector<std::string>* skipped) const {
    const Resolved* base = prepared_->resolved.get();
    const ArchInfo* native = find_arch(prepared_->native_arch);
    if (!native) native = &native_arch();
    std::set<std::string> allowed, denied;
    std::set<std::string> sub_arches;
    for (const Call& c : calls()) {
        if (c.name.empty()) {
            if (skipped) skipped->push_back(c.arch + " syscall " + std::to_string(c.nr));
            continue;
        }
        if (c.arch != native->name) {
            if (const ArchInfo* a = find_arch(c.arch)) sub_arches.insert(a->scmp_name);
        }
        (c.allowed ? allowed : denied).insert(c.name);
    }
    allowed.insert(earlier.allowed.begin(), earlier.allowed.end());
    sub_arches.insert(earlier.sub_arches.begin(), earlier.sub_arches.end());
    auto base_rules = [&](const std::string& name) {
        std::vector<const ResolvedRule*> out;
        if (base)
            for (const auto& r : base->rules)
                if (r.name == name) out.push_back(&r);
        return out;
    };
    const std::string base_name = base ? base->source : "no base profile (unconfined)";
    std::vector<std::string> plain;
    json restricted = json::array();
    std::set<std::string> copied;
    auto copy_rules = [&](const std::string& name, const std::string& why) {
        if (!copied.insert(name).second) return;
        for (const ResolvedRule* r : base_rules(name))
            restricted.push_back(rule_json({name}, r->action, r->args, why + " (kept from " + base_name + ", " + r->path + ")"));
    };
    for (const auto& name : allowed) {
        auto rules = base_rules(name);
        bool conditional = std::any_of(rules.begin(), rules.end(), [](const ResolvedRule* r) { return !r->args.empty(); });
        if (conditional) copy_rules(name, "argument restriction");
        else plain.push_back(name);
    }
    for (const auto& name : denied) {
        if (allowed.count(name)) continue;
        auto rules = base_rules(name);
        // a refusal with a specific errno (e.g. clone3 -> ENOSYS so glibc falls back to clone) stays as it was
        bool specific = std::any_of(rules.begin(), rules.end(), [](const ResolvedRule* r) {
            return r->action.kind == ActionKind::Errno && r->action.value != EPERM;
        });
        if (specific) copy_rules(name, "refused while recording");
    }
    // The ENOSYS rule starts above the highest syscall a profile names: name the base profile's newest one
    // (refused with EPERM, the default), so what the base profile knows and the workload never made (io_uring,
    // openat2, landlock_*...) stays EPERM, and only syscalls newer than the base profile get ENOSYS.
    std::string newest;
    int newest_nr = -1;
    if (base)
        for (const auto& name : base->names_known) {
            const int nr = syscall_number(*native, name);
            if (nr > newest_nr) newest_nr = nr, newest = name;
        }
    json syscalls = json::array();
    if (!plain.empty()) syscalls.push_back(rule_json(plain, Action{ActionKind::Allow, 0}, {}, "recorded"));
    for (auto& r : restricted) syscalls.push_back(r);
    if (!newest.empty() && !allowed.count(newest) && !copied.count(newest))
        syscalls.push_back(rule_json({newest}, Action{ActionKind::Errno, EPERM}, {},
                                     "the newest syscall " + base_name + " knows: syscalls up to it are refused with EPERM, "
                                     "newer ones get ENOSYS"));
    json profile;
    std::string runs;
    for (const auto& r : earlier.runs) runs += (runs.empty() ? "" : kRunSep) + r;
    if (!command.empty()) runs += (runs.empty() ? "" : kRunSep) + command;
    profile["comment"] = "Recorded by hardrun " + std::string(HARDRUN_VERSION) + kRunsFrom + runs + kRunsEnd +
                         (earlier.runs.empty() ? "" : " in each run") + "; argument restrictions kept from " + base_name + ".";
    profile["defaultAction"] = "SCMP_ACT_ERRNO";
    profile["defaultErrnoRet"] = EPERM;
    profile["archMap"] = json::array({{{"architecture", native->scmp_name},
                                       {"subArchitectures", std::vector<std::string>(sub_arches.begin(), sub_arches.end())}}});
    profile["syscalls"] = syscalls;
    return profile;
}

}  // namespace hardrun::seccomp
