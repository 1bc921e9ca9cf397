#include "scan/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace gh {

RateLimiter::RateLimiter(double rate_pps, Now now) : now_(std::move(now)), last_(now_()) {
  set_rate(rate_pps);
  tokens_ = burst_;  // allow the first batch at once
}

void RateLimiter::set_rate(double rate_pps) {
  refill();
  rate_ = rate_pps;
  // At most ~20 ms worth of probes in one burst, and at least one probe.
  burst_ = rate_ > 0 ? std::max(1.0, rate_ / 50.0) : 0;
  tokens_ = std::min(tokens_, burst_);
}

void RateLimiter::refill() {
  auto now = now_();
  if (rate_ > 0 && now > last_) {
    std::chrono::duration<double> dt = now - last_;
    tokens_ = std::min(burst_, tokens_ + dt.count() * rate_);
  }
  last_ = now;
}

uint64_t RateLimiter::grant(uint64_t want) {
  if (rate_ <= 0) return want;
  refill();
  // The epsilon absorbs floating-point error, so exactly-due tokens are granted.
  auto whole = static_cast<uint64_t>(tokens_ + 1e-9);
  uint64_t n = std::min(want, whole);
  tokens_ -= static_cast<double>(n);
  return n;
}

std::chrono::nanoseconds RateLimiter::time_to_next() const {
  if (rate_ <= 0) return std::chrono::nanoseconds{0};
  std::chrono::duration<double> since = now_() - last_;
  double have = std::min(burst_, tokens_ + since.count() * rate_);
  if (have + 1e-9 >= 1.0) return std::chrono::nanoseconds{0};
  return std::chrono::nanoseconds{static_cast<int64_t>(std::ceil((1.0 - have) / rate_ * 1e9))};
}

void RateLimiter::wait() const {
  auto d = time_to_next();
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

}  // namespace gh
