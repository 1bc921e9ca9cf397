#include "scan/rate_limiter.h"

#include <gtest/gtest.h>

namespace gh {
namespace {

struct FakeClock {
  SteadyClock::time_point t{};
  RateLimiter::Now fn() {
    return [this] { return t; };
  }
};

TEST(RateLimiter, UnlimitedGrantsEverything) {
  RateLimiter r(0);
  EXPECT_EQ(r.grant(123456), 123456u);
  EXPECT_EQ(r.time_to_next().count(), 0);
}

TEST(RateLimiter, GrantsAtTheConfiguredRate) {
  FakeClock clock;
  RateLimiter r(1000, clock.fn());  // 1000 pps, burst 20
  uint64_t sent = r.grant(1'000'000);
  EXPECT_EQ(sent, 20u);  // initial burst
  for (int ms = 1; ms <= 1000; ++ms) {
    clock.t += std::chrono::milliseconds(1);
    sent += r.grant(1'000'000);
  }
  // One second at 1000 pps, plus the initial burst.
  EXPECT_GE(sent, 1015u);
  EXPECT_LE(sent, 1021u);
}

TEST(RateLimiter, BurstIsBoundedAfterAStall) {
  FakeClock clock;
  RateLimiter r(10'000, clock.fn());
  r.grant(1'000'000);
  clock.t += std::chrono::seconds(10);  // a long stall must not become a flood
  EXPECT_EQ(r.grant(1'000'000), 200u);
}

TEST(RateLimiter, ReportsTimeToNextToken) {
  FakeClock clock;
  RateLimiter r(50, clock.fn());  // one token per 20 ms, burst 1
  EXPECT_EQ(r.grant(5), 1u);
  auto wait = r.time_to_next();
  EXPECT_GT(wait, std::chrono::milliseconds(19));
  EXPECT_LE(wait, std::chrono::milliseconds(20));
  clock.t += std::chrono::milliseconds(20);
  EXPECT_EQ(r.time_to_next().count(), 0);
  EXPECT_EQ(r.grant(5), 1u);
}

TEST(RateLimiter, SetRateTakesEffect) {
  FakeClock clock;
  RateLimiter r(100, clock.fn());
  r.grant(100);
  r.set_rate(100'000);
  clock.t += std::chrono::milliseconds(10);
  EXPECT_EQ(r.grant(100'000), 1000u);
}

}  // namespace
}  // namespace gh
