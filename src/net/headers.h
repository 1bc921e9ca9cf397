// Wire layouts and protocol constants for the headers the scanner sends and the detector reads.
//
// Each struct is the exact on-the-wire layout (alignment 1, no padding; multi-byte fields are
// be16/be32 in network order). Read them with Reader::read_struct(), write them with
// store_struct(). Variable parts (IPv4 options, IPv6 extension headers, TCP options) are not in
// the structs; their lengths come from the fixed part.
#pragma once

#include <array>
#include <cstdint>

#include "net/bytes.h"

namespace gh::net {

using MacAddress = std::array<uint8_t, 6>;

// ---- Link layer --------------------------------------------------------------------------------

namespace ethertype {
inline constexpr uint16_t kIpv4 = 0x0800;
inline constexpr uint16_t kArp = 0x0806;
inline constexpr uint16_t kVlan = 0x8100;  // 802.1Q tag
inline constexpr uint16_t kQinQ = 0x88A8;  // 802.1ad outer tag
inline constexpr uint16_t kIpv6 = 0x86DD;
}  // namespace ethertype

struct EthernetHeader {
  uint8_t dst[6];
  uint8_t src[6];
  be16 ethertype;
};
static_assert(sizeof(EthernetHeader) == 14);

// The 4 bytes after an 802.1Q / 802.1ad ethertype: TCI then the inner ethertype.
struct VlanTag {
  be16 tci;  // PCP(3) DEI(1) VID(12)
  be16 ethertype;
};
static_assert(sizeof(VlanTag) == 4);

// DLT_LINUX_SLL ("cooked" capture, v1): 16 bytes.
struct LinuxSllHeader {
  be16 packet_type;  // kSllPacket*: to us, broadcast, multicast, otherhost, outgoing
  be16 arphrd_type;  // ARPHRD_ETHER = 1
  be16 addr_len;
  uint8_t addr[8];  // sender's link-layer address, addr_len bytes used
  be16 protocol;    // ethertype
};
static_assert(sizeof(LinuxSllHeader) == 16);

// DLT_LINUX_SLL2: 20 bytes.
struct LinuxSll2Header {
  be16 protocol;  // ethertype
  be16 reserved;
  be32 ifindex;
  be16 arphrd_type;
  uint8_t packet_type;
  uint8_t addr_len;
  uint8_t addr[8];
};
static_assert(sizeof(LinuxSll2Header) == 20);

inline constexpr uint16_t kSllPacketHost = 0;
inline constexpr uint16_t kSllPacketBroadcast = 1;
inline constexpr uint16_t kSllPacketMulticast = 2;
inline constexpr uint16_t kSllPacketOtherHost = 3;
inline constexpr uint16_t kSllPacketOutgoing = 4;
inline constexpr uint16_t kArphrdEther = 1;

// DLT_NULL (BSD loopback): a 4-byte address family in the capturing host's byte order.
inline constexpr uint32_t kNullAfInet = 2;
// AF_INET6 differs per OS: Linux 10, NetBSD/OpenBSD/BSD/OS 24, FreeBSD 28, Darwin 30.
inline constexpr uint32_t kNullAfInet6[] = {10, 24, 28, 30};

// ---- ARP (RFC 826), Ethernet + IPv4 only ----------------------------------------------------

struct ArpHeader {
  be16 htype;      // 1: Ethernet
  be16 ptype;      // 0x0800: IPv4
  uint8_t hlen;    // 6
  uint8_t plen;    // 4
  be16 op;         // arp::kRequest / arp::kReply
  uint8_t sha[6];  // sender hardware address
  be32 spa;        // sender protocol address
  uint8_t tha[6];  // target hardware address (zero in a request)
  be32 tpa;        // target protocol address
};
static_assert(sizeof(ArpHeader) == 28);

namespace arp {
inline constexpr uint16_t kHtypeEthernet = 1;
inline constexpr uint16_t kRequest = 1;
inline constexpr uint16_t kReply = 2;
}  // namespace arp

// ---- IP ----------------------------------------------------------------------------------------

namespace ipproto {
inline constexpr uint8_t kHopByHop = 0;
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kRouting = 43;
inline constexpr uint8_t kFragment = 44;
inline constexpr uint8_t kEsp = 50;
inline constexpr uint8_t kAh = 51;
inline constexpr uint8_t kIcmpv6 = 58;
inline constexpr uint8_t kNoNext = 59;
inline constexpr uint8_t kDstOpts = 60;
}  // namespace ipproto

struct Ipv4Header {
  uint8_t ver_ihl;  // version (4) << 4 | header length in 32-bit words
  uint8_t tos;
  be16 total_len;
  be16 id;
  be16 frag;  // flags (3) << 13 | fragment offset in 8-byte units
  uint8_t ttl;
  uint8_t protocol;
  be16 checksum;
  be32 src;
  be32 dst;

  uint8_t version() const { return ver_ihl >> 4; }
  uint8_t ihl() const { return ver_ihl & 0x0F; }
};
static_assert(sizeof(Ipv4Header) == 20);

inline constexpr uint16_t kIpv4FlagReserved = 0x8000;
inline constexpr uint16_t kIpv4FlagDf = 0x4000;
inline constexpr uint16_t kIpv4FlagMf = 0x2000;
inline constexpr uint16_t kIpv4FragOffsetMask = 0x1FFF;

struct Ipv6Header {
  be32 ver_tc_flow;  // version (6) << 28 | traffic class << 20 | flow label
  be16 payload_len;
  uint8_t next_header;
  uint8_t hop_limit;
  uint8_t src[16];
  uint8_t dst[16];

  uint8_t version() const { return static_cast<uint8_t>(ver_tc_flow.get() >> 28); }
  uint8_t traffic_class() const { return static_cast<uint8_t>(ver_tc_flow.get() >> 20); }
  uint32_t flow_label() const { return ver_tc_flow.get() & 0xFFFFF; }
};
static_assert(sizeof(Ipv6Header) == 40);

// The common start of hop-by-hop, routing and destination-options headers: length is
// (hdr_ext_len + 1) * 8 bytes. For AH it is (hdr_ext_len + 2) * 4 bytes.
struct Ipv6ExtHeader {
  uint8_t next_header;
  uint8_t hdr_ext_len;
};
static_assert(sizeof(Ipv6ExtHeader) == 2);

struct Ipv6FragmentHeader {
  uint8_t next_header;
  uint8_t reserved;
  be16 offset_flags;  // offset in 8-byte units << 3 | M flag (bit 0)
  be32 id;
};
static_assert(sizeof(Ipv6FragmentHeader) == 8);

// ---- TCP ---------------------------------------------------------------------------------------

struct TcpHeader {
  be16 sport;
  be16 dport;
  be32 seq;
  be32 ack;
  uint8_t data_off;  // header length in 32-bit words << 4 | reserved / NS bit
  uint8_t flags;
  be16 window;
  be16 checksum;
  be16 urgent;

  uint8_t data_offset_words() const { return data_off >> 4; }
};
static_assert(sizeof(TcpHeader) == 20);

namespace tcpflag {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
inline constexpr uint8_t kUrg = 0x20;
inline constexpr uint8_t kEce = 0x40;
inline constexpr uint8_t kCwr = 0x80;
}  // namespace tcpflag

namespace tcpopt {
inline constexpr uint8_t kEol = 0;
inline constexpr uint8_t kNop = 1;
inline constexpr uint8_t kMss = 2;
inline constexpr uint8_t kWScale = 3;
inline constexpr uint8_t kSackPermitted = 4;
inline constexpr uint8_t kSack = 5;
inline constexpr uint8_t kTimestamp = 8;
}  // namespace tcpopt

inline constexpr size_t kTcpMaxOptions = 40;

// ---- UDP ---------------------------------------------------------------------------------------

struct UdpHeader {
  be16 sport;
  be16 dport;
  be16 length;  // header + payload
  be16 checksum;
};
static_assert(sizeof(UdpHeader) == 8);

// ---- ICMP / ICMPv6 -----------------------------------------------------------------------------

// The first 8 bytes of every ICMPv4 and ICMPv6 message. `rest` is the echo identifier and
// sequence, the unused word of an error, the MTU of packet-too-big, or the pointer of a parameter
// problem. An error's quoted packet follows.
struct IcmpHeader {
  uint8_t type;
  uint8_t code;
  be16 checksum;
  be32 rest;
};
static_assert(sizeof(IcmpHeader) == 8);

namespace icmp {
inline constexpr uint8_t kEchoReply = 0;
inline constexpr uint8_t kDestUnreach = 3;
inline constexpr uint8_t kSourceQuench = 4;
inline constexpr uint8_t kRedirect = 5;
inline constexpr uint8_t kEchoRequest = 8;
inline constexpr uint8_t kTimeExceeded = 11;
inline constexpr uint8_t kParamProblem = 12;
inline constexpr uint8_t kTimestamp = 13;
inline constexpr uint8_t kTimestampReply = 14;
inline constexpr uint8_t kAddressMaskRequest = 17;  // RFC 950
inline constexpr uint8_t kAddressMaskReply = 18;

// Destination-unreachable codes.
inline constexpr uint8_t kNetUnreach = 0;
inline constexpr uint8_t kHostUnreach = 1;
inline constexpr uint8_t kProtoUnreach = 2;
inline constexpr uint8_t kPortUnreach = 3;
inline constexpr uint8_t kFragNeeded = 4;
inline constexpr uint8_t kSrcRouteFailed = 5;
inline constexpr uint8_t kNetUnknown = 6;
inline constexpr uint8_t kHostUnknown = 7;
inline constexpr uint8_t kHostIsolated = 8;
inline constexpr uint8_t kNetProhibited = 9;
inline constexpr uint8_t kHostProhibited = 10;
inline constexpr uint8_t kNetTos = 11;
inline constexpr uint8_t kHostTos = 12;
inline constexpr uint8_t kCommProhibited = 13;  // administratively prohibited
inline constexpr uint8_t kHostPrecedence = 14;
inline constexpr uint8_t kPrecedenceCutoff = 15;

// Time-exceeded codes.
inline constexpr uint8_t kTtlExceeded = 0;
inline constexpr uint8_t kReassemblyExceeded = 1;

// True for the types that quote the offending packet.
constexpr bool is_error(uint8_t type) {
  return type == kDestUnreach || type == kSourceQuench || type == kRedirect ||
         type == kTimeExceeded || type == kParamProblem;
}
}  // namespace icmp

namespace icmp6 {
inline constexpr uint8_t kDestUnreach = 1;
inline constexpr uint8_t kPacketTooBig = 2;
inline constexpr uint8_t kTimeExceeded = 3;
inline constexpr uint8_t kParamProblem = 4;
inline constexpr uint8_t kEchoRequest = 128;
inline constexpr uint8_t kEchoReply = 129;
inline constexpr uint8_t kRouterSolicit = 133;
inline constexpr uint8_t kRouterAdvert = 134;
inline constexpr uint8_t kNeighborSolicit = 135;
inline constexpr uint8_t kNeighborAdvert = 136;
inline constexpr uint8_t kRedirect = 137;

// Destination-unreachable codes.
inline constexpr uint8_t kNoRoute = 0;
inline constexpr uint8_t kAdminProhibited = 1;
inline constexpr uint8_t kBeyondScope = 2;
inline constexpr uint8_t kAddrUnreach = 3;
inline constexpr uint8_t kPortUnreach = 4;
inline constexpr uint8_t kSrcPolicyFailed = 5;
inline constexpr uint8_t kRejectRoute = 6;

// Time-exceeded codes.
inline constexpr uint8_t kHopLimitExceeded = 0;
inline constexpr uint8_t kReassemblyExceeded = 1;

// Neighbor discovery (RFC 4861): NS/NA flags (in the first byte of `rest`) and option types.
inline constexpr uint8_t kNaRouter = 0x80;
inline constexpr uint8_t kNaSolicited = 0x40;
inline constexpr uint8_t kNaOverride = 0x20;
inline constexpr uint8_t kNdOptSourceLinkAddr = 1;
inline constexpr uint8_t kNdOptTargetLinkAddr = 2;

// ICMPv6 error messages are types 0..127 (RFC 4443 section 2.1); 1..4 are defined.
constexpr bool is_error(uint8_t type) {
  return type >= 1 && type <= 4;
}
}  // namespace icmp6

}  // namespace gh::net
