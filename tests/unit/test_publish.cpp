// -p/--publish: docker's [IP:]HOSTPORT:PORT[/tcp|/udp] into the plan, and the pasta command line it becomes.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "hardrun/config/flags.hpp"
#include "hardrun/launch/pasta.hpp"
#include "hardrun/plan/publish.hpp"
#include "hardrun/support/error.hpp"

#include "scratch_dir.hpp"

using namespace hardrun;

namespace {
std::string publish_error(const std::string& spec) {
    try {
        parse::publish("--publish", spec);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

RunFlags publish_flags(std::vector<std::string> publish, std::string network = "none") {
    static const ScratchDir rootfs("hardrun-unit-publish");  // removed with the test program's static objects
    RunFlags f;
    f.rootfs = rootfs.dir;
    f.command = {"/bin/true"};
    f.publish = std::move(publish);
    f.network = std::move(network);
    return f;
}

bool contains(const std::vector<std::string>& v, const std::vector<std::string>& seq) {
    return std::search(v.begin(), v.end(), seq.begin(), seq.end()) != v.end();
}
}  // namespace

TEST_CASE("a -p spec becomes a published port on the host's loopback") {
    const PublishedPort p = parse::publish("--publish", "8080:80");
    CHECK(p.host_ip == "127.0.0.1");
    CHECK(p.host_port == 8080);
    CHECK(p.port == 80);
    CHECK_FALSE(p.udp);
    CHECK(parse::publish_text(p) == "127.0.0.1:8080->80/tcp");

    const PublishedPort q = parse::publish("--publish", "127.0.0.2:5353:5353/udp");
    CHECK(q.host_ip == "127.0.0.2");
    CHECK(q.udp);
    CHECK(parse::publish_text(q) == "127.0.0.2:5353->5353/udp");

    const PublishedPort r = parse::publish("--publish", "[::1]:8443:443/tcp");
    CHECK(r.host_ip == "::1");
    CHECK(r.host_port == 8443);
    CHECK(r.port == 443);
    CHECK(parse::publish_text(r) == "[::1]:8443->443/tcp");
}

TEST_CASE("what -p does not support is refused with one line naming the alternative") {
    CHECK(publish_error("8080-8090:80-90") == "--publish: '8080-8090:80-90': port ranges are not supported; give one -p per port");
    CHECK(publish_error("80").find("give HOSTPORT:PORT, e.g. -p 8080:80") != std::string::npos);
    CHECK(publish_error(":80").find("chosen at random") != std::string::npos);
    CHECK(publish_error("127.0.0.1::80").find("chosen at random") != std::string::npos);
    CHECK(publish_error("8080:80/sctp") == "--publish: '8080:80/sctp': protocol 'sctp' is not supported; use /tcp or /udp");
    CHECK(publish_error("0.0.0.0:8080:80").find("loopback only") != std::string::npos);
    CHECK(publish_error("0.0.0.0:8080:80").find("--network host") != std::string::npos);
    CHECK(publish_error("192.0.2.1:8080:80").find("loopback only") != std::string::npos);
    CHECK(publish_error("[::]:8080:80").find("loopback only") != std::string::npos);
    CHECK(publish_error("localhost:8080:80").find("is not an IP address") != std::string::npos);
    CHECK(publish_error("::1:8080:80").find("in brackets") != std::string::npos);
    CHECK(publish_error("0:80").find("is not a port number (1..65535)") != std::string::npos);
    CHECK(publish_error("8080:65536").find("'65536' is not a port number") != std::string::npos);
    CHECK(publish_error("8080:http").find("is not a port number") != std::string::npos);
    CHECK(publish_error("").find("is empty") != std::string::npos);
    // Debian 12's pasta loses the replies of a renumbered UDP port: refused, with the form that works
    CHECK(publish_error("5353:53/udp").find("-p 53:53/udp") != std::string::npos);
    CHECK(publish_error("53:53/udp").empty());
}

TEST_CASE("repeated -p go into the plan in order; a host port twice is refused") {
    LaunchPlan p = build_plan(publish_flags({"8080:80", "127.0.0.1:5353:5353/udp", "[::1]:8080:80"}), 0);
    REQUIRE(p.publish.size() == 3);
    CHECK(p.publish[0] == PublishedPort{"127.0.0.1", 8080, 80, false});
    CHECK(p.publish[1] == PublishedPort{"127.0.0.1", 5353, 5353, true});
    CHECK(p.publish[2] == PublishedPort{"::1", 8080, 80, false});
    CHECK(p.namespaces.net);                   // the sandbox keeps its own network namespace
    CHECK(p.network == NetworkMode::None);
    // the same host port for tcp and for udp are two ports
    CHECK(build_plan(publish_flags({"8080:80", "8080:8080/udp"}), 0).publish.size() == 2);
    CHECK_THROWS_WITH_AS(build_plan(publish_flags({"8080:80", "127.0.0.1:8080:81"}), 0),
                         "--publish: '127.0.0.1:8080:81': host port 127.0.0.1:8080/tcp is published twice; give each host port once",
                         UsageError);
    // rootless: the same plan, in the user namespace
    LaunchPlan rootless = build_plan(publish_flags({"8080:80"}), 1000);
    CHECK(rootless.namespaces.user);
    CHECK(rootless.publish.size() == 1);
    CHECK(build_plan(publish_flags({}), 0).publish.empty());
}

TEST_CASE("-p with --network host is refused") {
    CHECK_THROWS_WITH_AS(build_plan(publish_flags({"8080:80"}, "host"), 0),
                         "--publish: cannot be combined with --network host: the workload already binds the host's "
                         "ports itself (drop -p, or drop --network host)",
                         UsageError);
}

TEST_CASE("pasta is attached inbound only, by fd, in the foreground") {
    const std::vector<PublishedPort> ports = {{"127.0.0.1", 8080, 80, false}, {"::1", 53, 53, true}};
    const auto a = pasta::arguments(ports, false, true);
    CHECK(contains(a, {"--foreground"}));
    CHECK(contains(a, {"--netns", "/proc/self/fd/3"}));
    CHECK(contains(a, {"--pid", "/proc/self/fd/5"}));
    CHECK(contains(a, {"-t", "127.0.0.1/8080:80"}));
    CHECK(contains(a, {"-u", "::1/53:53"}));
    CHECK(contains(a, {"-T", "none", "-U", "none", "--no-map-gw"}));
    CHECK(contains(a, {"--runas", "0"}));
    CHECK_FALSE(contains(a, {"--userns"}));
    CHECK_FALSE(contains(a, {"--config-net"}));  // no address, no route: nothing leaves the sandbox
    // only tcp: udp is "none", or pasta would forward the same numbers for udp too
    const auto tcp_only = pasta::arguments({{"127.0.0.1", 8080, 80, false}}, true, false);
    CHECK(contains(tcp_only, {"-u", "none"}));
    CHECK(contains(tcp_only, {"--userns", "/proc/self/fd/4"}));
    CHECK_FALSE(contains(tcp_only, {"--runas"}));
    CHECK(pasta::ports_text(ports) == "-p 127.0.0.1:8080->80/tcp, -p [::1]:53->53/udp");
}
