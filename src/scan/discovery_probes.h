// The raw host-discovery probes: one object per run that builds, for a target, every frame of
// its DiscoveryPlan, and turns a received frame into "this target is up, for this reason".
//
//   prepare(route, family)   once per address family, before the first probe: the templates for
//                            that route (our address and MAC; the gateway's MAC when routed).
//   build(out, ...)          per target and attempt, on the send path: writes the frames into
//                            `frames` (each kMaxFrame bytes) and returns how many. Never throws.
//   classify(frame)          per received frame: a Hit when it answers one of our probes
//                            (validated statelessly: net/cookie.h; ARP and NDP by address, see
//                            scan/discovery.h), nullopt for anything else. Any bytes are valid
//                            input: never throws. `is_target` says whether an address is one we
//                            probe (ARP/NDP replies must come from one).
//
// --announce (set_announcer(), before prepare(); auth/announce.h, docs/AUTHORIZATION.md): the
// SYN and ACK pings carry the tag option after their other options, the ICMP/ICMPv6 echo request
// and the UDP ping carry the tag block as the trailer of their payload (tagged for port 0 and
// protocol ICMP/ICMPv6, or the pinged port and UDP). ICMP timestamp and address-mask requests
// have a fixed size (RFC 792, RFC 950) and go untagged; ARP and NDP have no room for a tag. A
// UDP ping's ICMP error is matched with the tag of this minute or the one before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "core/address.h"
#include "core/types.h"
#include "io/route.h"
#include "net/arp_template.h"
#include "net/cookie.h"
#include "net/icmp_template.h"
#include "net/tcp_template.h"
#include "net/udp_template.h"
#include "scan/discovery_config.h"
#include "targets/probe_space.h"

namespace gh {
namespace auth {
class ProbeAnnouncer;
}

struct DiscoveryHit {
  IpAddress addr;
  Reason reason = Reason::NoResponse;
  std::optional<MacAddress> mac;
  uint8_t ttl = 0;
  std::optional<uint8_t> attempt;  // when the reply says which attempt it answers
};

class DiscoveryProbes {
 public:
  static constexpr size_t kMaxFrame = 128;
  static constexpr uint16_t kPortBase = 33000;  // source ports of TCP/UDP pings
  static constexpr uint16_t kPortRange = 7000;  // below the SYN scan's 40000-59999

  DiscoveryProbes(const DiscoveryPlan& plan, uint64_t key0, uint64_t key1);
  // --announce: the scan's announcer (outliving this object), or null. Before prepare().
  void set_announcer(const auth::ProbeAnnouncer* a) { announcer_ = a; }

  // `on_link`: the route of on-link targets (ARP/NS templates; IP templates too when no routed
  // route of that family was prepared, with the destination MAC set per frame).
  void prepare(const Route& route, bool on_link);
  bool prepared(Family f) const { return side(f).ready; }
  // Frames per target: on-link (ARP/NS) or routed (the IP probes).
  size_t frames_per_target(bool on_link) const;
  // The gate's view of each frame build() writes, in the same order.
  std::vector<Probe> gate_probes(const IpAddress& addr, bool on_link) const;
  // `dst_mac`: for IP probes to an on-link target (with --send-ip), the target's MAC when known;
  // null: the template's next hop.
  size_t build(uint8_t (*frames)[kMaxFrame], size_t* lengths, const IpAddress& addr, bool on_link,
               unsigned attempt, uint16_t ip_id) const;
  std::optional<DiscoveryHit> classify(
      std::span<const uint8_t> frame, const std::function<bool(const IpAddress&)>& is_target) const;

 private:
  struct Side {
    bool ready = false;
    bool ip_routed = false;  // the IP templates were made for a routed next hop
    IpAddress src;
    MacAddress src_mac{};
    std::optional<net::ArpRequestTemplate> arp;
    std::optional<net::NeighborSolicitTemplate> ns;
    std::optional<net::IcmpProbeTemplate> echo, timestamp, mask;
    std::optional<net::TcpSynTemplate> syn, ack;
    std::optional<net::UdpProbeTemplate> udp;
    size_t syn_tag_at = 0, ack_tag_at = 0;  // --announce: the option's offset in the TCP header
  };
  // A UDP ping (tagged in `epoch` when announcing) into `out`; its length.
  size_t udp_ping(uint8_t* out, const Side& s, const IpAddress& addr, uint16_t sport,
                  uint16_t dport, uint16_t ip_id, const MacAddress* mac, uint32_t epoch) const;
  const Side& side(Family f) const { return f == Family::V4 ? v4_ : v6_; }
  std::optional<DiscoveryHit> classify_ip(
      std::span<const uint8_t> frame, const std::function<bool(const IpAddress&)>& is_target) const;

  DiscoveryPlan plan_;
  net::Cookie cookie_;
  Side v4_, v6_;
  const auth::ProbeAnnouncer* announcer_ = nullptr;
};

}  // namespace gh
