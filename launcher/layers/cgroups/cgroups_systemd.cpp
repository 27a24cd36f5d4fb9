// The systemd cgroup driver: a transient scope with Delegate=yes, asked for over D-Bus with libsystemd's sd-bus.
#include "hardrun/layers/cgroups/systemd.hpp"

#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>

#include "hardrun/support/error.hpp"

namespace hardrun::cgroups::systemd {

namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

struct BusUnref {
    void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct MessageUnref {
    void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
struct SlotUnref {
    void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using Bus = std::unique_ptr<sd_bus, BusUnref>;
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;
using Slot = std::unique_ptr<sd_bus_slot, SlotUnref>;

// sd_bus_error, freed on scope exit.
struct BusError {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    BusError() = default;
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;
    ~BusError() { sd_bus_error_free(&e); }
    std::string text(int r) const {
        if (sd_bus_error_is_set(&e)) return std::string(e.name) + ": " + (e.message ? e.message : "");
        return errno_text(-r);
    }
};

bool unit_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '-' ||
           c == '_' || c == '.' || c == '\\';
}

Bus open_system_bus(const std::string& object) {
    sd_bus* raw = nullptr;
    int r = sd_bus_open_system(&raw);
    if (r < 0)
        throw Error("cgroups", object,
                    "cannot connect to systemd's system bus (" + errno_text(-r) +
                        "); --systemd-cgroup needs systemd as PID 1 and D-Bus, or configure the engine with the "
                        "cgroupfs driver");
    return Bus(raw);
}

void check(int r, const std::string& object, const char* what) {
    if (r < 0) throw Error("cgroups", object, std::string(what) + ": " + errno_text(-r));
}

void append_property(sd_bus_message* m, const Property& p, const std::string& object) {
    int r = 0;
    if (auto s = std::get_if<std::string>(&p.value)) {
        r = sd_bus_message_append(m, "(sv)", p.name.c_str(), "s", s->c_str());
    } else if (auto b = std::get_if<bool>(&p.value)) {
        r = sd_bus_message_append(m, "(sv)", p.name.c_str(), "b", static_cast<int>(*b));
    } else if (auto t = std::get_if<std::uint64_t>(&p.value)) {
        r = sd_bus_message_append(m, "(sv)", p.name.c_str(), "t", *t);
    } else if (auto pids = std::get_if<std::vector<std::uint32_t>>(&p.value)) {
        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0) r = sd_bus_message_append(m, "s", p.name.c_str());
        if (r >= 0) r = sd_bus_message_open_container(m, 'v', "au");
        if (r >= 0) r = sd_bus_message_append_array(m, 'u', pids->data(), pids->size() * sizeof(std::uint32_t));
        if (r >= 0) r = sd_bus_message_close_container(m);
        if (r >= 0) r = sd_bus_message_close_container(m);
    }
    check(r, object, ("building the property " + p.name).c_str());
}

// JobRemoved(u id, o job, s unit, s result): every result seen, by job path.
int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* results = static_cast<std::map<std::string, std::string>*>(userdata);
    std::uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 && job && result) (*results)[job] = result;
    return 0;
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

void start_scope(const ScopeName& scope, pid_t pid, const Resources& limits, std::chrono::milliseconds timeout) {
    const std::string object = "systemd scope " + scope.unit;
    Bus bus = open_system_bus(object);

    // Subscribed to JobRemoved before the job exists, so its end cannot be missed.
    std::map<std::string, std::string> results;
    sd_bus_slot* raw_slot = nullptr;
    check(sd_bus_match_signal(bus.get(), &raw_slot, kDest, kPath, kManager, "JobRemoved", on_job_removed, &results),
          object, "subscribing to JobRemoved");
    Slot slot(raw_slot);
    {
        BusError err;
        sd_bus_message* reply = nullptr;
        int r = sd_bus_call_method(bus.get(), kDest, kPath, kManager, "Subscribe", &err.e, &reply, "");
        Message hold(reply);
        if (r < 0) throw Error("cgroups", object, "Subscribe: " + err.text(r));
    }

    sd_bus_message* raw_msg = nullptr;
    check(sd_bus_message_new_method_call(bus.get(), &raw_msg, kDest, kPath, kManager, "StartTransientUnit"), object,
          "building StartTransientUnit");
    Message msg(raw_msg);
    check(sd_bus_message_append(msg.get(), "ss", scope.unit.c_str(), "replace"), object, "building StartTransientUnit");
    check(sd_bus_message_open_container(msg.get(), 'a', "(sv)"), object, "building StartTransientUnit");
    for (const auto& p : scope_properties(scope, pid, limits)) append_property(msg.get(), p, object);
    check(sd_bus_message_close_container(msg.get()), object, "building StartTransientUnit");
    check(sd_bus_message_append(msg.get(), "a(sa(sv))", 0), object, "building StartTransientUnit");

    const auto usec = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count());
    std::string job;
    {
        BusError err;
        sd_bus_message* reply = nullptr;
        int r = sd_bus_call(bus.get(), msg.get(), usec, &err.e, &reply);
        Message hold(reply);
        if (r < 0) throw Error("cgroups", object, "StartTransientUnit: " + err.text(r));
        const char* path = nullptr;
        check(sd_bus_message_read(reply, "o", &path), object, "reading StartTransientUnit's reply");
        job = path ? path : "";
    }

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!results.count(job)) {
        int r = sd_bus_process(bus.get(), nullptr);
        if (r < 0) throw Error("cgroups", object, "waiting for the job " + job + ": " + errno_text(-r));
        if (r > 0) continue;
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero())
            throw Error("cgroups", object, "systemd did not finish the job " + job + " within " +
                                               std::to_string(timeout.count()) + " ms");
        r = sd_bus_wait(bus.get(), static_cast<std::uint64_t>(
                                       std::chrono::duration_cast<std::chrono::microseconds>(left).count()));
        if (r < 0 && r != -EINTR) throw Error("cgroups", object, "waiting for the job " + job + ": " + errno_text(-r));
    }
    if (results[job] != "done")
        throw Error("cgroups", object, "systemd's job " + job + " ended '" + results[job] + "' (see journalctl -u " +
                                           scope.unit + ")");
}

std::string stop_scope(const std::string& unit) {
    try {
        Bus bus = open_system_bus("systemd scope " + unit);
        BusError err;
        sd_bus_message* reply = nullptr;
        int r = sd_bus_call_method(bus.get(), kDest, kPath, kManager, "StopUnit", &err.e, &reply, "ss", unit.c_str(),
                                   "replace");
        Message hold(reply);
        if (r < 0 && !sd_bus_error_has_name(&err.e, "org.freedesktop.systemd1.NoSuchUnit"))
            return "cgroups: systemd scope " + unit + ": StopUnit: " + err.text(r);
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

}  // namespace hardrun::cgroups::systemd
