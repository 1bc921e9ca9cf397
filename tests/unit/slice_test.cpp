#include "targets/slice.h"

#include <gtest/gtest.h>

#include <vector>

#include "targets/permutation.h"

namespace gh {
namespace {

// Every position of [0, n) in exactly one of the `count` slices, and local() inverts position().
void expect_partition(uint64_t n, uint64_t count) {
  std::vector<int> owners(n, 0);
  uint64_t total = 0;
  for (uint64_t i = 0; i < count; ++i) {
    Slice s = Slice::shard(n, count, i);
    total += s.size();
    for (uint64_t k = 0; k < s.size(); ++k) {
      uint64_t p = s.position(k);
      ASSERT_LT(p, n);
      ++owners[p];
      ASSERT_EQ(s.local(p), k);
    }
  }
  EXPECT_EQ(total, n) << "n=" << n << " count=" << count;
  for (uint64_t p = 0; p < n; ++p) EXPECT_EQ(owners[p], 1) << "position " << p;
}

TEST(Slice, ShardsPartitionThePositions) {
  for (uint64_t n : {0u, 1u, 2u, 7u, 64u, 1000u, 65535u})
    for (uint64_t count : {1u, 2u, 3u, 5u, 8u, 13u}) expect_partition(n, count);
}

TEST(Slice, MoreShardsThanPositionsLeavesSomeEmpty) {
  EXPECT_EQ(Slice::shard(3, 5, 2).size(), 1u);
  EXPECT_EQ(Slice::shard(3, 5, 3).size(), 0u);
  EXPECT_EQ(Slice::shard(3, 5, 4).size(), 0u);
  EXPECT_FALSE(Slice::shard(3, 5, 4).local(4).has_value());
}

TEST(Slice, LocalRejectsOtherSlicesPositions) {
  Slice s = Slice::shard(100, 4, 1);
  EXPECT_EQ(s.local(1), 0u);
  EXPECT_EQ(s.local(97), 24u);
  EXPECT_FALSE(s.local(2).has_value());
  EXPECT_FALSE(s.local(101).has_value());
}

TEST(Slice, PartsOfAShardPartitionTheShard) {
  const uint64_t n = 10007;
  Slice shard = Slice::shard(n, 3, 2);
  std::vector<int> seen(n, 0);
  uint64_t total = 0;
  for (uint64_t t = 0; t < 4; ++t) {
    Slice part = shard.part(4, t);
    total += part.size();
    for (uint64_t k = 0; k < part.size(); ++k) {
      uint64_t p = part.position(k);
      ASSERT_TRUE(shard.local(p).has_value()) << p;
      EXPECT_EQ(*shard.local(p) % 4, t);
      ++seen[p];
    }
  }
  EXPECT_EQ(total, shard.size());
  for (uint64_t p = 0; p < n; ++p) EXPECT_EQ(seen[p], p % 3 == 2 ? 1 : 0) << p;
}

// The shards of one seeded permutation probe every space index exactly once between them.
TEST(Slice, ShardsOfAPermutationCoverTheSpaceOnce) {
  const uint64_t n = 50000;
  Permutation perm(n, 1234);
  std::vector<int> probed(n, 0);
  for (uint64_t i = 0; i < 7; ++i) {
    Slice s = Slice::shard(n, 7, i);
    for (uint64_t k = 0; k < s.size(); ++k) ++probed[perm.at(s.position(k))];
  }
  for (uint64_t x = 0; x < n; ++x) ASSERT_EQ(probed[x], 1) << x;
}

}  // namespace
}  // namespace gh
