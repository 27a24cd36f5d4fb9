// Every JSON document hardrun reads (seccomp profiles, OCI config.json, lint inputs, container state, the
// tracer's report) is decoded here. Whatever nlohmann's parser reports (a syntax error, a number beyond a 64-bit
// float such as 1e400, invalid UTF-8) becomes one hardrun::Error naming the step, the file and the JSON path of
// the value being read, never a nlohmann exception with its "[json.exception...]" text:
//   seccomp: app.json: invalid JSON at syscalls[0].args[0].value: number overflow parsing '1e400' (line 2, column 35)
//   config.json: b/config.json: not valid JSON: parse error at line 1, column 2: syntax error while parsing ...
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hardrun {

// Decodes `text`. Throws Error(step, source, lead + [" at " + JSON path] + ": " + problem), the problem with its
// line and column.
nlohmann::json parse_json(std::string_view text, const std::string& step, const std::string& source,
                          const std::string& lead = "invalid JSON");

// The message of a nlohmann exception without its "[json.exception.type_error.302] " prefix (for the places that
// walk a decoded document and catch what a wrong type makes the library throw).
std::string json_error_text(const nlohmann::json::exception& e);

}  // namespace hardrun
