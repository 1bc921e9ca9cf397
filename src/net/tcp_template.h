// Packet templates for TCP SYN probes (masscan's templ-pkt.c, zmap's synscan_prepare_packet):
// the constant bytes of the probe are laid out once, when the scan starts; per probe, build()
// copies them, patches the few per-target fields and finishes both checksums from partial sums
// precomputed over the constant bytes, so a probe costs one memcpy and a handful of additions.
//
// Who fills which bytes:
//  * The constructor: the link header (Ethernet: next-hop MAC, our MAC, ethertype; or none), the
//    whole IP header but id/dst/checksum (version, TOS, length, DF, TTL, protocol, our address),
//    and the whole TCP header but ports/seq/checksum (ack 0, data offset, SYN flag, window,
//    urgent 0, the options).
//  * build(): destination address, IPv4 identification (ignored for IPv6, which has no such
//    field without a fragment header), source and destination ports, sequence number, and the
//    IPv4 header and TCP checksums.
// The caller chooses sport and seq (cookie.h): the template has no notion of validation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/address.h"
#include "net/headers.h"

namespace gh::net {

// The MSS option bytes (kind 2, length 4).
std::vector<uint8_t> tcp_option_mss(uint16_t mss);

struct SynTemplateParams {
  IpAddress src;         // our address; its family makes the template IPv4 or IPv6
  bool ethernet = true;  // false: no link header (raw IP sockets, ARPHRD_NONE/tun devices)
  MacAddress src_mac{};  // Ethernet only: our interface's MAC
  MacAddress dst_mac{};  // Ethernet only: the next hop's MAC (gateway or on-link target)
  uint8_t ttl = 64;      // IPv4 TTL / IPv6 hop limit
  uint8_t tos = 0;       // IPv4 TOS / IPv6 traffic class
  bool dont_fragment = false;
  uint16_t window = 1024;
  // TCP flags: SYN for -sS and -PS; ACK for an ACK ping (-PA), whose acknowledgment number
  // build() then takes as well.
  uint8_t flags = tcpflag::kSyn;
  // Raw TCP options, padded with EOL to a multiple of 4; at most 40 bytes.
  std::vector<uint8_t> tcp_options = tcp_option_mss(1460);
};

class TcpSynTemplate {
 public:
  // Ethernet (14) + IPv6 (40) + TCP with 40 bytes of options (60).
  static constexpr size_t kMaxSize = sizeof(EthernetHeader) + sizeof(Ipv6Header) + 60;

  // Throws UsageError if the options exceed 40 bytes.
  explicit TcpSynTemplate(const SynTemplateParams& params);

  // Bytes every build() writes.
  size_t size() const { return size_; }
  Family family() const { return family_; }
  // Offsets of the IP and TCP headers in a built packet (0 and 20/40 without a link header).
  size_t ip_offset() const { return ip_off_; }
  size_t tcp_offset() const { return tcp_off_; }

  // Writes one SYN to out[0..size()). `out` must have room for size() bytes. Returns size(), or 0
  // (writing nothing) if dst's family is not the template's. Never throws, never allocates.
  size_t build(uint8_t* out, const IpAddress& dst, uint16_t sport, uint16_t dport, uint32_t seq,
               uint16_t ip_id) const {
    return build(out, dst, sport, dport, seq, ip_id, 0, nullptr);
  }
  // The same with an acknowledgment number (meaningful with the ACK flag) and, when `dst_mac` is
  // not null, that destination MAC instead of the template's (a per-host next hop on a LAN).
  size_t build(uint8_t* out, const IpAddress& dst, uint16_t sport, uint16_t dport, uint32_t seq,
               uint16_t ip_id, uint32_t ack, const MacAddress* dst_mac) const;
  // As above; returns 0 also when `out` is smaller than size().
  size_t build(std::span<uint8_t> out, const IpAddress& dst, uint16_t sport, uint16_t dport,
               uint32_t seq, uint16_t ip_id) const {
    return out.size() < size_ ? 0 : build(out.data(), dst, sport, dport, seq, ip_id);
  }

 private:
  std::array<uint8_t, kMaxSize> bytes_{};
  size_t size_ = 0;
  size_t ip_off_ = 0;
  size_t tcp_off_ = 0;
  Family family_ = Family::V4;
  bool ethernet_ = true;
  uint64_t ip_sum_ = 0;   // IPv4 header with id, dst and checksum zero
  uint64_t tcp_sum_ = 0;  // pseudo-header without dst + TCP header with ports, seq, checksum zero
};

}  // namespace gh::net
