// Default exclusions and the system exclude file.
#include "policy/exclusions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/error.h"

namespace gh {
namespace {

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a) ADD_FAILURE() << "bad test address " << text;
  return a.value_or(IpAddress{});
}

std::string temp_file(const std::string& contents) {
  char name[] = "/tmp/gh-exclude-test-XXXXXX";
  int fd = ::mkstemp(name);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(name) << contents;
  return name;
}

TEST(PolicyExclusions, DefaultsCoverWhatNoScanCanUse) {
  const TargetSet& d = default_exclusions();
  for (const char* a : {"0.0.0.0", "0.255.255.255", "224.0.0.1", "239.255.255.255", "240.0.0.0",
                        "255.255.255.255", "ff02::1", "ff0e::1"})
    EXPECT_TRUE(d.contains(ip(a))) << a;
  // Private, loopback, link-local and benchmarking ranges are scanned like any other.
  for (const char* a : {"1.0.0.0", "10.0.0.1", "127.0.0.1", "169.254.1.1", "172.16.0.1",
                        "192.168.1.1", "198.18.0.1", "198.19.255.255", "223.255.255.255", "::1",
                        "fe80::1", "fd00::1", "2001:db8::1", "feff:ffff::1"})
    EXPECT_FALSE(d.contains(ip(a))) << a;
}

TEST(PolicyExclusions, SubtractsAndCounts) {
  TargetSet t;
  for (const char* s :
       {"0.0.0.0/30", "10.0.0.1", "224.0.0.0/24", "255.255.255.255", "ff02::1", "2001:db8::1"})
    t.add_spec(s, nullptr);
  Exclusions ex = apply_exclusions(t, true, "");
  EXPECT_EQ(ex.default_skipped, u128{4 + 256 + 1 + 1});
  EXPECT_EQ(ex.system_skipped, 0u);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.contains(ip("10.0.0.1")));
  EXPECT_TRUE(t.contains(ip("2001:db8::1")));
  EXPECT_TRUE(ex.never.contains(ip("224.0.0.5")));
  EXPECT_TRUE(ex.system_file.empty());
}

TEST(PolicyExclusions, DefaultsCanBeTurnedOff) {
  TargetSet t;
  t.add_spec("224.0.0.1", nullptr);
  Exclusions ex = apply_exclusions(t, false, "");
  EXPECT_EQ(ex.default_skipped, 0u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(ex.never.contains(ip("224.0.0.1")));
}

TEST(PolicyExclusions, SystemFileIsAppliedWhenPresent) {
  std::string path = temp_file(
      "# ranges the network team never wants probed\n"
      "198.18.0.0/30   # the lab router\n"
      "\n"
      "198.18.1.5-198.18.1.6\n"
      "2001:db8::/127\n");
  TargetSet t;
  t.add_spec("198.18.0.0/24", nullptr);
  t.add_spec("198.18.1.0/29", nullptr);
  t.add_spec("2001:db8::/126", nullptr);
  t.add_spec("224.0.0.1", nullptr);
  Exclusions ex = apply_exclusions(t, true, path);
  EXPECT_EQ(ex.system_file, path);
  EXPECT_EQ(ex.default_skipped, 1u);
  EXPECT_EQ(ex.system_skipped, 4u + 2u + 2u);
  EXPECT_FALSE(t.contains(ip("198.18.0.3")));
  EXPECT_TRUE(t.contains(ip("198.18.0.4")));
  EXPECT_FALSE(t.contains(ip("198.18.1.6")));
  EXPECT_TRUE(t.contains(ip("2001:db8::2")));
  EXPECT_TRUE(ex.never.contains(ip("2001:db8::1")));
  std::remove(path.c_str());
}

TEST(PolicyExclusions, MissingSystemFileIsFine) {
  EXPECT_FALSE(load_exclude_file("/nonexistent/glasshouse/exclude.conf").has_value());
  TargetSet t;
  t.add_spec("198.18.0.1", nullptr);
  Exclusions ex = apply_exclusions(t, true, "/nonexistent/glasshouse/exclude.conf");
  EXPECT_TRUE(ex.system_file.empty());
  EXPECT_EQ(t.size(), 1u);
}

TEST(PolicyExclusions, MalformedSystemFileNamesTheLine) {
  std::string path = temp_file("198.18.0.0/30\n# fine\n198.18.0.0/99\n");
  try {
    load_exclude_file(path);
    ADD_FAILURE() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3:"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
  // Host names are not looked up: an exclude file must not depend on DNS.
  path = temp_file("router.example\n");
  EXPECT_THROW(load_exclude_file(path), UsageError);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace gh
