#include "hardrun/plan/publish.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>

#include "hardrun/support/error.hpp"
#include "hardrun/support/number.hpp"

namespace hardrun::parse {

namespace {

std::uint16_t port_number(std::string_view option, std::string_view value, std::string_view part, const char* which) {
    if (part.find('-') != std::string_view::npos)
        throw UsageError(std::string(option), "'" + std::string(value) + "': port ranges are not supported; give one -p per port");
    const auto n = number<std::uint16_t>(part, 1, 65535);
    if (!n)
        throw UsageError(std::string(option), "'" + std::string(value) + "': " + which + " '" + std::string(part) +
                                                  "' is not a port number (1..65535)");
    return *n;
}

// The host address: loopback only, as pasta serves it here (no route out of the sandbox: docs/security.md).
std::string host_address(std::string_view option, std::string_view value, std::string_view ip, bool bracketed) {
    std::string addr(ip);
    const std::string refuse = "'" + std::string(value) + "': ";
    unsigned char buf[16];
    if (!bracketed && ::inet_pton(AF_INET, addr.c_str(), buf) == 1) {
        if (buf[0] == 127) return addr;
    } else if (bracketed && ::inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
        if (std::equal(buf, buf + 16, in6addr_loopback.s6_addr)) return "::1";
    } else {
        throw UsageError(std::string(option), refuse + "'" + addr + "' is not an IP address (an IPv6 one goes in brackets: [::1]:8080:80)");
    }
    throw UsageError(std::string(option),
                     refuse + "hardrun publishes on the host's loopback only (127.0.0.1 or [::1]): the sandbox gets "
                              "no route out, so it cannot answer other hosts; publish on 127.0.0.1 behind a reverse "
                              "proxy, or use --network host to serve other hosts");
}

}  // namespace

PublishedPort publish(std::string_view option, std::string_view value) {
    const std::string opt(option), v(value);
    if (value.empty()) throw UsageError(opt, "is empty; give [IP:]HOSTPORT:PORT[/tcp|/udp], e.g. -p 8080:80");
    PublishedPort p;
    std::string_view rest = value;
    // the protocol suffix
    if (const auto slash = rest.rfind('/'); slash != std::string_view::npos) {
        const std::string_view proto = rest.substr(slash + 1);
        if (proto == "udp") p.udp = true;
        else if (proto != "tcp")
            throw UsageError(opt, "'" + v + "': protocol '" + std::string(proto) + "' is not supported; use /tcp or /udp");
        rest = rest.substr(0, slash);
    }
    // an IPv6 host address in brackets: [::1]:8080:80
    std::string ip;
    bool bracketed = false;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            throw UsageError(opt, "'" + v + "' is not [IPV6]:HOSTPORT:PORT");
        ip = std::string(rest.substr(1, close - 1));
        bracketed = true;
        rest = rest.substr(close + 2);
    }
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const auto colon = rest.find(':', start);
        parts.push_back(rest.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    if (!bracketed && parts.size() == 3) {
        ip = std::string(parts[0]);
        parts.erase(parts.begin());
        if (ip.empty()) throw UsageError(opt, "'" + v + "': an empty address means all of them; hardrun publishes on 127.0.0.1 or [::1] only");
    }
    if (parts.size() == 1)
        throw UsageError(opt, "'" + v + "': a port alone asks for a host port chosen at random, which hardrun does not do; "
                              "give HOSTPORT:PORT, e.g. -p 8080:" + std::string(parts[0]));
    if (parts.size() != 2)
        throw UsageError(opt, "'" + v + "' is not [IP:]HOSTPORT:PORT[/tcp|/udp] (an IPv6 address goes in brackets: [::1]:8080:80)");
    if (parts[0].empty())
        throw UsageError(opt, "'" + v + "': an empty host port asks for one chosen at random, which hardrun does not do; give HOSTPORT:PORT");
    p.host_port = port_number(opt, v, parts[0], "host port");
    p.port = port_number(opt, v, parts[1], "port");
    if (!ip.empty()) p.host_ip = host_address(opt, v, ip, bracketed);
    // pasta 0.0~git20230309 (Debian 12) loses the replies to a UDP port it maps to another number (measured:
    // the datagrams arrive, the answers never come back), so that is refused rather than half done
    if (p.udp && p.host_port != p.port)
        throw UsageError(opt, "'" + v + "': a UDP port published on another host port loses its replies with Debian 12's "
                              "pasta; publish it on the same number (-p " + std::to_string(p.port) + ":" +
                              std::to_string(p.port) + "/udp)");
    return p;
}

std::vector<PublishedPort> publish_all(std::string_view option, const std::vector<std::string>& values) {
    std::vector<PublishedPort> out;
    for (const auto& v : values) {
        PublishedPort p = publish(option, v);
        for (const auto& q : out)
            if (q.host_ip == p.host_ip && q.host_port == p.host_port && q.udp == p.udp)
                throw UsageError(std::string(option), "'" + v + "': host port " + publish_text(q).substr(0, publish_text(q).find("->")) +
                                                          (p.udp ? "/udp" : "/tcp") + " is published twice; give each host port once");
        out.push_back(p);
    }
    return out;
}

std::string publish_text(const PublishedPort& p) {
    const std::string host = p.host_ip.find(':') != std::string::npos ? "[" + p.host_ip + "]" : p.host_ip;
    return host + ":" + std::to_string(p.host_port) + "->" + std::to_string(p.port) + (p.udp ? "/udp" : "/tcp");
}

}  // namespace hardrun::parse
