#include "scan/discovery_modules.h"

#include <algorithm>
#include <stdexcept>

#include "scan/probe_registry.h"

namespace gh {

PathInfo discovery_path(const Route& route, bool on_link) {
  PathInfo p;
  p.family = route.source.family;
  p.source = route.source;
  p.framing = on_link || route.next_hop_mac ? LinkFraming::Ethernet : LinkFraming::RawIp;
  p.src_mac = route.src_mac;
  p.dst_mac = route.next_hop_mac.value_or(MacAddress{});
  p.on_link = on_link;
  p.loopback = route.loopback;
  p.ifindex = route.ifindex;
  p.mtu = route.mtu;
  return p;
}

DiscoveryModules::DiscoveryModules(const DiscoveryPlan& plan, const ModuleKeys& keys,
                                   const auth::ProbeAnnouncer* announcer)
    : keys_(keys), announcer_(announcer) {
  for (Set* set : {&onlink_, &routed_}) {
    if (set == &onlink_ && plan.arp) {
      add(*set, "arp", {});
      add(*set, "ndp", {});
      continue;
    }
    if (plan.echo) add(*set, "icmp_echo", {});
    if (plan.timestamp) add(*set, "icmp_timestamp", {});
    if (plan.mask) add(*set, "icmp_mask", {});
    if (!plan.syn_ports.empty()) add(*set, "tcp_syn_ping", plan.syn_ports);
    if (!plan.ack_ports.empty()) add(*set, "tcp_ack_ping", plan.ack_ports);
    if (!plan.udp_ports.empty()) add(*set, "udp_ping", plan.udp_ports);
  }
}

void DiscoveryModules::add(Set& set, std::string_view name, std::vector<uint16_t> ports) {
  auto m = make_probe_module(name, keys_);
  m->set_announcer(announcer_);  // before prepare()
  set.modules.push_back(std::move(m));
  set.ports.push_back(std::move(ports));
}

void DiscoveryModules::prepare(const PathInfo& path) {
  Set& set = path.on_link ? onlink_ : routed_;
  std::vector<Entry>& out = set.probes[path.family == Family::V4 ? 0 : 1];
  out.clear();
  for (size_t i = 0; i < set.modules.size(); ++i) {
    ProbeModule& m = *set.modules[i];
    if (!m.prepare(path)) continue;
    if (std::find(set.prepared.begin(), set.prepared.end(), &m) == set.prepared.end())
      set.prepared.push_back(&m);
    if (set.ports[i].empty()) {
      out.push_back(Entry{&m, m.protocol(), 0, true});
      continue;
    }
    for (uint16_t port : set.ports[i]) out.push_back(Entry{&m, m.protocol(), port, false});
  }
}

bool DiscoveryModules::classify(const RxFrame& frame, ProbeVerdict& out) const {
  for (const Set* set : {&onlink_, &routed_})
    for (const ProbeModule* m : set->prepared)
      if (m->classify(frame, out)) return true;
  return false;
}

size_t DiscoveryModules::max_frame() const {
  size_t n = 0;
  for (const Set* set : {&onlink_, &routed_})
    for (const auto& m : set->modules) n = std::max(n, m->max_frame());
  return n;
}

ReceiveSpec DiscoveryModules::receive(Family f, bool on_link) const {
  std::vector<const ProbeModule*> prepared;
  for (const Entry& e : probes(f, on_link)) prepared.push_back(e.module);
  return receive_union(prepared);
}

std::vector<sock_filter> DiscoveryModules::receive_filter(LinkFraming framing,
                                                          std::span<const PathInfo> paths) const {
  std::vector<IpAddress> ours;
  ReceiveSpec want[2];  // [0] IPv4, [1] IPv6
  for (const PathInfo& p : paths) {
    if (std::find(ours.begin(), ours.end(), p.source) == ours.end()) ours.push_back(p.source);
    want[p.family == Family::V4 ? 0 : 1] |= receive(p.family, p.on_link);
  }
  try {
    return gh::receive_filter(framing, ours, want[0], want[1]);
  } catch (const std::invalid_argument&) {
    // Nothing to receive (no module prepared on these paths); a few addresses always fit.
    return {sock_filter{BPF_RET | BPF_K, 0, 0, 0}};
  }
}

std::vector<const ProbeModule*> DiscoveryModules::modules() const {
  std::vector<const ProbeModule*> out;
  for (const Set* set : {&onlink_, &routed_})
    for (const auto& m : set->modules) out.push_back(m.get());
  return out;
}

}  // namespace gh
