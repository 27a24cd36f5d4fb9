// Messages to stderr: one line each; with syslog "<N>" priority prefixes when stderr is the journal.
#pragma once
#include <string>

namespace hardrun::log {

void error(const std::string& msg);
void warning(const std::string& msg);
void info(const std::string& msg);
void set_verbose(bool on);
bool verbose();

}  // namespace hardrun::log
