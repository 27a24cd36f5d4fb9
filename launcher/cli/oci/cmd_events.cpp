// `events [--stats] [--interval 5s] ID`, runc's JSON lines: --stats prints one stats event and exits; without
// it a stats event every interval and an oom event whenever memory.events' oom_kill grows, until the
// container's process exits (its pidfd) or its cgroup is gone.
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>

#include "hardrun/cli/commands.hpp"
#include "hardrun/cli/oci/oci_verbs.hpp"
#include "hardrun/config/oci_live.hpp"
#include "hardrun/layers/cgroups/live.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"

namespace hardrun::commands {

namespace {

struct EventsOptions {
    bool stats = false;
    std::string interval = "5s";
    std::string id;
};

std::uint64_t oom_kills(const cgroups::Sample& s) {
    auto it = s.memory_events.find("oom_kill");
    return it == s.memory_events.end() ? 0 : it->second;
}

void print(const nlohmann::json& event) { std::cout << event.dump() << std::endl; }  // one line, flushed

void events(const EventsOptions& o) {
    const auto interval = oci::parse_duration("--interval", o.interval);
    state::validate_id(o.id);
    state::Record r;
    {
        state::Store st = store();
        state::Store::Lock lock = st.lock(o.id, false);  // released before the stream: it must not block delete
        r = st.read(o.id);
        const std::string status = st.live_status(r);
        if (!state::has_process(status))
            throw Error("events", "container '" + o.id + "'", "container not running (it is " + status + ")");
    }
    const std::string path = container_cgroup(r, "events");
    if (o.stats) {
        print(oci::stats_event(o.id, cgroups::sample(path)));
        return;
    }
    // the container's process by pidfd: readable when it exits; checked against the recorded start time,
    // so a reused pid is never followed
    const UniqueFd pidfd = state::pin(r.process);
    if (!pidfd) throw Error("events", "container '" + o.id + "'", "container not running (its process is gone)");
    UniqueFd mem_events(::open((path + "/memory.events").c_str(), O_RDONLY | O_CLOEXEC));  // absent: no memory controller
    std::uint64_t ooms = oom_kills(cgroups::sample(path));
    auto next = std::chrono::steady_clock::now() + interval;
    for (;;) {
        struct pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {mem_events.get(), POLLPRI, 0}};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
        const int n = ::poll(p, mem_events ? 2 : 1, static_cast<int>(std::max<long long>(0, left.count())));
        if (n < 0 && errno != EINTR) throw_errno("events", "container '" + o.id + "'", errno, "waiting for its events");
        cgroups::Sample s;
        try {
            s = cgroups::sample(path);
        } catch (const Error&) {
            return;  // the cgroup is gone: the container was deleted
        }
        if (const auto now_ooms = oom_kills(s); now_ooms > ooms) {
            ooms = now_ooms;
            print(oci::oom_event(o.id));
        }
        if (n > 0 && (p[0].revents & POLLIN)) return;  // the container's process exited
        if (std::chrono::steady_clock::now() >= next) {
            print(oci::stats_event(o.id, s));
            next += interval;
        }
    }
}

}  // namespace

void register_events(CLI::App& app) {
    if (!wanted("events")) return;
    auto o = std::make_shared<EventsOptions>();
    CLI::App* sub = app.add_subcommand("events", "Print a container's stats and OOM events as JSON lines (runc's shape)");
    sub->add_flag("--stats", o->stats, "Print one stats event and exit");
    sub->add_option("--interval", o->interval, "Time between stats events (a Go duration, default 5s)");
    sub->add_option("id", o->id, "Container id")->required();
    sub->callback(guarded([o] { events(*o); }));
}

}  // namespace hardrun::commands
