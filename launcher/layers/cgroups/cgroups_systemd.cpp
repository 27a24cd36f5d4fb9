// The systemd cgroup driver: a transient scope with Delegate=yes, asked for over D-Bus by hardrun-systemd
// (libexec/hardrun_systemd.cpp, libsystemd's sd-bus). Here: the pure parts and the client that runs the helper.
#include "hardrun/layers/cgroups/systemd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

#include "hardrun/support/data_file.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"

extern char** environ;

namespace hardrun::cgroups::systemd {

namespace {

bool unit_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '-' ||
           c == '_' || c == '.' || c == '\\';
}

}  // namespace

bool valid_unit_name(const std::string& name, const std::string& suffix) {
    if (name.size() <= suffix.size() || name.size() > 255 || !name.ends_with(suffix)) return false;
    for (char c : name)
        if (!unit_char(c)) return false;
    return name.front() != '.';
}

ScopeName parse_cgroups_path(const std::string& cgroups_path, const std::string& container_id) {
    const std::string path = cgroups_path.empty() ? ":hardrun:" + container_id : cgroups_path;
    auto bad = [&](const std::string& why) -> Error {
        return Error("linux.cgroupsPath", "'" + path + "'", why);
    };
    const auto c1 = path.find(':');
    const auto c2 = c1 == std::string::npos ? std::string::npos : path.find(':', c1 + 1);
    if (c2 == std::string::npos || path.find(':', c2 + 1) != std::string::npos)
        throw bad("is not slice:prefix:name, the form the systemd cgroup driver (--systemd-cgroup) takes");
    ScopeName s;
    s.slice = path.substr(0, c1);
    const std::string prefix = path.substr(c1 + 1, c2 - c1 - 1), name = path.substr(c2 + 1);
    if (s.slice.empty()) s.slice = "system.slice";
    if (!valid_unit_name(s.slice, ".slice") || s.slice.find("--") != std::string::npos ||
        (s.slice != "-.slice" && (s.slice.starts_with("-") || s.slice.ends_with("-.slice"))))
        throw bad("'" + s.slice + "' is not a valid slice name (like system.slice or machine-foo.slice)");
    if (name.empty()) throw bad("has no name");
    if (name.ends_with(".slice"))
        throw bad("names a slice; hardrun's systemd driver makes a scope for the container, not a slice");
    s.unit = prefix.empty() ? name + ".scope" : prefix + "-" + name + ".scope";
    if (!valid_unit_name(s.unit, ".scope"))
        throw bad("'" + s.unit + "' is not a valid unit name (letters, digits, ':-_.\\', at most 255 characters)");
    return s;
}

std::string slice_dir(const std::string& slice) {
    if (slice == "-.slice") return "";
    const std::string base = slice.substr(0, slice.size() - 6);  // without ".slice"
    std::string dir;
    for (std::size_t dash = base.find('-'); dash != std::string::npos; dash = base.find('-', dash + 1))
        dir += base.substr(0, dash) + ".slice/";
    return dir + slice;
}

std::vector<Property> scope_properties(const ScopeName& scope, pid_t pid, const Resources& limits) {
    std::vector<Property> p{
        {"Description", std::string("hardrun container ") + scope.unit},
        {"Slice", scope.slice},
        {"Delegate", true},
        {"DefaultDependencies", false},
        {"CollectMode", std::string("inactive-or-failed")},
        {"PIDs", std::vector<std::uint32_t>{static_cast<std::uint32_t>(pid)}},
    };
    if (limits.memory_max) p.push_back({"MemoryMax", *limits.memory_max});
    if (limits.pids_max && *limits.pids_max > 0) p.push_back({"TasksMax", static_cast<std::uint64_t>(*limits.pids_max)});
    if (limits.cpu_max && limits.cpu_max->quota_us > 0 && limits.cpu_max->period_us > 0)
        p.push_back({"CPUQuotaPerSecUSec", limits.cpu_max->quota_us * 1000000ULL / limits.cpu_max->period_us});
    return p;
}

std::string encode_property(const Property& p) {
    std::string out = p.name + "=";
    if (auto v = std::get_if<std::string>(&p.value)) return out + "s:" + *v;
    if (auto b = std::get_if<bool>(&p.value)) return out + "b:" + (*b ? "1" : "0");
    if (auto t = std::get_if<std::uint64_t>(&p.value)) return out + "t:" + std::to_string(*t);
    out += "au:";
    const auto& pids = std::get<std::vector<std::uint32_t>>(p.value);
    for (std::size_t i = 0; i < pids.size(); ++i) out += (i ? "," : "") + std::to_string(pids[i]);
    return out;
}

namespace {
template <class T>
bool parse_unsigned(std::string_view s, T& out) {
    if (s.empty()) return false;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}
}  // namespace

Property decode_property(std::string_view text) {
    auto bad = [&](const std::string& why) { return Error("hardrun-systemd", "'" + std::string(text) + "'", why); };
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0 || text.size() < eq + 3 || text.find(':', eq) == std::string_view::npos)
        throw bad("is not NAME=TYPE:VALUE");
    const auto colon = text.find(':', eq);
    Property p;
    p.name = std::string(text.substr(0, eq));
    const std::string_view type = text.substr(eq + 1, colon - eq - 1), value = text.substr(colon + 1);
    if (type == "s") {
        p.value = std::string(value);
    } else if (type == "b") {
        if (value != "0" && value != "1") throw bad("a boolean is 0 or 1");
        p.value = value == "1";
    } else if (type == "t") {
        std::uint64_t t = 0;
        if (!parse_unsigned(value, t)) throw bad("not an unsigned 64-bit number");
        p.value = t;
    } else if (type == "au") {
        std::vector<std::uint32_t> pids;
        for (std::size_t i = 0; i <= value.size();) {
            const auto comma = std::min(value.find(',', i), value.size());
            std::uint32_t pid = 0;
            if (!parse_unsigned(value.substr(i, comma - i), pid)) throw bad("not a list of unsigned 32-bit numbers");
            pids.push_back(pid);
            i = comma + 1;
        }
        p.value = pids;
    } else {
        throw bad("the type is s, b, t or au");
    }
    return p;
}

std::string helper_path() {
    const std::string dir = exe_dir();
    return shipped_binary({dir.empty() ? "" : dir + "/hardrun-systemd", HARDRUN_SYSTEMD_HELPER_INSTALL_PATH,
                           dir.empty() ? "" : dir + "/../libexec/hardrun/hardrun-systemd"},
                          "cgroups", "the systemd driver's helper", "hardrun-systemd", "reinstall hardrun");
}

std::string run_helper(const std::string& helper, const std::vector<std::string>& args) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return "cannot run " + helper + ": pipe: " + errno_text(errno);
    UniqueFd rd(pipefd[0]), wr(pipefd[1]);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
    ::posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
    ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // nothing of the container's reaches it
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &all);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<std::string> argv_s{helper};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int err = ::posix_spawn(&pid, helper.c_str(), &fa, &attr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    wr.reset();
    if (err != 0) return "cannot run " + helper + ": " + errno_text(err);
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (out.size() < 65536) out.append(buf, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
    std::string line = out.substr(0, out.find('\n'));
    if (!line.empty()) return line;
    if (WIFSIGNALED(status)) return helper + " was killed by signal " + std::to_string(WTERMSIG(status));
    return helper + " exited with " + std::to_string(WEXITSTATUS(status));
}

void start_scope(const ScopeName& scope, pid_t pid, const Resources& limits, std::chrono::milliseconds timeout) {
    std::vector<std::string> args{"start-transient-unit", scope.unit, std::to_string(timeout.count())};
    for (const auto& p : scope_properties(scope, pid, limits)) args.push_back(encode_property(p));
    if (std::string why = run_helper(helper_path(), args); !why.empty())
        throw Error("cgroups", "systemd scope " + scope.unit, why);
}

std::vector<Property> limit_properties(const std::vector<LimitWrite>& writes) {
    constexpr std::uint64_t kInfinity = UINT64_MAX;
    auto number = [&](const std::string& v) -> std::optional<std::uint64_t> {
        if (v == "max") return kInfinity;
        std::uint64_t n = 0;
        if (!parse_unsigned(std::string_view(v), n)) return std::nullopt;
        return n;
    };
    static const std::map<std::string, std::string> kPlain = {{"memory.max", "MemoryMax"}, {"memory.swap.max", "MemorySwapMax"},
                                                              {"memory.low", "MemoryLow"}, {"memory.high", "MemoryHigh"},
                                                              {"pids.max", "TasksMax"},    {"cpu.weight", "CPUWeight"}};
    std::vector<Property> out;
    for (const auto& w : writes) {
        if (auto it = kPlain.find(w.file); it != kPlain.end()) {
            if (auto n = number(w.value)) out.push_back({it->second, *n});
        } else if (w.file == "cpu.max") {
            // "QUOTA PERIOD" (QUOTA "max": no quota)
            const auto sp = w.value.find(' ');
            const auto quota = number(w.value.substr(0, sp));
            std::optional<std::uint64_t> period;
            if (sp != std::string::npos) period = number(w.value.substr(sp + 1));
            if (!quota || (period && (*period == 0 || *period == kInfinity))) continue;
            const std::uint64_t per = period.value_or(100000);
            out.push_back({"CPUQuotaPerSecUSec", *quota == kInfinity ? kInfinity : *quota * 1000000ULL / per});
            if (period) out.push_back({"CPUQuotaPeriodUSec", *period});
        }
    }
    return out;
}

void set_unit_properties(const std::string& unit, const std::vector<Property>& properties) {
    std::vector<std::string> args{"set-unit-properties", unit};
    for (const auto& p : properties) args.push_back(encode_property(p));
    if (std::string why = run_helper(helper_path(), args); !why.empty()) throw Error("cgroups", "systemd scope " + unit, why);
}

std::string stop_scope(const std::string& unit) {
    try {
        if (std::string why = run_helper(helper_path(), {"stop-unit", unit}); !why.empty())
            return "cgroups: systemd scope " + unit + ": " + why;
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

}  // namespace hardrun::cgroups::systemd
