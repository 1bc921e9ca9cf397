// UDP datagrams with a payload (-sU): the link and IP headers laid out once per path, the UDP
// header, payload and checksums written per probe.
//
// Who fills which bytes:
//  * The constructor: the link header (Ethernet: next-hop MAC, our MAC, ethertype; or none) and
//    the IP header but its length, id, destination and checksum (IPv4) or payload length and
//    destination (IPv6).
//  * build(): the IP length, destination and (IPv4) identification and header checksum, the UDP
//    header, the payload with `patch` written over it (the probe's cookie in the payload's echo
//    field), and the UDP checksum.
// checksum() recomputes the UDP checksum build() writes, without building: an ICMP error quotes
// our IP header and the first 8 bytes of UDP, whose checksum covers the payload and the cookie
// in it, so the receiver can tell a quote of our datagram from a forged one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/address.h"
#include "net/headers.h"

namespace gh::net {

struct UdpDatagramParams {
  IpAddress src;
  bool ethernet = true;
  MacAddress src_mac{};
  MacAddress dst_mac{};
  uint8_t ttl = 64;
};

// Bytes written over the payload at `offset` (even; inside the payload).
struct PayloadPatch {
  size_t offset = 0;
  std::span<const uint8_t> bytes;
};

class UdpDatagramTemplate {
 public:
  static constexpr size_t kHeaders =
      sizeof(EthernetHeader) + sizeof(Ipv6Header) + sizeof(UdpHeader);

  explicit UdpDatagramTemplate(const UdpDatagramParams& p);
  Family family() const { return family_; }
  size_t udp_offset() const { return udp_off_; }
  // The frame's length for a payload of n bytes.
  size_t size(size_t payload) const { return udp_off_ + sizeof(UdpHeader) + payload; }

  // Writes one datagram to out; returns its length, or 0 (nothing written) when `out` is too
  // small, dst's family is not the template's, or the patch does not fit the payload. Never
  // throws, never allocates.
  size_t build(std::span<uint8_t> out, const IpAddress& dst, uint16_t sport, uint16_t dport,
               std::span<const uint8_t> payload, const PayloadPatch& patch, uint16_t ip_id) const;
  // The UDP checksum field build() writes for these values.
  uint16_t checksum(const IpAddress& dst, uint16_t sport, uint16_t dport,
                    std::span<const uint8_t> payload, const PayloadPatch& patch) const;

 private:
  std::array<uint8_t, sizeof(EthernetHeader) + sizeof(Ipv6Header)> bytes_{};
  size_t ip_off_ = 0, udp_off_ = 0;
  Family family_ = Family::V4;
  IpAddress src_;
  bool ethernet_ = true;
};

}  // namespace gh::net
