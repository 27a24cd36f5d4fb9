// `update [--resources FILE|-] [runc's flags] ID`: new limits for a container's cgroup. The linux.resources
// object goes through config.json's parser and value rules (config/oci_live.hpp), runc's flags on top; each
// value is written and read back (cgroups/live.hpp), and a flag hardrun cannot honour is refused by name.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "hardrun/cli/commands.hpp"
#include "hardrun/cli/oci/oci_verbs.hpp"
#include "hardrun/config/oci_live.hpp"
#include "hardrun/layers/cgroups/live.hpp"
#include "hardrun/layers/cgroups/systemd.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/support/json_text.hpp"

namespace hardrun::commands {

namespace {

struct UpdateOptions {
    std::string resources;  // FILE or "-"
    oci::UpdateFlags flags;
    std::string id;
};

void update_container(const UpdateOptions& o) {
    state::validate_id(o.id);
    // everything is parsed and checked before the container is touched
    oci::ResourcesSpec spec;
    if (!o.resources.empty()) {
        const std::string source = o.resources == "-" ? "--resources (stdin)" : "--resources " + o.resources;
        spec = oci::parse_update_resources(parse_json(files::read_input(o.resources, "update", "--resources"), "update", source));
    }
    oci::apply_update_flags(o.flags, spec);

    state::Store st = store();
    state::Store::Lock lock = st.lock(o.id);
    const state::Record r = st.read(o.id);
    const std::string status = st.live_status(r);
    if (!state::has_process(status))
        throw Error("update", "container '" + o.id + "'", "container not running (it is " + status + ")");
    const std::string path = container_cgroup(r, "update");
    std::vector<DeviceRule> created;
    if (!spec.devices.empty()) created = oci::device_rules(oci::parse_config(recorded_config(st, r, "update")));
    const long page = ::sysconf(_SC_PAGESIZE);
    const auto writes = oci::update_writes(spec, cgroups::current_limits(path), created,
                                           page > 0 ? static_cast<std::uint64_t>(page) : 4096);
    cgroups::apply_writes(path, writes);
    // a systemd scope's own properties follow, or systemd's next daemon-reload would put the old limits back
    if (!r.systemd_unit.empty())
        if (const auto props = cgroups::systemd::limit_properties(writes); !props.empty())
            cgroups::systemd::set_unit_properties(r.systemd_unit, props);
}

}  // namespace

void register_update(CLI::App& app) {
    if (!wanted("update")) return;
    auto o = std::make_shared<UpdateOptions>();
    CLI::App* sub = app.add_subcommand("update", "Change the resource limits of a container (written and read back)");
    sub->add_option("-r,--resources", o->resources, "A linux.resources JSON object (config.json's rules), FILE or - for stdin");
    struct Flag {
        const char* name;
        std::optional<std::string> oci::UpdateFlags::*field;
        const char* help;
    };
    for (const Flag& f : {Flag{"--memory", &oci::UpdateFlags::memory, "Memory limit (512m, -1: unlimited)"},
                          {"--memory-swap", &oci::UpdateFlags::memory_swap, "Memory plus swap (-1: unlimited)"},
                          {"--memory-reservation", &oci::UpdateFlags::memory_reservation, "memory.low"},
                          {"--kernel-memory", &oci::UpdateFlags::kernel_memory, "Refused unless 0/-1: cgroup v2 has none"},
                          {"--kernel-memory-tcp", &oci::UpdateFlags::kernel_memory_tcp, "Refused unless 0/-1: cgroup v2 has none"},
                          {"--cpu-quota", &oci::UpdateFlags::cpu_quota, "CPU quota per period in us (-1: none)"},
                          {"--cpu-period", &oci::UpdateFlags::cpu_period, "CPU period in us"},
                          {"--cpu-share,--cpu-shares", &oci::UpdateFlags::cpu_shares, "CPU shares (cpu.weight)"},
                          {"--cpu-rt-period", &oci::UpdateFlags::cpu_rt_period, "Refused unless 0: no realtime scheduling"},
                          {"--cpu-rt-runtime", &oci::UpdateFlags::cpu_rt_runtime, "Refused unless 0: no realtime scheduling"},
                          {"--cpuset-cpus", &oci::UpdateFlags::cpuset_cpus, "Refused: cpusets are not implemented"},
                          {"--cpuset-mems", &oci::UpdateFlags::cpuset_mems, "Refused: cpusets are not implemented"},
                          {"--pids-limit", &oci::UpdateFlags::pids_limit, "pids.max (-1: unlimited)"},
                          {"--blkio-weight", &oci::UpdateFlags::blkio_weight, "Refused unless 0: no I/O weights"},
                          {"--l3-cache-schema", &oci::UpdateFlags::l3_cache_schema, "Refused: no Intel RDT"},
                          {"--mem-bw-schema", &oci::UpdateFlags::mem_bw_schema, "Refused: no Intel RDT"}}) {
        auto value = std::make_shared<std::string>();
        auto field = f.field;
        CLI::Option* opt = sub->add_option(f.name, *value, f.help);
        // CLI11 runs the option's callback only when it is given: that is what "given" means
        opt->each([o, field, value](const std::string& v) { (o->flags.*field) = v; });
    }
    sub->add_option("id", o->id, "Container id")->required();
    sub->callback(guarded([o] { update_container(*o); }));
}

}  // namespace hardrun::commands
