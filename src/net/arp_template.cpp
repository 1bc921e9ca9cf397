#include "net/arp_template.h"

#include <cstring>

#include "core/error.h"
#include "net/bytes.h"

namespace gh::net {

ArpRequestTemplate::ArpRequestTemplate(const IpAddress& src, const MacAddress& src_mac) {
  if (!src.is_v4()) throw UsageError("ARP needs an IPv4 source address");
  EthernetHeader eth{};
  std::memset(eth.dst, 0xFF, 6);
  std::memcpy(eth.src, src_mac.data(), 6);
  eth.ethertype.set(ethertype::kArp);
  store_struct(bytes_.data(), eth);
  ArpHeader a{};
  a.htype.set(arp::kHtypeEthernet);
  a.ptype.set(ethertype::kIpv4);
  a.hlen = 6;
  a.plen = 4;
  a.op.set(arp::kRequest);
  std::memcpy(a.sha, src_mac.data(), 6);
  a.spa.set(src.v4_value());
  store_struct(bytes_.data() + sizeof(EthernetHeader), a);  // tha, tpa zero; padding zero
}

size_t ArpRequestTemplate::build(uint8_t* out, const IpAddress& target,
                                 const MacAddress* dst_mac) const {
  if (!target.is_v4()) return 0;
  std::memcpy(out, bytes_.data(), kSize);
  if (dst_mac != nullptr) std::memcpy(out, dst_mac->data(), 6);
  store_be32(out + sizeof(EthernetHeader) + offsetof(ArpHeader, tpa), target.v4_value());
  return kSize;
}

}  // namespace gh::net
