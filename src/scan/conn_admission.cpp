#include "scan/conn_admission.h"

#include <algorithm>

namespace gh {

using namespace std::chrono_literals;

ConnAdmission::ConnAdmission(Options opts) : opts_(opts) {
  if (opts_.max_rate > 0) rate_.emplace(opts_.max_rate);
  if (opts_.host_timeout && opts_.host_timeout->count() <= 0) opts_.host_timeout.reset();
}

bool ConnAdmission::expired_locked(const IpAddress& addr, Clock::time_point now) const {
  if (!opts_.host_timeout) return false;
  auto it = host_first_.find(addr);
  return it != host_first_.end() && now - it->second > *opts_.host_timeout;
}

bool ConnAdmission::host_expired(const IpAddress& addr, Clock::time_point now) {
  if (!opts_.host_timeout) return false;  // set at construction, never changed
  std::lock_guard lock(mu_);
  return expired_locked(addr, now);
}

ConnAdmission::Decision ConnAdmission::admit(const Probe& probe, Clock::time_point now,
                                             Clock::time_point* wake) {
  std::lock_guard lock(mu_);
  if (expired_locked(probe.addr, now)) return Decision::HostExpired;
  if (opts_.min_gap.count() > 0 && last_start_ && now < *last_start_ + opts_.min_gap) {
    *wake = *last_start_ + opts_.min_gap;
    return Decision::Wait;
  }
  // A rate token taken for a probe the gate then defers is not given back: the rate can only
  // come out lower, never higher.
  if (rate_ && rate_->grant(1) == 0) {
    *wake = now + std::max<Clock::duration>(rate_->time_to_next(), 100us);
    return Decision::Wait;
  }
  if (opts_.gate != nullptr) {
    std::chrono::nanoseconds retry_in{0};
    ProbeGate::Decision d = opts_.gate->check(probe, now, &retry_in);
    if (d == ProbeGate::Decision::Refuse) return Decision::Refuse;
    if (d == ProbeGate::Decision::Later) {
      *wake = now + std::max<Clock::duration>(retry_in, 100us);
      return Decision::Wait;
    }
  }
  if (opts_.host_timeout) host_first_.try_emplace(probe.addr, now);
  last_start_ = now;
  return Decision::Send;
}

}  // namespace gh
