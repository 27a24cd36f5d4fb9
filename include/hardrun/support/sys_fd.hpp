// An fd closed through the Sys seam: under the recording fake the number is not a real fd, so the RAII
// closer must call Sys::close, never ::close (a UniqueFd would close whatever real fd has that number).
#pragma once
#include <utility>

#include "hardrun/support/sys.hpp"

namespace hardrun {

class SysFd {
public:
    SysFd(Sys& sys, int fd) : sys_(&sys), fd_(fd) {}
    SysFd(const SysFd&) = delete;
    SysFd& operator=(const SysFd&) = delete;
    SysFd(SysFd&& o) noexcept : sys_(o.sys_), fd_(std::exchange(o.fd_, -1)) {}
    SysFd& operator=(SysFd&& o) noexcept {
        if (this != &o) {
            if (fd_ >= 0) sys_->close(fd_);
            sys_ = o.sys_;
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~SysFd() {
        if (fd_ >= 0) sys_->close(fd_);
    }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    // gives up ownership (the caller closes it, or a call such as dup2 consumed it)
    int release() { return std::exchange(fd_, -1); }

private:
    Sys* sys_;
    int fd_;
};

}  // namespace hardrun
