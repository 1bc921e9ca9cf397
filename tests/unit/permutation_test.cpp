#include "targets/permutation.h"

#include <gtest/gtest.h>

#include <vector>

namespace gh {
namespace {

void expect_bijection(uint64_t n, uint64_t seed) {
  Permutation p(n, seed);
  std::vector<bool> seen(n, false);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t x = p.at(i);
    ASSERT_LT(x, n) << "n=" << n << " i=" << i;
    ASSERT_FALSE(seen[x]) << "n=" << n << " value " << x << " produced twice";
    seen[x] = true;
    ASSERT_EQ(p.inverse(x), i) << "n=" << n;
  }
}

TEST(Permutation, IsABijectionForManySizes) {
  for (uint64_t n : {1, 2, 3, 4, 5, 7, 16, 17, 100, 255, 256, 257, 1000, 65535, 65536, 99991})
    expect_bijection(n, 42);
}

TEST(Permutation, IsABijectionForManySeeds) {
  for (uint64_t seed = 0; seed < 50; ++seed) expect_bijection(1021, seed);
}

TEST(Permutation, IsStableForASeedAndDiffersAcrossSeeds) {
  Permutation a(1'000'000, 7), b(1'000'000, 7), c(1'000'000, 8);
  int differ = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(a.at(i), b.at(i));
    differ += a.at(i) != c.at(i);
  }
  EXPECT_GT(differ, 990);
}

TEST(Permutation, SpreadsConsecutiveProbes) {
  // 256 hosts x 1 port: consecutive probes should rarely hit neighbouring indices.
  Permutation p(65536, 1);
  int adjacent = 0;
  for (uint64_t i = 0; i + 1 < 65536; ++i) {
    uint64_t d = p.at(i) > p.at(i + 1) ? p.at(i) - p.at(i + 1) : p.at(i + 1) - p.at(i);
    adjacent += d <= 1;
  }
  EXPECT_LT(adjacent, 20);
}

TEST(Permutation, HandlesHugeDomainsWithoutMemory) {
  // The whole IPv4 space on every port: ~2^48 indices, computed not stored.
  const uint64_t n = (uint64_t{1} << 32) * 65535;
  Permutation p(n, 99);
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, n / 2, n - 1}) {
    uint64_t x = p.at(i);
    ASSERT_LT(x, n);
    EXPECT_EQ(p.inverse(x), i);
  }
}

}  // namespace
}  // namespace gh
