// ICMP probes for host discovery: echo (nmap -PE), timestamp (-PP) and address mask (-PM)
// requests over IPv4, echo requests over IPv6, and IPv6 Neighbor Solicitations (RFC 4861, the
// IPv6 twin of ARP, nmap's default on an on-link IPv6 range).
//
// As for TCP (tcp_template.h), the constant bytes are laid out once and build() patches the
// per-probe fields and finishes the checksums from precomputed partial sums.
//
// IcmpProbeTemplate, who fills which bytes:
//  * The constructor: the link header (next hop's MAC, ours, ethertype) or none; the IP header but
//    id/dst/checksum; the ICMP type, code 0, and the body (timestamp: three zero timestamps;
//    address mask: a zero mask; echo: no data, as nmap sends).
//  * build(): destination address, IPv4 identification, the ICMP identifier and sequence number
//    (the caller's keyed cookie: net/cookie.h Cookie::icmp_id_seq), the checksums, and
//    optionally the destination MAC (a per-host next hop on a LAN).
// NeighborSolicitTemplate:
//  * The constructor: Ethernet (our MAC), IPv6 (hop limit 255, as RFC 4861 requires, our
//    address), ICMPv6 type 135 with a source link-layer address option carrying our MAC.
//  * build(): the target address, its solicited-node multicast group as IPv6 destination
//    (ff02::1:ffXX:XXXX, the target's low 24 bits) and MAC (33:33:ff:XX:XX:XX), the checksum.
// A Neighbor Advertisement copies nothing of ours back but the target address; it is validated
// like ARP, by address (parse_neighbor_advert below; the module checks the target is one it
// solicited and that the advertisement is a solicited one to our address).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/address.h"
#include "net/headers.h"
#include "net/packet.h"

namespace gh::net {

enum class IcmpProbeKind : uint8_t {
  Echo,         // IPv4 type 8, or IPv6 type 128 when the template's source is IPv6
  Timestamp,    // IPv4 type 13 (IPv4 only)
  AddressMask,  // IPv4 type 17 (IPv4 only)
};

struct IcmpTemplateParams {
  IpAddress src;         // our address; its family makes the template IPv4 or IPv6
  bool ethernet = true;  // false: no link header
  MacAddress src_mac{};
  MacAddress dst_mac{};  // the next hop's MAC (gateway, or the target on a LAN)
  uint8_t ttl = 64;
  IcmpProbeKind kind = IcmpProbeKind::Echo;
};

class IcmpProbeTemplate {
 public:
  static constexpr size_t kMaxSize = sizeof(EthernetHeader) + sizeof(Ipv6Header) + 8 + 12;

  // UsageError for a timestamp or address-mask template with an IPv6 source.
  explicit IcmpProbeTemplate(const IcmpTemplateParams& p);

  size_t size() const { return size_; }
  Family family() const { return family_; }
  // The ICMP type of the request, and the type a reply to it has.
  uint8_t request_type() const { return type_; }
  uint8_t reply_type() const;
  size_t ip_offset() const { return ip_off_; }
  size_t icmp_offset() const { return icmp_off_; }

  // Writes one request to out[0..size()); 0 when dst's family is not the template's. `dst_mac`
  // (null: the template's) replaces the Ethernet destination. Never throws, never allocates.
  size_t build(uint8_t* out, const IpAddress& dst, uint16_t id, uint16_t seq, uint16_t ip_id,
               const MacAddress* dst_mac = nullptr) const;

 private:
  std::array<uint8_t, kMaxSize> bytes_{};
  size_t size_ = 0, ip_off_ = 0, icmp_off_ = 0;
  Family family_ = Family::V4;
  bool ethernet_ = true;
  uint8_t type_ = 0;
  uint64_t ip_sum_ = 0;    // IPv4 header, id/dst/checksum zero
  uint64_t icmp_sum_ = 0;  // ICMP message with id/seq/checksum zero (+ IPv6 pseudo-header, no dst)
};

// ff02::1:ffXX:XXXX for `target` (RFC 4291 section 2.7.1), and its MAC 33:33:ff:XX:XX:XX
// (RFC 2464 section 7).
IpAddress solicited_node_address(const IpAddress& target);
MacAddress solicited_node_mac(const IpAddress& target);

class NeighborSolicitTemplate {
 public:
  static constexpr size_t kSize = sizeof(EthernetHeader) + sizeof(Ipv6Header) + 32;

  // `src` must be IPv6 (UsageError otherwise).
  NeighborSolicitTemplate(const IpAddress& src, const MacAddress& src_mac);
  size_t size() const { return kSize; }
  // One solicitation for `target` to out[0..kSize); 0 when target is not IPv6. `dst_mac`
  // (null: the solicited-node group) sends it unicast instead (with the IPv6 destination then
  // the target itself, as a reachability probe does).
  size_t build(uint8_t* out, const IpAddress& target, const MacAddress* dst_mac = nullptr) const;

 private:
  std::array<uint8_t, kSize> bytes_{};
  uint64_t icmp_sum_ = 0;  // pseudo-header without dst + message without target, checksum zero
};

// What a Neighbor Advertisement says (type 136 in a packet parse_packet accepted).
struct NeighborAdvert {
  IpAddress target;               // the address it advertises
  uint8_t flags = 0;              // icmp6::kNaRouter | kNaSolicited | kNaOverride
  std::optional<MacAddress> mac;  // the target link-layer address option, when present
};

// Reads the advertisement in `frame` (which parse_packet turned into `p`). False when `p` is not
// an ICMPv6 type 136 code 0 with hop limit 255 (RFC 4861 7.1.2: anything else is forged or
// forwarded), or its body is truncated; a malformed option (length 0, past the end) stops the
// option walk but keeps the target.
bool parse_neighbor_advert(std::span<const uint8_t> frame, const ParsedPacket& p,
                           NeighborAdvert& out);

}  // namespace gh::net
