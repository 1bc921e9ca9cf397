#include "targets/probe_space.h"

#include <algorithm>

#include "core/error.h"

namespace gh {

ProbeSpace::ProbeSpace(const TargetSet& targets, const PortList& ports)
    : targets_(targets), ports_(ports), n_targets_(targets.size()), n_ports_(ports.size()) {
  constexpr uint64_t kMax = uint64_t{1} << 63;
  if (n_targets_ != 0 && n_ports_ > kMax / n_targets_)
    throw UsageError("scan too large: " + std::to_string(n_targets_) + " addresses x " +
                     std::to_string(n_ports_) + " ports exceeds 2^63 probes");
  size_ = n_targets_ * n_ports_;
}

Probe ProbeSpace::at(uint64_t index) const {
  uint64_t port_index = index / n_targets_;
  Probe p;
  p.addr = targets_.at(index % n_targets_);
  if (port_index < ports_.tcp.size()) {
    p.proto = Protocol::Tcp;
    p.port = ports_.tcp[port_index];
  } else {
    p.proto = Protocol::Udp;
    p.port = ports_.udp[port_index - ports_.tcp.size()];
  }
  return p;
}

std::optional<uint64_t> ProbeSpace::index_of(const IpAddress& addr, Protocol proto,
                                             uint16_t port) const {
  const auto& list = proto == Protocol::Tcp ? ports_.tcp : ports_.udp;
  auto it = std::lower_bound(list.begin(), list.end(), port);
  if (it == list.end() || *it != port) return std::nullopt;
  uint64_t port_index = static_cast<uint64_t>(it - list.begin());
  if (proto == Protocol::Udp) port_index += ports_.tcp.size();
  uint64_t t = targets_.index_of(addr);
  if (t == UINT64_MAX) return std::nullopt;
  return port_index * n_targets_ + t;
}

}  // namespace gh
