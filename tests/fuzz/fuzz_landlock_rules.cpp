// Landlock rule placement (landlock::compute) over random mount plans and trees: whatever the plan, the
// effective rights (the union of the rules on a path and its ancestors, as the kernel computes them) must never
// exceed what the plan gives the innermost planned path, and must equal it for every file and every directory
// that holds no planned path below it. (A directory above a more restricted planned path can only get what
// that path tolerates: Landlock rights are inherited, so e.g. with --read-write no file can be created
// directly in / when /dev must stay closed.)
#include <algorithm>
#include <map>
#include <set>

#include "fuzz_common.hpp"
#include "hardrun/layers/landlock.hpp"
#include "../unit/landlock_view.hpp"

using namespace hardrun;
using landlock::EntryType;

namespace {

const char* kNames[] = {"a", "b", "c", "tmp", "data", "run", "dev", "proc"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::string_view in = fuzz::text(data, size);
    LaunchPlan plan;
    plan.readonly_root = data[0] & 1;
    test::MapView view;
    view.entries["/"] = EntryType::Directory;
    // each 3 bytes: a path of up to 3 components, flags, and whether it is a mount, a file or a plain entry
    for (std::size_t i = 1; i + 2 < size && plan.mounts.size() < 12; i += 3) {
        std::string path;
        const unsigned depth = 1 + data[i] % 3;
        for (unsigned d = 0; d < depth; ++d) path += std::string("/") + kNames[(data[i] >> (2 + d * 2)) % 8];
        const std::uint8_t fl = data[i + 1];
        switch (data[i + 2] % 4) {
            case 0:
            case 1: {
                bool dup = false;
                for (const auto& m : plan.mounts) dup |= m.destination == path;
                if (dup) break;
                Mount m;
                m.kind = (fl & 1) ? MountKind::Bind : MountKind::Tmpfs;
                m.destination = path;
                m.readonly = fl & 2;
                m.noexec = fl & 4;
                m.nodev = !(fl & 8);
                plan.mounts.push_back(m);
                view.dir_chain(path);
                break;
            }
            case 2: {
                const std::string parent = path.substr(0, path.rfind('/'));
                if (!parent.empty()) view.dir_chain(parent);
                if (!view.entries.count(path)) view.entries[path] = (fl & 1) ? EntryType::File : EntryType::Symlink;
                break;
            }
            default:
                view.dir_chain(path);
                if (fl & 16) view.unlistable.insert(path);
                break;
        }
    }
    std::stable_sort(plan.mounts.begin(), plan.mounts.end(), [](const Mount& a, const Mount& b) {
        return std::count(a.destination.begin(), a.destination.end(), '/') <
               std::count(b.destination.begin(), b.destination.end(), '/');
    });
    const int abi = 1 + data[0] % 7;
    landlock::Ruleset rs = landlock::compute(plan, abi, view);
    const std::uint64_t mask = landlock::fs_rights_for_abi(abi);
    for (const auto& r : rs.paths) {
        if (r.access & ~mask) fuzz::broken("a right the ABI does not know", in);
        auto t = view.type(r.path);
        if (!t || *t == EntryType::Symlink) fuzz::broken("a rule on a missing path or a symlink", in);
        if (*t == EntryType::File && (r.access & ~landlock::access::kFileRights)) fuzz::broken("dir rights on a file", in);
    }
    auto below_symlink = [&](const std::string& p) {  // or below a file: the fake tree allows both
        for (const auto& [q, qt] : view.entries)
            if (qt != EntryType::Directory && p.rfind(q + "/", 0) == 0) return true;
        return false;
    };
    for (const auto& [path, t] : view.entries) {
        if (t == EntryType::Symlink || below_symlink(path)) continue;  // not a real path
        // inside an unlistable directory that is not itself planned, hardrun may grant less, never more
        bool hidden = false;
        for (const auto& u : view.unlistable) hidden |= path.rfind(u + "/", 0) == 0;
        if (t == EntryType::Directory)
            for (const auto& m : plan.mounts)
                hidden |= m.destination != path && (path == "/" || m.destination.rfind(path + "/", 0) == 0);
        std::uint64_t want = landlock::planned_rights(plan, path) & mask;
        std::uint64_t got = test::rights_along(rs, path);
        if (t == EntryType::File) {
            want &= landlock::access::kFileRights;
            got &= landlock::access::kFileRights;
        }
        if ((got & ~want) || (!hidden && got != want)) {
            if (std::getenv("FUZZ_DEBUG")) {
                for (const auto& m : plan.mounts)
                    std::fprintf(stderr, "mount %s ro=%d noexec=%d\n", m.destination.c_str(), m.readonly, m.noexec);
                for (const auto& [p, et] : view.entries)
                    std::fprintf(stderr, "entry %s %d%s\n", p.c_str(), static_cast<int>(et), view.unlistable.count(p) ? " unlistable" : "");
                for (const auto& r : rs.paths) std::fprintf(stderr, "rule %s %llx\n", r.path.c_str(), static_cast<unsigned long long>(r.access));
                std::fprintf(stderr, "at %s: want %llx got %llx\n", path.c_str(), static_cast<unsigned long long>(want),
                             static_cast<unsigned long long>(got));
            }
            fuzz::broken((got & ~want) ? "more rights than the plan gives" : "fewer rights than the plan gives", in);
        }
    }
    return 0;
}
