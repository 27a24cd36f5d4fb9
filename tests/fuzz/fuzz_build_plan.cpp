// build_plan(): every docker-style flag together. The input is lines "FLAG VALUE" (e.g. "--tmpfs /x:size=1m");
// the rootfs is fixed (a real directory) and the invoker is root or not by the first byte. The plan that comes
// out must keep the invariants the apply steps rely on, and Landlock's rights must follow it.
#include <algorithm>
#include <map>

#include "fuzz_common.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/layers/landlock.hpp"

using namespace hardrun;

namespace {

RunFlags flags_from(std::string_view in) {
    RunFlags f;
    f.rootfs = "/usr";
    f.command = {"true"};
    std::size_t i = 0;
    while (i < in.size()) {
        std::size_t nl = in.find('\n', i);
        if (nl == std::string_view::npos) nl = in.size();
        std::string_view line = in.substr(i, nl - i);
        i = nl + 1;
        std::size_t sp = line.find(' ');
        std::string key(line.substr(0, sp));
        std::string val(sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1));
        std::map<std::string, std::vector<std::string>*> lists = {
            {"--tmpfs", &f.tmpfs}, {"-v", &f.volumes}, {"--cap-add", &f.cap_add}, {"--cap-drop", &f.cap_drop},
            {"--security-opt", &f.security_opt}, {"-e", &f.env}, {"--ulimit", &f.ulimits}, {"--secret", &f.secrets},
            {"--allow-bind", &f.allow_bind}, {"--allow-connect", &f.allow_connect}, {"cmd", &f.command}};
        std::map<std::string, std::string*> scalars = {
            {"-u", &f.user}, {"--landlock", &f.landlock}, {"-m", &f.memory}, {"--memory-swap", &f.memory_swap},
            {"--memory-reservation", &f.memory_reservation}, {"--cpus", &f.cpus}, {"--cpu-shares", &f.cpu_shares},
            {"--pids-limit", &f.pids_limit}, {"--hostname", &f.hostname}, {"--network", &f.network},
            {"-w", &f.workdir}, {"--rootfs", &f.rootfs}, {"--read-write", &f.read_write}};
        if (auto it = lists.find(key); it != lists.end()) it->second->push_back(val);
        else if (auto s = scalars.find(key); s != scalars.end()) *s->second = val;
        else if (key == "--read-only") f.read_only_given = true;
        else if (key == "--init") f.init = true;
    }
    return f;
}

bool has_dot_component(const std::string& p) {
    std::size_t i = 0;
    while (i <= p.size()) {
        std::size_t j = p.find('/', i);
        if (j == std::string::npos) j = p.size();
        std::string_view c(p.data() + i, j - i);
        if (c == "." || c == ".." || (c.empty() && i != 0 && j != p.size())) return true;
        i = j + 1;
    }
    return false;
}

void check(const LaunchPlan& p, std::string_view input) {
    if (p.rootfs.empty() || p.rootfs.front() != '/' || p.rootfs == "/") fuzz::broken("rootfs", input);
    if (p.args.empty()) fuzz::broken("no command", input);
    auto depth = [](const std::string& d) { return std::count(d.begin(), d.end(), '/'); };
    for (std::size_t i = 0; i < p.mounts.size(); ++i) {
        const auto& m = p.mounts[i];
        if (m.destination.empty() || m.destination.front() != '/' || has_dot_component(m.destination))
            fuzz::broken("mount destination", input);
        if (i > 0 && depth(p.mounts[i - 1].destination) > depth(m.destination)) fuzz::broken("mount order", input);
        for (std::size_t j = i + 1; j < p.mounts.size(); ++j)
            if (p.mounts[j].destination == m.destination) fuzz::broken("two mounts at one place", input);
        // Landlock follows the plan: a read-only mount is never writable, a noexec one never executable
        std::uint64_t r = landlock::planned_rights(p, m.destination);
        if (m.kind == MountKind::Bind || m.kind == MountKind::Tmpfs) {
            if (m.readonly && (r & landlock::access::kWriteFile)) fuzz::broken("landlock: ro mount writable", input);
            if (m.noexec && (r & landlock::access::kExecute)) fuzz::broken("landlock: noexec mount executable", input);
        }
    }
    if (p.workdir.empty() || p.workdir.front() != '/' || p.workdir.starts_with("/proc"))
        fuzz::broken("workdir", input);
    if (!p.caps.bounding.empty() && p.warnings.empty()) fuzz::broken("caps added without a warning", input);
    if (p.landlock.mode == LandlockChoice::Mode::Off &&
        (!p.landlock.allow_bind.empty() || !p.landlock.allow_connect.empty()))
        fuzz::broken("ports without landlock", input);
    for (const auto& s : p.secrets)
        if (s.name.empty() || s.name.find('/') != std::string::npos || s.name == "." || s.name == "..")
            fuzz::broken("secret name", input);
    if ((p.landlock.mode == LandlockChoice::Mode::Off) != (std::find(p.warnings.begin(), p.warnings.end(),
                                                                      "landlock: turned off") != p.warnings.end()))
        fuzz::broken("landlock off not warned", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view all = fuzz::text(data, size);
    const uid_t invoker = (data[0] & 1) ? 1000 : 0;
    RunFlags f = flags_from(all.substr(1));
    LaunchPlan plan;
    if (fuzz::accepts([&] { plan = build_plan(f, invoker); }, all)) check(plan, all);
    return 0;
}
