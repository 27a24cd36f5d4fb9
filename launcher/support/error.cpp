#include "hardrun/support/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>

#include "hardrun/support/fd.hpp"

namespace hardrun {

namespace {
std::string join_message(const std::string& step, const std::string& object, const std::string& cause) {
    std::string m = step;
    if (!object.empty()) m += (m.empty() ? "" : ": ") + object;
    if (!cause.empty()) m += (m.empty() ? "" : ": ") + cause;
    return m;
}
}  // namespace

Error::Error(std::string step, std::string object, std::string cause, int exit_code)
    : std::runtime_error(join_message(step, object, cause)),
      step_(std::move(step)),
      object_(std::move(object)),
      cause_(std::move(cause)),
      exit_code_(exit_code) {}

std::string errno_text(int err) {
    const char* name = strerrorname_np(err);
    std::string s = strerror(err);
    if (name) s += std::string(" (") + name + ")";
    return s;
}

void throw_errno(std::string step, std::string object, int err, std::string hint) {  // NOLINT(performance-unnecessary-value-param): the signature in error.hpp every module includes
    std::string cause = errno_text(err);
    if (!hint.empty()) cause += "; " + hint;
    throw Error(std::move(step), std::move(object), std::move(cause));
}

Pipe Pipe::make(const char* what) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("prepare", what, errno);
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace hardrun
