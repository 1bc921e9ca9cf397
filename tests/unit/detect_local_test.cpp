// Local-network discovery over rtnetlink, in the test's own network namespace (read-only).
#include "detect/local_discovery.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace gh::detect {
namespace {

TEST(LocalDiscovery, LoopbackCaptureProtectsTheLoopbackAddresses) {
  LocalView v = discover_local("lo");
  EXPECT_TRUE(v.local.contains(*IpAddress::parse("127.0.0.1"))) << v.local.to_string();
  EXPECT_FALSE(v.local.contains(*IpAddress::parse("198.51.100.7"))) << v.local.to_string();
}

TEST(LocalDiscovery, UnknownInterfaceIsAUsageError) {
  EXPECT_THROW(discover_local("gh-no-such-if0"), UsageError);
}

}  // namespace
}  // namespace gh::detect
