// The space of (address, protocol, port) triples a scan probes, indexed 0..size()-1.
//
// Index layout: index = port_index * targets + target_index, where port_index runs over the TCP
// ports, then the UDP ports. The permutation (permutation.h) shuffles indices; the receiver maps a
// reply back to its index with index_of() to mark it answered.
#pragma once

#include <cstdint>
#include <optional>

#include "core/address.h"
#include "core/types.h"
#include "targets/ports.h"
#include "targets/target_set.h"

namespace gh {

struct Probe {
  IpAddress addr;
  Protocol proto = Protocol::Tcp;
  uint16_t port = 0;
  // A host-discovery probe that targets no port (ARP, NDP, ICMP/ICMPv6 echo, timestamp, mask):
  // proto and port mean nothing. The policy gate checks its address, window, exclusions and
  // per-host cap, and no port (policy/probe_gate.h).
  bool portless = false;
};

class ProbeSpace {
 public:
  // Throws UsageError if targets x ports exceeds 2^63 probes. The space refers to both: they
  // must outlive it, so temporaries are refused at compile time.
  ProbeSpace(const TargetSet& targets, const PortList& ports);
  ProbeSpace(TargetSet&&, const PortList&) = delete;
  ProbeSpace(const TargetSet&, PortList&&) = delete;
  ProbeSpace(TargetSet&&, PortList&&) = delete;
  uint64_t size() const { return size_; }
  uint64_t targets() const { return n_targets_; }
  uint64_t ports() const { return n_ports_; }
  Probe at(uint64_t index) const;
  std::optional<uint64_t> index_of(const IpAddress& addr, Protocol proto, uint16_t port) const;

 private:
  const TargetSet& targets_;
  const PortList& ports_;
  uint64_t n_targets_, n_ports_, size_;
};

}  // namespace gh
