#include "net/icmp_template.h"

#include <cstring>

#include "core/error.h"
#include "net/bytes.h"
#include "net/checksum.h"

namespace gh::net {
namespace {

size_t body_len(IcmpProbeKind kind) {
  switch (kind) {
    case IcmpProbeKind::Echo:
      return 0;
    case IcmpProbeKind::Timestamp:
      return 12;  // originate, receive, transmit timestamps
    case IcmpProbeKind::AddressMask:
      return 4;
  }
  return 0;
}

uint8_t type_of(IcmpProbeKind kind, bool v4) {
  switch (kind) {
    case IcmpProbeKind::Echo:
      return v4 ? icmp::kEchoRequest : icmp6::kEchoRequest;
    case IcmpProbeKind::Timestamp:
      return icmp::kTimestamp;
    case IcmpProbeKind::AddressMask:
      return icmp::kAddressMaskRequest;
  }
  return 0;
}

}  // namespace

IcmpProbeTemplate::IcmpProbeTemplate(const IcmpTemplateParams& p)
    : family_(p.src.family), ethernet_(p.ethernet) {
  const bool v4 = p.src.is_v4();
  if (!v4 && p.kind != IcmpProbeKind::Echo)
    throw UsageError("ICMP timestamp and address mask requests exist for IPv4 only");
  type_ = type_of(p.kind, v4);
  const size_t icmp_len = sizeof(IcmpHeader) + body_len(p.kind);
  const size_t ip_len = v4 ? sizeof(Ipv4Header) : sizeof(Ipv6Header);
  ip_off_ = p.ethernet ? sizeof(EthernetHeader) : 0;
  icmp_off_ = ip_off_ + ip_len;
  size_ = icmp_off_ + icmp_len;
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
    ip.total_len.set(static_cast<uint16_t>(ip_len + icmp_len));
    ip.ttl = p.ttl;
    ip.protocol = ipproto::kIcmp;
    ip.src.set(p.src.v4_value());
    store_struct(b + ip_off_, ip);
    ip_sum_ = csum_add(0, {b + ip_off_, ip_len});
  } else {
    Ipv6Header ip{};
    ip.ver_tc_flow.set(6u << 28);
    ip.payload_len.set(static_cast<uint16_t>(icmp_len));
    ip.next_header = ipproto::kIcmpv6;
    ip.hop_limit = p.ttl;
    const auto s = p.src.bytes();
    std::memcpy(ip.src, s.data(), 16);
    store_struct(b + ip_off_, ip);
  }
  IcmpHeader h{};
  h.type = type_;
  store_struct(b + icmp_off_, h);  // code, checksum, id, seq and the body stay zero
  icmp_sum_ = csum_add(0, {b + icmp_off_, icmp_len});
  if (!v4)
    icmp_sum_ += pseudo_header_sum(p.src, IpAddress{Family::V6, 0}, ipproto::kIcmpv6,
                                   static_cast<uint32_t>(icmp_len));
}

uint8_t IcmpProbeTemplate::reply_type() const {
  switch (type_) {
    case icmp::kEchoRequest:
      return icmp::kEchoReply;
    case icmp::kTimestamp:
      return icmp::kTimestampReply;
    case icmp::kAddressMaskRequest:
      return icmp::kAddressMaskReply;
    case icmp6::kEchoRequest:
      return icmp6::kEchoReply;
  }
  return 0;
}

size_t IcmpProbeTemplate::build(uint8_t* out, const IpAddress& dst, uint16_t id, uint16_t seq,
                                uint16_t ip_id, const MacAddress* dst_mac) const {
  if (dst.family != family_) return 0;
  std::memcpy(out, bytes_.data(), size_);
  if (dst_mac != nullptr && ethernet_) std::memcpy(out, dst_mac->data(), 6);
  uint8_t* ip = out + ip_off_;
  uint8_t* msg = out + icmp_off_;
  uint64_t sum = icmp_sum_;
  if (family_ == Family::V4) {
    store_be16(ip + 4, ip_id);
    store_be32(ip + 16, dst.v4_value());
    store_be16(ip + 10, csum_finish(csum_add16(ip_sum_ + csum_add_address(0, dst), ip_id)));
  } else {
    const auto d = dst.bytes();
    std::memcpy(ip + 24, d.data(), 16);
    sum = csum_add_address(sum, dst);  // ICMPv6 covers the pseudo-header (RFC 4443 2.3)
  }
  store_be16(msg + 4, id);
  store_be16(msg + 6, seq);
  sum = csum_add16(csum_add16(sum, id), seq);
  store_be16(msg + 2, csum_finish(sum));
  return size_;
}

IpAddress solicited_node_address(const IpAddress& target) {
  // ff02:0:0:0:0:1:ff00::/104
  const u128 prefix = (u128{0xff02000000000000ull} << 64) | u128{0x00000001ff000000ull};
  return IpAddress::v6(prefix | (target.value & 0xFFFFFF));
}

MacAddress solicited_node_mac(const IpAddress& target) {
  const uint32_t low = static_cast<uint32_t>(target.value & 0xFFFFFF);
  return {0x33,
          0x33,
          0xFF,
          static_cast<uint8_t>(low >> 16),
          static_cast<uint8_t>(low >> 8),
          static_cast<uint8_t>(low)};
}

namespace {
constexpr size_t kNsIp = sizeof(EthernetHeader);
constexpr size_t kNsIcmp = kNsIp + sizeof(Ipv6Header);
constexpr size_t kNsLen = 32;  // header 8 (reserved in `rest`) + target 16 + SLLA option 8
}  // namespace

NeighborSolicitTemplate::NeighborSolicitTemplate(const IpAddress& src, const MacAddress& src_mac) {
  if (!src.is_v6()) throw UsageError("a neighbor solicitation needs an IPv6 source address");
  uint8_t* b = bytes_.data();
  EthernetHeader eth{};
  std::memcpy(eth.src, src_mac.data(), 6);
  eth.ethertype.set(ethertype::kIpv6);
  store_struct(b, eth);
  Ipv6Header ip{};
  ip.ver_tc_flow.set(6u << 28);
  ip.payload_len.set(kNsLen);
  ip.next_header = ipproto::kIcmpv6;
  ip.hop_limit = 255;
  const auto s = src.bytes();
  std::memcpy(ip.src, s.data(), 16);
  store_struct(b + kNsIp, ip);
  uint8_t* m = b + kNsIcmp;
  m[0] = icmp6::kNeighborSolicit;
  m[24] = icmp6::kNdOptSourceLinkAddr;
  m[25] = 1;  // in units of 8 bytes
  std::memcpy(m + 26, src_mac.data(), 6);
  icmp_sum_ = csum_add(pseudo_header_sum(src, IpAddress{Family::V6, 0}, ipproto::kIcmpv6, kNsLen),
                       {m, kNsLen});
}

size_t NeighborSolicitTemplate::build(uint8_t* out, const IpAddress& target,
                                      const MacAddress* dst_mac) const {
  if (!target.is_v6()) return 0;
  std::memcpy(out, bytes_.data(), kSize);
  const IpAddress dst = dst_mac != nullptr ? target : solicited_node_address(target);
  const MacAddress mac = dst_mac != nullptr ? *dst_mac : solicited_node_mac(target);
  std::memcpy(out, mac.data(), 6);
  const auto d = dst.bytes();
  std::memcpy(out + kNsIp + 24, d.data(), 16);
  const auto t = target.bytes();
  std::memcpy(out + kNsIcmp + 8, t.data(), 16);
  uint64_t sum = csum_add_address(csum_add_address(icmp_sum_, dst), target);
  store_be16(out + kNsIcmp + 2, csum_finish(sum));
  return kSize;
}

bool parse_neighbor_advert(std::span<const uint8_t> frame, const ParsedPacket& p,
                           NeighborAdvert& out) {
  if (!p.is_icmp() || p.ip_version != 6 || p.icmp.type != icmp6::kNeighborAdvert ||
      p.icmp.code != 0 || p.ttl != 255)
    return false;
  if (p.payload_offset > frame.size()) return false;
  Reader r(frame.subspan(p.payload_offset,
                         std::min<size_t>(p.payload_len, frame.size() - p.payload_offset)));
  uint8_t target[16];
  if (!r.copy_bytes(target, 16)) return false;
  out.target = IpAddress::from_v6_bytes(target);
  out.flags = static_cast<uint8_t>(p.icmp.rest >> 24);
  out.mac.reset();
  while (r.remaining() >= 2) {
    uint8_t type = 0, len = 0;
    r.read_u8(type);
    r.read_u8(len);
    if (len == 0 || size_t{len} * 8 - 2 > r.remaining()) break;
    std::span<const uint8_t> body;
    r.read_bytes(size_t{len} * 8 - 2, body);
    if (type == icmp6::kNdOptTargetLinkAddr && len == 1) {
      MacAddress m;
      std::memcpy(m.data(), body.data(), 6);
      out.mac = m;
    }
  }
  return true;
}

}  // namespace gh::net
