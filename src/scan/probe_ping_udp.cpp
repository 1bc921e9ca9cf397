#include "scan/probe_ping_udp.h"

#include "auth/announce.h"
#include "net/announce_option.h"
#include "net/bytes.h"
#include "net/headers.h"
#include "scan/probe_tcp_syn.h"

namespace gh {

size_t UdpPing::max_frame() const {
  return net::UdpProbeTemplate::kMaxSize + net::kAnnounceLen;
}

bool UdpPing::prepare(const PathInfo& path) {
  if (path.source.family != path.family) return false;
  paths_.emplace(path.source, path_params<net::UdpTemplateParams>(path));
  note_path(path);
  return true;
}

size_t UdpPing::build_at(uint8_t* out, size_t cap, const IpAddress& dst, uint16_t sport,
                         uint16_t dport, uint16_t ip_id, const MacAddress* mac,
                         uint32_t epoch) const {
  const net::UdpProbeTemplate* t = paths_.get(dst.family);
  if (t == nullptr || cap < t->size()) return 0;
  const IpAddress& src = paths_.source(dst.family);
  size_t len = t->build(out, dst, sport, dport, cookie_.probe_word(src, dst, kWordTag), ip_id, mac);
  if (len != 0 && announcer_ != nullptr) {
    const size_t ip_off = t->udp_offset() - (dst.is_v4() ? 20 : 40);
    len = net::append_announce(out, len, cap, ip_off,
                               announcer_->block_at(src, dst, net::ipproto::kUdp, dport, epoch));
  }
  return len;
}

size_t UdpPing::build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const {
  if (probe.proto != Protocol::Udp) return 0;
  MacAddress buf;
  const MacAddress* mac = dst_mac_for(probe.addr, buf);
  const uint16_t sport =
      cookie_.source_port(probe.addr, probe.port, kPortBase, kPortRange, args.attempt);
  const uint32_t epoch = announcer_ != nullptr ? auth::ProbeAnnouncer::now_epoch() : 0;
  return build_at(out.data(), out.size(), probe.addr, sport, probe.port, args.ip_id, mac, epoch);
}

bool UdpPing::our_checksum(const IpAddress& dst, uint16_t sport, uint16_t dport,
                           uint16_t checksum) const {
  const net::UdpProbeTemplate* t = paths_.get(dst.family);
  if (announcer_ == nullptr) {
    const uint32_t word = cookie_.probe_word(paths_.source(dst.family), dst, kWordTag);
    return checksum == t->expected_checksum(dst, sport, dport, word);
  }
  // Tagged: the checksum covers the tag of the minute it was sent in.
  const uint32_t now = auth::ProbeAnnouncer::now_epoch();
  uint8_t b[net::UdpProbeTemplate::kMaxSize + net::kAnnounceLen];
  for (uint32_t e : {now, now - 1}) {
    size_t len = build_at(b, sizeof b, dst, sport, dport, 0, nullptr, e);
    if (len != 0 && checksum == net::load_be16(b + t->udp_offset() + 6)) return true;
  }
  return false;
}

bool UdpPing::classify(const RxFrame& frame, ProbeVerdict& out) const {
  if (frame.ip == nullptr) return false;
  const net::ParsedPacket& p = *frame.ip;
  if (!p.l4_parsed) return false;
  const Family family = p.ip_version == 4 ? Family::V4 : Family::V6;
  if (paths_.get(family) == nullptr) return false;
  const IpAddress& src = paths_.source(family);
  if (p.dst != src) return false;
  if (p.is_udp()) {
    auto attempt = cookie_.attempt_of(p.src, p.udp.sport, p.udp.dport, kPortBase, kPortRange);
    if (!attempt) return false;
    up(out, Probe{p.src, Protocol::Udp, p.udp.sport}, Reason::UdpResponse, &p, attempt);
    return true;
  }
  if (!p.is_icmp_error()) return false;
  // Only an error from the target itself says it is up.
  const auto& q = p.quoted;
  if (!q.has_l4 || q.src != src || q.dst != p.src || q.protocol != net::ipproto::kUdp) return false;
  auto attempt = cookie_.attempt_of(q.dst, q.dport, q.sport, kPortBase, kPortRange);
  if (!attempt) return false;
  // The quoted UDP checksum (the low half of the quoted header's second word).
  if (!our_checksum(q.dst, q.sport, q.dport, static_cast<uint16_t>(q.seq & 0xFFFF))) return false;
  auto [state, reason] = classify_icmp_error(p.ip_version, p.icmp.type, p.icmp.code);
  (void)state;
  up(out, Probe{q.dst, Protocol::Udp, q.dport}, reason, &p, attempt);
  return true;
}

}  // namespace gh
