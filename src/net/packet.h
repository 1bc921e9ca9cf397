// Parsing one captured frame into a flat, fixed-size ParsedPacket: the receive path of the SYN
// scanner and the input of the `watch` detector.
//
// Contract:
//  * parse_packet() never reads outside `frame`, never allocates and never throws, whatever the
//    bytes. Every read goes through one bounds-checked Reader (bytes.h).
//  * It returns false, and `out` must then be ignored, when the frame is not an IPv4/IPv6 packet
//    it can account for: truncated at any layer (the frame must hold the whole IP packet as its
//    IP length field says; trailing bytes such as Ethernet padding are ignored), a bad IP
//    version, IHL < 5, an IP length shorter than its headers, an IPv6 jumbogram (payload length
//    0 with a hop-by-hop header: the header does not fit in 0 bytes), more than
//    kMaxIpv6ExtHeaders extension headers, a truncated extension header, a TCP data offset < 5 or
//    past the IP packet, a UDP length < 8 or past the IP packet, a non-IP ethertype (ARP...).
//  * It returns true with l4_parsed == false when the IP layer is fine but there is no L4 header
//    to read: a non-first fragment, a first fragment too short to hold the L4 header (a "tiny
//    fragment"), ESP, no-next-header, or a protocol other than TCP, UDP, ICMP, ICMPv6.
//  * Malformed TCP options do not fail the parse: options.malformed is set and the recognised
//    options before the bad one are kept. The raw option bytes are always copied.
//  * An ICMP error whose quoted packet is cut short does not fail the parse either: `quoted`
//    holds what could be read (quoted.valid / quoted.has_l4 say how much).
//  * Checksums are not verified; call verify_l4_checksum() / verify_ipv4_header_checksum().
//  * Offsets (l4_offset, payload_offset) index into `frame`; they stay meaningful only as long as
//    the caller keeps the frame. ParsedPacket itself holds no pointers.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <type_traits>

#include "core/address.h"
#include "net/headers.h"

namespace gh::net {

enum class LinkType : uint8_t {
  Ethernet,   // DLT_EN10MB, with up to two 802.1Q/802.1ad tags
  RawIp,      // DLT_RAW / ARPHRD_NONE / raw IP sockets: starts at the IP header
  LinuxSll,   // DLT_LINUX_SLL (cooked v1)
  LinuxSll2,  // DLT_LINUX_SLL2 (cooked v2)
  Loopback,   // DLT_NULL, BSD loopback: 4-byte address family in either byte order
};

inline constexpr int kMaxIpv6ExtHeaders = 8;

struct ParsedPacket {
  // TCP options, as far as a fingerprinting detector needs them.
  struct TcpOptions {
    bool has_mss = false;
    bool has_wscale = false;
    bool sack_permitted = false;
    bool has_sack = false;  // SACK blocks (kind 5)
    bool has_timestamp = false;
    bool malformed = false;  // a length byte < 2 or past the option area; parsing stopped there
    uint16_t mss = 0;
    uint8_t wscale = 0;
    uint32_t ts_val = 0;
    uint32_t ts_ecr = 0;
    uint8_t len = 0;                            // bytes in raw (= header length - 20)
    std::array<uint8_t, kTcpMaxOptions> raw{};  // the option bytes exactly as sent
  };

  struct Tcp {
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;        // tcpflag::k*
    uint8_t data_offset = 0;  // header length in 32-bit words, 5..15
    uint16_t window = 0;
    uint16_t checksum = 0;
    uint16_t urgent = 0;
    TcpOptions options;
  };

  struct Udp {
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint16_t length = 0;  // the UDP length field (header + payload)
    uint16_t checksum = 0;
  };

  struct Icmp {
    uint8_t type = 0;
    uint8_t code = 0;
    uint16_t checksum = 0;
    uint32_t rest = 0;  // the 4 bytes after the checksum (echo id << 16 | echo seq, MTU, ...)
    uint16_t id() const { return static_cast<uint16_t>(rest >> 16); }
    uint16_t seq() const { return static_cast<uint16_t>(rest); }
  };

  // The packet an ICMP/ICMPv6 error quotes: usually one of ours, so its src is our address.
  struct Quoted {
    bool valid = false;   // the quoted IP header was complete
    bool has_l4 = false;  // and at least 8 bytes of its L4 header followed (and it is not a
                          // non-first fragment)
    uint8_t ip_version = 0;
    uint8_t protocol = 0;  // after any quoted IPv6 extension headers
    uint8_t ttl = 0;
    uint16_t ip_id = 0;         // IPv4 only
    uint32_t ip_total_len = 0;  // as the quoted header says (the original packet's length)
    IpAddress src;
    IpAddress dst;
    // From the first 8 L4 bytes. TCP: ports and seq. UDP: ports; seq = length << 16 | checksum.
    // ICMP/ICMPv6: sport = type << 8 | code, dport = checksum, seq = echo id << 16 | echo seq.
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint32_t seq = 0;
  };

  // ---- Link layer ----
  LinkType link = LinkType::RawIp;
  bool has_src_mac = false;  // Ethernet; SLL/SLL2 when the address is a 6-byte Ethernet one
  bool has_dst_mac = false;  // Ethernet only
  MacAddress src_mac{};
  MacAddress dst_mac{};
  uint16_t ethertype = 0;  // innermost, after VLAN tags (0 for RawIp and Loopback)
  uint16_t vlan_id = 0;    // outermost tag's VID, 0 if untagged
  uint8_t vlan_count = 0;
  uint8_t sll_packet_type = 0;  // SLL/SLL2: kSllPacket* (4 = sent by this host)

  // ---- IP layer ----
  uint8_t ip_version = 0;        // 4 or 6
  uint8_t ttl = 0;               // IPv4 TTL or IPv6 hop limit
  uint8_t tos = 0;               // IPv4 TOS or IPv6 traffic class
  uint8_t ext_header_count = 0;  // IPv6 extension headers walked
  uint16_t ip_id = 0;            // IPv4 identification
  uint32_t ip_offset = 0;        // where the IP header starts in the frame
  uint16_t ip_header_len = 0;    // IPv4 IHL * 4, or IPv6 40 + extension headers
  uint32_t ip_total_len = 0;     // IPv4 total length, or IPv6 40 + payload length
  uint32_t flow_label = 0;       // IPv6
  uint32_t frag_id = 0;          // IPv6 fragment header identification (IPv4: see ip_id)
  IpAddress src;
  IpAddress dst;
  bool dont_fragment = false;   // IPv4 DF
  bool more_fragments = false;  // IPv4 MF or IPv6 fragment header M flag
  bool is_fragment = false;     // MF set or a non-zero offset (an IPv6 atomic fragment is not)
  uint16_t frag_offset = 0;     // in bytes
  uint8_t l4_protocol = 0;      // ipproto::k*: IPv4 protocol or the last IPv6 next header

  // ---- Transport layer ----
  bool l4_parsed = false;  // tcp/udp/icmp below was filled (see the contract above)
  uint32_t l4_offset = 0;  // where the L4 header starts in the frame
  uint16_t l4_len = 0;     // L4 header + payload, up to the end of the IP packet
  uint32_t payload_offset = 0;
  uint16_t payload_len = 0;  // TCP/UDP payload; for ICMP the bytes after the first 8
  Tcp tcp;                   // when l4_protocol == kTcp
  Udp udp;                   // when l4_protocol == kUdp
  Icmp icmp;                 // when l4_protocol == kIcmp (IPv4) or kIcmpv6 (IPv6)
  Quoted quoted;             // when icmp.type is an error type

  bool is_tcp() const { return l4_parsed && l4_protocol == ipproto::kTcp; }
  bool is_udp() const { return l4_parsed && l4_protocol == ipproto::kUdp; }
  // ICMP over IPv4 or ICMPv6 over IPv6.
  bool is_icmp() const {
    return l4_parsed && ((ip_version == 4 && l4_protocol == ipproto::kIcmp) ||
                         (ip_version == 6 && l4_protocol == ipproto::kIcmpv6));
  }
  // An ICMP/ICMPv6 error (unreachable, time exceeded, ...) whose quote was read.
  bool is_icmp_error() const { return is_icmp() && quoted.valid; }
};

static_assert(std::is_trivially_copyable_v<ParsedPacket>);

// Parses `frame` as a frame of `link` type into `out` (fully overwritten). See the contract above.
bool parse_packet(std::span<const uint8_t> frame, LinkType link, ParsedPacket& out);

// An ARP packet (RFC 826) for Ethernet and IPv4, the only kind host discovery sends and reads.
struct ArpPacket {
  MacAddress src_mac{};  // link-layer source (Ethernet, or SLL/SLL2 with a 6-byte address)
  MacAddress dst_mac{};  // Ethernet only; zeros for SLL
  uint16_t vlan_id = 0;
  uint16_t op = 0;   // arp::kRequest or arp::kReply
  MacAddress sha{};  // sender hardware address
  MacAddress tha{};  // target hardware address
  IpAddress spa;     // sender protocol address (IPv4)
  IpAddress tpa;     // target protocol address (IPv4)
};

// Parses `frame` as an ARP request or reply (through the same link-layer walk as parse_packet:
// Ethernet with up to two VLAN tags, SLL, SLL2). False, with `out` to be ignored, for anything
// else: another ethertype, a link type without ethertypes (RawIp, Loopback), a truncated body,
// hardware or protocol types other than Ethernet/IPv4, address lengths other than 6/4, or an
// opcode other than request/reply. Never reads outside `frame`, never throws.
bool parse_arp(std::span<const uint8_t> frame, LinkType link, ArpPacket& out);

// Recomputes the TCP, UDP, ICMP or ICMPv6 checksum of a packet parse_packet() accepted from the
// same `frame`. False if the packet has no parsed L4 header, is a fragment (the checksum covers
// the reassembled datagram) or the checksum is wrong. A UDP checksum of 0 over IPv4 means "none"
// and verifies. The IPv6 pseudo-header uses the IPv6 header's destination (a routing header's
// final destination is not looked up).
bool verify_l4_checksum(std::span<const uint8_t> frame, const ParsedPacket& p);

// Recomputes the IPv4 header checksum. False for IPv6 or a wrong checksum.
bool verify_ipv4_header_checksum(std::span<const uint8_t> frame, const ParsedPacket& p);

}  // namespace gh::net
