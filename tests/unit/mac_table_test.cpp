// The on-link MAC table the discovery stage fills and the raw transport reads (scan/mac_table.h).
#include "scan/mac_table.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace gh {
namespace {

TEST(MacTable, PutFindUpdate) {
  MacTable t;
  IpAddress a = *IpAddress::parse("198.18.0.7"), b = *IpAddress::parse("2001:db8::7");
  EXPECT_FALSE(t.find(a));
  t.put(a, {2, 0, 0, 0, 0, 7});
  t.put(b, {2, 0, 0, 0, 0, 8});
  ASSERT_TRUE(t.find(a));
  EXPECT_EQ(*t.find(a), (MacAddress{2, 0, 0, 0, 0, 7}));
  EXPECT_EQ(*t.find(b), (MacAddress{2, 0, 0, 0, 0, 8}));
  EXPECT_FALSE(t.find(*IpAddress::parse("198.18.0.8")));
  t.put(a, {2, 0, 0, 0, 0, 9});
  EXPECT_EQ(*t.find(a), (MacAddress{2, 0, 0, 0, 0, 9}));
  EXPECT_EQ(t.size(), 2u);
}

TEST(MacTable, ConcurrentWritersAndReaders) {
  MacTable t;
  constexpr uint32_t kHosts = 4096;
  std::thread writer([&] {
    for (uint32_t i = 0; i < kHosts; ++i)
      t.put(IpAddress::v4(0xc6120000u + i),
            {2, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)});
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      for (uint32_t i = 0; i < kHosts; ++i) {
        auto m = t.find(IpAddress::v4(0xc6120000u + i));
        if (m) {
          EXPECT_EQ((*m)[5], static_cast<uint8_t>(i));
        }
      }
    });
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(t.size(), kHosts);
}

}  // namespace
}  // namespace gh
