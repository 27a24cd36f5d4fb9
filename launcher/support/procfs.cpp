#include "hardrun/support/procfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "hardrun/support/number.hpp"


namespace hardrun::procfs {

std::vector<std::string_view> fields(std::string_view text) {
    auto sep = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && sep(text[i])) ++i;
        std::size_t j = i;
        while (j < text.size() && !sep(text[j])) ++j;
        if (j > i) out.push_back(text.substr(i, j - i));
        i = j;
    }
    return out;
}

namespace {

std::vector<std::string> split_commas(std::string_view s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto pos = s.find(',', start);
        out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

bool octal_digit(char c) { return c >= '0' && c <= '7'; }

template <typename T>
bool number(std::string_view s, T& out) {
    auto v = parse::number<T>(s);
    if (v) out = *v;
    return v.has_value();
}

}  // namespace

bool MountInfo::has_option(std::string_view o) const {
    return std::find(options.begin(), options.end(), o) != options.end();
}

std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && octal_digit(s[i + 1]) && octal_digit(s[i + 2]) && octal_digit(s[i + 3])) {
            out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
    std::vector<MountInfo> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        auto f = fields(line);
        // id parent maj:min root mount-point options [optional...] - fstype source [super-options]
        if (f.size() < 9) continue;
        auto dash = std::find(f.begin() + 6, f.end(), "-");
        if (dash == f.end() || f.end() - dash < 3) continue;
        MountInfo m;
        auto colon = f[2].find(':');
        if (colon == std::string_view::npos || !number(f[0], m.mount_id) || !number(f[1], m.parent_id) ||
            !number(f[2].substr(0, colon), m.major) || !number(f[2].substr(colon + 1), m.minor))
            continue;
        m.root = unescape(f[3]);
        m.mount_point = unescape(f[4]);
        m.options = split_commas(f[5]);
        for (auto it = f.begin() + 6; it != dash; ++it) m.optional_fields.emplace_back(*it);
        m.fstype = unescape(*(dash + 1));
        m.source = unescape(*(dash + 2));
        if (dash + 3 != f.end()) m.super_options = split_commas(*(dash + 3));
        out.push_back(std::move(m));
    }
    return out;
}

std::optional<Stat> parse_stat(std::string_view text) {
    // "PID (NAME) STATE PPID ...": the name may hold blanks and parentheses, so the last ")" ends it
    auto close = text.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    auto f = fields(text.substr(close + 1));  // from field 3 on
    if (!f.empty() && f.back().ends_with('\n')) f.back().remove_suffix(1);
    if (f.size() < 20 || f[0].size() != 1) return std::nullopt;
    Stat s;
    s.state = f[0][0];
    if (!number(f[1], s.ppid) || !number(f[19], s.start_time)) return std::nullopt;
    return s;
}

std::optional<Stat> read_stat(const std::string& pid) {
    const std::string path = "/proc/" + pid + "/stat";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string text;
    char buf[1024];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return parse_stat(text);
}

std::optional<Stat> read_stat(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    return read_stat(std::to_string(pid));
}

}  // namespace hardrun::procfs
