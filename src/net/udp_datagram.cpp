#include "net/udp_datagram.h"

#include <cstring>

#include "net/bytes.h"
#include "net/checksum.h"

namespace gh::net {

UdpDatagramTemplate::UdpDatagramTemplate(const UdpDatagramParams& p)
    : family_(p.src.family), src_(p.src), ethernet_(p.ethernet) {
  const bool v4 = p.src.is_v4();
  ip_off_ = p.ethernet ? sizeof(EthernetHeader) : 0;
  udp_off_ = ip_off_ + (v4 ? sizeof(Ipv4Header) : sizeof(Ipv6Header));
  uint8_t* b = bytes_.data();
  if (p.ethernet) {
    EthernetHeader eth{};
    std::memcpy(eth.dst, p.dst_mac.data(), 6);
    std::memcpy(eth.src, p.src_mac.data(), 6);
    eth.ethertype.set(v4 ? ethertype::kIpv4 : ethertype::kIpv6);
    store_struct(b, eth);
  }
  if (v4) {
    Ipv4Header ip{};
    ip.ver_ihl = 0x45;
    ip.ttl = p.ttl;
    ip.protocol = ipproto::kUdp;
    ip.src.set(p.src.v4_value());
    store_struct(b + ip_off_, ip);
  } else {
    Ipv6Header ip{};
    ip.ver_tc_flow.set(6u << 28);
    ip.next_header = ipproto::kUdp;
    ip.hop_limit = p.ttl;
    const auto s = p.src.bytes();
    std::memcpy(ip.src, s.data(), 16);
    store_struct(b + ip_off_, ip);
  }
}

uint16_t UdpDatagramTemplate::checksum(const IpAddress& dst, uint16_t sport, uint16_t dport,
                                       std::span<const uint8_t> payload,
                                       const PayloadPatch& patch) const {
  const size_t udp_len = sizeof(UdpHeader) + payload.size();
  uint64_t sum = pseudo_header_sum(src_, dst, ipproto::kUdp, static_cast<uint32_t>(udp_len));
  sum = csum_add16(csum_add16(csum_add16(sum, sport), dport), static_cast<uint16_t>(udp_len));
  // The payload in three pieces: before the patch, the patch, after it. The patch's offset and
  // length are even, so every piece but the last starts and ends on a 16-bit boundary.
  const size_t at = patch.bytes.empty() ? payload.size() : patch.offset;
  const size_t end = patch.bytes.empty() ? payload.size() : patch.offset + patch.bytes.size();
  sum = csum_add(sum, payload.subspan(0, at));
  sum = csum_add(sum, patch.bytes);
  sum = csum_add(sum, payload.subspan(end));
  uint16_t c = csum_finish(sum);
  return c == 0 ? 0xFFFF : c;  // RFC 768: a computed 0 is sent as all ones
}

size_t UdpDatagramTemplate::build(std::span<uint8_t> out, const IpAddress& dst, uint16_t sport,
                                  uint16_t dport, std::span<const uint8_t> payload,
                                  const PayloadPatch& patch, uint16_t ip_id) const {
  const size_t len = size(payload.size());
  if (dst.family != family_ || out.size() < len) return 0;
  if (!patch.bytes.empty() &&
      (patch.offset % 2 != 0 || patch.offset + patch.bytes.size() > payload.size()))
    return 0;
  uint8_t* o = out.data();
  std::memcpy(o, bytes_.data(), udp_off_);
  uint8_t* ip = o + ip_off_;
  uint8_t* udp = o + udp_off_;
  const size_t udp_len = sizeof(UdpHeader) + payload.size();
  if (family_ == Family::V4) {
    store_be16(ip + 2, static_cast<uint16_t>(20 + udp_len));
    store_be16(ip + 4, ip_id);
    store_be32(ip + 16, dst.v4_value());
    store_be16(ip + 10, 0);
    store_be16(ip + 10, internet_checksum({ip, 20}));
  } else {
    store_be16(ip + 4, static_cast<uint16_t>(udp_len));
    const auto d = dst.bytes();
    std::memcpy(ip + 24, d.data(), 16);
  }
  store_be16(udp + 0, sport);
  store_be16(udp + 2, dport);
  store_be16(udp + 4, static_cast<uint16_t>(udp_len));
  if (!payload.empty()) std::memcpy(udp + 8, payload.data(), payload.size());
  if (!patch.bytes.empty())
    std::memcpy(udp + 8 + patch.offset, patch.bytes.data(), patch.bytes.size());
  store_be16(udp + 6, checksum(dst, sport, dport, payload, patch));
  return len;
}

}  // namespace gh::net
