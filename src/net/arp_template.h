// ARP requests (RFC 826) for host discovery on an Ethernet segment (nmap -PR, arp-scan).
//
// Who fills which bytes:
//  * The constructor: the Ethernet header (broadcast destination, our MAC, ethertype ARP) and the
//    whole ARP body but the target protocol address (Ethernet/IPv4, op request, our MAC and
//    address as sender, a zero target hardware address), padded with zeros to the 60-byte
//    Ethernet minimum (veth and bridges do not pad; real NICs would).
//  * build(): the target protocol address, and optionally a unicast destination MAC (a re-check
//    of a known host, as nmap's ARP retries to a cached neighbour do).
// ARP has no checksum and no field a responder copies back besides the addresses, so there is no
// room for a keyed cookie: a reply is validated by its addresses (parse_arp in net/packet.h gives
// them; the discovery module accepts a reply only from an address it asked for, to our address
// and our MAC). An on-link attacker can forge ARP replies anyway: nmap and arp-scan accept the
// same.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/address.h"
#include "net/headers.h"

namespace gh::net {

class ArpRequestTemplate {
 public:
  static constexpr size_t kSize = 60;  // 14 + 28, padded to the Ethernet minimum

  // `src` must be IPv4 (UsageError otherwise).
  ArpRequestTemplate(const IpAddress& src, const MacAddress& src_mac);

  size_t size() const { return kSize; }
  // Writes one request for `target` to out[0..kSize). Returns kSize, or 0 when target is not
  // IPv4. `dst_mac` (null: broadcast) replaces the Ethernet destination. Never throws.
  size_t build(uint8_t* out, const IpAddress& target, const MacAddress* dst_mac = nullptr) const;

 private:
  std::array<uint8_t, kSize> bytes_{};
};

}  // namespace gh::net
