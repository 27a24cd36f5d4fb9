#include "hardrun/plan/parse.hpp"

#include <cap-ng.h>
#include <linux/capability.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <vector>

#include "hardrun/support/error.hpp"

namespace hardrun::parse {

namespace {

[[noreturn]] void bad(std::string_view option, const std::string& msg) {
    throw UsageError(std::string(option), msg);
}

std::string quoted(std::string_view v) { return "'" + std::string(v) + "'"; }

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        auto pos = s.find(sep, start);
        out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
    auto v = number<std::uint64_t>(s);
    if (v) out = *v;
    return v.has_value();
}

bool parse_u32(std::string_view s, std::uint32_t& out) {
    auto v = number<std::uint32_t>(s);
    if (v) out = *v;
    return v.has_value();
}

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
    return r;
}

std::string upper(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::toupper(c); });
    return r;
}

}  // namespace

std::uint64_t size(std::string_view option, std::string_view value) {
    const std::string hint = quoted(value) + " is not a size; use e.g. 512m";
    if (value.empty()) bad(option, "'' is not a size; use e.g. 512m");
    std::size_t i = 0;
    while (i < value.size() && (std::isdigit(static_cast<unsigned char>(value[i])) || value[i] == '.')) ++i;
    std::string_view number = value.substr(0, i);
    std::string unit = lower(value.substr(i));
    if (number.empty() || std::count(number.begin(), number.end(), '.') > 1 || number.front() == '.' ||
        number.back() == '.')
        bad(option, hint);
    std::uint64_t mult = 1;
    if (unit.empty() || unit == "b") mult = 1;
    else if (unit == "k" || unit == "kb" || unit == "kib") mult = 1ULL << 10;
    else if (unit == "m" || unit == "mb" || unit == "mib") mult = 1ULL << 20;
    else if (unit == "g" || unit == "gb" || unit == "gib") mult = 1ULL << 30;
    else if (unit == "t" || unit == "tb" || unit == "tib") mult = 1ULL << 40;
    else bad(option, hint);
    if (number.find('.') == std::string_view::npos) {
        std::uint64_t n = 0;
        if (!parse_u64(number, n)) bad(option, quoted(value) + " is too large");
        if (n > std::numeric_limits<std::uint64_t>::max() / mult) bad(option, quoted(value) + " is too large");
        return n * mult;
    }
    // fractional: "1.5g"
    double d = std::strtod(std::string(number).c_str(), nullptr);
    long double bytes = static_cast<long double>(d) * static_cast<long double>(mult);
    if (!std::isfinite(static_cast<double>(bytes)) || bytes >= 1.8e19L) bad(option, quoted(value) + " is too large");
    return static_cast<std::uint64_t>(bytes);
}

CpuMax cpus(std::string_view option, std::string_view value) {
    const std::string hint = quoted(value) + " is not a number of CPUs; use e.g. 0.5 or 2";
    if (value.empty()) bad(option, hint);
    std::size_t dots = 0;
    for (char c : value) {
        if (c == '.') ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(c))) bad(option, hint);
    }
    if (dots > 1 || value.front() == '.' || value.back() == '.') bad(option, hint);
    double d = std::strtod(std::string(value).c_str(), nullptr);
    if (!(d > 0)) bad(option, "must be greater than 0 (e.g. 0.5)");
    if (d > 1024) bad(option, quoted(value) + " is more CPUs than any host has");
    CpuMax c;
    c.period_us = 100000;
    c.quota_us = static_cast<std::uint64_t>(std::llround(d * static_cast<double>(c.period_us)));
    if (c.quota_us < 1000) bad(option, quoted(value) + " is below the kernel's minimum of 0.01 CPUs");
    return c;
}

std::pair<uid_t, gid_t> user(std::string_view option, std::string_view value) {
    auto parts = split(value, ':');
    if (parts.size() > 2 || value.empty())
        bad(option, quoted(value) + " is not UID[:GID]; use e.g. 10001 or 10001:10001");
    std::uint32_t uid = 0, gid = 0;
    if (!parse_u32(parts[0], uid))
        bad(option, quoted(parts[0]) + " is not a numeric uid; hardrun does not look names up in the rootfs");
    gid = uid;
    if (parts.size() == 2 && !parse_u32(parts[1], gid))
        bad(option, quoted(parts[1]) + " is not a numeric gid");
    if (uid == std::numeric_limits<std::uint32_t>::max() || gid == std::numeric_limits<std::uint32_t>::max())
        bad(option, "4294967295 is the invalid id (-1)");
    return {uid, gid};
}

std::string sandbox_path(std::string_view option, std::string_view value) {
    if (value.empty() || value.front() != '/')
        bad(option, quoted(value) + " is not an absolute path inside the sandbox");
    std::string out;
    for (auto comp : split(value, '/')) {
        if (comp.empty() || comp == ".") continue;
        if (comp == "..") bad(option, quoted(value) + " contains '..'");
        out += '/';
        out += comp;
    }
    if (value.find('\0') != std::string_view::npos) bad(option, "path contains a NUL byte");
    return out.empty() ? "/" : out;
}

bool mount_flag(std::string_view opt, Mount& m, unsigned allowed) {
    struct Flag {
        std::string_view name;
        unsigned pair;
        bool Mount::*field;
        bool value;
    };
    static constexpr Flag kFlags[] = {
        {"ro", kMountReadOnly, &Mount::readonly, true}, {"rw", kMountReadOnly, &Mount::readonly, false},
        {"nosuid", kMountSuid, &Mount::nosuid, true},   {"suid", kMountSuid, &Mount::nosuid, false},
        {"nodev", kMountDev, &Mount::nodev, true},      {"dev", kMountDev, &Mount::nodev, false},
        {"noexec", kMountExec, &Mount::noexec, true},   {"exec", kMountExec, &Mount::noexec, false},
    };
    for (const Flag& f : kFlags)
        if (opt == f.name && (allowed & f.pair) != 0) {
            m.*f.field = f.value;
            return true;
        }
    return false;
}

Mount tmpfs(std::string_view option, std::string_view value) {
    auto colon = value.find(':');
    Mount m;
    m.kind = MountKind::Tmpfs;
    m.destination = sandbox_path(option, value.substr(0, colon));
    if (m.destination == "/") bad(option, "a tmpfs over / would hide the rootfs; use --read-write instead");
    m.nosuid = true;
    m.nodev = true;
    m.noexec = true;  // secure by default: a dropped binary cannot run; ":exec" allows it (and warns)
    m.size = 64ULL << 20;
    if (colon != std::string_view::npos) {
        for (auto opt : split(value.substr(colon + 1), ',')) {
            if (opt.empty()) continue;
            if (opt.starts_with("size=")) m.size = size(std::string(option) + " size", opt.substr(5));
            else if (opt.starts_with("mode=")) {
                auto v = opt.substr(5);
                auto mode = number<unsigned>(v, 0, 07777, 8);
                if (!mode) bad(option, quoted(v) + " is not an octal mode; use e.g. mode=1777");
                m.mode = *mode;
            } else if (opt.starts_with("uid=") || opt.starts_with("gid=")) {
                // the owner of the tmpfs's root, as the workload sees ids (e.g. mode=0700 for a service's own dir)
                auto id = number<std::uint32_t>(opt.substr(4), 0, 4294967294U);
                if (!id) bad(option, quoted(opt.substr(4)) + " is not a numeric " + std::string(opt.substr(0, 3)));
                (opt[0] == 'u' ? m.uid : m.gid) = *id;
            } else if (opt == "tmpcopyup") m.copy_up = true;  // podman's name: filled with the image's files there
            else if (opt == "notmpcopyup") m.copy_up = false;
            else if (!mount_flag(opt, m)) bad(option, quoted(opt) + " is not a tmpfs option (size=, mode=, uid=, gid=, tmpcopyup, noexec, exec, nosuid, suid, nodev, dev, ro, rw)");
        }
    }
    if (*m.size == 0) bad(option, "size=0 would be unlimited; give a size such as size=64m");
    // a fresh tmpfs is everyone's, sticky (like /tmp); one filled from the image takes the image's mode there
    if (!m.mode && !m.copy_up) m.mode = 01777;
    return m;
}

bool volume_name(std::string_view name) {
    return !name.empty() && std::isalnum(static_cast<unsigned char>(name[0])) && name.size() <= 128 &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
           });
}

Mount volume(std::string_view option, std::string_view value) {
    auto parts = split(value, ':');
    if (parts.size() < 2 || parts.size() > 3)
        bad(option, quoted(value) + " is not SRC:DST[:OPTIONS] (ro, rw, exec); use e.g. /srv/data:/data:ro");
    Mount m;
    m.kind = MountKind::Bind;
    if (!parts[0].empty() && parts[0].front() != '/') {
        // a named volume, docker's names: [a-zA-Z0-9][a-zA-Z0-9_.-]*
        const auto name = parts[0];
        if (!volume_name(name)) bad(option, quoted(name) + " is neither an absolute host path nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
        m.volume = std::string(name);
    } else if (parts[0].empty()) {
        bad(option, "'' is not an absolute host path or a volume name");
    } else {
        m.source = std::string(parts[0]);
    }
    m.destination = sandbox_path(option, parts[1]);
    if (m.destination == "/") bad(option, "cannot mount a volume over /; use --rootfs");
    m.readonly = false;
    m.nosuid = true;
    m.nodev = true;
    m.noexec = true;  // secure by default, like a tmpfs: SRC:DST:exec (or rw,exec) allows exec
    if (parts.size() == 3) {
        for (auto opt : split(parts[2], ',')) {
            if (!mount_flag(opt, m, kMountReadOnly | kMountExec)) bad(option, quoted(opt) + " is not a volume option (ro, rw, noexec, exec)");
        }
    }
    return m;
}

namespace {
struct RlimitName {
    const char* name;
    int resource;
};
constexpr RlimitName kRlimits[] = {
    {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
    {"as", RLIMIT_AS},
};

std::uint64_t rlimit_value(std::string_view option, std::string_view v) {
    if (v == "unlimited" || v == "-1") return RLIM_INFINITY;
    std::uint64_t n = 0;
    if (!parse_u64(v, n)) bad(option, quoted(v) + " is not a number or 'unlimited'");
    return n;
}
}  // namespace

Rlimit ulimit(std::string_view option, std::string_view value) {
    auto eq = value.find('=');
    if (eq == std::string_view::npos)
        bad(option, quoted(value) + " is not NAME=SOFT[:HARD]; use e.g. nofile=1024:2048");
    auto name = lower(value.substr(0, eq));
    if (name.starts_with("rlimit_")) name = name.substr(7);
    Rlimit r;
    bool found = false;
    for (auto& k : kRlimits)
        if (name == k.name) {
            r.resource = k.resource;
            found = true;
        }
    if (!found) bad(option, quoted(value.substr(0, eq)) + " is not a limit name (nofile, nproc, core, ...)");
    auto vals = split(value.substr(eq + 1), ':');
    if (vals.size() > 2) bad(option, quoted(value) + " is not NAME=SOFT[:HARD]");
    r.soft = rlimit_value(option, vals[0]);
    r.hard = vals.size() == 2 ? rlimit_value(option, vals[1]) : r.soft;
    if (r.soft > r.hard) bad(option, "soft limit " + std::string(vals[0]) + " is above the hard limit " + std::string(vals[1]));
    return r;
}

int last_capability() { return CAP_LAST_CAP; }

int capability(std::string_view option, std::string_view value) {
    std::string u = upper(value);
    if (u == "ALL") return -1;
    std::string bare = u.starts_with("CAP_") ? u.substr(4) : u;
    int cap = capng_name_to_capability(lower(bare).c_str());
    if (cap < 0 || cap > CAP_LAST_CAP || bare.empty())
        bad(option, quoted(value) + " is not a capability name (e.g. NET_BIND_SERVICE, CHOWN, ALL)");
    return cap;
}

std::string capability_name(int cap) {
    const char* n = capng_capability_to_name(static_cast<unsigned>(cap));
    if (!n) return "CAP_" + std::to_string(cap);
    return "CAP_" + upper(n);
}

std::string env(std::string_view option, std::string_view value) {
    auto eq = value.find('=');
    std::string_view key = value.substr(0, eq);
    if (key.empty()) bad(option, quoted(value) + " has an empty variable name");
    for (char c : key)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
            bad(option, quoted(key) + " is not a valid variable name");
    if (std::isdigit(static_cast<unsigned char>(key.front()))) bad(option, quoted(key) + " starts with a digit");
    if (eq != std::string_view::npos) return std::string(value);
    const char* v = std::getenv(std::string(key).c_str());
    if (!v) bad(option, quoted(key) + " is not set in hardrun's environment (use NAME=VALUE)");
    return std::string(key) + "=" + v;
}

std::string hostname(std::string_view option, std::string_view value) {
    if (value.empty() || value.size() > 64) bad(option, quoted(value) + " must be 1 to 64 characters");
    for (auto label : split(value, '.')) {
        if (label.empty() || label.size() > 63) bad(option, quoted(value) + " has an empty or over-long label");
        if (label.front() == '-' || label.back() == '-') bad(option, quoted(value) + " has a label starting or ending with '-'");
        for (char c : label)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
                bad(option, quoted(value) + " may hold only letters, digits, '-' and '.'");
    }
    return std::string(value);
}

std::string human_size(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    double v = static_cast<double>(bytes);
    while (v >= 1024 && u < 4 && std::fmod(v, 1024) == 0) {
        v /= 1024;
        ++u;
    }
    std::ostringstream os;
    os << v << ' ' << units[u];
    return os.str();
}

}  // namespace hardrun::parse
