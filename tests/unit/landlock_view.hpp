// A fake filesystem for landlock::compute: path -> type, directories list the paths directly below them.
// Shared by the unit tests and the landlock_rules fuzz target.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hardrun/layers/landlock.hpp"

namespace hardrun::test {

class MapView : public landlock::FsView {
public:
    std::map<std::string, landlock::EntryType> entries;
    std::set<std::string> unlistable;

    MapView& dir(const std::string& p) { return add(p, landlock::EntryType::Directory); }
    MapView& file(const std::string& p) { return add(p, landlock::EntryType::File); }
    MapView& link(const std::string& p) { return add(p, landlock::EntryType::Symlink); }
    // "/" and every directory on the way to p (p included), keeping entries that exist
    MapView& dir_chain(const std::string& p) {
        entries.emplace("/", landlock::EntryType::Directory);
        for (std::size_t j = p.find('/', 1); ; j = p.find('/', j + 1)) {
            entries.emplace(p.substr(0, j), landlock::EntryType::Directory);
            if (j == std::string::npos) break;
        }
        return *this;
    }

    std::optional<landlock::EntryType> type(const std::string& p) override {
        auto it = entries.find(p);
        if (it == entries.end()) return std::nullopt;
        return it->second;
    }
    std::optional<std::vector<std::pair<std::string, landlock::EntryType>>> list(const std::string& d) override {
        if (unlistable.count(d)) return std::nullopt;
        std::vector<std::pair<std::string, landlock::EntryType>> out;
        const std::string prefix = d == "/" ? "/" : d + "/";
        for (const auto& [p, t] : entries)
            if (p != d && p.rfind(prefix, 0) == 0 && p.find('/', prefix.size()) == std::string::npos)
                out.emplace_back(p.substr(prefix.size()), t);
        return out;
    }

private:
    MapView& add(const std::string& p, landlock::EntryType t) {
        entries[p] = t;
        return *this;
    }
};

// What the kernel grants on `path`: the union of the rules on it and on its ancestors.
inline std::uint64_t rights_along(const landlock::Ruleset& rs, const std::string& path) {
    std::uint64_t a = 0;
    for (const auto& r : rs.paths)
        if (r.path == "/" || r.path == path || path.rfind(r.path + "/", 0) == 0) a |= r.access;
    return a;
}

}  // namespace hardrun::test
