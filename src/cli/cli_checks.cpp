#include "cli/cli_checks.h"

#include <fmt/format.h>
#include <charconv>
#include <cmath>
#include <limits>

namespace gh {

CLI::Validator finite_number(double lo, double hi) {
  std::string want = std::isinf(hi) ? fmt::format("a number of at least {}", lo)
                                    : fmt::format("a number from {} to {}", lo, hi);
  return CLI::Validator(
      [lo, hi, want](std::string& text) -> std::string {
        double v = 0;
        const char* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (ec != std::errc() || ptr != end || !std::isfinite(v) || v < lo || v > hi)
          return fmt::format("\"{}\" is not {}", text, want);
        return {};
      },
      want);
}

CLI::Validator whole_number(uint64_t lo, uint64_t hi) {
  std::string want = hi == std::numeric_limits<uint64_t>::max()
                         ? fmt::format("a whole number of at least {}", lo)
                         : fmt::format("a whole number from {} to {}", lo, hi);
  return CLI::Validator(
      [lo, hi, want](std::string& text) -> std::string {
        uint64_t v = 0;
        const char* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (ec != std::errc() || ptr != end || v < lo || v > hi)
          return fmt::format("\"{}\" is not {}", text, want);
        return {};
      },
      want);
}

CLI::Option* one_value_per_use(CLI::Option* option) {
  return option->expected(1)->allow_extra_args(false)->multi_option_policy(
      CLI::MultiOptionPolicy::TakeAll);
}

}  // namespace gh
