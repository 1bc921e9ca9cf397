#include "scan/discovery_probes.h"

#include "auth/announce.h"
#include "net/announce_option.h"
#include "net/bytes.h"
#include "net/headers.h"
#include "net/packet.h"
#include "scan/probe_tcp_syn.h"

namespace gh {
namespace {

constexpr unsigned kAckAttemptOffset = 16;  // ACK pings use other source ports than SYN pings
constexpr uint16_t kUdpWordTag = 0x200;

uint8_t request_type_for_reply(uint8_t version, uint8_t reply) {
  if (version == 6) return reply == net::icmp6::kEchoReply ? net::icmp6::kEchoRequest : 0;
  switch (reply) {
    case net::icmp::kEchoReply:
      return net::icmp::kEchoRequest;
    case net::icmp::kTimestampReply:
      return net::icmp::kTimestamp;
    case net::icmp::kAddressMaskReply:
      return net::icmp::kAddressMaskRequest;
  }
  return 0;
}

Reason reason_for_reply(uint8_t version, uint8_t reply) {
  if (version == 4 && reply == net::icmp::kTimestampReply) return Reason::TimestampReply;
  if (version == 4 && reply == net::icmp::kAddressMaskReply) return Reason::AddressMaskReply;
  return Reason::EchoReply;
}

}  // namespace

DiscoveryProbes::DiscoveryProbes(const DiscoveryPlan& plan, uint64_t key0, uint64_t key1)
    : plan_(plan), cookie_(key0, key1) {}

void DiscoveryProbes::prepare(const Route& route, bool on_link) {
  Side& s = route.source.is_v4() ? v4_ : v6_;
  s.ready = true;
  s.src = route.source;
  s.src_mac = route.src_mac;
  if (on_link) {
    if (plan_.arp) {
      if (route.source.is_v4())
        s.arp.emplace(route.source, route.src_mac);
      else
        s.ns.emplace(route.source, route.src_mac);
    }
    if (s.ip_routed) return;  // the routed templates serve on-link targets too (MAC per frame)
  } else {
    s.ip_routed = true;
  }
  const bool eth = on_link || route.next_hop_mac.has_value();
  const MacAddress next = route.next_hop_mac.value_or(MacAddress{});
  auto icmp = [&](net::IcmpProbeKind kind) {
    net::IcmpTemplateParams p;
    p.src = route.source;
    p.ethernet = eth;
    p.src_mac = route.src_mac;
    p.dst_mac = next;
    p.kind = kind;
    return net::IcmpProbeTemplate(p);
  };
  if (plan_.echo) s.echo.emplace(icmp(net::IcmpProbeKind::Echo));
  if (route.source.is_v4()) {
    if (plan_.timestamp) s.timestamp.emplace(icmp(net::IcmpProbeKind::Timestamp));
    if (plan_.mask) s.mask.emplace(icmp(net::IcmpProbeKind::AddressMask));
  }
  net::SynTemplateParams t;
  t.src = route.source;
  t.ethernet = eth;
  t.src_mac = route.src_mac;
  t.dst_mac = next;
  // --announce: the tag option after the others (MSS: at 24; the ACK ping has none: at 20).
  std::vector<uint8_t> tag;
  if (announcer_ != nullptr) tag = announcer_->option_bytes();
  if (!plan_.syn_ports.empty()) {
    net::SynTemplateParams st = t;
    s.syn_tag_at = sizeof(net::TcpHeader) + st.tcp_options.size();
    st.tcp_options.insert(st.tcp_options.end(), tag.begin(), tag.end());
    s.syn.emplace(st);
  }
  if (!plan_.ack_ports.empty()) {
    t.flags = net::tcpflag::kAck;
    t.tcp_options = tag;
    s.ack_tag_at = sizeof(net::TcpHeader);
    s.ack.emplace(t);
  }
  if (!plan_.udp_ports.empty()) {
    net::UdpTemplateParams u;
    u.src = route.source;
    u.ethernet = eth;
    u.src_mac = route.src_mac;
    u.dst_mac = next;
    s.udp.emplace(u);
  }
}

size_t DiscoveryProbes::frames_per_target(bool on_link) const {
  if (on_link && plan_.arp) return 1;
  return (plan_.echo ? 1 : 0) + (plan_.timestamp ? 1 : 0) + (plan_.mask ? 1 : 0) +
         plan_.syn_ports.size() + plan_.ack_ports.size() + plan_.udp_ports.size();
}

std::vector<Probe> DiscoveryProbes::gate_probes(const IpAddress& addr, bool on_link) const {
  // ARP, NDP and ICMP have no port: the gate checks them as port-less host probes.
  std::vector<Probe> out;
  const Probe host{addr, Protocol::Tcp, 0, true};
  if (on_link && plan_.arp) return {host};
  const Side& s = side(addr.family);
  if (s.echo) out.push_back(host);
  if (s.timestamp) out.push_back(host);
  if (s.mask) out.push_back(host);
  for (uint16_t p : plan_.syn_ports) out.push_back({addr, Protocol::Tcp, p});
  for (uint16_t p : plan_.ack_ports) out.push_back({addr, Protocol::Tcp, p});
  for (uint16_t p : plan_.udp_ports) out.push_back({addr, Protocol::Udp, p});
  return out;
}

size_t DiscoveryProbes::build(uint8_t (*frames)[kMaxFrame], size_t* lengths, const IpAddress& addr,
                              bool on_link, unsigned attempt, uint16_t ip_id) const {
  const Side& s = side(addr.family);
  if (!s.ready) return 0;
  size_t n = 0;
  auto put = [&](size_t len) {
    if (len != 0) lengths[n++] = len;
  };
  if (on_link && plan_.arp) {
    if (s.arp) put(s.arp->build(frames[n], addr));
    if (s.ns) put(s.ns->build(frames[n], addr));
    return n;
  }
  // IP probes to an on-link target without ARP (--send-ip): its MAC is not known, so the frame
  // goes to the Ethernet broadcast (IPv4) or the target's solicited-node group (IPv6), which
  // the target receives and accepts; its reply comes back unicast.
  MacAddress group =
      addr.is_v4() ? MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} : net::solicited_node_mac(addr);
  const MacAddress* mac = on_link ? &group : nullptr;
  const uint32_t epoch = announcer_ != nullptr ? auth::ProbeAnnouncer::now_epoch() : 0;
  const uint8_t icmp_proto = addr.is_v4() ? net::ipproto::kIcmp : net::ipproto::kIcmpv6;
  for (const auto* t : {&s.echo, &s.timestamp, &s.mask}) {
    if (!*t) continue;
    auto v = cookie_.icmp_id_seq(s.src, addr, (*t)->request_type(), attempt);
    size_t len = (*t)->build(frames[n], addr, v.id, v.seq, ip_id, mac);
    if (len != 0 && announcer_ != nullptr && t == &s.echo)
      len = net::append_announce(frames[n], len, kMaxFrame, (*t)->ip_offset(),
                                 announcer_->block_at(s.src, addr, icmp_proto, 0, epoch));
    put(len);
  }
  for (uint16_t p : plan_.syn_ports) {
    uint16_t sport = cookie_.source_port(addr, p, kPortBase, kPortRange, attempt);
    uint32_t v = cookie_.tcp_seq(s.src, addr, sport, p);
    size_t len = s.syn->build(frames[n], addr, sport, p, v, ip_id, 0, mac);
    if (len != 0 && announcer_ != nullptr)
      announcer_->stamp(frames[n] + s.syn->tcp_offset(), s.syn_tag_at, s.src, addr, p);
    put(len);
  }
  for (uint16_t p : plan_.ack_ports) {
    uint16_t sport =
        cookie_.source_port(addr, p, kPortBase, kPortRange, attempt + kAckAttemptOffset);
    uint32_t v = cookie_.tcp_seq(s.src, addr, sport, p);
    size_t len = s.ack->build(frames[n], addr, sport, p, v, ip_id, v, mac);
    if (len != 0 && announcer_ != nullptr)
      announcer_->stamp(frames[n] + s.ack->tcp_offset(), s.ack_tag_at, s.src, addr, p);
    put(len);
  }
  for (uint16_t p : plan_.udp_ports) {
    uint16_t sport = cookie_.source_port(addr, p, kPortBase, kPortRange, attempt);
    put(udp_ping(frames[n], s, addr, sport, p, ip_id, mac, epoch));
  }
  return n;
}

size_t DiscoveryProbes::udp_ping(uint8_t* out, const Side& s, const IpAddress& addr, uint16_t sport,
                                 uint16_t dport, uint16_t ip_id, const MacAddress* mac,
                                 uint32_t epoch) const {
  size_t len = s.udp->build(out, addr, sport, dport, cookie_.probe_word(s.src, addr, kUdpWordTag),
                            ip_id, mac);
  if (len != 0 && announcer_ != nullptr)
    len = net::append_announce(out, len, kMaxFrame, s.udp->udp_offset() - (addr.is_v4() ? 20 : 40),
                               announcer_->block_at(s.src, addr, net::ipproto::kUdp, dport, epoch));
  return len;
}

std::optional<DiscoveryHit> DiscoveryProbes::classify(
    std::span<const uint8_t> frame, const std::function<bool(const IpAddress&)>& is_target) const {
  net::ArpPacket a;
  if (net::parse_arp(frame, net::LinkType::Ethernet, a)) {
    if (!v4_.arp || a.op != net::arp::kReply || a.tpa != v4_.src || !is_target(a.spa))
      return std::nullopt;
    if (a.tha != v4_.src_mac && a.dst_mac != v4_.src_mac) return std::nullopt;
    return DiscoveryHit{a.spa, Reason::ArpResponse, a.sha, 0, std::nullopt};
  }
  return classify_ip(frame, is_target);
}

std::optional<DiscoveryHit> DiscoveryProbes::classify_ip(
    std::span<const uint8_t> frame, const std::function<bool(const IpAddress&)>& is_target) const {
  net::ParsedPacket p;
  if (!net::parse_packet(frame, net::LinkType::Ethernet, p) || !p.l4_parsed) return std::nullopt;
  const Side& s = side(p.ip_version == 4 ? Family::V4 : Family::V6);
  if (!s.ready || p.dst != s.src) return std::nullopt;
  std::optional<MacAddress> mac;
  if (p.has_src_mac) mac = p.src_mac;

  if (p.is_icmp() && !p.is_icmp_error()) {
    if (p.ip_version == 6 && p.icmp.type == net::icmp6::kNeighborAdvert) {
      net::NeighborAdvert na;
      if (!s.ns || !net::parse_neighbor_advert(frame, p, na)) return std::nullopt;
      if (!(na.flags & net::icmp6::kNaSolicited) || !is_target(na.target)) return std::nullopt;
      return DiscoveryHit{na.target, Reason::NdResponse, na.mac ? na.mac : mac, p.ttl,
                          std::nullopt};
    }
    const uint8_t req = request_type_for_reply(p.ip_version, p.icmp.type);
    if (req == 0) return std::nullopt;
    auto attempt = cookie_.icmp_attempt(s.src, p.src, req, p.icmp.id(), p.icmp.seq());
    if (!attempt) return std::nullopt;
    return DiscoveryHit{p.src, reason_for_reply(p.ip_version, p.icmp.type), mac, p.ttl, attempt};
  }

  net::ProbeReply r;
  if (s.syn && p.is_tcp() && cookie_.validate_tcp_reply(p, s.src, kPortBase, kPortRange, r) &&
      r.attempt < kAckAttemptOffset)
    return DiscoveryHit{r.target, r.kind == net::ReplyKind::SynAck ? Reason::SynAck : Reason::Reset,
                        mac, p.ttl, r.attempt};
  if (s.ack && p.is_tcp() && cookie_.validate_tcp_ack_reply(p, s.src, kPortBase, kPortRange, r) &&
      r.attempt >= kAckAttemptOffset)
    return DiscoveryHit{r.target, Reason::Reset, mac, p.ttl,
                        static_cast<uint8_t>(r.attempt - kAckAttemptOffset)};
  if (s.udp && p.is_udp()) {
    auto attempt = cookie_.attempt_of(p.src, p.udp.sport, p.udp.dport, kPortBase, kPortRange);
    if (attempt) return DiscoveryHit{p.src, Reason::UdpResponse, mac, p.ttl, attempt};
    return std::nullopt;
  }
  if (p.is_icmp_error()) {
    // An error from the target itself says it is up (nmap: a port unreachable for a UDP ping,
    // any unreachable from the host it quotes). Errors from routers say nothing: it stays
    // unanswered and ends down.
    const auto& q = p.quoted;
    if (!q.has_l4 || q.src != s.src || q.dst != p.src) return std::nullopt;
    std::optional<uint8_t> attempt;
    if (q.protocol == net::ipproto::kUdp && s.udp) {
      attempt = cookie_.attempt_of(q.dst, q.dport, q.sport, kPortBase, kPortRange);
      if (!attempt) return std::nullopt;
      bool ours = false;
      if (announcer_ == nullptr) {
        const uint32_t word = cookie_.probe_word(s.src, q.dst, kUdpWordTag);
        ours = (q.seq & 0xFFFF) == s.udp->expected_checksum(q.dst, q.sport, q.dport, word);
      } else {
        // Tagged: the checksum covers the tag of the minute it was sent in.
        const uint32_t now = auth::ProbeAnnouncer::now_epoch();
        uint8_t b[kMaxFrame];
        for (uint32_t e : {now, now - 1}) {
          size_t len = udp_ping(b, s, q.dst, q.sport, q.dport, 0, nullptr, e);
          if (len != 0 && (q.seq & 0xFFFF) == net::load_be16(b + s.udp->udp_offset() + 6)) {
            ours = true;
            break;
          }
        }
      }
      if (!ours) return std::nullopt;
    } else if (q.protocol == net::ipproto::kTcp && (s.syn || s.ack)) {
      if (!cookie_.validate_tcp_reply(p, s.src, kPortBase, kPortRange, r)) return std::nullopt;
      attempt = static_cast<uint8_t>(r.attempt % kAckAttemptOffset);
    } else {
      return std::nullopt;
    }
    auto [state, reason] = classify_icmp_error(p.ip_version, p.icmp.type, p.icmp.code);
    (void)state;
    return DiscoveryHit{q.dst, reason, mac, p.ttl, attempt};
  }
  return std::nullopt;
}

}  // namespace gh
