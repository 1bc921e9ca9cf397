// The option checks every command shares (cli/cli_checks.h): numbers CLI11 would let through
// (NaN, infinity) or report with DBL_MAX, and repeatable options that must not swallow the
// positional targets.
#include <gtest/gtest.h>

#include "cli/cli_checks.h"
#include "cli/scan_options.h"
#include "core/address.h"
#include "core/error.h"

namespace gh {
namespace {

ScanConfig parse(std::vector<std::string> args) {
  args.insert(args.begin(), "--no-db");
  return parse_scan_args(args, /*raw_allowed=*/true).config;
}

std::string usage_error(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

IpAddress addr(const char* text) {
  return *IpAddress::parse(text);
}

TEST(CliChecks, ExcludeTakesOneValueAndLeavesTheTargets) {
  // `--exclude A TARGETS`: A is excluded, the targets stay targets (CLI11's vector options
  // would take every following word).
  ScanConfig c = parse({"--exclude", "198.18.0.5", "198.18.0.4/30"});
  EXPECT_EQ(c.targets.size(), 3u);
  EXPECT_TRUE(c.targets.contains(addr("198.18.0.4")));
  EXPECT_FALSE(c.targets.contains(addr("198.18.0.5")));
  EXPECT_TRUE(c.targets.contains(addr("198.18.0.7")));
  // Repeated, and with a comma list.
  ScanConfig d =
      parse({"--exclude", "198.18.0.5,198.18.0.6", "--exclude", "198.18.0.7", "198.18.0.4/30"});
  EXPECT_EQ(d.targets.size(), 1u);
  EXPECT_TRUE(d.targets.contains(addr("198.18.0.4")));
}

TEST(CliChecks, RatesMustBeFiniteAndNotNegative) {
  for (const char* bad : {"nan", "-5", "inf", "1e400", "abc", "5pps"}) {
    std::string e = usage_error({"--max-rate", bad, "198.18.0.1"});
    EXPECT_NE(e.find("--max-rate"), std::string::npos) << bad << ": " << e;
    EXPECT_NE(e.find("is not a number of at least 0"), std::string::npos) << bad << ": " << e;
    EXPECT_EQ(e.find("1797"), std::string::npos) << e;  // no DBL_MAX in the message
    EXPECT_NE(usage_error({"--min-rate", bad, "198.18.0.1"}), "(no error)") << bad;
    EXPECT_NE(usage_error({"--max-host-rate", bad, "198.18.0.1"}), "(no error)") << bad;
  }
  ScanConfig c = parse({"--max-rate", "2500.5", "198.18.0.1"});
  EXPECT_DOUBLE_EQ(c.timing.max_rate, 2500.5);
}

TEST(CliChecks, CountsAreWholeNumbers) {
  EXPECT_NE(
      usage_error({"--top-ports", "0", "198.18.0.1"}).find("not a whole number of at least 1"),
      std::string::npos);
  EXPECT_NE(usage_error({"--top-ports", "2.5", "198.18.0.1"}), "(no error)");
  EXPECT_NE(usage_error({"--seed", "-1", "198.18.0.1"}).find("not a whole number of at least 0"),
            std::string::npos);
  EXPECT_EQ(parse({"--top-ports", "7", "198.18.0.1"}).ports.tcp.size(), 7u);
}

TEST(CliChecks, ValidatorsOnTheirOwn) {
  CLI::Validator v = finite_number(0.5, 2.0);
  for (std::string ok : {"0.5", "1", "2"}) EXPECT_EQ(v(ok), "") << ok;
  for (std::string bad : {"0.4", "2.01", "nan", "-inf", "", "1x"}) EXPECT_NE(v(bad), "") << bad;
  CLI::Validator w = whole_number(2, 10);
  for (std::string ok : {"2", "10"}) EXPECT_EQ(w(ok), "") << ok;
  for (std::string bad : {"1", "11", "-3", "3.0", "", "18446744073709551616"})
    EXPECT_NE(w(bad), "") << bad;
}

}  // namespace
}  // namespace gh
