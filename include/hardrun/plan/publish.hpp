// -p/--publish: docker's [IP:]HOSTPORT:PORT[/tcp|/udp], parsed into the plan (no side effect).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "hardrun/plan/plan.hpp"

namespace hardrun::parse {

// One -p value. Throws UsageError naming the option, the value and the alternative for what is not supported:
// ranges, a container port alone (docker's random host port), sctp, an address that is not loopback (hardrun
// publishes inbound only, so only the host itself can be answered; see docs/security.md).
PublishedPort publish(std::string_view option, std::string_view value);

// Every -p of a launch, in order; the same host address, port and protocol twice is refused.
std::vector<PublishedPort> publish_all(std::string_view option, const std::vector<std::string>& values);

// docker ps's form: "127.0.0.1:8080->80/tcp" ("[::1]:8080->80/udp").
std::string publish_text(const PublishedPort& p);

}  // namespace hardrun::parse
