// `pause ID` / `resume ID`: the cgroup v2 freezer on the container's cgroup. pause writes 1 to cgroup.freeze
// and returns once cgroup.events says "frozen 1" (resume: 0 and "frozen 0"); a cgroup that does not settle in
// time is set back and the verb fails (cgroups/live.hpp). state and list then say "paused".
#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>

#include "hardrun/cli/commands.hpp"
#include "hardrun/cli/oci/oci_verbs.hpp"
#include "hardrun/layers/cgroups/live.hpp"
#include "hardrun/support/error.hpp"

namespace hardrun::commands {

namespace {

constexpr std::chrono::milliseconds kSettle{10000};  // how long the kernel gets to freeze or thaw every task

void freeze(const std::string& id, bool pause) {
    const std::string verb = pause ? "pause" : "resume";
    state::validate_id(id);
    state::Store st = store();
    state::Store::Lock lock = st.lock(id);
    const state::Record r = st.read(id);
    const std::string status = st.live_status(r);
    const std::string what = "container '" + id + "'";
    // runc's words: engines match them
    if (pause && status != "created" && status != "running")
        throw Error(verb, what, "container not running (it is " + status + ")");
    if (!pause && status != "paused") throw Error(verb, what, "container not paused (it is " + status + ")");
    cgroups::set_frozen(container_cgroup(r, verb), pause, kSettle);
}

}  // namespace

std::string container_cgroup(const state::Record& r, const std::string& verb) {
    if (r.cgroup_path.empty())
        throw Error(verb, "container '" + r.id + "'",
                    "has no cgroup of its own: hardrun creates one only when config.json sets linux.resources "
                    "(limits or device rules), and this container was created without them");
    return r.cgroup_path;
}

void register_pause(CLI::App& app) {
    for (const bool pause : {true, false}) {
        if (!wanted(pause ? "pause" : "resume")) continue;
        auto id = std::make_shared<std::string>();
        CLI::App* sub = app.add_subcommand(pause ? "pause" : "resume",
                                           pause ? "Freeze every process of a container (cgroup v2 cgroup.freeze)"
                                                 : "Thaw a paused container");
        sub->add_option("id", *id, "Container id")->required();
        sub->callback(guarded([id, pause] { freeze(*id, pause); }));
    }
}

}  // namespace hardrun::commands
