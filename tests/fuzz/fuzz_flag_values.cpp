// Every flag value parser (parse.hpp): the first byte picks the parser, the rest is the value.
#include <algorithm>
#include <cstring>

#include "fuzz_common.hpp"
#include "hardrun/plan/parse.hpp"

using namespace hardrun;

namespace {

bool clean_path(const std::string& p) {
    return !p.empty() && p.front() == '/' && p.find("//") == std::string::npos && p.find("/../") == std::string::npos &&
           !p.ends_with("/..") && (p == "/" || p.back() != '/') && p.find('\0') == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view all = fuzz::text(data, size);
    const std::string_view v = all.substr(1);
    switch (data[0] % 12) {
        case 0:
            fuzz::accepts([&] { (void)parse::size("--memory", v); }, all);
            break;
        case 1:
            fuzz::accepts([&] {
                CpuMax c = parse::cpus("--cpus", v);
                if (c.quota_us == 0 || c.period_us == 0) fuzz::broken("cpus: zero quota or period", all);
            }, all);
            break;
        case 2:
            fuzz::accepts([&] {
                auto [u, g] = parse::user("--user", v);
                if (u == static_cast<uid_t>(-1) || g == static_cast<gid_t>(-1)) fuzz::broken("user: -1 accepted", all);
            }, all);
            break;
        case 3:
            fuzz::accepts([&] {
                Mount m = parse::tmpfs("--tmpfs", v);
                if (!clean_path(m.destination) || m.destination == "/") fuzz::broken("tmpfs: bad destination", all);
                if (!m.size || *m.size == 0) fuzz::broken("tmpfs: no size", all);
                if (m.mode && *m.mode > 07777) fuzz::broken("tmpfs: mode out of range", all);
            }, all);
            break;
        case 4:
            fuzz::accepts([&] {
                Mount m = parse::volume("--volume", v);
                // either a host path, absolute, or a named volume whose directory --volumes-dir gives later
                if (m.volume.empty() == m.source.empty()) fuzz::broken("volume: neither or both of a path and a name", all);
                if (!m.source.empty() && m.source.front() != '/') fuzz::broken("volume: relative source", all);
                if (!m.volume.empty() && (m.volume.find('/') != std::string::npos || m.volume == "." || m.volume == ".."))
                    fuzz::broken("volume: a name that is a path", all);
                if (!clean_path(m.destination) || m.destination == "/") fuzz::broken("volume: bad destination", all);
            }, all);
            break;
        case 5:
            fuzz::accepts([&] {
                Rlimit r = parse::ulimit("--ulimit", v);
                if (r.soft > r.hard) fuzz::broken("ulimit: soft above hard", all);
            }, all);
            break;
        case 6:
            fuzz::accepts([&] {
                int c = parse::capability("--cap-add", v);
                if (c < -1 || c > parse::last_capability()) fuzz::broken("capability out of range", all);
                if (c >= 0 && parse::capability("--cap-add", parse::capability_name(c)) != c)
                    fuzz::broken("capability name does not round-trip", all);
            }, all);
            break;
        case 7:
            fuzz::accepts([&] {
                std::string p = parse::sandbox_path("--workdir", v);
                if (!clean_path(p)) fuzz::broken("sandbox_path: not normalized", all);
            }, all);
            break;
        case 8:
            fuzz::accepts([&] {
                std::string e = parse::env("--env", v);
                if (e.find('=') == std::string::npos || e.front() == '=') fuzz::broken("env: no NAME=", all);
            }, all);
            break;
        case 9:
            fuzz::accepts([&] {
                std::string h = parse::hostname("--hostname", v);
                if (h.empty() || h.size() > 64) fuzz::broken("hostname: length", all);
            }, all);
            break;
        case 10: {
            std::uint64_t n = 0;
            std::memcpy(&n, v.data(), std::min(v.size(), sizeof n));
            if (parse::human_size(n).empty()) fuzz::broken("human_size: empty", all);
            break;
        }
        default: {
            int c = v.empty() ? 0 : static_cast<signed char>(v[0]);
            if (parse::capability_name(c).empty()) fuzz::broken("capability_name: empty", all);
            break;
        }
    }
    return 0;
}
