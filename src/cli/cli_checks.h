// Checks shared by every command's options, where CLI11's own fall short:
//   * its number validators let "nan" through (every comparison with NaN is false) and print
//     DBL_MAX in their message ("not in range 0.000000 to 1797...");
//   * an option bound to a vector takes every following word until the next option, so
//     `glasshouse scan --exclude 198.18.0.5 198.18.0.0/24` would swallow the targets.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace gh {

// A finite number in [lo, hi] (hi may be +infinity: "lo or more"). The message says which.
CLI::Validator finite_number(double lo, double hi);
// A rate in packets per second: a finite number >= 0.
inline CLI::Validator packet_rate() {
  return finite_number(0.0, std::numeric_limits<double>::infinity());
}

// A whole number of at least `lo` (and at most `hi`), for counts and thresholds.
CLI::Validator whole_number(uint64_t lo, uint64_t hi = std::numeric_limits<uint64_t>::max());

// An option that may be repeated takes exactly one value each time it is given (a comma list
// where the option allows one): `--exclude A B` leaves B to the positional arguments.
CLI::Option* one_value_per_use(CLI::Option* option);

}  // namespace gh
