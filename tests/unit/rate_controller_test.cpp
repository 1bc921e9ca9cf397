#include "scan/rate_controller.h"

#include <gtest/gtest.h>

namespace gh {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  RateController::Clock::time_point t{};
  RateController::Now fn() {
    return [this] { return t; };
  }
};

TEST(RateController, StartsAtTheCeilingOrUnlimited) {
  FakeClock clock;
  EXPECT_EQ(RateController({.max_rate = 5000}, clock.fn()).rate(), 5000);
  EXPECT_EQ(RateController({}, clock.fn()).rate(), 0);
}

TEST(RateController, KernelDropsHalveTheAchievedRate) {
  FakeClock clock;
  RateController rc({.min_rate = 0, .max_rate = 100000}, clock.fn());
  rc.observe(0, 0, 0);
  clock.t += 100ms;
  rc.observe(8000, 5, 0);  // 80,000 pps achieved, and the kernel dropped replies
  EXPECT_DOUBLE_EQ(rc.rate(), 40000);
  EXPECT_EQ(rc.backoffs(), 1u);
  clock.t += 50ms;  // within a period: nothing changes
  rc.observe(10000, 9, 0);
  EXPECT_DOUBLE_EQ(rc.rate(), 40000);
}

TEST(RateController, SendStallsBackOffAndQuietPeriodsRecover) {
  FakeClock clock;
  RateController rc({.min_rate = 0, .max_rate = 100000}, clock.fn());
  rc.observe(0, 0, 0);
  clock.t += 100ms;
  rc.observe(6000, 0, 2);  // 60,000 pps, ENOBUFS twice
  EXPECT_DOUBLE_EQ(rc.rate(), 30000);
  uint64_t sent = 6000;
  for (int i = 0; i < 3; ++i) {
    clock.t += 100ms;
    sent += 3000;
    rc.observe(sent, 0, 2);
  }
  EXPECT_NEAR(rc.rate(), 30000 * 1.25 * 1.25 * 1.25, 1e-6);
  for (int i = 0; i < 20; ++i) {
    clock.t += 100ms;
    sent += 10000;
    rc.observe(sent, 0, 2);
  }
  EXPECT_DOUBLE_EQ(rc.rate(), 100000);  // back at the ceiling, never above it
}

TEST(RateController, NeverBelowTheFloor) {
  FakeClock clock;
  RateController rc({.min_rate = 20000, .max_rate = 0}, clock.fn());
  rc.observe(0, 0, 0);
  clock.t += 100ms;
  rc.observe(1000, 100, 0);  // 10,000 pps achieved with drops: half would be 5,000
  EXPECT_DOUBLE_EQ(rc.rate(), 20000);
}

TEST(RateController, UnlimitedStaysUnlimitedWithoutTrouble) {
  FakeClock clock;
  RateController rc({}, clock.fn());
  uint64_t sent = 0;
  rc.observe(sent, 0, 0);
  for (int i = 0; i < 10; ++i) {
    clock.t += 100ms;
    sent += 50000;
    rc.observe(sent, 0, 0);
  }
  EXPECT_EQ(rc.rate(), 0);
  EXPECT_EQ(rc.backoffs(), 0u);
}

// High loss that does not fall when the rate is halved is the network's: the rate comes back.
TEST(RateController, RandomLossRestoresTheRate) {
  FakeClock clock;
  RateController rc({.max_rate = 100000}, clock.fn());
  rc.end_pass(0.3);
  EXPECT_DOUBLE_EQ(rc.rate(), 50000);  // the test
  rc.end_pass(0.28);                   // no better at half the rate
  EXPECT_DOUBLE_EQ(rc.rate(), 100000);
  rc.end_pass(0.35);  // known to be random loss: no more cuts
  EXPECT_DOUBLE_EQ(rc.rate(), 100000);
}

// Loss that halves with the rate is congestion: the lower rate stays and keeps falling while
// loss stays high.
TEST(RateController, CongestionKeepsTheLowerRate) {
  FakeClock clock;
  RateController rc({.max_rate = 100000}, clock.fn());
  rc.end_pass(0.4);
  EXPECT_DOUBLE_EQ(rc.rate(), 50000);
  rc.end_pass(0.1);  // loss fell by more than half
  EXPECT_DOUBLE_EQ(rc.rate(), 50000);
  rc.end_pass(0.25);  // rising again
  EXPECT_DOUBLE_EQ(rc.rate(), 25000);
}

TEST(RateController, LowLossChangesNothing) {
  FakeClock clock;
  RateController rc({.max_rate = 100000}, clock.fn());
  rc.end_pass(0.05);
  rc.end_pass(0.1);
  EXPECT_DOUBLE_EQ(rc.rate(), 100000);
  EXPECT_EQ(rc.backoffs(), 0u);
}

// From an unlimited rate, the loss test halves what was achieved.
TEST(RateController, LossTestFromUnlimitedUsesTheAchievedRate) {
  FakeClock clock;
  RateController rc({}, clock.fn());
  rc.observe(0, 0, 0);
  clock.t += 100ms;
  rc.observe(30000, 0, 0);  // 300,000 pps
  rc.end_pass(0.5);
  EXPECT_DOUBLE_EQ(rc.rate(), 150000);
  rc.end_pass(0.5);
  EXPECT_EQ(rc.rate(), 0);  // random loss: unlimited again
}

}  // namespace
}  // namespace gh
