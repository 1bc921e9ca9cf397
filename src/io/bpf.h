// Classic BPF receive filters, hand-assembled (no libpcap).
//
// destination_filter() accepts exactly the frames a scanner's receiver wants: IPv4 or IPv6 packets
// addressed to one of our source addresses whose protocol is TCP, or ICMP for IPv4 / ICMPv6 for
// IPv6. Everything else (ARP, UDP, other destinations, runts) is dropped in the kernel before it
// costs a copy. Limits, on purpose: the IPv6 next-header field is read from the fixed header only,
// so a packet with extension headers before TCP/ICMPv6 is dropped; 802.1Q tags are not parsed
// (Linux strips them into metadata on AF_PACKET for accelerated devices anyway).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <span>
#include <vector>

#include "core/address.h"

namespace gh {

// Where the IP header starts in the frames of a link.
enum class LinkFraming {
  Ethernet,  // 14-byte Ethernet header; also Linux loopback (Ethernet framing, zero MACs)
  RawIp,     // no link header: the frame starts at the IP header (ARPHRD_NONE, e.g. tun)
};

// The framing for an ARPHRD_* link type (ETHER and LOOPBACK: Ethernet; NONE: RawIp). Throws
// RuntimeError for link types we cannot build frames for.
LinkFraming framing_for(uint16_t arp_type);

// The program described above, for packets whose destination is one of `destinations` (both
// families may be mixed). Accepted packets are passed whole (up to 256 KiB). Throws
// std::invalid_argument for an empty list or one too long for classic BPF's 8-bit jumps (more
// than about 200 IPv4 or 25 IPv6 addresses).
std::vector<sock_filter> destination_filter(LinkFraming framing,
                                            std::span<const IpAddress> destinations);
inline std::vector<sock_filter> destination_filter(LinkFraming framing,
                                                   const IpAddress& destination) {
  return destination_filter(framing, std::span<const IpAddress>(&destination, 1));
}

// What a receiver wants besides its own IP destinations (scan/probe_module.h: a probe module's
// ReceiveSpec; the raw transport passes the union over its modules).
struct ReceiveSpec {
  bool tcp = false;   // TCP to our addresses
  bool udp = false;   // UDP to our addresses
  bool icmp = false;  // ICMP (IPv4) and ICMPv6 to our addresses: errors quoting our probes,
                      // echo/timestamp/mask replies, IPv6 Neighbor Advertisements
  bool arp = false;   // ARP replies whose target protocol address is one of our IPv4 addresses
                      // (Ethernet framing only)
};

// As destination_filter(), for the protocols `spec` names (destination_filter() is TCP + ICMP).
// At least one of tcp/udp/icmp must be set. Throws as destination_filter() does.
std::vector<sock_filter> receive_filter(LinkFraming framing,
                                        std::span<const IpAddress> destinations,
                                        const ReceiveSpec& spec);

}  // namespace gh
