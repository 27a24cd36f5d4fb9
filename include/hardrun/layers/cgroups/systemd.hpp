// The systemd cgroup driver (OCI --systemd-cgroup, linux.cgroupsPath "slice:prefix:name"): systemd, asked over
// D-Bus (libsystemd's sd-bus), makes a transient scope with Delegate=yes; hardrun then writes the limits into
// the scope's cgroup and clones the container into it. docs/cgroups.md ("The systemd driver") explains the steps.
//
// The pure parts (the cgroupsPath, the unit and slice names, the unit's properties) are free functions for the
// unit tests; start_scope() and stop_scope() talk to the system bus through hardrun-systemd
// (libexec/hardrun_systemd.cpp), the one binary linked with libsystemd, which Debian ships without a static
// archive: hardrun itself stays a static PIE (docs/performance.md) and pays for libsystemd's loading only when the
// driver is used.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hardrun/layers/cgroups/cgroups.hpp"
#include "hardrun/plan/plan.hpp"

namespace hardrun::cgroups::systemd {

// A parsed "slice:prefix:name". An empty slice means system.slice; the unit is "<prefix>-<name>.scope" (or
// "<name>.scope" with no prefix), as runc names it.
struct ScopeName {
    std::string slice;  // e.g. "system.slice", "machine-foo.slice"
    std::string unit;   // e.g. "docker-abc.scope"
    bool operator==(const ScopeName&) const = default;
};
// Throws Error("linux.cgroupsPath", ...) for anything else (not three fields, a bad unit or slice name, a name
// ending in .slice: runc would make a slice there, which hardrun does not). An empty path: ":hardrun:<id>".
ScopeName parse_cgroups_path(const std::string& cgroups_path, const std::string& container_id);

// Is this a valid systemd unit name with this suffix (".scope", ".slice")? Letters, digits, ":-_.\", at most
// 255 characters.
bool valid_unit_name(const std::string& name, const std::string& suffix);

// Where a slice's cgroup is below the cgroup2 mount: "machine-foo.slice" -> "machine.slice/machine-foo.slice",
// "system.slice" -> "system.slice", "-.slice" -> "".
std::string slice_dir(const std::string& slice);

// One property of StartTransientUnit's a(sv): a string ("s"), a boolean ("b"), an unsigned 64 ("t") or a pid
// list ("au").
struct Property {
    std::string name;
    std::variant<std::string, bool, std::uint64_t, std::vector<std::uint32_t>> value;
    bool operator==(const Property&) const = default;
};
// Description, Slice, Delegate=yes, DefaultDependencies=no, CollectMode=inactive-or-failed (the unit is gone
// when its last process is), PIDs=[pid], and the limits systemd would otherwise reset on a reload of its own
// (MemoryMax, TasksMax, CPUQuotaPerSecUSec), with the same values hardrun writes into the cgroup.
std::vector<Property> scope_properties(const ScopeName& scope, pid_t pid, const Resources& limits);

// Asks systemd (system bus) for the transient scope with `pid` in it and waits for its job (JobRemoved) at most
// `timeout`. Throws Error("cgroups", "systemd scope <unit>", cause) with D-Bus's error name and message.
void start_scope(const ScopeName& scope, pid_t pid, const Resources& limits,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
// StopUnit(unit, "replace"); a unit that is already gone is not an error. "" or the one-line reason.
std::string stop_scope(const std::string& unit);

// `update` of a container in a scope: the unit's own properties follow the limits written into its cgroup, as
// runc's SetUnitProperties does, or systemd would put its old values back at its next daemon-reload. The
// properties of the writes: memory.max MemoryMax, memory.swap.max MemorySwapMax, memory.low MemoryLow,
// memory.high MemoryHigh, pids.max TasksMax, cpu.max CPUQuotaPerSecUSec and CPUQuotaPeriodUSec, cpu.weight
// CPUWeight ("max": infinity, UINT64_MAX); other files have none.
std::vector<Property> limit_properties(const std::vector<LimitWrite>& writes);
// SetUnitProperties(unit, runtime, properties). Throws Error("cgroups", "systemd scope <unit>", cause).
void set_unit_properties(const std::string& unit, const std::vector<Property>& properties);

// hardrun-systemd's command line:
//   hardrun-systemd start-transient-unit UNIT TIMEOUT_MS PROPERTY...   (each as encode_property writes it)
//   hardrun-systemd stop-unit UNIT
//   hardrun-systemd set-unit-properties UNIT PROPERTY...
// It prints nothing on success and, on a failure, one line (the cause) on stderr, and exits 1.
// "Slice=s:system.slice", "Delegate=b:1", "MemoryMax=t:1048576", "PIDs=au:42,43".
std::string encode_property(const Property& p);
// The inverse; throws Error("hardrun-systemd", text, why) for anything encode_property does not write.
Property decode_property(std::string_view text);
// Where hardrun-systemd is: next to hardrun in the build tree, else installed (fail closed like hardrun-probe).
std::string helper_path();
// Runs `helper` with `args` (stdin /dev/null, only fds 0-2, signals unblocked): "" when it exits 0, else its
// stderr's first line, or how it ended when it said nothing.
std::string run_helper(const std::string& helper, const std::vector<std::string>& args);

}  // namespace hardrun::cgroups::systemd
