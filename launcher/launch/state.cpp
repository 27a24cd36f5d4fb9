#include "hardrun/launch/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hardrun/layers/cgroups/live.hpp"
#include "hardrun/support/error.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/support/json_text.hpp"
#include "hardrun/support/procfs.hpp"

namespace hardrun::state {

using json = nlohmann::json;

namespace {

json hooks_to_json(const std::vector<Hook>& list) {
    json a = json::array();
    for (const auto& h : list) {
        json o = {{"path", h.path}};
        if (!h.args.empty()) o["args"] = h.args;
        if (!h.env.empty()) o["env"] = h.env;
        if (h.timeout) o["timeout"] = *h.timeout;
        a.push_back(o);
    }
    return a;
}

std::vector<Hook> hooks_from_json(const json& a) {
    std::vector<Hook> out;
    if (!a.is_array()) return out;
    for (const auto& o : a) {
        Hook h;
        h.path = o.value("path", "");
        h.args = o.value("args", std::vector<std::string>{});
        h.env = o.value("env", std::vector<std::string>{});
        if (o.contains("timeout")) h.timeout = o["timeout"].get<int>();
        out.push_back(h);
    }
    return out;
}

json to_json(const Record& r) {
    return json{{"id", r.id},
                {"bundle", r.bundle},
                {"rootfs", r.rootfs},
                {"status", r.status},
                {"created", r.created},
                {"pid", r.process.pid},
                {"pid_start_time", r.process.start_time},
                {"creator_pid", r.creator.pid},
                {"creator_start_time", r.creator.start_time},
                {"owner", r.owner},
                {"cgroup_path", r.cgroup_path},
                {"systemd_unit", r.systemd_unit},
                {"annotations", r.annotations},
                {"foreground", r.foreground},
                {"config", r.config},
                {"hooks",
                 {{"startContainer", hooks_to_json(r.hooks.start_container)},
                  {"poststart", hooks_to_json(r.hooks.poststart)},
                  {"poststop", hooks_to_json(r.hooks.poststop)}}}};
}

Record from_json(const json& j) {
    Record r;
    r.id = j.value("id", "");
    r.bundle = j.value("bundle", "");
    r.rootfs = j.value("rootfs", "");
    r.status = j.value("status", "");
    r.created = j.value("created", "");
    r.process = {j.value("pid", 0), j.value("pid_start_time", 0ULL)};
    r.creator = {j.value("creator_pid", 0), j.value("creator_start_time", 0ULL)};
    r.owner = j.value("owner", 0U);
    r.cgroup_path = j.value("cgroup_path", "");
    r.systemd_unit = j.value("systemd_unit", "");
    r.annotations = j.value("annotations", std::map<std::string, std::string>{});
    r.foreground = j.value("foreground", false);
    r.config = j.value("config", "");
    if (j.contains("hooks")) {
        const json& h = j["hooks"];
        r.hooks.start_container = hooks_from_json(h.value("startContainer", json::array()));
        r.hooks.poststart = hooks_from_json(h.value("poststart", json::array()));
        r.hooks.poststop = hooks_from_json(h.value("poststop", json::array()));
    }
    return r;
}

[[noreturn]] void no_such(const std::string& id) {
    throw Error("", "container '" + id + "'", "does not exist");
}

}  // namespace

void validate_id(const std::string& id) {
    if (id.empty()) throw UsageError("container id", "is empty");
    if (id.size() > 1024) throw UsageError("container id", "is longer than 1024 characters");
    if (id == "." || id == ".." || id.find("..") != std::string::npos)
        throw UsageError("container id", "'" + id + "' contains '..'; ids may hold letters, digits, '_', '.', '+' and '-'");
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-'))
            throw UsageError("container id", "'" + id + "' contains '" + std::string(1, c) +
                                                 "'; ids may hold only letters, digits, '_', '.', '+' and '-'");
    if (id.front() == '.' || id.front() == '-') throw UsageError("container id", "'" + id + "' may not start with '.' or '-'");
}

std::optional<unsigned long long> start_time(pid_t pid) {
    auto st = procfs::read_stat(pid);
    if (!st || st->state == 'Z' || st->state == 'X' || st->state == 'x') return std::nullopt;
    return st->start_time;
}

bool alive(const ProcessId& p) {
    auto t = start_time(p.pid);
    return t && *t == p.start_time;
}

UniqueFd pin(const ProcessId& p) {
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, p.pid, 0)));
    if (!fd || !alive(p)) return {};
    return fd;
}

ProcessId identify(pid_t pid) {
    auto t = start_time(pid);
    if (!t) throw Error("state", "process " + std::to_string(pid), "is not running");
    return {pid, *t};
}

std::string now_rfc3339() {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
    std::tm tm {};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(ns));
    return std::string(buf) + frac;
}

Store::Store(std::string root) : root_(std::move(root)) {
    if (root_.empty() || root_.front() != '/') throw UsageError("--root", "'" + root_ + "' is not an absolute path");
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    // mkdir -p, the last component 0700
    std::string cur;
    std::size_t pos = 1;
    while (pos <= root_.size()) {
        auto next = root_.find('/', pos);
        if (next == std::string::npos) next = root_.size();
        cur = root_.substr(0, next);
        if (::mkdir(cur.c_str(), next == root_.size() ? 0700 : 0755) != 0 && errno != EEXIST)
            throw_errno("state", "creating the state root " + cur, errno);
        pos = next + 1;
    }
    struct stat st {};
    if (::lstat(root_.c_str(), &st) != 0) throw_errno("state", root_, errno);
    if (!S_ISDIR(st.st_mode)) throw Error("state", root_, "is not a directory");
    if (st.st_uid != ::geteuid() || (st.st_mode & 022))
        throw Error("state", root_, "must be a directory owned by uid " + std::to_string(::geteuid()) +
                                        " that no one else can write to (it is uid " + std::to_string(st.st_uid) + ", mode " +
                                        std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                                        std::to_string(st.st_mode & 7) + ")");
}

std::string default_root() {
    if (::geteuid() == 0) return kDefaultRoot;
    // like runc's $XDG_RUNTIME_DIR/runc: a directory only this user can create (pam_systemd makes it 0700)
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg == '/') return std::string(xdg) + "/hardrun";
    // /tmp is everyone's: another user may have made this name first (a directory of theirs, a symlink, one
    // readable by others). Use it only if it is a real directory of this uid that no one else can enter.
    const uid_t uid = ::geteuid();
    std::string dir = "/tmp/hardrun-" + std::to_string(uid);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("state", dir, errno);
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) throw_errno("state", dir, errno);
    std::string problem;
    if (S_ISLNK(st.st_mode)) problem = "is a symlink";
    else if (!S_ISDIR(st.st_mode)) problem = "is not a directory";
    else if (st.st_uid != uid) problem = "belongs to uid " + std::to_string(st.st_uid);
    else if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        problem = std::string("has mode ") + mode + ", not 0700";
    }
    if (!problem.empty())
        throw Error("state", dir,
                    problem + ": not a private state directory of uid " + std::to_string(uid) +
                        " (another user may have made it); set XDG_RUNTIME_DIR to your own runtime directory (e.g. "
                        "/run/user/" + std::to_string(uid) + ") or pass --root DIR, or remove it if it is yours");
    return dir;
}

Store::Lock Store::create(const std::string& id) {
    validate_id(id);
    const std::string d = dir(id);
    if (::mkdir(d.c_str(), 0700) != 0) {
        if (errno == EEXIST) throw Error("create", "container id '" + id + "'", "is already in use (" + d + " exists)");
        throw_errno("create", d, errno);
    }
    UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("state", d, errno);
    if (::flock(fd.get(), LOCK_EX) != 0) throw_errno("state", "locking " + d, errno);
    return Lock(std::move(fd));
}

Store::Lock Store::lock(const std::string& id, bool exclusive) const {
    validate_id(id);
    const std::string d = dir(id);
    UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) no_such(id);
        throw_errno("state", d, errno);
    }
    if (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) throw_errno("state", "locking " + d, errno);
    // the holder before us may have deleted it
    struct stat st {};
    if (::fstatat(fd.get(), "state.json", &st, 0) != 0) {
        if (errno == ENOENT) no_such(id);
        throw_errno("state", d + "/state.json", errno);
    }
    return Lock(std::move(fd));
}

bool Store::exists(const std::string& id) const {
    struct stat st {};
    return ::stat((dir(id) + "/state.json").c_str(), &st) == 0;
}

Record Store::read(const std::string& id) const {
    const std::string path = dir(id) + "/state.json";
    std::ifstream f(path);
    if (!f) {
        if (errno == ENOENT) no_such(id);
        throw_errno("state", path, errno);
    }
    std::stringstream text;
    text << f.rdbuf();
    const std::string hint = "; remove it with hardrun delete --force " + id;
    json doc;
    try {
        doc = parse_json(text.str(), "state", path, "is corrupt: not valid JSON");
    } catch (const Error& e) {
        throw Error("state", path, e.cause() + hint);
    }
    try {
        return from_json(doc);
    } catch (const json::exception& e) {
        throw Error("state", path, "is corrupt: " + json_error_text(e) + hint);
    }
}

void Store::write(const Record& r) const {
    // no fsync (files::Durable::No, as runc and crun): a state describes processes, which do not outlive a crash
    files::write_atomic(dir(r.id) + "/state.json", to_json(r).dump(2) + "\n", "state", 0600, files::Existing::Replace,
                        files::Durable::No);
}

void Store::remove(const std::string& id) const {
    validate_id(id);
    const std::string d = dir(id);
    if (DIR* dp = ::opendir(d.c_str())) {
        std::vector<std::string> names;
        while (dirent* e = ::readdir(dp)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") names.push_back(n);
        }
        ::closedir(dp);
        for (const auto& n : names)
            if (::unlink((d + "/" + n).c_str()) != 0 && errno != ENOENT) throw_errno("delete", d + "/" + n, errno);
    }
    if (::rmdir(d.c_str()) != 0 && errno != ENOENT) throw_errno("delete", d, errno);
}

std::vector<std::string> Store::list() const {
    std::vector<std::string> out;
    DIR* dp = ::opendir(root_.c_str());
    if (!dp) return out;
    while (dirent* e = ::readdir(dp)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        try {
            validate_id(n);
        } catch (const Error&) {
            continue;
        }
        if (exists(n)) out.push_back(n);
    }
    ::closedir(dp);
    std::sort(out.begin(), out.end());
    return out;
}

std::string Store::live_status(const Record& r) const {
    if (r.status == "creating") return alive(r.creator) ? "creating" : (alive(r.process) ? "created" : "stopped");
    if (!alive(r.process)) return "stopped";
    // a frozen cgroup (hardrun pause) is "paused", whether the container was created or running
    if (!r.cgroup_path.empty() && cgroups::frozen(r.cgroup_path).value_or(false)) return "paused";
    if (r.foreground) return "running";
    struct stat st {};
    return ::lstat(fifo_path(r.id).c_str(), &st) == 0 ? "created" : "running";
}

}  // namespace hardrun::state
