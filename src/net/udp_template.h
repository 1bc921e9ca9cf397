// UDP probes (nmap -PU: a datagram to a port that is most likely closed, so that a live host
// answers with ICMP port unreachable).
//
// Who fills which bytes:
//  * The constructor: the link header or none, the IP header but id/dst/checksum, the UDP length
//    and a 4-byte payload slot.
//  * build(): destination address, IPv4 identification, ports, the payload word and the
//    checksums, optionally the destination MAC.
// Validation (the caller's): the source port is a keyed hash of the probe (Cookie::source_port)
// and the payload word a keyed hash too (Cookie::probe_word). An ICMP error quotes our IP header
// and the first 8 bytes of UDP, so the quoted UDP checksum, which covers the payload word, tells
// whether the quoted datagram is one we built: expected_checksum() recomputes it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/address.h"
#include "net/headers.h"

namespace gh::net {

struct UdpTemplateParams {
  IpAddress src;
  bool ethernet = true;
  MacAddress src_mac{};
  MacAddress dst_mac{};
  uint8_t ttl = 64;
};

class UdpProbeTemplate {
 public:
  static constexpr size_t kPayload = 4;
  static constexpr size_t kMaxSize =
      sizeof(EthernetHeader) + sizeof(Ipv6Header) + sizeof(UdpHeader) + kPayload;

  explicit UdpProbeTemplate(const UdpTemplateParams& p);
  size_t size() const { return size_; }
  Family family() const { return family_; }
  size_t udp_offset() const { return udp_off_; }

  size_t build(uint8_t* out, const IpAddress& dst, uint16_t sport, uint16_t dport, uint32_t word,
               uint16_t ip_id, const MacAddress* dst_mac = nullptr) const;
  // The UDP checksum field build() writes for these values.
  uint16_t expected_checksum(const IpAddress& dst, uint16_t sport, uint16_t dport,
                             uint32_t word) const;

 private:
  std::array<uint8_t, kMaxSize> bytes_{};
  size_t size_ = 0, ip_off_ = 0, udp_off_ = 0;
  Family family_ = Family::V4;
  bool ethernet_ = true;
  uint64_t ip_sum_ = 0;
  uint64_t udp_sum_ = 0;  // pseudo-header without dst + header with ports/checksum zero
};

}  // namespace gh::net
