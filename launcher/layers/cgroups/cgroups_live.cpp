// cgroup v2 on a live container (live.hpp): the freezer, new limits written and read back, the figures
// `events` reports.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "hardrun/layers/cgroups/live.hpp"
#include "hardrun/support/number.hpp"
#include "hardrun/support/error.hpp"

namespace hardrun::cgroups {

namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// A single number, or "max" (kUnlimited); nullopt for anything else.
std::optional<std::uint64_t> number_or_max(const std::string& text) {
    const std::string t = trimmed(text);
    if (t == "max") return kUnlimited;
    return parse::number<std::uint64_t>(t);
}

UniqueFd open_dir(const std::string& path, const char* step) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno(step, path, errno, errno == ENOENT ? "the container's cgroup is gone" : "");
    return fd;
}

}  // namespace

std::optional<bool> parse_frozen(const std::string& events) {
    auto ev = keyed(events);
    auto it = ev.find("frozen");
    if (it == ev.end()) return std::nullopt;
    return it->second != 0;
}

std::optional<bool> frozen(const std::string& path) {
    UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return std::nullopt;
    Read r = read_at(dir.get(), "cgroup.events");
    if (r.err) return std::nullopt;
    return parse_frozen(r.text);
}

void set_frozen(const std::string& path, bool freeze, std::chrono::milliseconds limit) {
    UniqueFd dir = open_dir(path, "cgroups");
    Read before = read_at(dir.get(), "cgroup.freeze");
    if (before.err)
        throw_errno("cgroups", path + "/cgroup.freeze", before.err,
                    before.err == ENOENT ? "this kernel has no cgroup v2 freezer (Linux 5.2 or later has it)" : "");
    UniqueFd events(::openat(dir.get(), "cgroup.events", O_RDONLY | O_CLOEXEC));
    if (!events) throw_errno("cgroups", path + "/cgroup.events", errno);
    const std::string want = freeze ? "1" : "0";
    if (int err = write_at(dir.get(), "cgroup.freeze", want))
        throw_errno("cgroups", "writing cgroup.freeze=" + want + " in " + path, err);
    auto settled = [&]() -> std::optional<bool> {
        char buf[256];
        ssize_t n = ::pread(events.get(), buf, sizeof buf - 1, 0);
        if (n <= 0) return std::nullopt;
        return parse_frozen(std::string(buf, static_cast<std::size_t>(n)));
    };
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto now_frozen = settled();
        if (now_frozen && *now_frozen == freeze) return;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        // kernfs notifies a change of cgroup.events with POLLPRI; the 50 ms cap also covers a missed one
        struct pollfd p {events.get(), POLLPRI, 0};
        (void)::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 50)));
    }
    const std::string was = trimmed(before.text);
    (void)write_at(dir.get(), "cgroup.freeze", was);  // back to what it was: never half paused
    const auto last = settled();
    throw Error("cgroups", path + "/cgroup.events",
                "did not report 'frozen " + want + "' within " + std::to_string(limit.count()) + " ms after writing " +
                    want + " to cgroup.freeze (it says frozen " + (last ? (*last ? "1" : "0") : "?") +
                    "); cgroup.freeze was set back to " + was);
}

std::set<std::string> controllers_of(const std::vector<LimitWrite>& writes) {
    std::set<std::string> c;
    for (const auto& w : writes) {
        const auto dot = w.file.find('.');
        if (dot != std::string::npos && w.file.compare(0, dot, "cgroup") != 0) c.insert(w.file.substr(0, dot));
    }
    return c;
}

Current current_limits(const std::string& path) {
    UniqueFd dir = open_dir(path, "cgroups");
    Current c;
    if (Read r = read_at(dir.get(), "memory.max"); !r.err) c.memory_max = trimmed(r.text);
    if (Read r = read_at(dir.get(), "cpu.max"); !r.err) c.cpu_max = trimmed(r.text);
    return c;
}

void apply_writes(const std::string& path, const std::vector<LimitWrite>& writes) {
    if (writes.empty()) return;
    UniqueFd dir = open_dir(path, "cgroups");
    enable_controllers_above(path, controllers_of(writes));
    for (const auto& w : writes) write_limit(dir.get(), path, w);
}

Sample parse_sample(const std::map<std::string, std::string>& files) {
    Sample s;
    auto text = [&](const char* name) -> const std::string* {
        auto it = files.find(name);
        return it == files.end() ? nullptr : &it->second;
    };
    if (auto* t = text("cpu.stat")) s.cpu_stat = keyed(*t);
    if (auto* t = text("memory.stat")) s.memory_stat = keyed(*t);
    if (auto* t = text("memory.events")) s.memory_events = keyed(*t);
    for (auto [name, field] : {std::pair{"memory.current", &Sample::memory_current}, {"memory.max", &Sample::memory_max},
                               {"memory.peak", &Sample::memory_peak}, {"memory.swap.current", &Sample::swap_current},
                               {"memory.swap.max", &Sample::swap_max}, {"pids.current", &Sample::pids_current},
                               {"pids.max", &Sample::pids_max}})
        if (auto* t = text(name)) s.*field = number_or_max(*t);
    if (auto* t = text("io.stat")) {
        // "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0", one line per device
        std::istringstream in(*t);
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream l(line);
            std::string dev, kv;
            if (!(l >> dev)) continue;
            const auto colon = dev.find(':');
            if (colon == std::string::npos) continue;
            auto maj = parse::number<std::uint64_t>(std::string_view(dev).substr(0, colon));
            auto min = parse::number<std::uint64_t>(std::string_view(dev).substr(colon + 1));
            if (!maj || !min) continue;
            IoStat io{*maj, *min, {}};
            while (l >> kv) {
                const auto eq = kv.find('=');
                if (eq == std::string::npos) continue;
                if (auto v = parse::number<std::uint64_t>(std::string_view(kv).substr(eq + 1))) io.values[kv.substr(0, eq)] = *v;
            }
            s.io.push_back(std::move(io));
        }
    }
    return s;
}

Sample sample(const std::string& path) {
    UniqueFd dir = open_dir(path, "cgroups");
    std::map<std::string, std::string> files;
    for (const char* name : kSampleFiles)
        if (Read r = read_at(dir.get(), name); !r.err) files[name] = std::move(r.text);
    if (files.empty()) throw Error("cgroups", path, "none of the statistics files could be read");
    return parse_sample(files);
}

}  // namespace hardrun::cgroups
