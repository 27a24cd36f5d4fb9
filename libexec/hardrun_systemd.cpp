// hardrun-systemd: the systemd cgroup driver's D-Bus calls, with libsystemd's sd-bus. The one binary of hardrun
// linked with libsystemd (which Debian ships without a static archive), so that hardrun stays a static PIE and
// loads libsystemd only when a container uses the driver. hardrun runs it (layers/cgroups/cgroups_systemd.cpp):
//
//   hardrun-systemd start-transient-unit UNIT TIMEOUT_MS PROPERTY...   StartTransientUnit(UNIT, "replace", PROPERTIES),
//                                                                      then waits for its job at most TIMEOUT_MS
//   hardrun-systemd set-unit-properties UNIT PROPERTY...                SetUnitProperties(UNIT, runtime, PROPERTIES)
//   hardrun-systemd stop-unit UNIT                                     StopUnit(UNIT, "replace"); gone already is fine
//
// A PROPERTY is NAME=TYPE:VALUE (systemd::encode_property). Nothing is printed on success; a failure prints one
// line, the cause, on stderr and exits 1.
#include <systemd/sd-bus.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hardrun/layers/cgroups/systemd.hpp"
#include "hardrun/support/error.hpp"

namespace {

using hardrun::errno_text;
using hardrun::cgroups::systemd::Property;

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

// The cause of a failure: printed as the one line hardrun reports.
struct Failure {
    std::string cause;
};

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

Bus open_system_bus() {
    sd_bus* raw = nullptr;
    const int r = sd_bus_open_system(&raw);
    if (r < 0)
        throw Failure{"cannot connect to systemd's system bus (" + errno_text(-r) +
                      "); --systemd-cgroup needs systemd as PID 1 and D-Bus, or configure the engine with the cgroupfs driver"};
    return Bus(raw);
}

void check(int r, const std::string& what) {
    if (r < 0) throw Failure{what + ": " + errno_text(-r)};
}

void append_property(sd_bus_message* m, const Property& p) {
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
    check(r, "building the property " + p.name);
}

// JobRemoved(u id, o job, s unit, s result): every result seen, by job path.
int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* results = static_cast<std::map<std::string, std::string>*>(userdata);
    std::uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 && job && result) (*results)[job] = result;
    return 0;
}

void start_transient_unit(const std::string& unit, std::chrono::milliseconds timeout, const std::vector<Property>& props) {
    Bus bus = open_system_bus();
    // Subscribed to JobRemoved before the job exists, so its end cannot be missed.
    std::map<std::string, std::string> results;
    sd_bus_slot* raw_slot = nullptr;
    check(sd_bus_match_signal(bus.get(), &raw_slot, kDest, kPath, kManager, "JobRemoved", on_job_removed, &results),
          "subscribing to JobRemoved");
    Slot slot(raw_slot);
    {
        BusError err;
        sd_bus_message* reply = nullptr;
        const int r = sd_bus_call_method(bus.get(), kDest, kPath, kManager, "Subscribe", &err.e, &reply, "");
        Message hold(reply);
        if (r < 0) throw Failure{"Subscribe: " + err.text(r)};
    }
    sd_bus_message* raw_msg = nullptr;
    check(sd_bus_message_new_method_call(bus.get(), &raw_msg, kDest, kPath, kManager, "StartTransientUnit"),
          "building StartTransientUnit");
    Message msg(raw_msg);
    check(sd_bus_message_append(msg.get(), "ss", unit.c_str(), "replace"), "building StartTransientUnit");
    check(sd_bus_message_open_container(msg.get(), 'a', "(sv)"), "building StartTransientUnit");
    for (const auto& p : props) append_property(msg.get(), p);
    check(sd_bus_message_close_container(msg.get()), "building StartTransientUnit");
    check(sd_bus_message_append(msg.get(), "a(sa(sv))", 0), "building StartTransientUnit");

    const auto usec = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count());
    std::string job;
    {
        BusError err;
        sd_bus_message* reply = nullptr;
        const int r = sd_bus_call(bus.get(), msg.get(), usec, &err.e, &reply);
        Message hold(reply);
        if (r < 0) throw Failure{"StartTransientUnit: " + err.text(r)};
        const char* path = nullptr;
        check(sd_bus_message_read(reply, "o", &path), "reading StartTransientUnit's reply");
        job = path ? path : "";
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!results.count(job)) {
        int r = sd_bus_process(bus.get(), nullptr);
        if (r < 0) throw Failure{"waiting for the job " + job + ": " + errno_text(-r)};
        if (r > 0) continue;
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero())
            throw Failure{"systemd did not finish the job " + job + " within " + std::to_string(timeout.count()) + " ms"};
        r = sd_bus_wait(bus.get(), static_cast<std::uint64_t>(
                                       std::chrono::duration_cast<std::chrono::microseconds>(left).count()));
        if (r < 0 && r != -EINTR) throw Failure{"waiting for the job " + job + ": " + errno_text(-r)};
    }
    if (results[job] != "done")
        throw Failure{"systemd's job " + job + " ended '" + results[job] + "' (see journalctl -u " + unit + ")"};
}

void call_set_unit_properties(const std::string& unit, const std::vector<Property>& props) {
    Bus bus = open_system_bus();
    sd_bus_message* raw_msg = nullptr;
    check(sd_bus_message_new_method_call(bus.get(), &raw_msg, kDest, kPath, kManager, "SetUnitProperties"),
          "building SetUnitProperties");
    Message msg(raw_msg);
    check(sd_bus_message_append(msg.get(), "sb", unit.c_str(), 1 /* runtime: until the unit goes */),
          "building SetUnitProperties");
    check(sd_bus_message_open_container(msg.get(), 'a', "(sv)"), "building SetUnitProperties");
    for (const auto& p : props) append_property(msg.get(), p);
    check(sd_bus_message_close_container(msg.get()), "building SetUnitProperties");
    BusError err;
    sd_bus_message* reply = nullptr;
    const int r = sd_bus_call(bus.get(), msg.get(), 0, &err.e, &reply);
    Message hold(reply);
    if (r < 0) throw Failure{"SetUnitProperties: " + err.text(r)};
}

void stop_unit(const std::string& unit) {
    Bus bus = open_system_bus();
    BusError err;
    sd_bus_message* reply = nullptr;
    const int r = sd_bus_call_method(bus.get(), kDest, kPath, kManager, "StopUnit", &err.e, &reply, "ss", unit.c_str(),
                                     "replace");
    Message hold(reply);
    if (r < 0 && !sd_bus_error_has_name(&err.e, "org.freedesktop.systemd1.NoSuchUnit"))
        throw Failure{"StopUnit: " + err.text(r)};
}

constexpr const char* kUsage =
    "usage: hardrun-systemd start-transient-unit UNIT TIMEOUT_MS NAME=TYPE:VALUE... | set-unit-properties UNIT "
    "NAME=TYPE:VALUE... | stop-unit UNIT "
    "(run by hardrun for its systemd cgroup driver)";

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.size() >= 3 && args[0] == "start-transient-unit") {
            long long ms = 0;
            const auto [end, ec] = std::from_chars(args[2].data(), args[2].data() + args[2].size(), ms);
            if (ec != std::errc() || end != args[2].data() + args[2].size() || ms <= 0)
                throw Failure{"the timeout '" + args[2] + "' is not a positive number of milliseconds"};
            std::vector<Property> props;
            for (std::size_t i = 3; i < args.size(); ++i) props.push_back(hardrun::cgroups::systemd::decode_property(args[i]));
            start_transient_unit(args[1], std::chrono::milliseconds(ms), props);
        } else if (args.size() >= 2 && args[0] == "set-unit-properties") {
            std::vector<Property> props;
            for (std::size_t i = 2; i < args.size(); ++i) props.push_back(hardrun::cgroups::systemd::decode_property(args[i]));
            call_set_unit_properties(args[1], props);
        } else if (args.size() == 2 && args[0] == "stop-unit") {
            stop_unit(args[1]);
        } else {
            throw Failure{kUsage};
        }
    } catch (const Failure& f) {
        std::cerr << f.cause << "\n";
        return 1;
    } catch (const hardrun::Error& e) {
        std::cerr << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
