// The one checked number parser, below everything that reads numbers (procfs, the log, the value parsers).
#pragma once
#include <charconv>
#include <concepts>
#include <limits>
#include <optional>
#include <string_view>

namespace hardrun::parse {

// The one checked number parser: the whole of `s` is digits in `base` (no sign, blanks or "0x" prefix)
// and the value fits T and [min, max]. Never throws: nullopt, and the caller names the field and the
// range in its own error (std::stoul would escape as a bare "stoul").
template <std::integral T>
std::optional<T> number(std::string_view s, T min = std::numeric_limits<T>::min(),
                        T max = std::numeric_limits<T>::max(), int base = 10) {
    if (s.empty() || s.front() == '-' || s.front() == '+') return std::nullopt;
    T v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
    return v;
}
// The same in another base ("1777" octal, "a80425fb" hex), over T's whole range.
template <std::integral T>
std::optional<T> number_base(std::string_view s, int base) {
    return number<T>(s, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), base);
}

}  // namespace hardrun::parse
