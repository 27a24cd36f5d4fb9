#include "hardrun/support/log.hpp"

#include "hardrun/support/number.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hardrun::log {

namespace {
bool g_verbose = false;

// systemd sets JOURNAL_STREAM=DEV:INODE when stderr is connected to the journal.
bool stderr_is_journal() {
    static const bool is = [] {
        const char* js = std::getenv("JOURNAL_STREAM");
        if (!js) return false;
        const std::string_view text(js);
        const auto colon = text.find(':');
        if (colon == std::string_view::npos) return false;
        const auto dev = parse::number<unsigned long long>(text.substr(0, colon));
        const auto ino = parse::number<unsigned long long>(text.substr(colon + 1));
        if (!dev || !ino) return false;
        struct stat st {};
        if (fstat(STDERR_FILENO, &st) != 0) return false;
        return st.st_dev == *dev && st.st_ino == *ino;
    }();
    return is;
}

void emit(int priority, const char* label, const std::string& msg) {
    std::string line;
    if (stderr_is_journal()) line = "<" + std::to_string(priority) + ">";
    line += "hardrun: ";
    if (label) line += label;
    line += msg;
    line += '\n';
    // one write so concurrent launches do not interleave lines
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}
}  // namespace

void error(const std::string& msg) { emit(3, nullptr, msg); }
void warning(const std::string& msg) { emit(4, "warning: ", msg); }
void info(const std::string& msg) { emit(6, nullptr, msg); }
void set_verbose(bool on) { g_verbose = on; }
bool verbose() { return g_verbose; }

}  // namespace hardrun::log
