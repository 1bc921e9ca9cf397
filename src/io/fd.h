// A move-only owner of one file descriptor (STYLE habit 10).
//
// Contract: a FileDescriptor either holds nothing (get() == -1) or is the only owner of an open
// descriptor, which its destructor closes. Copying is not possible; moving transfers ownership and
// leaves the source empty. release() gives the descriptor back to the caller, who then owns it.
// The destructor never throws and ignores close() errors (there is nothing useful to do with them
// during unwinding); call close() explicitly where a failed close matters.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/error.h"

namespace gh {

class FileDescriptor {
 public:
  FileDescriptor() noexcept = default;
  // Takes ownership of `fd` (which may be -1 for "nothing").
  explicit FileDescriptor(int fd) noexcept : fd_(fd < 0 ? -1 : fd) {}
  ~FileDescriptor() { reset(); }

  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Stops owning the descriptor and returns it (-1 if empty). The caller must close it.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  // Closes the current descriptor (if any, ignoring errors) and takes ownership of `fd`.
  void reset(int fd = -1) noexcept {
    int old = std::exchange(fd_, fd < 0 ? -1 : fd);
    // On Linux the descriptor is gone even when close() fails with EINTR: never retry.
    if (old >= 0) ::close(old);
  }

  // Closes the descriptor and reports a failure as RuntimeError. Empty afterwards in every case.
  void close() {
    int old = release();
    if (old >= 0 && ::close(old) != 0 && errno != EINTR) throw system_error(errno, "close");
  }

 private:
  int fd_ = -1;
};

}  // namespace gh
