// Replies to host-discovery probes, for the probe module tests: each is the Ethernet frame a
// target (or a router) would send back to a frame our module built, without checksums (the
// modules do not check them; the kernel already did).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/address.h"
#include "net/bytes.h"
#include "net/headers.h"
#include "net/packet.h"

namespace gh::test {

using net::MacAddress;

inline const MacAddress kTargetMac{2, 0, 0, 0, 0, 5};

inline net::ParsedPacket parsed_probe(const std::vector<uint8_t>& frame) {
  net::ParsedPacket p;
  EXPECT_TRUE(net::parse_packet(frame, net::LinkType::Ethernet, p));
  return p;
}

inline void put_mac(std::vector<uint8_t>& b, const MacAddress& m) {
  b.insert(b.end(), m.begin(), m.end());
}

inline void put_addr(std::vector<uint8_t>& b, const IpAddress& a) {
  const auto bytes = a.bytes();
  b.insert(b.end(), bytes.begin(), bytes.begin() + (a.is_v4() ? 4 : 16));
}

// An Ethernet frame from `from_mac` to `to_mac` with an IP packet from `src` to `dst`.
inline std::vector<uint8_t> ip_frame(const MacAddress& to_mac, const MacAddress& from_mac,
                                     const IpAddress& src, const IpAddress& dst, uint8_t proto,
                                     const std::vector<uint8_t>& l4, uint8_t ttl = 61) {
  std::vector<uint8_t> b;
  put_mac(b, to_mac);
  put_mac(b, from_mac);
  if (src.is_v4()) {
    b.insert(b.end(), {0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, ttl, proto, 0, 0});
    net::store_be16(&b[16], static_cast<uint16_t>(20 + l4.size()));
  } else {
    b.insert(b.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, 0, proto, ttl});
    net::store_be16(&b[18], static_cast<uint16_t>(l4.size()));
  }
  put_addr(b, src);
  put_addr(b, dst);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

// The target's answer to an ICMP request: the same message with the reply's type.
inline std::vector<uint8_t> icmp_reply(const std::vector<uint8_t>& probe, uint8_t reply_type) {
  const net::ParsedPacket p = parsed_probe(probe);
  std::vector<uint8_t> l4(probe.begin() + p.l4_offset, probe.end());
  l4[0] = reply_type;
  return ip_frame(p.src_mac, kTargetMac, p.dst, p.src, p.l4_protocol, l4);
}

// The target's TCP answer to a SYN or ACK probe: `flags`, seq and ack as given.
inline std::vector<uint8_t> tcp_answer(const std::vector<uint8_t>& probe, uint8_t flags,
                                       uint32_t seq, uint32_t ack) {
  const net::ParsedPacket p = parsed_probe(probe);
  std::vector<uint8_t> l4(20, 0);
  net::store_be16(&l4[0], p.tcp.dport);
  net::store_be16(&l4[2], p.tcp.sport);
  net::store_be32(&l4[4], seq);
  net::store_be32(&l4[8], ack);
  l4[12] = 0x50;
  l4[13] = flags;
  return ip_frame(p.src_mac, kTargetMac, p.dst, p.src, net::ipproto::kTcp, l4);
}
// SYN-ACK (0x12) or RST|ACK (0x14) to a SYN: ack = seq + 1.
inline std::vector<uint8_t> syn_answer(const std::vector<uint8_t>& probe, uint8_t flags) {
  return tcp_answer(probe, flags, 777, parsed_probe(probe).tcp.seq + 1);
}
// RST to an unexpected ACK (RFC 793): seq = the ACK's acknowledgment number.
inline std::vector<uint8_t> ack_answer(const std::vector<uint8_t>& probe) {
  return tcp_answer(probe, net::tcpflag::kRst, parsed_probe(probe).tcp.ack, 0);
}

// A UDP datagram from the pinged port back to our source port.
inline std::vector<uint8_t> udp_answer(const std::vector<uint8_t>& probe) {
  const net::ParsedPacket p = parsed_probe(probe);
  std::vector<uint8_t> l4(12, 0);
  net::store_be16(&l4[0], p.udp.dport);
  net::store_be16(&l4[2], p.udp.sport);
  net::store_be16(&l4[4], 12);
  return ip_frame(p.src_mac, kTargetMac, p.dst, p.src, net::ipproto::kUdp, l4);
}

// An ICMP/ICMPv6 error about `probe`, quoting its IP header and first 8 L4 bytes, sent by
// `from` (the target itself when unset).
inline std::vector<uint8_t> icmp_error(const std::vector<uint8_t>& probe, uint8_t type,
                                       uint8_t code, std::optional<IpAddress> from = {}) {
  const net::ParsedPacket p = parsed_probe(probe);
  std::vector<uint8_t> l4 = {type, code, 0, 0, 0, 0, 0, 0};
  l4.insert(l4.end(), probe.begin() + 14, probe.begin() + p.l4_offset + 8);
  const uint8_t proto = p.ip_version == 4 ? net::ipproto::kIcmp : net::ipproto::kIcmpv6;
  return ip_frame(p.src_mac, kTargetMac, from.value_or(p.dst), p.src, proto, l4);
}

// An ARP reply from (target, kTargetMac) to us, unicast.
inline std::vector<uint8_t> arp_reply(const IpAddress& target, const IpAddress& ours,
                                      const MacAddress& our_mac, uint16_t op = 2) {
  std::vector<uint8_t> b;
  put_mac(b, our_mac);
  put_mac(b, kTargetMac);
  b.insert(b.end(), {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, static_cast<uint8_t>(op)});
  put_mac(b, kTargetMac);
  put_addr(b, target);
  put_mac(b, our_mac);
  put_addr(b, ours);
  b.resize(60, 0);
  return b;
}

// A Neighbor Advertisement for `target` from it to us (hop limit 255), with its MAC option.
inline std::vector<uint8_t> neighbor_advert(const IpAddress& target, const IpAddress& ours,
                                            const MacAddress& our_mac,
                                            uint8_t flags = net::icmp6::kNaSolicited) {
  std::vector<uint8_t> l4 = {net::icmp6::kNeighborAdvert, 0, 0, 0, flags, 0, 0, 0};
  put_addr(l4, target);
  l4.insert(l4.end(), {2, 1});
  put_mac(l4, kTargetMac);
  return ip_frame(our_mac, kTargetMac, target, ours, net::ipproto::kIcmpv6, l4, 255);
}

}  // namespace gh::test
