#include "scan/retry_tracking.h"

#include <gtest/gtest.h>

#include "scan/answered_set.h"

namespace gh {
namespace {

using namespace std::chrono_literals;
using Time = std::chrono::steady_clock::time_point;

TEST(RttSampler, SamplesOnePositionInSixteen) {
  EXPECT_TRUE(RttSampler::sampled(0));
  EXPECT_TRUE(RttSampler::sampled(32));
  EXPECT_FALSE(RttSampler::sampled(33));
}

TEST(RttSampler, WaitFollowsTheMeasuredRtt) {
  RttSampler r;
  Time t0{};
  for (uint64_t k = 0; k < 16 * 100; k += 16) {
    r.sent(k, t0 + std::chrono::microseconds(k));
    r.replied(k, t0 + std::chrono::microseconds(k) + 1ms);  // 1 ms round trips
  }
  EXPECT_EQ(r.samples(), 100u);
  // max(srtt + 4 rttvar, 2 x slowest) + 5 ms = max(~1 ms, 2 ms) + 5 ms, floor 10 ms.
  EXPECT_EQ(r.straggler_wait(1000ms), 10ms);
  r.sent(16 * 200, t0);
  r.replied(16 * 200, t0 + 40ms);  // one slow reply in this pass
  EXPECT_GE(r.straggler_wait(1000ms), 85ms);
  EXPECT_LE(r.straggler_wait(1000ms), 100ms);
  EXPECT_EQ(r.straggler_wait(50ms), 50ms);  // never beyond the cap
  r.new_pass();                             // the slow reply belonged to the last pass
  EXPECT_LT(r.straggler_wait(1000ms), 85ms);
}

TEST(RttSampler, IgnoresRepliesToOverwrittenOrUnsampledSlots) {
  RttSampler r;
  Time t0{};
  r.sent(0, t0);
  r.sent(16 * 1024, t0 + 1s);        // same slot, later probe: position 0's entry is gone
  r.replied(0, t0 + 2s);             // not counted
  r.replied(16 * 1024, t0 + 999ms);  // before it was sent: not counted
  EXPECT_EQ(r.samples(), 0u);
}

TEST(HostAnswers, CountsPortsPerHostUpToThree) {
  HostAnswers h(100);
  EXPECT_EQ(h.get(7), 0u);
  h.add(7);
  h.add(99);
  h.add(99);
  for (int i = 0; i < 5; ++i) h.add(31);  // saturates at 3
  h.add(32);                              // the next word's first host is independent
  EXPECT_EQ(h.get(7), 1u);
  EXPECT_EQ(h.get(99), 2u);
  EXPECT_EQ(h.get(31), 3u);
  EXPECT_EQ(h.get(32), 1u);
  EXPECT_EQ(h.get(30), 0u);
  EXPECT_EQ(h.by_count(), (std::array<uint64_t, 3>{2, 1, 1}));
}

// The retry set of a pass is exactly the positions without a verdict; restoring the bitmap of a
// checkpoint gives the same set.
TEST(RetryTracking, RetriesOnlyWhatIsUnansweredAndSurvivesRestore) {
  AnsweredSet a(1000);
  for (uint64_t k = 0; k < 1000; k += 3) a.set(k);
  std::vector<uint64_t> todo;
  a.for_each_clear([&](uint64_t k) { todo.push_back(k); });
  EXPECT_EQ(todo.size(), 1000u - 334u);
  for (uint64_t k : todo) EXPECT_NE(k % 3, 0u);
  AnsweredSet b(1000, a.words());
  EXPECT_EQ(b.count(), a.count());
  std::vector<uint64_t> again;
  b.for_each_clear([&](uint64_t k) { again.push_back(k); });
  EXPECT_EQ(again, todo);
  std::vector<uint64_t> bad = a.words();
  bad.back() |= uint64_t{1} << 63;  // bit 1023: beyond the 1000 positions
  EXPECT_THROW(AnsweredSet(1000, bad), std::invalid_argument);
  EXPECT_THROW(AnsweredSet(2000, a.words()), std::invalid_argument);
}

}  // namespace
}  // namespace gh
