#include "output/reverse_dns.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace gh {
namespace {

std::atomic<int> g_calls{0};

std::string fake_lookup(const IpAddress& a) {
  ++g_calls;
  if (a == *IpAddress::parse("10.1.2.3")) return "db.internal.example";
  if (a == *IpAddress::parse("10.9.9.9")) {
    std::this_thread::sleep_for(std::chrono::seconds(3));  // a resolver that hangs
    return "late.example";
  }
  return {};
}

TEST(ReverseDns, NeverQueriesRangesWithoutPublicReverseZones) {
  for (const char* a :
       {"198.18.0.2", "198.19.255.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "224.0.0.1",
        "255.255.255.255", "0.1.2.3", "169.254.1.1", "2001:db8::1", "ff02::1", "fe80::1", "::"})
    EXPECT_FALSE(reverse_lookup_useful(*IpAddress::parse(a))) << a;
  for (const char* a : {"10.0.0.1", "192.168.1.1", "8.8.4.4", "2a00:1450::1"})
    EXPECT_TRUE(reverse_lookup_useful(*IpAddress::parse(a))) << a;
}

TEST(ReverseDns, NamesLoopbackWithoutAskingAndSkipsLabRanges) {
  g_calls = 0;
  ReverseNames names;
  names.resolve({*IpAddress::parse("127.0.0.1"), *IpAddress::parse("::1"),
                 *IpAddress::parse("198.18.0.2"), *IpAddress::parse("10.1.2.3")},
                std::chrono::milliseconds(2000), &fake_lookup);
  EXPECT_EQ(names.name(*IpAddress::parse("127.0.0.1")), "localhost");
  EXPECT_EQ(names.name(*IpAddress::parse("::1")), "localhost");
  EXPECT_EQ(names.name(*IpAddress::parse("198.18.0.2")), "");
  EXPECT_EQ(names.name(*IpAddress::parse("10.1.2.3")), "db.internal.example");
  EXPECT_EQ(g_calls.load(), 1);  // only 10.1.2.3 was looked up
}

TEST(ReverseDns, AHangingResolverDoesNotHoldTheReport) {
  ReverseNames names;
  auto start = std::chrono::steady_clock::now();
  names.resolve({*IpAddress::parse("10.9.9.9"), *IpAddress::parse("10.1.2.3")},
                std::chrono::milliseconds(300), &fake_lookup);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_LT(waited, std::chrono::seconds(2));
  EXPECT_EQ(names.name(*IpAddress::parse("10.9.9.9")), "");
  EXPECT_EQ(names.name(*IpAddress::parse("10.1.2.3")), "db.internal.example");
}

}  // namespace
}  // namespace gh
