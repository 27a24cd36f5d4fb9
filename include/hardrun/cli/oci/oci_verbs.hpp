// What the OCI runtime verbs share (cli/oci/): the global options engines pass, the state store they name,
// the wrapper that checks the globals and copies every error to --log, and small helpers. cmd_oci.cpp
// defines these and registers the lifecycle verbs; each other verb has its own file and register_ function.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hardrun/launch/state.hpp"

namespace CLI {
class App;
}

namespace hardrun::commands {

// runc's global options (registered on the top-level app).
struct Globals {
    std::string root;  // "" = state::default_root()
    std::string log_file;
    std::string log_format = "text";
    bool systemd_cgroup = false;
    bool debug = false;
    std::string rootless = "auto";
};
Globals& globals();

// Appends one line to --log in --log-format (runc's protocol: containerd's shim reads errors from it).
void log_line(const char* level, const std::string& msg);
// Wraps a verb's body: the global checks first; every error also goes to --log.
std::function<void()> guarded(const std::function<void()>& body);
// The state directory (--root, or state::default_root()).
state::Store store();
// The OCI state document of a record with the given live status.
std::string state_text(const state::Record& r, const std::string& status);
// Writes a pid file atomically (files.hpp); "" = none.
void write_pid_file(const std::string& path, pid_t pid);
// --preserve-fds N: fds 3..3+N-1, each of which must be open.
std::vector<int> preserved_fds(int count);
// The config.json a container was created from, as kept in its state (never the bundle's file today, which
// may have changed since): Error naming the verb when the state has none (made by an older hardrun).
nlohmann::json recorded_config(const state::Store& st, const state::Record& rec, const std::string& verb);

// The cgroup a verb acts on (pause, resume, update, events): the one hardrun created for the container, or
// a one-line refusal naming the verb when it has none (cmd_pause.cpp).
std::string container_cgroup(const state::Record& r, const std::string& verb);

// The verbs with a file of their own; register_oci() calls them.
void register_exec(CLI::App& app);   // cmd_exec.cpp
void register_pause(CLI::App& app);   // pause and resume (cmd_pause.cpp)
void register_update(CLI::App& app);  // cmd_update.cpp
void register_events(CLI::App& app);  // cmd_events.cpp

}  // namespace hardrun::commands
