// Admission of connect() starts, shared by every ConnRunner of a stage (one per worker thread):
// the host timeout, the minimum gap between starts (--scan-delay), the rate limiter (--max-rate)
// and the probe gate (scope, exclusions, per-host caps), asked in that order, the gate last and
// right before the socket, so nothing gets around it. Thread-safe: one mutex (the gate is not
// thread-safe, and one limiter keeps the rate global across workers).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/address.h"
#include "scan/engine.h"
#include "scan/rate_limiter.h"

namespace gh {

class ConnAdmission {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    double max_rate = 0;                  // connect() starts per second; <= 0: no cap
    std::chrono::nanoseconds min_gap{0};  // least time between two starts (all hosts)
    ProbeGate* gate = nullptr;            // null: every probe may go
    // A host whose first admitted probe is older than this gets no more (HostExpired).
    std::optional<std::chrono::nanoseconds> host_timeout;
  };
  enum class Decision {
    Send,         // start it now (counted as the host's first probe if it is)
    Wait,         // not yet: ask again at *wake (the rate, the gap or a per-host cap)
    Refuse,       // the gate refused it for good
    HostExpired,  // its host ran out of time (host_timeout)
  };

  explicit ConnAdmission(Options opts);
  Decision admit(const Probe& probe, Clock::time_point now, Clock::time_point* wake);
  // Whether `addr`'s host timeout has passed (false without a host timeout).
  bool host_expired(const IpAddress& addr, Clock::time_point now);
  bool has_host_timeout() const { return opts_.host_timeout.has_value(); }

 private:
  bool expired_locked(const IpAddress& addr, Clock::time_point now) const;

  Options opts_;
  std::mutex mu_;
  std::optional<RateLimiter> rate_;
  std::optional<Clock::time_point> last_start_;
  std::unordered_map<IpAddress, Clock::time_point, IpAddressHash> host_first_;
};

}  // namespace gh
