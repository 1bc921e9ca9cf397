#include "detect/bounded_table.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

namespace gh::detect {
namespace {

struct IdentityHash {  // deliberately weak, to make probe runs and wrap-around common
  size_t operator()(uint32_t k) const { return k; }
};
using Table = BoundedTable<uint32_t, int, IdentityHash>;

TEST(BoundedTable, FindsWhatWasInserted) {
  Table t(4);
  auto [v, fresh] = t.find_or_insert(7);
  EXPECT_TRUE(fresh);
  *v = 70;
  auto [v2, fresh2] = t.find_or_insert(7);
  EXPECT_FALSE(fresh2);
  EXPECT_EQ(*v2, 70);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.find(8), nullptr);
}

TEST(BoundedTable, EvictsTheLeastRecentlyUsed) {
  Table t(3);
  std::vector<uint32_t> evicted;
  auto note = [&](const uint32_t& k, int&) { evicted.push_back(k); };
  for (uint32_t k : {1u, 2u, 3u}) *t.find_or_insert(k, note).first = static_cast<int>(k);
  t.find_or_insert(1, note);  // 1 is now the most recent: 2 is the oldest
  t.find_or_insert(4, note);
  ASSERT_EQ(evicted, std::vector<uint32_t>{2});
  t.touch(3);  // order now (old -> new): 1, 4, 3
  t.find_or_insert(5, note);
  EXPECT_EQ(evicted, (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_NE(t.find(3), nullptr);
  EXPECT_NE(t.find(4), nullptr);
  EXPECT_NE(t.find(5), nullptr);
  EXPECT_EQ(*t.oldest_key(), 4u);
}

TEST(BoundedTable, ReusedSlotsStartFresh) {
  Table t(1);
  *t.find_or_insert(1).first = 42;
  auto [v, fresh] = t.find_or_insert(2);
  EXPECT_TRUE(fresh);
  EXPECT_EQ(*v, 0);
  EXPECT_TRUE(t.erase(2));
  EXPECT_FALSE(t.erase(2));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.oldest_key(), nullptr);
}

TEST(BoundedTable, MatchesAReferenceMapUnderRandomOperations) {
  // Keys collide on purpose (identity hash, small key range), exercising backward-shift deletion.
  constexpr size_t kCap = 64;
  Table t(kCap);
  std::unordered_map<uint32_t, int> ref;  // the entries that must be present
  std::vector<uint32_t> order;            // recency, oldest first
  std::mt19937 rng(12345);
  for (int step = 0; step < 200000; ++step) {
    uint32_t k = rng() % 300;
    int op = static_cast<int>(rng() % 3);
    auto bump = [&](uint32_t key) {
      order.erase(std::remove(order.begin(), order.end(), key), order.end());
      order.push_back(key);
    };
    if (op < 2) {
      uint32_t expect_victim = ref.size() == kCap && !ref.count(k) ? order.front() : UINT32_MAX;
      uint32_t victim = UINT32_MAX;
      auto [v, fresh] = t.find_or_insert(k, [&](const uint32_t& e, int&) { victim = e; });
      ASSERT_EQ(victim, expect_victim);
      if (victim != UINT32_MAX) {
        ref.erase(victim);
        order.erase(order.begin());
      }
      ASSERT_EQ(fresh, !ref.count(k));
      if (fresh) ref[k] = 0;
      ASSERT_EQ(*v, ref[k]);
      *v = ref[k] = step;
      bump(k);
    } else {
      ASSERT_EQ(t.erase(k), ref.erase(k) == 1);
      order.erase(std::remove(order.begin(), order.end(), k), order.end());
    }
    ASSERT_LE(t.size(), kCap);
    ASSERT_EQ(t.size(), ref.size());
  }
  for (auto [k, v] : ref) {
    int* p = t.find(k);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, v);
  }
}

TEST(BoundedTable, MaxBytesIsFixedByTheCapacity) {
  Table a(1000);
  size_t before = a.max_bytes();
  for (uint32_t k = 0; k < 100000; ++k) a.find_or_insert(k * 2654435761u);
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(a.max_bytes(), before);
}

}  // namespace
}  // namespace gh::detect
