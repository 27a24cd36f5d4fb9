// Errors carry what hardrun was doing (step), on what (object) and why (cause).
#pragma once
#include <stdexcept>
#include <string>

namespace hardrun {

// docker/podman exit codes
inline constexpr int kExitHardrunError = 125;
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;

class Error : public std::runtime_error {
public:
    Error(std::string step, std::string object, std::string cause, int exit_code = kExitHardrunError);
    const std::string& step() const noexcept { return step_; }
    const std::string& object() const noexcept { return object_; }
    const std::string& cause() const noexcept { return cause_; }
    int exit_code() const noexcept { return exit_code_; }

private:
    std::string step_, object_, cause_;
    int exit_code_;
};

// A user-input problem found while parsing/validating (before any side effect).
// what() is the full one-line message, e.g. "--memory: '12q' is not a size; use e.g. 512m".
class UsageError : public Error {
public:
    UsageError(const std::string& option, const std::string& message)
        : Error("", option, message) {}
};

// Throws Error with cause = strerror(err).
[[noreturn]] void throw_errno(std::string step, std::string object, int err, std::string hint = {});
// The human text for an errno value, e.g. "Permission denied (EACCES)".
std::string errno_text(int err);

}  // namespace hardrun
