// Batch throttle: how many probes the sender may send now, at a target rate in packets/second.
//
// The sender asks `grant(want)` before each batch and sends what it is granted; when granted 0 it
// calls `wait()` (sleeps until the next probe is due). A token bucket refilled from an injected
// clock, so tests drive time by hand (masscan's main-throttle.c idea, in a component of its own).
// Burst is bounded to ~1/50 s of tokens so a stall never turns into a flood. rate <= 0 = unlimited.
// Not thread-safe: each send thread owns one, with rate / threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace gh {

using SteadyClock = std::chrono::steady_clock;

class RateLimiter {
 public:
  using Now = std::function<SteadyClock::time_point()>;
  explicit RateLimiter(double rate_pps, Now now = &SteadyClock::now);

  // Returns how many of `want` probes may be sent now (0..want) and consumes those tokens.
  uint64_t grant(uint64_t want);
  // How long until at least one token is available (zero if now).
  std::chrono::nanoseconds time_to_next() const;
  // Sleeps for time_to_next() (real clock; tests use grant/time_to_next with a fake clock).
  void wait() const;
  // Changes the rate from now on (the adaptive controller calls this).
  void set_rate(double rate_pps);
  double rate() const { return rate_; }

 private:
  void refill();
  double rate_;
  double tokens_ = 0;
  double burst_ = 1;
  Now now_;
  SteadyClock::time_point last_;
};

}  // namespace gh
