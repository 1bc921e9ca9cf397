// The discovery plan (scan/discovery_config.h) as host probe modules (scan/probe_ping.h, from
// the registry, scan/probe_registry.h): which modules a raw discovery sweep runs, with which
// ports, and the probes each target gets. It builds no frame and reads no reply itself: the
// sweep (scan/discovery.cpp) calls each probe's module (ProbeModule::build, classify).
//
// Two sets of module instances, each prepared only with paths of its kind, so that one scan may
// hold on-link and routed ranges of a family (ProbeModule::prepare is once per family):
//   on-link  `arp` and `ndp` when the plan asks for ARP/NDP (nmap's default on a LAN); the IP
//            modules otherwise (--send-ip: their frames go to the broadcast / solicited-node
//            MAC, scan/probe_module.h);
//   routed   the IP modules: `icmp_echo`, `icmp_timestamp`, `icmp_mask`, then `tcp_syn_ping`,
//            `tcp_ack_ping` and `udp_ping` once per port of their -PS/-PA/-PU list.
// A target's probes are those of the modules of its set that prepare() accepted for its family
// (ARP, timestamp and mask: IPv4 only; NDP: IPv6 only), in the order above, the order they
// are sent in. All instances share the scan's keys; the announcer (--announce, or null) is set
// on each before prepare().
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "io/route.h"
#include "scan/discovery_config.h"
#include "scan/probe_module.h"

namespace gh {

// The path a discovery route gives the probe modules (ProbeModule::prepare). The sweep's frames
// go out through an AF_PACKET socket: Ethernet framing on-link and toward a resolved gateway,
// none on a link without a link header (a tun device: no next-hop MAC).
PathInfo discovery_path(const Route& route, bool on_link);

class DiscoveryModules {
 public:
  // One probe of a target: the module that builds it, and the Probe it is given (with the
  // target's address filled in by the caller; also what the policy gate checks).
  struct Entry {
    const ProbeModule* module = nullptr;
    Protocol proto = Protocol::Tcp;
    uint16_t port = 0;
    bool portless = false;  // ARP, NDP, ICMP: no port (Probe::portless)
    Probe probe(const IpAddress& addr) const { return Probe{addr, proto, port, portless}; }
  };

  DiscoveryModules(const DiscoveryPlan& plan, const ModuleKeys& keys,
                   const auth::ProbeAnnouncer* announcer);
  // Prepares the modules of path.on_link's set for path.family (once per set and family).
  void prepare(const PathInfo& path);
  // The probes of a target of family f on that kind of path, in send order (empty when no
  // path of that kind and family was prepared).
  const std::vector<Entry>& probes(Family f, bool on_link) const {
    return (on_link ? onlink_ : routed_).probes[f == Family::V4 ? 0 : 1];
  }
  // Asks every prepared module (on-link set first); true and `out` from the first that owns
  // the frame.
  bool classify(const RxFrame& frame, ProbeVerdict& out) const;
  // The longest frame any module builds.
  size_t max_frame() const;
  // What the receive filter must pass for the probes of family f on that kind of path: the
  // union of receive() of the modules prepare() accepted (receive_union, scan/probe_module.h).
  // Nothing when none was prepared.
  ReceiveSpec receive(Family f, bool on_link) const;
  // The receive filter of the socket that the prepared `paths` leave through (one interface, of
  // `framing`): per family, the union of those paths' receive(), for packets to their sources
  // (io/bpf.h receive_filter: an on-link IPv4 sweep with ARP passes ARP replies to our address
  // and no IPv4 packet). A program that drops everything when nothing is to be received.
  std::vector<sock_filter> receive_filter(LinkFraming framing,
                                          std::span<const PathInfo> paths) const;
  // Every instance, both sets (tests, --dry-run).
  std::vector<const ProbeModule*> modules() const;

 private:
  struct Set {
    std::vector<std::unique_ptr<ProbeModule>> modules;
    std::vector<std::vector<uint16_t>> ports;  // per module; empty: port-less
    std::vector<Entry> probes[2];              // [0] IPv4, [1] IPv6
    std::vector<const ProbeModule*> prepared;  // modules some family accepted
  };
  void add(Set& set, std::string_view name, std::vector<uint16_t> ports);

  ModuleKeys keys_;
  const auth::ProbeAnnouncer* announcer_ = nullptr;
  Set onlink_, routed_;
};

}  // namespace gh
