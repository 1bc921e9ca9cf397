// Classic BPF receive filters, hand-assembled (no libpcap).
//
// destination_filter() accepts exactly the frames a scanner's receiver wants: IPv4 or IPv6 packets
// addressed to one of our source addresses whose protocol is TCP, or ICMP for IPv4 / ICMPv6 for
// IPv6. Everything else (ARP, UDP, other destinations, runts) is dropped in the kernel before it
// costs a copy. receive_filter() is the general form: the IP protocols (and TCP/UDP destination
// ports) and ARP replies a ReceiveSpec names, per family if need be. Limits, on purpose: the IPv6
// next-header field is read from the fixed header only, so a packet with extension headers before
// TCP/UDP/ICMPv6 is dropped; 802.1Q tags are not parsed (Linux strips them into metadata on
// AF_PACKET for accelerated devices anyway).
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

// An inclusive range of ports.
struct PortSpan {
  uint16_t first = 0;
  uint16_t last = 65535;
  bool all() const { return first == 0 && last == 65535; }
  friend bool operator==(const PortSpan&, const PortSpan&) = default;
};

// What a receiver wants besides its own IP destinations (scan/probe_module.h: a probe module's
// ReceiveSpec; a receiver with several modules passes the union, `|=`).
struct ReceiveSpec {
  bool tcp = false;   // TCP to our addresses
  bool udp = false;   // UDP to our addresses
  bool icmp = false;  // ICMP (IPv4) and ICMPv6 to our addresses: errors quoting our probes,
                      // echo/timestamp/mask replies, IPv6 Neighbor Advertisements
  bool arp = false;   // ARP replies whose target protocol address is one of our IPv4 addresses
                      // (Ethernet framing only)
  // The destination ports (our source ports) of the TCP and UDP packets to pass: a module whose
  // probes all leave from a known range of source ports (the discovery pings) narrows them, so
  // that other TCP/UDP traffic to our address is dropped in the kernel. Default: every port.
  // IPv4 fragments after the first carry no port and are dropped when a span is narrowed.
  PortSpan tcp_ports{};
  PortSpan udp_ports{};

  bool any_ip() const { return tcp || udp || icmp; }
  // The union: everything either passes (a port span becomes the smallest span holding both;
  // a span of a protocol the side does not receive is ignored).
  ReceiveSpec& operator|=(const ReceiveSpec& other);
  friend bool operator==(const ReceiveSpec&, const ReceiveSpec&) = default;
};

// As destination_filter(), for the protocols `spec` names (destination_filter() is TCP + ICMP,
// every port), for both families. `spec.arp` adds ARP replies to the IPv4 destinations. Throws
// std::invalid_argument when the program would pass nothing (no destination, or nothing to
// receive for any family that has one) or, as destination_filter(), for too many addresses.
std::vector<sock_filter> receive_filter(LinkFraming framing,
                                        std::span<const IpAddress> destinations,
                                        const ReceiveSpec& spec);
// The same with a spec per family: IPv4 packets as `v4` says (and ARP replies when `v4.arp`),
// IPv6 packets as `v6` says (its `arp` is ignored). A family whose spec names no IP protocol
// gets no IP packet at all (an on-link IPv4 sweep that only sends ARP: no IPv4 packet passes).
std::vector<sock_filter> receive_filter(LinkFraming framing,
                                        std::span<const IpAddress> destinations,
                                        const ReceiveSpec& v4, const ReceiveSpec& v6);

}  // namespace gh
