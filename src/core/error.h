// Errors and exit codes.
//
// Contract: anything the user typed or pointed us at (an option, a target spec, a port list, a
// file) that is wrong raises UsageError; main() prints its message on one line and exits 2.
// A failure while running (a socket we could not open, a file we could not write) raises
// RuntimeError; main() prints it and exits 1. Per-packet paths never throw: they count and drop.
#pragma once

#include <stdexcept>
#include <string>

namespace gh {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// RuntimeError carrying errno text: "what: strerror(errno)".
[[nodiscard]] RuntimeError system_error(int err, const std::string& what);

}  // namespace gh
