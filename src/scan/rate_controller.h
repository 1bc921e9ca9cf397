// The adaptive send rate of the stateless SYN engine: start fast, back off when loss rises.
//
// nmap adapts a congestion window per probe it keeps state for; a stateless engine has no
// per-probe state, so it watches aggregate signals instead, on two time scales:
//
//  1. Every `period` (100 ms): our own overload. Replies the kernel dropped before the receive
//     thread read them (PACKET_STATISTICS) and sends refused because the device queue was full
//     (ENOBUFS). Either means we send faster than this machine can handle: the rate is cut to
//     half of what was actually achieved over the period. A period without either raises the
//     rate by a quarter, up to the ceiling (--max-rate, or unlimited).
//  2. At the end of each retry pass: the network's loss, q (scan/completeness.h). Random loss
//     (a lossy link) does not depend on our rate, congestion loss does. When q is high (above
//     `loss_threshold`) the next pass runs at half the rate, as a test; if q then falls by half
//     or more, the loss was ours (congestion): the lower rate stays, and halves again while q
//     stays high. If it does not fall, the loss is the network's: the rate goes back up, and is
//     not cut again for loss (slowing down would only lose time).
//
// The floor is --min-rate (never below it), the ceiling --max-rate; rate() == 0 means unlimited.
// The clock is injected so that tests drive time by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace gh {

class RateController {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;
  struct Options {
    double min_rate = 0;  // pps floor, 0 = none
    double max_rate = 0;  // pps ceiling, 0 = unlimited
    std::chrono::milliseconds period{100};
    double loss_threshold = 0.2;
  };
  explicit RateController(Options opts, Now now = &Clock::now);

  // Cumulative counters, fed by the send thread as often as it likes; acts once per period.
  // `sent`: probes sent; `drops`: replies the kernel dropped; `stalls`: sends refused (ENOBUFS).
  void observe(uint64_t sent, uint64_t drops, uint64_t stalls);
  // The loss measured over the retry pass that just ended.
  void end_pass(double loss);

  // Packets per second to aim at; 0 = unlimited.
  double rate() const { return rate_; }
  // Probes per second actually sent over the last period.
  double achieved() const { return achieved_; }
  uint64_t backoffs() const { return backoffs_; }

 private:
  double clamp(double r) const;
  Options opts_;
  Now now_;
  double rate_;
  Clock::time_point period_start_;
  uint64_t sent0_ = 0, drops0_ = 0, stalls0_ = 0;
  bool primed_ = false;
  uint64_t backoffs_ = 0;
  double achieved_ = 0;  // pps over the last full period
  // The loss test of (2).
  enum class LossTest { None, Testing, Congestion, RandomLoss } test_ = LossTest::None;
  double rate_before_test_ = 0;
  double loss_before_test_ = 0;
};

}  // namespace gh
