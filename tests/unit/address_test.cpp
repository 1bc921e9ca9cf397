#include "core/address.h"

#include <gtest/gtest.h>

namespace gh {
namespace {

TEST(IpAddress, ParsesAndPrintsV4) {
  auto a = IpAddress::parse("198.18.0.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->v4_value(), 0xC6120001u);
  EXPECT_EQ(a->to_string(), "198.18.0.1");
}

TEST(IpAddress, ParsesAndPrintsV6) {
  auto a = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v6());
  EXPECT_EQ(static_cast<uint64_t>(a->value), 1u);
  EXPECT_EQ(static_cast<uint64_t>(a->value >> 96), 0x20010db8u);
  EXPECT_EQ(a->to_string(), "2001:db8::1");
}

TEST(IpAddress, RejectsMalformed) {
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "1.2.3.4.5", "01.2.3.4x", "2001:db8:::1", "abc",
                          "1.2.3.4/24", "::g"})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
}

TEST(IpAddress, OrdersV4BeforeV6) {
  EXPECT_LT(*IpAddress::parse("255.255.255.255"), *IpAddress::parse("::"));
  EXPECT_LT(*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"));
}

}  // namespace
}  // namespace gh
