// PacketEvent: what the detector needs to know about one captured packet, and nothing more.
//
// The capture layer (live or a pcap file) turns each frame into one PacketEvent through
// make_event() (src/detect/decode.h); the detector (src/detect/detector.h) consumes events and
// never sees bytes. Unit tests build events directly, so every detection rule can be tested
// without packets, and separately the decoding can be tested from byte fixtures.
#pragma once

#include <cstdint>

#include "core/address.h"
#include "net/announce_option.h"
#include "net/headers.h"

namespace gh::detect {

// TCP flag bits and IP protocol numbers: the shared wire constants (net/headers.h).
namespace tcpf = gh::net::tcpflag;
inline constexpr uint8_t kProtoIcmp = net::ipproto::kIcmp;
inline constexpr uint8_t kProtoTcp = net::ipproto::kTcp;
inline constexpr uint8_t kProtoUdp = net::ipproto::kUdp;
inline constexpr uint8_t kProtoIcmp6 = net::ipproto::kIcmpv6;

// A summary of the TCP options of a segment: enough to tell an OS stack from a raw-packet scanner.
struct TcpOptionSummary {
  uint16_t mss = 0;   // 0: no MSS option
  uint8_t count = 0;  // options other than NOP/EOL
  bool sack_permitted = false;
  bool timestamps = false;
  bool window_scale = false;
  bool malformed = false;  // a length that runs past the header
};

// For ICMP/ICMPv6 errors: the head of the packet that provoked the error, as quoted in it.
struct IcmpQuote {
  bool present = false;
  uint8_t proto = 0;
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;
};

struct PacketEvent {
  int64_t ts_us = 0;  // capture time, microseconds since the epoch
  IpAddress src, dst;
  // Ethernet frames only: the link addresses, so that a challenge (challenge.h) goes back the way
  // the probe came, and its answer can be checked to come from the same place.
  bool has_macs = false;
  net::MacAddress src_mac{}, dst_mac{};
  uint8_t proto = 0;   // kProtoTcp, kProtoUdp, kProtoIcmp, kProtoIcmp6
  uint8_t ttl = 0;     // IPv4 TTL or IPv6 hop limit
  uint16_t ip_id = 0;  // IPv4 identification (0 for IPv6)
  uint16_t sport = 0, dport = 0;
  // TCP only.
  uint8_t tcp_flags = 0;
  uint16_t window = 0;
  uint32_t seq = 0, ack = 0;
  TcpOptionSummary options;
  bool has_announce = false;  // the announced-scan tag: TCP option, UDP trailer (announce_option.h)
  net::AnnounceOption announce;  // its fields, when has_announce
  uint32_t payload_len =
      0;  // bytes after the transport header (as captured or as claimed, the less)
  // ICMP only.
  uint8_t icmp_type = 0, icmp_code = 0;
  uint16_t icmp_id = 0;  // echo identifier
  IcmpQuote quote;

  bool is_tcp() const { return proto == kProtoTcp; }
  bool is_udp() const { return proto == kProtoUdp; }
  bool is_icmp() const { return proto == kProtoIcmp || proto == kProtoIcmp6; }
  bool has(uint8_t flag) const { return (tcp_flags & flag) != 0; }
};

}  // namespace gh::detect
