#include "scan/host_pacer.h"

#include <algorithm>

namespace gh {

namespace {
constexpr auto kWindow = std::chrono::seconds(2);
constexpr double kUnlimited = 100;  // probes/s to a host that sent no ICMP error
constexpr double kFloor = 4;        // probes/s at least, to a rate-limited host
constexpr double kCeiling = 5000;
}  // namespace

void HostPacer::add_host(uint64_t host, std::vector<uint64_t> positions, bool icmp_seen,
                         Clock::time_point now) {
  if (positions.empty()) return;
  Host& h = hosts_[host];
  h.ring.assign(positions.begin(), positions.end());
  h.icmp_seen = icmp_seen;
  h.next = now;
  heap_.push(Due{now, host});
}

void HostPacer::answered(uint64_t host, bool icmp, Clock::time_point at) {
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  Host& h = it->second;
  ++h.answers;
  if (icmp) {
    h.icmp_seen = true;
    h.icmp.push_back(at);
  }
}

double HostPacer::rate(Host& h, Clock::time_point now) const {
  if (!h.icmp_seen) return kUnlimited;
  while (!h.icmp.empty() && now - h.icmp.front() > kWindow) h.icmp.pop_front();
  const double r =
      static_cast<double>(h.icmp.size()) / std::chrono::duration<double>(kWindow).count();
  return std::clamp(2 * r + 2, kFloor, kCeiling);
}

double HostPacer::rate_of(uint64_t host, Clock::time_point now) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return 0;
  Host copy = it->second;
  return rate(copy, now);
}

std::optional<HostPacer::Clock::time_point> HostPacer::due() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.top().at;
}

}  // namespace gh
