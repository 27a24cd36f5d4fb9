// Internal to config/: the small JSON helpers that both halves of the OCI front end use (oci.cpp parses
// config.json into a Config, oci_plan.cpp maps a Config onto a LaunchPlan).
#pragma once
#include <algorithm>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "hardrun/config/oci.hpp"
#include "hardrun/support/error.hpp"

namespace hardrun::oci::detail {

using json = nlohmann::json;

[[noreturn]] inline void fail(const std::string& path, const std::string& msg) { throw Error("config.json", path, msg); }
inline std::string key_path(const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; }
inline std::string item_path(const std::string& base, std::size_t i) { return base + "[" + std::to_string(i) + "]"; }
inline std::string qt(const std::string& s) { return "'" + s + "'"; }
inline const json* find(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}
inline void refuse(Config& c, const std::string& path, const std::string& reason) { c.refused.push_back({path, reason}); }
inline bool matches_enum(const std::string& v, std::initializer_list<const char*> values) {
    return std::any_of(values.begin(), values.end(), [&](const char* x) { return v == x; });
}

// config.json's linux.resources, for `update --resources` too: the parser (oci.cpp; refused fields go to
// c.refused) and the mapping onto plan Resources with its value rules (oci_plan.cpp; throws via fail()).
void parse_resources_object(Config& c, const json& resources);
void map_resources_of(const Config& c, LaunchPlan& p);

}  // namespace hardrun::oci::detail
