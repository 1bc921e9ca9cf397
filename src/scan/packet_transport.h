// The kernel's side of the raw engine (scan/transport.h): routes from rtnetlink, AF_PACKET
// send-only sockets with sendmmsg batches, a TPACKET_V3 receive ring per interface, a raw IPv4
// socket for loopback, and the next-hop MAC of each on-link target.
//
// Paths: one per address family in the targets, found with lookup_route() for the family's first
// target (all targets of a family leave through one interface: the lab and LAN case). IPv4
// loopback probes go out through a raw IP socket (io/raw_ip_socket.h says why) and are built
// from the IP header (LinkFraming::RawIp); replies are read from the AF_PACKET ring on the same
// interface either way. On-link targets of an Ethernet path each have their own MAC: from the
// MacTable when one is given (filled by the discovery stage from ARP/NDP replies), else from the
// kernel's neighbour table (resolved at open(), at most kMaxNeighbors addresses).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/neighbors.h"
#include "io/packet_socket.h"
#include "io/raw_ip_socket.h"
#include "io/route.h"
#include "io/rx_ring.h"
#include "scan/mac_table.h"
#include "scan/transport.h"

namespace gh {

struct PacketTransportOptions {
  std::string interface;  // -e: forced output interface, empty = the routing table's
  // How long open() waits for the kernel to resolve on-link MACs (no MAC table).
  std::chrono::milliseconds resolve_timeout{1000};
  // Filled by the discovery stage while the scan runs; null: the kernel's neighbour table.
  const MacTable* macs = nullptr;
  // -S (scan/source_pool.h): the pool of our addresses the port modules send from, both
  // families; open() checks each family's part is assigned to that path's interface, passes it
  // in PathInfo::sources and lets the receive filter pass replies to every one. Empty: none.
  std::vector<IpAddress> sources;
  // The probes of the scan's first pass, when known (0: not): sizes the receive ring.
  uint64_t probes = 0;
};

class PacketTransport : public Transport {
 public:
  explicit PacketTransport(PacketTransportOptions options) : opt_(std::move(options)) {}
  void open(const TargetSet& targets, std::span<ProbeModule* const> modules, bool dry_run) override;
  std::optional<LinkFraming> framing(Family family) const override;
  std::unique_ptr<TransportSender> sender(size_t max_frame) override;
  size_t receive(std::chrono::milliseconds timeout, const FrameFn& fn) override;
  uint64_t drops() override;
  void wake() override;

  // Where probes of one family leave: the route and the socket on its interface.
  struct Path {
    Route route;
    PathInfo info;
    PacketSocket* socket = nullptr;  // sends unless `raw` is set
    RawIpv4Socket* raw = nullptr;
    std::optional<NeighborMap> per_host;  // on-link targets' MACs from the kernel
    const MacTable* macs = nullptr;       // on-link targets' MACs from discovery
  };
  const Path* path(Family f) const {
    const auto& p = paths_[f == Family::V4 ? 0 : 1];
    return p ? &*p : nullptr;
  }

 private:
  PacketTransportOptions opt_;
  std::array<std::optional<Path>, 2> paths_;            // [0] IPv4, [1] IPv6
  std::vector<std::unique_ptr<PacketSocket>> sockets_;  // send-only, one per interface
  std::vector<RxRing> rings_;                           // receive, one per interface
  std::optional<RawIpv4Socket> raw_v4_;
  size_t next_ring_ = 0;
  FileDescriptor wake_;  // an eventfd every ring's wait also watches (wake())
};

}  // namespace gh
