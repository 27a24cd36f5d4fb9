// Shared by the libFuzzer targets: the contract every parser must keep.
//
// Parsers may reject input only by throwing hardrun::Error (UsageError included): that becomes one clean
// line for the user. Any other exception escaping (std::out_of_range from a stoul, a nlohmann type_error...)
// would reach the user as a generic failure, so the targets let it escape and libFuzzer reports a crash.
// Sanitizers (ASan/UBSan) catch the memory and undefined-behaviour bugs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>

#include "hardrun/support/error.hpp"

namespace fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// A property the parser promised does not hold: report and abort (libFuzzer saves the input).
[[noreturn]] inline void broken(const char* what, std::string_view input) {
    std::fprintf(stderr, "property violated: %s\ninput: %.*s\n", what, static_cast<int>(input.size()), input.data());
    std::abort();
}

// Runs f; a hardrun::Error is an accepted rejection (and must carry a message).
template <typename F>
bool accepts(F&& f, std::string_view input) {
    try {
        f();
        return true;
    } catch (const hardrun::Error& e) {
        if (std::string_view(e.what()).empty()) broken("an Error without a message", input);
        return false;
    }
}

}  // namespace fuzz
