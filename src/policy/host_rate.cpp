#include "policy/host_rate.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace gh {

HostRateLimiter::HostRateLimiter(double rate, double burst, size_t max_hosts)
    : max_hosts_(std::max<size_t>(max_hosts, 1)) {
  if (!(rate > 0) || !(burst >= 1))
    throw UsageError("the per-host rate must be a positive number of packets per second");
  double ns = std::max(1.0, std::round(1e9 / rate));
  interval_ = std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(static_cast<int64_t>(std::min(ns, 1e18))));
  tolerance_ = std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(
      static_cast<int64_t>(std::min(1e18, std::round((burst - 1) * 1e9 / rate)))));
  index_.reserve(std::min<size_t>(max_hosts_, 4096));
}

void HostRateLimiter::forget_idle(Clock::time_point now) {
  // The LRU end holds the hosts admitted longest ago; a few per call keep up with any scan.
  for (int i = 0; i < 4 && !lru_.empty() && lru_.back().tat <= now; ++i) {
    index_.erase(lru_.back().addr);
    lru_.pop_back();
  }
}

HostRateLimiter::Clock::duration HostRateLimiter::admit(const IpAddress& addr,
                                                        Clock::time_point now) {
  forget_idle(now);
  auto it = index_.find(addr);
  if (it != index_.end()) {
    Host& h = *it->second;
    Clock::time_point earliest = h.tat - tolerance_;
    if (now < earliest) return earliest - now;
    h.tat = std::max(h.tat, now) + interval_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return Clock::duration::zero();
  }
  if (index_.size() >= max_hosts_) {
    // Full, and even the least recently used host still has a partly drained bucket.
    Host& oldest = lru_.back();
    if (oldest.tat > now) return oldest.tat - now;
    index_.erase(oldest.addr);
    lru_.pop_back();
  }
  lru_.push_front(Host{addr, now + interval_});
  index_.emplace(addr, lru_.begin());
  return Clock::duration::zero();
}

}  // namespace gh
