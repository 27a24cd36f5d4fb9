// See filter_cache.hpp.
#include "hardrun/layers/seccomp/filter_cache.hpp"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "hardrun/support/error.hpp"
#include "hardrun/support/fd.hpp"
#include "hardrun/support/files.hpp"
#include "hardrun/layers/seccomp/seccomp.hpp"
#include "hardrun/layers/seccomp/seccomp_profile.hpp"

namespace hardrun::filter_cache {

namespace {

constexpr std::string_view kMagic = "hardrun filter cache 1\n";

// ---- byte strings: length-prefixed fields -------------------------------------------------------------
void put(std::string& out, std::string_view field) {
    const auto n = static_cast<std::uint64_t>(field.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out.append(field);
}
void put_u64(std::string& out, std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

struct Reader {
    std::string_view in;
    bool ok = true;
    std::string_view take(std::size_t n) {
        if (!ok || in.size() < n) {
            ok = false;
            return {};
        }
        std::string_view r = in.substr(0, n);
        in.remove_prefix(n);
        return r;
    }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        std::string_view b = take(sizeof v);
        if (ok) std::memcpy(&v, b.data(), sizeof v);
        return v;
    }
    std::string_view field() {
        std::uint64_t n = u64();
        return ok && n <= in.size() ? take(static_cast<std::size_t>(n)) : (ok = false, std::string_view{});
    }
};

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

// ---- files ----------------------------------------------------------------------------------------------
bool trusted(const struct stat& st, bool want_dir) {
    return st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 &&
           (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

// Creates the last two components if missing (0700); true when the directory can be trusted.
bool ensure_dir(const std::string& dir) {
    std::string parent = dir.substr(0, dir.rfind('/'));
    if (!parent.empty()) ::mkdir(parent.c_str(), 0700);
    ::mkdir(dir.c_str(), 0700);
    struct stat st {};
    return ::lstat(dir.c_str(), &st) == 0 && trusted(st, true);
}

std::string entry_path(const std::string& dir, const std::string& key) {
    char name[32];
    std::snprintf(name, sizeof name, "/%016llx", static_cast<unsigned long long>(fnv1a(key)));
    return dir + name;
}

bool read_file(const std::string& path, std::string& out, std::size_t* size_out) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd) return false;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !trusted(st, false) || st.st_size > (16 << 20)) return false;
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
    }
    if (size_out) *size_out = got;
    return true;
}

// ---- this build -----------------------------------------------------------------------------------------
int find_build_id(struct dl_phdr_info* info, size_t, void* data) {
    auto* out = static_cast<std::string*>(data);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_NOTE) continue;
        const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
        const char* end = p + ph.p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof *nh;
            const char* desc = name + ((nh->n_namesz + 3) & ~3U);
            if (desc + nh->n_descsz > end) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
                out->assign(desc, nh->n_descsz);
                return 1;
            }
            p = desc + ((nh->n_descsz + 3) & ~3U);
        }
    }
    return 1;  // only the first object: the executable itself
}

const std::string& build_id() {
    static const std::string id = [] {
        std::string s;
        ::dl_iterate_phdr(find_build_id, &s);
        return s;
    }();
    return id;
}

}  // namespace

std::string directory() {
    const char* off = std::getenv("HARDRUN_CACHE");
    if (off && (std::strcmp(off, "off") == 0 || std::strcmp(off, "0") == 0)) return "";
    if (const char* d = std::getenv("HARDRUN_CACHE_DIR"); d && d[0] == '/') return d;
    if (::geteuid() == 0) return "/run/hardrun/filter-cache";
    if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && x[0] == '/') return std::string(x) + "/hardrun/filter-cache";
    return "";
}

std::optional<std::string> load(const std::string& key) {
    const std::string dir = directory();
    if (dir.empty() || key.empty()) return std::nullopt;
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !trusted(st, true)) return std::nullopt;
    std::string data;
    if (!read_file(entry_path(dir, key), data, nullptr)) return std::nullopt;
    Reader r{data};
    if (r.take(kMagic.size()) != kMagic) return std::nullopt;
    std::string_view stored_key = r.field();
    std::string_view value = r.field();
    if (!r.ok || stored_key != key || !r.in.empty()) return std::nullopt;
    return std::string(value);
}

// Keeps the directory small: entries of other builds and edited profiles pile up, so past kMaxEntries the
// old ones go (a miss only costs one compile).
constexpr int kMaxEntries = 64;
void prune(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    if (names.size() < static_cast<std::size_t>(kMaxEntries)) return;
    for (const auto& n : names) ::unlink((dir + "/" + n).c_str());
}

void store(const std::string& key, const std::string& value) {
    const std::string dir = directory();
    if (dir.empty() || key.empty() || !ensure_dir(dir)) return;
    prune(dir);
    std::string data(kMagic);
    put(data, key);
    put(data, value);
    try {
        files::write_atomic(entry_path(dir, key), data, "seccomp filter cache", 0600);
    } catch (const Error&) {
        // best effort: a miss only costs one compile
    }
}

std::string seccomp_key(const LaunchPlan& plan, const seccomp::Target& target, const std::string& profile_path,
                        std::string_view profile_bytes) {
    if (build_id().empty() || !target.native || profile_bytes.size() > (8 << 20)) return "";
    std::string k;
    put(k, "seccomp enforce");
    put(k, HARDRUN_VERSION);
    put(k, build_id());
    const scmp_version* v = ::seccomp_version();
    put_u64(k, v ? (std::uint64_t{v->major} << 32 | std::uint64_t{v->minor} << 16 | v->micro) : 0);
    if (!plan.seccomp.inline_json.empty()) {
        put(k, "inline");
    } else {
        put(k, "file");
        put(k, profile_path);
    }
    put(k, profile_bytes);
    put(k, target.native->name);
    put_u64(k, target.caps.bits);
    put_u64(k, static_cast<std::uint64_t>(target.kernel.major) << 40 | static_cast<std::uint64_t>(target.kernel.minor) << 20 |
                   static_cast<std::uint64_t>(target.kernel.patch));
    std::string actions;
    for (seccomp::ActionKind a : target.available) actions += seccomp::action_kernel_name(a) + " ";
    put(k, actions);
    put_u64(k, target.strict ? 1 : 0);
    return k;
}

std::string encode(const seccomp::Prepared& p) {
    std::string v;
    put(v, std::string_view(reinterpret_cast<const char*>(p.enforce.data()), p.enforce.size() * sizeof(sock_filter)));
    put_u64(v, p.enosys_stub);
    put_u64(v, p.load_flags);
    put(v, p.description);
    put(v, p.listener_path);
    put(v, p.listener_metadata);
    put_u64(v, p.warnings.size());
    for (const auto& w : p.warnings) put(v, w);
    return v;
}

bool decode(const std::string& value, seccomp::Prepared& p) {
    Reader r{value};
    std::string_view prog = r.field();
    if (!r.ok || prog.empty() || prog.size() % sizeof(sock_filter) != 0 || prog.size() / sizeof(sock_filter) > BPF_MAXINSNS)
        return false;
    seccomp::Prepared out;
    out.mode = seccomp::Mode::Enforce;
    out.enforce.resize(prog.size() / sizeof(sock_filter));
    std::memcpy(out.enforce.data(), prog.data(), prog.size());
    out.enosys_stub = static_cast<std::size_t>(r.u64());
    out.load_flags = static_cast<unsigned>(r.u64());
    out.description = std::string(r.field());
    out.listener_path = std::string(r.field());
    out.listener_metadata = std::string(r.field());
    std::uint64_t nw = r.u64();
    for (std::uint64_t i = 0; r.ok && i < nw; ++i) out.warnings.emplace_back(r.field());
    if (!r.ok || !r.in.empty()) return false;
    out.program = out.enforce;
    p = std::move(out);
    return true;
}

}  // namespace hardrun::filter_cache
