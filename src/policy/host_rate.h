// The per-host load cap: at most `rate` packets per second to any one address, retries included,
// whatever the global rate.
//
// One GCRA token bucket per address (a "theoretical arrival time" per host: the bucket is full
// when it is in the past), kept in a hash table with an LRU list. A host whose bucket is full
// again is indistinguishable from one never seen, so it is forgotten: each call drops a few
// such hosts from the LRU end, which keeps the table at about (global rate / host rate) entries.
// The table never exceeds `max_hosts`: when it is full and its least recently used host is not
// yet idle, a new host waits (admit returns how long) instead of a live bucket being dropped.
// Memory is bounded and the cap is never loosened, at the price of slowing a scan whose global
// rate exceeds max_hosts x rate (262,144 x rate by default).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <unordered_map>

#include "core/address.h"

namespace gh {

class HostRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kDefaultMaxHosts = size_t{1} << 18;

  // rate > 0 packets per second per address; burst >= 1: packets an idle address may receive
  // back to back (1: strictly one every 1/rate seconds).
  explicit HostRateLimiter(double rate, double burst = 1, size_t max_hosts = kDefaultMaxHosts);

  // Zero: `addr` may receive a packet now, and it is counted. Otherwise how long to wait before
  // asking again; nothing is counted.
  Clock::duration admit(const IpAddress& addr, Clock::time_point now);

  size_t tracked() const { return index_.size(); }
  Clock::duration interval() const { return interval_; }

 private:
  struct Host {
    IpAddress addr;
    Clock::time_point tat;  // theoretical arrival time: the bucket is full once now >= tat
  };
  using List = std::list<Host>;
  void forget_idle(Clock::time_point now);

  Clock::duration interval_;   // 1 / rate
  Clock::duration tolerance_;  // (burst - 1) / rate
  size_t max_hosts_;
  List lru_;  // front: most recently admitted
  std::unordered_map<IpAddress, List::iterator, IpAddressHash> index_;
};

}  // namespace gh
