#include "policy/probe_gate.h"

#include <algorithm>

namespace gh {

PolicyGate::PolicyGate(PolicyGateOptions opts) : opts_(std::move(opts)) {
  if (opts_.max_host_rate > 0) host_rate_.emplace(opts_.max_host_rate);
}

bool PolicyGate::port_allowed(const Probe& probe) const {
  if (!opts_.ports || probe.portless) return true;
  const auto& list = probe.proto == Protocol::Udp ? opts_.ports->udp : opts_.ports->tcp;
  return std::binary_search(list.begin(), list.end(), probe.port);
}

ProbeGate::Decision PolicyGate::check(const Probe& probe, std::chrono::steady_clock::time_point now,
                                      std::chrono::nanoseconds* retry_in) {
  if (opts_.never.contains(probe.addr)) {
    ++stats_.refused_excluded;
    return Decision::Refuse;
  }
  if (opts_.closes_at && now > *opts_.closes_at) {
    ++stats_.refused_window;
    return Decision::Refuse;
  }
  if ((opts_.authorized && !opts_.authorized->contains(probe.addr)) || !port_allowed(probe)) {
    ++stats_.refused_scope;
    return Decision::Refuse;
  }
  if (host_rate_) {
    auto wait = host_rate_->admit(probe.addr, now);
    if (wait > wait.zero()) {
      ++stats_.delayed;
      if (retry_in != nullptr)
        *retry_in = std::chrono::duration_cast<std::chrono::nanoseconds>(wait);
      return Decision::Later;
    }
  }
  return Decision::Send;
}

std::chrono::steady_clock::time_point steady_deadline(
    std::chrono::system_clock::time_point wall_deadline) {
  auto wall_now = std::chrono::system_clock::now();
  auto steady_now = std::chrono::steady_clock::now();
  auto left =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(wall_deadline - wall_now);
  return steady_now + left;
}

}  // namespace gh
