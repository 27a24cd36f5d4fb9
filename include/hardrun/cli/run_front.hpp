// Shared by run, check and seccomp record: flags or an OCI bundle -> plan, and the outcome printout.
#pragma once
#include "hardrun/config/flags.hpp"
#include "hardrun/launch/launch.hpp"

namespace hardrun::commands {

// --bundle DIR: config.json + rootfs (OCI). Implemented by the OCI front end (oci.cpp).
LaunchPlan plan_from_bundle(const RunFlags& flags);
LaunchPlan plan_from_flags_or_bundle(const RunFlags& flags);
void print_plan(const LaunchPlan& plan);
void print_warnings(const LaunchPlan& plan);
// Prints the error / OOM line and returns the exit code.
int report_outcome(const Outcome& out, const LaunchPlan& plan);

}  // namespace hardrun::commands
