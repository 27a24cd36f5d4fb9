#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "hardrun/support/data_file.hpp"
#include "hardrun/support/error.hpp"

namespace hardrun {

namespace {
// PREFIX/share/hardrun for a binary installed as PREFIX/bin/hardrun: a DESTDIR staging tree, an unpacked
// .deb or tarball, or a prefix other than the configured one still finds its own profiles.
std::string next_to_binary() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    std::string exe(buf, static_cast<std::size_t>(n));
    auto bin = exe.rfind('/');
    if (bin == std::string::npos || bin == 0) return {};
    auto prefix = exe.rfind('/', bin - 1);
    if (prefix == std::string::npos || exe.substr(prefix + 1, bin - prefix - 1) != "bin") return {};
    return exe.substr(0, prefix) + "/share/hardrun";
}
}  // namespace

std::string data_file(const std::string& relative) {
    std::string tried;
    auto exists = [](const std::string& p) { return ::access(p.c_str(), R_OK) == 0; };
    if (const char* d = std::getenv("HARDRUN_DATADIR")) {
        std::string p = std::string(d) + "/" + relative;
        if (exists(p)) return p;
        tried += p + ", ";
    }
    for (const std::string& base : {std::string("/etc/hardrun"), next_to_binary(), std::string(HARDRUN_INSTALL_DATADIR),
                                    std::string(HARDRUN_SOURCE_DIR) + "/profiles"}) {
        if (base.empty()) continue;
        std::string p = base + "/" + relative;
        if (exists(p)) return p;
        tried += p + ", ";
    }
    throw Error("data", relative, "not found (looked in " + tried.substr(0, tried.size() - 2) + "); set HARDRUN_DATADIR");
}

std::string exe_dir() {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    std::string p(buf, static_cast<std::size_t>(n));
    return p.substr(0, p.rfind('/'));
}

std::string shipped_binary(const std::vector<std::string>& candidates, const std::string& step, const std::string& what,
                           const std::string& name, const std::string& hint) {
    for (const auto& c : candidates) {
        struct stat st {};
        if (c.empty() || ::stat(c.c_str(), &st) != 0) continue;
        char real[PATH_MAX];
        if (!::realpath(c.c_str(), real)) continue;
        if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
            throw Error(step, what + " " + std::string(real), "not an executable file");
        if (st.st_mode & (S_IWGRP | S_IWOTH))
            throw Error(step, what + " " + std::string(real), "writable by group or others; refusing to run it");
        if (st.st_uid != 0 && st.st_uid != ::geteuid())
            throw Error(step, what + " " + std::string(real), "owned by uid " + std::to_string(st.st_uid) +
                                                                  ", neither root nor you; refusing to run it");
        return real;
    }
    std::string looked;
    for (const auto& c : candidates)
        if (!c.empty()) looked += (looked.empty() ? "" : ", ") + c;
    throw Error(step, what + " " + name, "not found (looked at " + looked + "); " + hint);
}

}  // namespace hardrun
