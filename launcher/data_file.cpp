#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "hardrun/commands.hpp"
#include "hardrun/error.hpp"

namespace hardrun::commands {

std::string data_file(const std::string& relative) {
    std::string tried;
    auto exists = [](const std::string& p) { return ::access(p.c_str(), R_OK) == 0; };
    if (const char* d = std::getenv("HARDRUN_DATADIR")) {
        std::string p = std::string(d) + "/" + relative;
        if (exists(p)) return p;
        tried += p + ", ";
    }
    for (const std::string& base : {std::string("/etc/hardrun"), std::string(HARDRUN_INSTALL_DATADIR),
                                    std::string(HARDRUN_SOURCE_DIR) + "/profiles"}) {
        std::string p = base + "/" + relative;
        if (exists(p)) return p;
        tried += p + ", ";
    }
    throw Error("data", relative, "not found (looked in " + tried.substr(0, tried.size() - 2) + "); set HARDRUN_DATADIR");
}

}  // namespace hardrun::commands
