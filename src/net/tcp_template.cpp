#include "net/tcp_template.h"

#include <cstring>
#include <string>

#include "core/error.h"
#include "net/bytes.h"
#include "net/checksum.h"

namespace gh::net {

std::vector<uint8_t> tcp_option_mss(uint16_t mss) {
  return {tcpopt::kMss, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)};
}

TcpSynTemplate::TcpSynTemplate(const SynTemplateParams& p)
    : family_(p.src.family), ethernet_(p.ethernet) {
  if (p.tcp_options.size() > kTcpMaxOptions)
    throw UsageError("TCP options are " + std::to_string(p.tcp_options.size()) +
                     " bytes; at most 40 fit in a TCP header");
  const size_t opt_len = (p.tcp_options.size() + 3) / 4 * 4;  // padded with EOL (zero) bytes
  const size_t tcp_len = sizeof(TcpHeader) + opt_len;
  const bool v4 = p.src.is_v4();
  const size_t ip_len = v4 ? sizeof(Ipv4Header) : sizeof(Ipv6Header);

  ip_off_ = p.ethernet ? sizeof(EthernetHeader) : 0;
  tcp_off_ = ip_off_ + ip_len;
  size_ = tcp_off_ + tcp_len;
  uint8_t* b = bytes_.data();

  if (p.ethernet) {
    EthernetHeader eth{};
    std::memcpy(eth.dst, p.dst_mac.data(), 6);
    std::memcpy(eth.src, p.src_mac.data(), 6);
    eth.ethertype.set(v4 ? ethertype::kIpv4 : ethertype::kIpv6);
    store_struct(b, eth);
  }

  const auto src = p.src.bytes();
  if (v4) {
    Ipv4Header ip{};
    ip.ver_ihl = 0x45;
    ip.tos = p.tos;
    ip.total_len.set(static_cast<uint16_t>(ip_len + tcp_len));
    ip.frag.set(p.dont_fragment ? kIpv4FlagDf : 0);
    ip.ttl = p.ttl;
    ip.protocol = ipproto::kTcp;
    ip.src.set(p.src.v4_value());
    store_struct(b + ip_off_, ip);  // id, checksum, dst stay zero
    ip_sum_ = csum_add(0, {b + ip_off_, ip_len});
  } else {
    Ipv6Header ip{};
    ip.ver_tc_flow.set(6u << 28 | uint32_t{p.tos} << 20);
    ip.payload_len.set(static_cast<uint16_t>(tcp_len));
    ip.next_header = ipproto::kTcp;
    ip.hop_limit = p.ttl;
    std::memcpy(ip.src, src.data(), 16);
    store_struct(b + ip_off_, ip);  // dst stays zero
  }

  TcpHeader tcp{};
  tcp.data_off = static_cast<uint8_t>(tcp_len / 4 << 4);
  tcp.flags = p.flags;
  tcp.window.set(p.window);
  store_struct(b + tcp_off_, tcp);  // ports, seq, ack, checksum, urgent stay zero
  if (!p.tcp_options.empty())  // a flag scan's probe has no options: memcpy's source may be null
    std::memcpy(b + tcp_off_ + sizeof tcp, p.tcp_options.data(), p.tcp_options.size());
  // The pseudo-header's dst is added per probe; an all-zero dst adds nothing here.
  const IpAddress zero{p.src.family, 0};
  tcp_sum_ = csum_add(pseudo_header_sum(p.src, zero, ipproto::kTcp, static_cast<uint32_t>(tcp_len)),
                      {b + tcp_off_, tcp_len});
}

size_t TcpSynTemplate::build(uint8_t* out, const IpAddress& dst, uint16_t sport, uint16_t dport,
                             uint32_t seq, uint16_t ip_id, uint32_t ack,
                             const MacAddress* dst_mac) const {
  if (dst.family != family_) return 0;
  std::memcpy(out, bytes_.data(), size_);
  if (dst_mac != nullptr && ethernet_) std::memcpy(out, dst_mac->data(), 6);
  uint8_t* ip = out + ip_off_;
  uint8_t* tcp = out + tcp_off_;

  const uint64_t dst_sum = csum_add_address(0, dst);
  if (family_ == Family::V4) {
    store_be16(ip + 4, ip_id);
    store_be32(ip + 16, dst.v4_value());
    store_be16(ip + 10, csum_finish(csum_add16(ip_sum_ + dst_sum, ip_id)));
  } else {
    const auto d = dst.bytes();
    std::memcpy(ip + 24, d.data(), 16);
  }

  store_be16(tcp + 0, sport);
  store_be16(tcp + 2, dport);
  store_be32(tcp + 4, seq);
  store_be32(tcp + 8, ack);
  uint64_t sum = csum_add32(tcp_sum_ + dst_sum, ack);
  sum = csum_add16(sum, sport);
  sum = csum_add16(sum, dport);
  sum = csum_add32(sum, seq);
  store_be16(tcp + 16, csum_finish(sum));
  return size_;
}

}  // namespace gh::net
