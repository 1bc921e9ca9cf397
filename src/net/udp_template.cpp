#include "net/udp_template.h"

#include <cstring>

#include "net/bytes.h"
#include "net/checksum.h"

namespace gh::net {

UdpProbeTemplate::UdpProbeTemplate(const UdpTemplateParams& p)
    : family_(p.src.family), ethernet_(p.ethernet) {
  const bool v4 = p.src.is_v4();
  const size_t udp_len = sizeof(UdpHeader) + kPayload;
  const size_t ip_len = v4 ? sizeof(Ipv4Header) : sizeof(Ipv6Header);
  ip_off_ = p.ethernet ? sizeof(EthernetHeader) : 0;
  udp_off_ = ip_off_ + ip_len;
  size_ = udp_off_ + udp_len;
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
    ip.total_len.set(static_cast<uint16_t>(ip_len + udp_len));
    ip.ttl = p.ttl;
    ip.protocol = ipproto::kUdp;
    ip.src.set(p.src.v4_value());
    store_struct(b + ip_off_, ip);
    ip_sum_ = csum_add(0, {b + ip_off_, ip_len});
  } else {
    Ipv6Header ip{};
    ip.ver_tc_flow.set(6u << 28);
    ip.payload_len.set(static_cast<uint16_t>(udp_len));
    ip.next_header = ipproto::kUdp;
    ip.hop_limit = p.ttl;
    const auto s = p.src.bytes();
    std::memcpy(ip.src, s.data(), 16);
    store_struct(b + ip_off_, ip);
  }
  UdpHeader u{};
  u.length.set(static_cast<uint16_t>(udp_len));
  store_struct(b + udp_off_, u);
  udp_sum_ = csum_add(pseudo_header_sum(p.src, IpAddress{p.src.family, 0}, ipproto::kUdp,
                                        static_cast<uint32_t>(udp_len)),
                      {b + udp_off_, sizeof(UdpHeader)});
}

uint16_t UdpProbeTemplate::expected_checksum(const IpAddress& dst, uint16_t sport, uint16_t dport,
                                             uint32_t word) const {
  uint64_t sum = csum_add_address(udp_sum_, dst);
  sum = csum_add32(csum_add16(csum_add16(sum, sport), dport), word);
  uint16_t c = csum_finish(sum);
  return c == 0 ? 0xFFFF : c;  // RFC 768: a computed 0 is sent as all ones
}

size_t UdpProbeTemplate::build(uint8_t* out, const IpAddress& dst, uint16_t sport, uint16_t dport,
                               uint32_t word, uint16_t ip_id, const MacAddress* dst_mac) const {
  if (dst.family != family_) return 0;
  std::memcpy(out, bytes_.data(), size_);
  if (dst_mac != nullptr && ethernet_) std::memcpy(out, dst_mac->data(), 6);
  uint8_t* ip = out + ip_off_;
  uint8_t* udp = out + udp_off_;
  if (family_ == Family::V4) {
    store_be16(ip + 4, ip_id);
    store_be32(ip + 16, dst.v4_value());
    store_be16(ip + 10, csum_finish(csum_add16(ip_sum_ + csum_add_address(0, dst), ip_id)));
  } else {
    const auto d = dst.bytes();
    std::memcpy(ip + 24, d.data(), 16);
  }
  store_be16(udp + 0, sport);
  store_be16(udp + 2, dport);
  store_be32(udp + 8, word);
  store_be16(udp + 6, expected_checksum(dst, sport, dport, word));
  return size_;
}

}  // namespace gh::net
