// hardrun volume ls|inspect|rm: the named volumes (-v NAME:/path) under --volumes-dir, as docker volume shows them.
// A volume is in use while a sandbox has it mounted: some process's mount namespace has a bind mount of the volume's
// directory (or of one below it) in /proc/PID/mountinfo. rm refuses such a volume and removes the others without
// following a symlink the workload left in it (files::remove_tree).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "hardrun/cli/commands.hpp"
#include "hardrun/config/flags.hpp"
#include "hardrun/plan/parse.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/support/log.hpp"
#include "hardrun/support/procfs.hpp"

namespace hardrun::commands {

namespace {

std::string volumes_dir(const std::string& given) {
    std::string d = given.empty() ? volumes_dir_default(::geteuid()) : given;
    if (d.empty() || d.front() != '/')
        throw UsageError("--volumes-dir", "'" + d + "' is not an absolute path (set HOME or give --volumes-dir)");
    return d;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    return in ? std::string(std::istreambuf_iterator<char>(in), {}) : std::string();
}

// `path` (a directory) as its filesystem sees it: the root field a bind mount of it shows in mountinfo.
std::optional<std::string> path_in_its_filesystem(const std::string& path, const struct stat& st) {
    const procfs::MountInfo* best = nullptr;
    const auto mounts = procfs::parse_mountinfo(read_text("/proc/self/mountinfo"));
    for (const auto& m : mounts) {
        if (makedev(m.major, m.minor) != st.st_dev) continue;
        const bool below = m.mount_point == "/" || path == m.mount_point || path.starts_with(m.mount_point + "/");
        if (below && (!best || m.mount_point.size() >= best->mount_point.size())) best = &m;
    }
    if (!best) return std::nullopt;
    const std::string rest = best->mount_point == "/" ? path : path.substr(best->mount_point.size());
    if (best->root == "/") return rest.empty() ? "/" : rest;
    return best->root + rest;
}

// One process per mount namespace that has `path` (or a directory below it) mounted. Without root, only the
// invoker's own processes can be read.
std::vector<pid_t> users_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    const auto rel = path_in_its_filesystem(path, st);
    if (!rel) return {};
    std::vector<pid_t> out;
    std::set<std::string> namespaces;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        std::error_code lec;
        const std::string ns = std::filesystem::read_symlink(e.path() / "ns" / "mnt", lec).string();
        if (lec || !namespaces.insert(ns).second) continue;
        for (const auto& m : procfs::parse_mountinfo(read_text(e.path() / "mountinfo"))) {
            if (makedev(m.major, m.minor) != st.st_dev) continue;
            if (m.root == *rel || m.root.starts_with(*rel + "/")) {
                out.push_back(static_cast<pid_t>(std::stol(name)));
                break;
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string pids_text(const std::vector<pid_t>& pids) {
    std::string s;
    for (pid_t p : pids) s += (s.empty() ? "" : ", ") + std::to_string(p);
    return s;
}

// The volumes under dir: directories with a volume name, sorted. A missing dir has none.
std::vector<std::string> volume_names(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string n = e.path().filename();
        std::error_code sec;
        if (parse::volume_name(n) && e.is_directory(sec) && !e.is_symlink(sec)) out.push_back(n);
    }
    if (ec && ec != std::errc::no_such_file_or_directory) throw_errno("volume", dir, ec.value());
    std::sort(out.begin(), out.end());
    return out;
}

std::string checked_name(const std::string& name) {
    if (!parse::volume_name(name))
        throw UsageError("volume", "'" + name + "' is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
    return name;
}

std::string created_at(const std::string& path) {
    struct statx sx {};
    if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME | STATX_MTIME, &sx) != 0) return "";
    const auto secs = static_cast<std::time_t>((sx.stx_mask & STATX_BTIME) ? sx.stx_btime.tv_sec : sx.stx_mtime.tv_sec);
    std::tm tm {};
    ::gmtime_r(&secs, &tm);
    std::ostringstream os;
    os << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    return os.str();
}

// Removes one volume: refused while a sandbox has it mounted. It is renamed aside first, so a run starting now
// makes a new one, and checked again under the new name (a bind mount's root follows a rename).
void remove_volume(const std::string& dir, const std::string& name) {
    const std::string path = dir + "/" + name, object = "volume '" + name + "'";
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) throw Error("volume rm", object, "does not exist in " + dir + " (hardrun volume ls lists them)");
        throw_errno("volume rm", object, errno);
    }
    if (!S_ISDIR(st.st_mode)) throw Error("volume rm", object, path + " is not a directory; not a volume hardrun made");
    if (auto u = users_of(path); !u.empty())
        throw Error("volume rm", object, "is in use by a sandbox (pid " + pids_text(u) + "); stop it first");
    const std::string aside = dir + "/.removing-" + name + "-" + std::to_string(::getpid());
    if (::rename(path.c_str(), aside.c_str()) != 0) throw_errno("volume rm", object, errno, "renaming it aside");
    if (auto u = users_of(aside); !u.empty()) {
        (void)::rename(aside.c_str(), path.c_str());
        throw Error("volume rm", object, "is in use by a sandbox (pid " + pids_text(u) + "); stop it first");
    }
    try {
        files::remove_tree(aside, "volume rm");
    } catch (const Error&) {
        (void)::rename(aside.c_str(), path.c_str());  // what is left keeps its name
        throw;
    }
}

}  // namespace

void register_volume(CLI::App& app) {
    if (!wanted("volume")) return;
    CLI::App* vol = app.add_subcommand("volume", "Named volumes (-v NAME:/path): list, inspect, remove (like docker volume)");
    vol->require_subcommand(1);
    auto dir = std::make_shared<std::string>();
    vol->add_option("--volumes-dir", *dir,
                    "Directory of the named volumes (default /var/lib/hardrun/volumes; not root: ~/.local/share/hardrun/volumes)");

    auto quiet = std::make_shared<bool>(false);
    CLI::App* ls = vol->add_subcommand("ls", "List the named volumes (in use: by a running sandbox)");
    ls->alias("list");
    ls->add_flag("-q,--quiet", *quiet, "Only the names");
    ls->callback([dir, quiet] {
        const std::string d = volumes_dir(*dir);
        const auto names = volume_names(d);
        if (*quiet) {
            for (const auto& n : names) std::cout << n << "\n";
            return;
        }
        std::size_t w = std::string("VOLUME NAME").size();
        for (const auto& n : names) w = std::max(w, n.size());
        std::cout << std::left << std::setw(static_cast<int>(w) + 3) << "VOLUME NAME" << std::setw(static_cast<int>(d.size() + w) + 4)
                  << "MOUNTPOINT" << "IN USE\n";
        for (const auto& n : names) {
            const auto u = users_of(d + "/" + n);
            std::cout << std::setw(static_cast<int>(w) + 3) << n << std::setw(static_cast<int>(d.size() + w) + 4) << d + "/" + n
                      << (u.empty() ? "-" : "pid " + pids_text(u)) << "\n";
        }
    });

    auto names = std::make_shared<std::vector<std::string>>();
    CLI::App* inspect = vol->add_subcommand("inspect", "Print volumes as JSON (docker volume inspect's keys, and InUseBy)");
    inspect->add_option("name", *names, "Volume names")->required();
    inspect->callback([dir, names] {
        const std::string d = volumes_dir(*dir);
        nlohmann::ordered_json out = nlohmann::ordered_json::array();
        for (const auto& n : *names) {
            const std::string path = d + "/" + checked_name(n);
            struct stat st {};
            if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
                throw Error("volume inspect", "volume '" + n + "'", "does not exist in " + d + " (hardrun volume ls lists them)");
            out.push_back({{"CreatedAt", created_at(path)}, {"Driver", "local"}, {"Labels", nullptr},
                           {"Mountpoint", path}, {"Name", n}, {"Options", nullptr}, {"Scope", "local"},
                           {"InUseBy", users_of(path)}});
        }
        std::cout << out.dump(4) << "\n";
    });

    auto force = std::make_shared<bool>(false);
    auto rm_names = std::make_shared<std::vector<std::string>>();
    CLI::App* rm = vol->add_subcommand("rm", "Remove volumes and their data (refused while a sandbox uses one)");
    rm->alias("remove");
    rm->add_option("name", *rm_names, "Volume names")->required();
    rm->add_flag("-f,--force", *force, "A volume that does not exist is not an error (one in use is still refused)");
    rm->callback([dir, rm_names, force] {
        const std::string d = volumes_dir(*dir);
        bool failed = false;
        for (const auto& n : *rm_names) {
            try {
                checked_name(n);
                struct stat st {};
                if (*force && ::lstat((d + "/" + n).c_str(), &st) != 0 && errno == ENOENT) continue;
                remove_volume(d, n);
                std::cout << n << "\n";
            } catch (const Error& e) {
                log::error(e.what());
                failed = true;
            }
        }
        if (failed) throw Exit{kExitHardrunError};
    });
}

}  // namespace hardrun::commands
