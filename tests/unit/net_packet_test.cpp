#include "net/packet.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hex_fixture.h"
#include "net/describe.h"
#include "net/headers.h"

namespace gh::net {
namespace {

using test::hex;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

// ---- Fixtures ----------------------------------------------------------------------------------
// Real packets, written out by layer. Checksums were computed when the fixtures were made, by a
// separate implementation, so verify_l4_checksum() is checked against known-good values.

// 198.18.1.2:80 > 198.18.0.1:40000 SYN-ACK, seq 0x11223344 ack 0x12345679 win 65535,
// options MSS 1460, SACK permitted, TS 0x01020304/0x12345678, NOP, WS 7.
const std::vector<uint8_t> kSynAckV4 =
    hex("020000000001 020000000002 0800"                     // Ethernet to us from the gateway
        "45 00 003c 0000 4000 40 06 ad94 c6120102 c6120001"  // IPv4 DF ttl 64 TCP
        "0050 9c40 11223344 12345679 a0 12 ffff 0472 0000"   // TCP [S.] data offset 10
        "020405b4 0402 080a0102030412345678 01 030307");     // options

// 198.18.1.2:81 > 198.18.0.1:40001 RST|ACK ack 0xcafef00e, padded to the 60-byte Ethernet minimum.
const std::vector<uint8_t> kRstV4 =
    hex("020000000001 020000000002 0800"
        "45 00 0028 1c46 4000 3f 06 9262 c6120102 c6120001"  // IPv4 id 0x1c46 ttl 63
        "0051 9c41 00000000 cafef00e 50 14 0000 cb08 0000"   // TCP [R.] win 0
        "000000000000");                                     // Ethernet padding

// [2001:db8::2]:443 > [2001:db8::1]:40000 SYN-ACK, flow label 0x12345, seq 0x01020304
// ack 0x0a0b0c0e win 64800, options MSS 1440, SACK permitted, TS, NOP, WS 7.
const std::vector<uint8_t> kSynAckV6 =
    hex("020000000001 020000000002 86dd"
        "60012345 0028 06 40 20010db8000000000000000000000002 20010db8000000000000000000000001"
        "01bb 9c40 01020304 0a0b0c0e a0 12 fd20 bfb9 0000"
        "020405a0 0402 080aaabbccdd00000001 01 030307");

// 192.0.2.1 > 198.18.0.1 ICMP port unreachable quoting our SYN 198.18.0.1:40000 > 198.18.1.2:80
// seq 0x12345678: the quoted IPv4 header and the first 8 bytes of TCP (RFC 792 minimum).
const std::vector<uint8_t> kIcmpPortUnreachV4 =
    hex("020000000001 020000000002 0800"
        "45 00 0038 0042 0000 ff 01 336e c0000201 c6120001"  // IPv4 ttl 255 ICMP
        "03 03 f7bf 00000000"                                // ICMP unreachable/port
        "45 00 002c 1234 0000 3f 06 dc70 c6120001 c6120102"  // quoted IPv4, id 0x1234 ttl 63
        "9c40 0050 12345678");                               // quoted TCP ports and seq

// 2001:db8::fe > 2001:db8::1 ICMPv6 unreachable/admin-prohibited quoting our whole SYN
// [2001:db8::1]:40000 > [2001:db8::2]:22 seq 0x9abcdef0.
const std::vector<uint8_t> kIcmp6AdminProhibited =
    hex("020000000001 020000000002 86dd"
        "60000000 0048 3a 40 20010db80000000000000000000000fe 20010db8000000000000000000000001"
        "01 01 3bd2 00000000"  // ICMPv6 unreachable code 1
        "60000000 0018 06 3f 20010db8000000000000000000000001 20010db8000000000000000000000002"
        "9c40 0016 9abcdef0 00000000 60 02 0400 22ae 0000 020405b4");

// [2001:db8::1]:40000 > [2001:db8::2]:22 SYN behind hop-by-hop, routing (type 2, segments left 0)
// and destination-options headers.
const std::vector<uint8_t> kIpv6ExtHeadersSyn =
    hex("020000000002 020000000001 86dd"
        "60000000 0040 00 40 20010db8000000000000000000000001 20010db8000000000000000000000002"
        "2b 00 0104 00000000"                                    // hop-by-hop: next routing, PadN
        "3c 02 02 00 00000000 20010db8000000000000000000000099"  // routing type 2: next dst-opts
        "06 00 0104 00000000"                                    // destination options: next TCP
        "9c40 0016 01000000 00000000 60 02 0400 9b5b 0000 020405b4");

// 198.18.1.2:53 > 198.18.0.1:40002 UDP with 12 payload bytes, no link header.
const std::vector<uint8_t> kUdpV4Raw =
    hex("45 00 0028 0100 0000 40 11 ec9d c6120102 c6120001"
        "0035 9c42 0014 4271"
        "1234 8180 0001 0000 0000 0000");

// 198.18.0.1 > 198.18.1.2 TCP fragment at offset 1480 (185 * 8), id 7, no link header.
const std::vector<uint8_t> kIpv4NonFirstFragment =
    hex("45 00 0024 0007 00b9 40 06 ecec c6120001 c6120102"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

// IPv6 fragment at offset 1448 (181 * 8) with M set, id 0xdeadbeef, no link header.
const std::vector<uint8_t> kIpv6NonFirstFragment =
    hex("60000000 0018 2c 40 20010db8000000000000000000000001 20010db8000000000000000000000002"
        "06 00 05a9 deadbeef"
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");

// A first fragment (MF) holding only 8 bytes of TCP: nmap -f style.
const std::vector<uint8_t> kIpv4TinyFirstFragment =
    hex("45 00 001c 0009 2000 40 06 cdab c6120001 c6120102"
        "9c40 0050 00000005");

struct Fixture {
  const char* name;
  const std::vector<uint8_t>* bytes;
  LinkType link;
};
const Fixture kFixtures[] = {
    {"SynAckV4", &kSynAckV4, LinkType::Ethernet},
    {"RstV4", &kRstV4, LinkType::Ethernet},
    {"SynAckV6", &kSynAckV6, LinkType::Ethernet},
    {"IcmpPortUnreachV4", &kIcmpPortUnreachV4, LinkType::Ethernet},
    {"Icmp6AdminProhibited", &kIcmp6AdminProhibited, LinkType::Ethernet},
    {"Ipv6ExtHeadersSyn", &kIpv6ExtHeadersSyn, LinkType::Ethernet},
    {"UdpV4Raw", &kUdpV4Raw, LinkType::RawIp},
    {"Ipv4NonFirstFragment", &kIpv4NonFirstFragment, LinkType::RawIp},
    {"Ipv6NonFirstFragment", &kIpv6NonFirstFragment, LinkType::RawIp},
    {"Ipv4TinyFirstFragment", &kIpv4TinyFirstFragment, LinkType::RawIp},
};

// The same IP packet behind another link header.
std::vector<uint8_t> with_link(std::string_view link_hex, const std::vector<uint8_t>& eth_frame) {
  auto out = hex(link_hex);
  out.insert(out.end(), eth_frame.begin() + 14, eth_frame.end());
  return out;
}

// ---- Well-formed packets -----------------------------------------------------------------------

TEST(PacketParse, EthernetIpv4SynAck) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kSynAckV4, LinkType::Ethernet, p));
  EXPECT_TRUE(p.has_src_mac);
  EXPECT_TRUE(p.has_dst_mac);
  EXPECT_EQ(p.dst_mac, (MacAddress{0x02, 0, 0, 0, 0, 0x01}));
  EXPECT_EQ(p.src_mac, (MacAddress{0x02, 0, 0, 0, 0, 0x02}));
  EXPECT_EQ(p.ethertype, ethertype::kIpv4);
  EXPECT_EQ(p.vlan_count, 0);

  EXPECT_EQ(p.ip_version, 4);
  EXPECT_EQ(p.src, ip("198.18.1.2"));
  EXPECT_EQ(p.dst, ip("198.18.0.1"));
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.ip_id, 0);
  EXPECT_EQ(p.ip_offset, 14u);
  EXPECT_EQ(p.ip_header_len, 20);
  EXPECT_EQ(p.ip_total_len, 60u);
  EXPECT_TRUE(p.dont_fragment);
  EXPECT_FALSE(p.more_fragments);
  EXPECT_FALSE(p.is_fragment);
  EXPECT_EQ(p.l4_protocol, ipproto::kTcp);

  ASSERT_TRUE(p.is_tcp());
  EXPECT_FALSE(p.is_udp());
  EXPECT_FALSE(p.is_icmp());
  EXPECT_EQ(p.tcp.sport, 80);
  EXPECT_EQ(p.tcp.dport, 40000);
  EXPECT_EQ(p.tcp.seq, 0x11223344u);
  EXPECT_EQ(p.tcp.ack, 0x12345679u);
  EXPECT_EQ(p.tcp.flags, tcpflag::kSyn | tcpflag::kAck);
  EXPECT_EQ(p.tcp.data_offset, 10);
  EXPECT_EQ(p.tcp.window, 65535);
  EXPECT_EQ(p.tcp.checksum, 0x0472);
  EXPECT_EQ(p.l4_offset, 34u);
  EXPECT_EQ(p.l4_len, 40);
  EXPECT_EQ(p.payload_offset, 74u);
  EXPECT_EQ(p.payload_len, 0);

  const auto& o = p.tcp.options;
  EXPECT_FALSE(o.malformed);
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_permitted);
  EXPECT_FALSE(o.has_sack);
  EXPECT_TRUE(o.has_timestamp);
  EXPECT_EQ(o.ts_val, 0x01020304u);
  EXPECT_EQ(o.ts_ecr, 0x12345678u);
  EXPECT_TRUE(o.has_wscale);
  EXPECT_EQ(o.wscale, 7);
  ASSERT_EQ(o.len, 20);
  EXPECT_EQ(std::vector<uint8_t>(o.raw.begin(), o.raw.begin() + o.len),
            hex("020405b4 0402 080a0102030412345678 01 030307"));

  EXPECT_TRUE(verify_l4_checksum(kSynAckV4, p));
  EXPECT_TRUE(verify_ipv4_header_checksum(kSynAckV4, p));
}

TEST(PacketParse, RstIgnoresEthernetPadding) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kRstV4, LinkType::Ethernet, p));
  EXPECT_EQ(p.ip_total_len, 40u);
  EXPECT_EQ(p.ip_id, 0x1c46);
  EXPECT_EQ(p.ttl, 63);
  ASSERT_TRUE(p.is_tcp());
  EXPECT_EQ(p.tcp.sport, 81);
  EXPECT_EQ(p.tcp.dport, 40001);
  EXPECT_EQ(p.tcp.seq, 0u);
  EXPECT_EQ(p.tcp.ack, 0xcafef00eu);
  EXPECT_EQ(p.tcp.flags, tcpflag::kRst | tcpflag::kAck);
  EXPECT_EQ(p.tcp.window, 0);
  EXPECT_EQ(p.tcp.data_offset, 5);
  EXPECT_EQ(p.tcp.options.len, 0);
  EXPECT_FALSE(p.tcp.options.has_mss);
  EXPECT_EQ(p.l4_len, 20);      // not the 26 bytes left in the frame
  EXPECT_EQ(p.payload_len, 0);  // the padding is not payload
  EXPECT_TRUE(verify_l4_checksum(kRstV4, p));
  EXPECT_TRUE(verify_ipv4_header_checksum(kRstV4, p));
}

TEST(PacketParse, EthernetIpv6SynAck) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kSynAckV6, LinkType::Ethernet, p));
  EXPECT_EQ(p.ethertype, ethertype::kIpv6);
  EXPECT_EQ(p.ip_version, 6);
  EXPECT_EQ(p.src, ip("2001:db8::2"));
  EXPECT_EQ(p.dst, ip("2001:db8::1"));
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.flow_label, 0x12345u);
  EXPECT_EQ(p.tos, 0);
  EXPECT_EQ(p.ip_header_len, 40);
  EXPECT_EQ(p.ip_total_len, 80u);
  EXPECT_EQ(p.ext_header_count, 0);
  EXPECT_FALSE(p.is_fragment);
  ASSERT_TRUE(p.is_tcp());
  EXPECT_EQ(p.tcp.sport, 443);
  EXPECT_EQ(p.tcp.dport, 40000);
  EXPECT_EQ(p.tcp.seq, 0x01020304u);
  EXPECT_EQ(p.tcp.ack, 0x0a0b0c0eu);
  EXPECT_EQ(p.tcp.flags, tcpflag::kSyn | tcpflag::kAck);
  EXPECT_EQ(p.tcp.window, 64800);
  EXPECT_EQ(p.tcp.options.mss, 1440);
  EXPECT_EQ(p.tcp.options.wscale, 7);
  EXPECT_EQ(p.tcp.options.ts_val, 0xaabbccddu);
  EXPECT_EQ(p.tcp.options.ts_ecr, 1u);
  EXPECT_EQ(p.l4_offset, 54u);
  EXPECT_EQ(p.payload_len, 0);
  EXPECT_TRUE(verify_l4_checksum(kSynAckV6, p));
  EXPECT_FALSE(verify_ipv4_header_checksum(kSynAckV6, p));  // no such thing in IPv6
}

TEST(PacketParse, IcmpPortUnreachableQuotingTcpSyn) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kIcmpPortUnreachV4, LinkType::Ethernet, p));
  EXPECT_EQ(p.src, ip("192.0.2.1"));
  EXPECT_EQ(p.dst, ip("198.18.0.1"));
  EXPECT_EQ(p.ttl, 255);
  EXPECT_EQ(p.ip_id, 0x42);
  EXPECT_FALSE(p.dont_fragment);
  EXPECT_EQ(p.l4_protocol, ipproto::kIcmp);
  ASSERT_TRUE(p.is_icmp());
  ASSERT_TRUE(p.is_icmp_error());
  EXPECT_FALSE(p.is_tcp());
  EXPECT_EQ(p.icmp.type, icmp::kDestUnreach);
  EXPECT_EQ(p.icmp.code, icmp::kPortUnreach);
  EXPECT_EQ(p.icmp.checksum, 0xf7bf);
  EXPECT_EQ(p.icmp.rest, 0u);
  EXPECT_EQ(p.payload_len, 28);  // the quote

  const auto& q = p.quoted;
  EXPECT_TRUE(q.valid);
  EXPECT_TRUE(q.has_l4);
  EXPECT_EQ(q.ip_version, 4);
  EXPECT_EQ(q.src, ip("198.18.0.1"));
  EXPECT_EQ(q.dst, ip("198.18.1.2"));
  EXPECT_EQ(q.protocol, ipproto::kTcp);
  EXPECT_EQ(q.ttl, 63);
  EXPECT_EQ(q.ip_id, 0x1234);
  EXPECT_EQ(q.ip_total_len, 44u);  // the original SYN's length, not the quote's
  EXPECT_EQ(q.sport, 40000);
  EXPECT_EQ(q.dport, 80);
  EXPECT_EQ(q.seq, 0x12345678u);

  EXPECT_TRUE(verify_l4_checksum(kIcmpPortUnreachV4, p));
  EXPECT_TRUE(verify_ipv4_header_checksum(kIcmpPortUnreachV4, p));
}

TEST(PacketParse, Icmp6UnreachableQuotingTcpSyn) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kIcmp6AdminProhibited, LinkType::Ethernet, p));
  EXPECT_EQ(p.ip_version, 6);
  EXPECT_EQ(p.src, ip("2001:db8::fe"));
  EXPECT_EQ(p.dst, ip("2001:db8::1"));
  EXPECT_EQ(p.l4_protocol, ipproto::kIcmpv6);
  ASSERT_TRUE(p.is_icmp_error());
  EXPECT_EQ(p.icmp.type, icmp6::kDestUnreach);
  EXPECT_EQ(p.icmp.code, icmp6::kAdminProhibited);
  const auto& q = p.quoted;
  EXPECT_TRUE(q.has_l4);
  EXPECT_EQ(q.ip_version, 6);
  EXPECT_EQ(q.src, ip("2001:db8::1"));
  EXPECT_EQ(q.dst, ip("2001:db8::2"));
  EXPECT_EQ(q.protocol, ipproto::kTcp);
  EXPECT_EQ(q.ttl, 63);
  EXPECT_EQ(q.ip_total_len, 64u);
  EXPECT_EQ(q.sport, 40000);
  EXPECT_EQ(q.dport, 22);
  EXPECT_EQ(q.seq, 0x9abcdef0u);
  EXPECT_TRUE(verify_l4_checksum(kIcmp6AdminProhibited, p));
}

TEST(PacketParse, Ipv6ExtensionHeadersAreWalked) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kIpv6ExtHeadersSyn, LinkType::Ethernet, p));
  EXPECT_EQ(p.ext_header_count, 3);
  EXPECT_EQ(p.ip_header_len, 40 + 8 + 24 + 8);
  EXPECT_EQ(p.l4_offset, 14u + 80u);
  EXPECT_EQ(p.l4_protocol, ipproto::kTcp);
  EXPECT_FALSE(p.is_fragment);
  ASSERT_TRUE(p.is_tcp());
  EXPECT_EQ(p.src, ip("2001:db8::1"));
  EXPECT_EQ(p.dst, ip("2001:db8::2"));
  EXPECT_EQ(p.tcp.sport, 40000);
  EXPECT_EQ(p.tcp.dport, 22);
  EXPECT_EQ(p.tcp.seq, 0x01000000u);
  EXPECT_EQ(p.tcp.flags, tcpflag::kSyn);
  EXPECT_EQ(p.tcp.window, 1024);
  EXPECT_EQ(p.tcp.options.mss, 1460);
  EXPECT_TRUE(verify_l4_checksum(kIpv6ExtHeadersSyn, p));
}

TEST(PacketParse, UdpOverRawIp) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kUdpV4Raw, LinkType::RawIp, p));
  EXPECT_FALSE(p.has_src_mac);
  EXPECT_FALSE(p.has_dst_mac);
  EXPECT_EQ(p.ip_offset, 0u);
  ASSERT_TRUE(p.is_udp());
  EXPECT_EQ(p.udp.sport, 53);
  EXPECT_EQ(p.udp.dport, 40002);
  EXPECT_EQ(p.udp.length, 20);
  EXPECT_EQ(p.udp.checksum, 0x4271);
  EXPECT_EQ(p.payload_offset, 28u);
  EXPECT_EQ(p.payload_len, 12);
  EXPECT_EQ(kUdpV4Raw[p.payload_offset], 0x12);
  EXPECT_TRUE(verify_l4_checksum(kUdpV4Raw, p));
}

TEST(PacketParse, NonFirstFragmentsAreNotParsedIntoL4) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kIpv4NonFirstFragment, LinkType::RawIp, p));
  EXPECT_TRUE(p.is_fragment);
  EXPECT_FALSE(p.more_fragments);
  EXPECT_EQ(p.frag_offset, 1480);
  EXPECT_EQ(p.ip_id, 7);
  EXPECT_EQ(p.l4_protocol, ipproto::kTcp);
  EXPECT_FALSE(p.l4_parsed);
  EXPECT_FALSE(p.is_tcp());
  EXPECT_EQ(p.l4_len, 16);
  EXPECT_EQ(p.tcp.sport, 0);  // the 0xaa bytes were not read as a TCP header
  EXPECT_FALSE(verify_l4_checksum(kIpv4NonFirstFragment, p));

  ASSERT_TRUE(parse_packet(kIpv6NonFirstFragment, LinkType::RawIp, p));
  EXPECT_TRUE(p.is_fragment);
  EXPECT_TRUE(p.more_fragments);
  EXPECT_EQ(p.frag_offset, 1448);
  EXPECT_EQ(p.frag_id, 0xdeadbeefu);
  EXPECT_EQ(p.ext_header_count, 1);
  EXPECT_EQ(p.l4_protocol, ipproto::kTcp);
  EXPECT_FALSE(p.l4_parsed);
  EXPECT_EQ(p.l4_offset, 48u);
  EXPECT_EQ(p.l4_len, 16);
}

TEST(PacketParse, TinyFirstFragmentKeepsIpLayer) {
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(kIpv4TinyFirstFragment, LinkType::RawIp, p));
  EXPECT_TRUE(p.is_fragment);
  EXPECT_TRUE(p.more_fragments);
  EXPECT_EQ(p.frag_offset, 0);
  EXPECT_EQ(p.l4_protocol, ipproto::kTcp);
  EXPECT_FALSE(p.l4_parsed);  // 8 bytes cannot hold a TCP header
  EXPECT_EQ(p.l4_len, 8);
  // The same 8 bytes in an unfragmented packet are a truncated TCP header: rejected.
  auto whole = kIpv4TinyFirstFragment;
  whole[6] = 0x00;  // clear MF
  EXPECT_FALSE(parse_packet(whole, LinkType::RawIp, p));
}

TEST(PacketParse, FirstFragmentWithWholeHeaderIsParsed) {
  // A UDP first fragment: the length field covers the whole datagram, more than this fragment.
  auto frag = kUdpV4Raw;
  frag[6] = 0x20;   // MF
  frag[24] = 0x05;  // UDP length 0x0514 = 1300
  frag[25] = 0x14;
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(frag, LinkType::RawIp, p));
  EXPECT_TRUE(p.is_fragment);
  ASSERT_TRUE(p.is_udp());
  EXPECT_EQ(p.udp.length, 1300);
  EXPECT_EQ(p.payload_len, 12);  // what this fragment carries
  EXPECT_FALSE(verify_l4_checksum(frag, p));
}

TEST(PacketParse, Ipv6AtomicFragmentIsAWholePacket) {
  // The SYN of kIpv6ExtHeadersSyn behind a fragment header with offset 0 and M clear.
  auto b =
      hex("60000000 0020 2c 40 20010db8000000000000000000000001 20010db8000000000000000000000002"
          "06 00 0000 00000123"
          "9c40 0016 01000000 00000000 60 02 0400 9b5b 0000 020405b4");
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(b, LinkType::RawIp, p));
  EXPECT_FALSE(p.is_fragment);
  EXPECT_EQ(p.frag_id, 0x123u);
  ASSERT_TRUE(p.is_tcp());
  EXPECT_EQ(p.tcp.dport, 22);
  EXPECT_TRUE(verify_l4_checksum(b, p));
}

TEST(PacketParse, OtherLinkTypesCarryTheSamePacket) {
  struct Case {
    const char* name;
    std::vector<uint8_t> frame;
    LinkType link;
    bool src_mac;
    uint8_t pkttype;
  };
  const Case cases[] = {
      {"raw", with_link("", kSynAckV4), LinkType::RawIp, false, 0},
      // SLL: packet type 0 (to us), ARPHRD_ETHER, 6-byte address, 2 pad bytes, IPv4.
      {"sll", with_link("0000 0001 0006 020000000002 0000 0800", kSynAckV4), LinkType::LinuxSll,
       true, 0},
      // SLL2: IPv4, reserved, ifindex 3, ARPHRD_ETHER, outgoing, 6-byte address.
      {"sll2", with_link("0800 0000 00000003 0001 04 06 020000000002 0000", kSynAckV4),
       LinkType::LinuxSll2, true, 4},
      // DLT_NULL written little-endian (AF_INET = 2) and big-endian.
      {"null-le", with_link("02000000", kSynAckV4), LinkType::Loopback, false, 0},
      {"null-be", with_link("00000002", kSynAckV4), LinkType::Loopback, false, 0},
      // 802.1Q tag, VID 100.
      {"vlan", with_link("020000000001 020000000002 8100 0064 0800", kSynAckV4), LinkType::Ethernet,
       true, 0},
  };
  for (const auto& c : cases) {
    ParsedPacket p;
    ASSERT_TRUE(parse_packet(c.frame, c.link, p)) << c.name;
    EXPECT_EQ(p.link, c.link) << c.name;
    EXPECT_EQ(p.has_src_mac, c.src_mac) << c.name;
    if (c.src_mac) {
      EXPECT_EQ(p.src_mac, (MacAddress{0x02, 0, 0, 0, 0, 0x02})) << c.name;
    }
    EXPECT_EQ(p.sll_packet_type, c.pkttype) << c.name;
    EXPECT_EQ(p.src, ip("198.18.1.2")) << c.name;
    ASSERT_TRUE(p.is_tcp()) << c.name;
    EXPECT_EQ(p.tcp.seq, 0x11223344u) << c.name;
    EXPECT_TRUE(verify_l4_checksum(c.frame, p)) << c.name;
  }
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(cases[5].frame, LinkType::Ethernet, p));
  EXPECT_EQ(p.vlan_count, 1);
  EXPECT_EQ(p.vlan_id, 100);

  // DLT_NULL for IPv6 with the FreeBSD value 28 and the Linux value 10.
  for (const char* af : {"1c000000", "0000000a"}) {
    auto v6 = with_link(af, kSynAckV6);
    ASSERT_TRUE(parse_packet(v6, LinkType::Loopback, p)) << af;
    EXPECT_EQ(p.ip_version, 6);
  }
}

TEST(PacketParse, TcpOptionsKeepRawBytesAndFlagMalformed) {
  // SYN with options MSS 1460, then a WS option claiming length 9 past the 8-byte option area.
  auto b =
      hex("45 00 0030 0000 0000 40 06 0000 c6120001 c6120102"
          "9c40 0050 00000001 00000000 70 02 0400 0000 0000"
          "020405b4 030901 00");
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(b, LinkType::RawIp, p));
  ASSERT_TRUE(p.is_tcp());
  EXPECT_EQ(p.tcp.data_offset, 7);
  EXPECT_TRUE(p.tcp.options.malformed);
  EXPECT_TRUE(p.tcp.options.has_mss);
  EXPECT_EQ(p.tcp.options.mss, 1460);
  EXPECT_FALSE(p.tcp.options.has_wscale);
  EXPECT_EQ(p.tcp.options.len, 8);
  EXPECT_EQ(p.tcp.options.raw[4], 0x03);
  EXPECT_EQ(p.tcp.options.raw[5], 0x09);

  // A zero length byte would loop forever in a careless parser.
  b[44] = 0x01;  // NOP
  b[45] = 0x05;  // SACK
  b[46] = 0x00;  // length 0
  ASSERT_TRUE(parse_packet(b, LinkType::RawIp, p));
  EXPECT_TRUE(p.tcp.options.malformed);
  EXPECT_FALSE(p.tcp.options.has_sack);
}

TEST(PacketParse, TcpPayloadIsLocated) {
  // PSH|ACK carrying "GET " over raw IPv4.
  auto b =
      hex("45 00 002c 0000 4000 40 06 0000 c6120001 c6120102"
          "9c40 0050 00000001 00000002 50 18 0400 0000 0000"
          "47455420");
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(b, LinkType::RawIp, p));
  ASSERT_TRUE(p.is_tcp());
  EXPECT_EQ(p.tcp.flags, tcpflag::kPsh | tcpflag::kAck);
  EXPECT_EQ(p.payload_offset, 40u);
  EXPECT_EQ(p.payload_len, 4);
  EXPECT_EQ(b[p.payload_offset], 'G');
}

// ---- Malformed packets -------------------------------------------------------------------------

TEST(PacketMalformed, EveryTruncationIsRejectedOrSafe) {
  // Each prefix is copied into a buffer of exactly its size, so a read past it is a heap overflow
  // that the ASan build reports. The full IP packet is needed: every prefix that cuts into it must
  // be rejected; only cutting Ethernet padding may still parse.
  for (const auto& f : kFixtures) {
    const auto& full = *f.bytes;
    ParsedPacket whole;
    ASSERT_TRUE(parse_packet(full, f.link, whole)) << f.name;
    const size_t needed = whole.ip_offset + whole.ip_total_len;
    for (size_t n = 0; n < full.size(); ++n) {
      std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
      ParsedPacket p;
      const bool ok = parse_packet(cut, f.link, p);
      EXPECT_EQ(ok, n >= needed) << f.name << " cut at " << n;
      if (ok) {
        EXPECT_LE(p.payload_offset + p.payload_len, n) << f.name << " cut at " << n;
      }
    }
  }
}

TEST(PacketMalformed, BadIpv4Headers) {
  ParsedPacket p;
  auto b = kUdpV4Raw;
  b[0] = 0x44;  // IHL 4
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
  b = kUdpV4Raw;
  b[0] = 0x4f;  // IHL 15: 60 bytes of header in a 40-byte packet
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
  b = kUdpV4Raw;
  b[0] = 0x55;  // version 5
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
  b = kUdpV4Raw;
  b[3] = 19;  // total length shorter than the header
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
  b = kUdpV4Raw;
  b[3] = 41;  // total length one past the frame
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
  b = kUdpV4Raw;
  b[2] = 0xff;  // 65xxx
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
}

TEST(PacketMalformed, BadTcpDataOffset) {
  ParsedPacket p;
  auto b = kSynAckV4;
  b[46] = 0x40;  // data offset 4 < 5
  EXPECT_FALSE(parse_packet(b, LinkType::Ethernet, p));
  b[46] = 0xb0;  // 44 bytes of header in a 40-byte segment
  EXPECT_FALSE(parse_packet(b, LinkType::Ethernet, p));
  b[46] = 0xf0;
  EXPECT_FALSE(parse_packet(b, LinkType::Ethernet, p));
}

TEST(PacketMalformed, BadUdpLength) {
  ParsedPacket p;
  auto b = kUdpV4Raw;
  b[25] = 7;  // shorter than the UDP header
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
  b[25] = 21;  // past the IP packet
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
  b[25] = 8;  // empty datagram: fine, payload ends at the UDP length
  ASSERT_TRUE(parse_packet(b, LinkType::RawIp, p));
  EXPECT_EQ(p.payload_len, 0);
}

TEST(PacketMalformed, LinkLayerMismatchesAndNonIp) {
  ParsedPacket p;
  auto b = kSynAckV4;
  b[12] = 0x08;
  b[13] = 0x06;  // ARP
  EXPECT_FALSE(parse_packet(b, LinkType::Ethernet, p));
  b[12] = 0x86;
  b[13] = 0xdd;  // says IPv6, carries IPv4
  EXPECT_FALSE(parse_packet(b, LinkType::Ethernet, p));
  // Three stacked VLAN tags.
  auto tags = with_link("020000000001 020000000002 8100 0001 8100 0002 8100 0003 0800", kSynAckV4);
  EXPECT_FALSE(parse_packet(tags, LinkType::Ethernet, p));
  // Unknown DLT_NULL family.
  EXPECT_FALSE(parse_packet(with_link("07000000", kSynAckV4), LinkType::Loopback, p));
  // RawIp with version nibble 0.
  EXPECT_FALSE(parse_packet(hex("00000000"), LinkType::RawIp, p));
  EXPECT_FALSE(parse_packet({}, LinkType::RawIp, p));
  // An out-of-range LinkType value.
  EXPECT_FALSE(parse_packet(kSynAckV4, static_cast<LinkType>(200), p));
}

TEST(PacketMalformed, TooManyIpv6ExtensionHeaders) {
  // kMaxIpv6ExtHeaders destination-options headers pass; one more fails.
  auto build = [](int n) {
    std::vector<uint8_t> b = hex(
        "60000000 0000 3c 40 20010db8000000000000000000000001 20010db8000000000000000000000002");
    for (int i = 0; i < n; ++i) {
      auto e = hex("3c 00 0104 00000000");
      if (i == n - 1) e[0] = ipproto::kNoNext;
      b.insert(b.end(), e.begin(), e.end());
    }
    b[5] = static_cast<uint8_t>(8 * n);
    return b;
  };
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(build(kMaxIpv6ExtHeaders), LinkType::RawIp, p));
  EXPECT_EQ(p.ext_header_count, kMaxIpv6ExtHeaders);
  EXPECT_EQ(p.l4_protocol, ipproto::kNoNext);
  EXPECT_FALSE(p.l4_parsed);
  EXPECT_FALSE(parse_packet(build(kMaxIpv6ExtHeaders + 1), LinkType::RawIp, p));
}

TEST(PacketMalformed, Ipv6ExtensionHeaderPastPayload) {
  // A hop-by-hop header claiming 16 bytes in an 8-byte payload; and a jumbogram (payload 0).
  auto b =
      hex("60000000 0008 00 40 20010db8000000000000000000000001 20010db8000000000000000000000002"
          "3b 01 0104 00000000");
  ParsedPacket p;
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
  b[5] = 0;
  EXPECT_FALSE(parse_packet(b, LinkType::RawIp, p));
}

TEST(PacketMalformed, ShortIcmpQuoteKeepsOuterPacket) {
  // The port-unreachable fixture with the quote cut to its IPv4 header plus 4 bytes.
  auto b = kIcmpPortUnreachV4;
  b.resize(b.size() - 4);
  b[17] = 0x34;  // IP total length 52
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(b, LinkType::Ethernet, p));
  ASSERT_TRUE(p.is_icmp());
  EXPECT_TRUE(p.quoted.valid);
  EXPECT_FALSE(p.quoted.has_l4);
  EXPECT_EQ(p.quoted.dst, ip("198.18.1.2"));
  // Cut into the quoted IP header: no quote at all.
  b.resize(b.size() - 10);
  b[17] = 0x2a;
  ASSERT_TRUE(parse_packet(b, LinkType::Ethernet, p));
  ASSERT_TRUE(p.is_icmp());
  EXPECT_FALSE(p.quoted.valid);
  EXPECT_FALSE(p.is_icmp_error());
}

TEST(PacketMalformed, RandomBytesNeverCrash) {
  // Cheap in-tree fuzzing: mutate fixtures byte by byte and at random. The real fuzzer is
  // fuzz/fuzz_packet.cpp; this keeps a little of it in every unit-test run (and under ASan).
  uint32_t state = 0x12345678;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  };
  const LinkType links[] = {LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll,
                            LinkType::LinuxSll2, LinkType::Loopback};
  int parsed = 0;
  for (const auto& f : kFixtures) {
    for (int iter = 0; iter < 2000; ++iter) {
      auto b = *f.bytes;
      const int flips = 1 + static_cast<int>(next() % 4);
      for (int k = 0; k < flips; ++k) b[next() % b.size()] = static_cast<uint8_t>(next());
      b.resize(next() % (b.size() + 1));
      for (LinkType l : links) {
        ParsedPacket p;
        if (parse_packet(b, l, p)) {
          ++parsed;
          EXPECT_LE(p.l4_offset + p.l4_len, b.size());
          if (p.l4_parsed) {
            EXPECT_LE(p.payload_offset + p.payload_len, b.size());
          }
          (void)verify_l4_checksum(b, p);
          (void)verify_ipv4_header_checksum(b, p);
          EXPECT_FALSE(describe_packet(p).empty());
        }
      }
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace gh::net
