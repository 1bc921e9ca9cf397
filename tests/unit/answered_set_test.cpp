#include "scan/answered_set.h"

#include <gtest/gtest.h>

#include <vector>

namespace gh {
namespace {

TEST(AnsweredSet, SetReportsFirstTimeOnly) {
  AnsweredSet s(130);
  EXPECT_TRUE(s.set(0));
  EXPECT_FALSE(s.set(0));
  EXPECT_TRUE(s.set(129));
  EXPECT_TRUE(s.test(129));
  EXPECT_FALSE(s.test(128));
  EXPECT_EQ(s.count(), 2u);
}

TEST(AnsweredSet, ForEachClearVisitsExactlyTheUnansweredInOrder) {
  AnsweredSet s(200);
  for (uint64_t i = 0; i < 200; ++i)
    if (i % 7 != 3) s.set(i);
  std::vector<uint64_t> clear;
  s.for_each_clear([&](uint64_t i) { clear.push_back(i); });
  std::vector<uint64_t> expected;
  for (uint64_t i = 3; i < 200; i += 7) expected.push_back(i);
  EXPECT_EQ(clear, expected);
}

TEST(AnsweredSet, ForEachClearStopsAtSize) {
  AnsweredSet s(65);  // the second word has 63 padding bits that must not be visited
  for (uint64_t i = 0; i < 64; ++i) s.set(i);
  std::vector<uint64_t> clear;
  s.for_each_clear([&](uint64_t i) { clear.push_back(i); });
  EXPECT_EQ(clear, std::vector<uint64_t>{64});
}

}  // namespace
}  // namespace gh
