// The host-discovery packets: ARP requests, IPv6 neighbor solicitations, ICMP echo / timestamp /
// address mask (and ICMPv6 echo), UDP pings, TCP ACK pings; parsing their replies (parse_arp,
// parse_neighbor_advert, parse_packet) and the keyed cookies that validate them.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "hex_fixture.h"
#include "net/arp_template.h"
#include "net/checksum.h"
#include "net/cookie.h"
#include "net/headers.h"
#include "net/icmp_template.h"
#include "net/packet.h"
#include "net/tcp_template.h"
#include "net/udp_template.h"

namespace gh::net {
namespace {

using test::hex;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

const MacAddress kOurMac = {0x02, 0, 0, 0, 0, 0x01};
const MacAddress kPeerMac = {0x02, 0, 0, 0, 0, 0x02};

std::vector<uint8_t> built(size_t n, const uint8_t* b) {
  return std::vector<uint8_t>(b, b + n);
}

// ---- ARP ----------------------------------------------------------------------------------------

TEST(ArpTemplate, RequestIsRfc826Broadcast) {
  ArpRequestTemplate t(ip("198.18.0.1"), kOurMac);
  uint8_t out[ArpRequestTemplate::kSize];
  ASSERT_EQ(t.build(out, ip("198.18.0.77")), 60u);
  std::vector<uint8_t> want =
      hex("ffffffffffff 020000000001 0806"  // broadcast, ours, ARP
          "0001 0800 06 04 0001"            // Ethernet, IPv4, 6, 4, request
          "020000000001 c6120001"           // sender: our MAC, 198.18.0.1
          "000000000000 c612004d");         // target: unknown, 198.18.0.77
  want.resize(60, 0);                       // padded to the Ethernet minimum
  EXPECT_EQ(built(60, out), want);
  EXPECT_EQ(t.build(out, ip("2001:db8::1")), 0u);  // not IPv4: nothing written
  // Unicast re-check of a known host.
  ASSERT_EQ(t.build(out, ip("198.18.0.77"), &kPeerMac), 60u);
  EXPECT_EQ(built(6, out), hex("020000000002"));
  EXPECT_THROW(ArpRequestTemplate(ip("2001:db8::1"), kOurMac), UsageError);
}

TEST(ParseArp, RoundTripOfOurRequest) {
  ArpRequestTemplate t(ip("198.18.0.1"), kOurMac);
  uint8_t out[ArpRequestTemplate::kSize];
  t.build(out, ip("198.18.3.4"));
  ArpPacket a;
  ASSERT_TRUE(parse_arp({out, sizeof out}, LinkType::Ethernet, a));
  EXPECT_EQ(a.op, arp::kRequest);
  EXPECT_EQ(a.spa, ip("198.18.0.1"));
  EXPECT_EQ(a.tpa, ip("198.18.3.4"));
  EXPECT_EQ(a.sha, kOurMac);
  EXPECT_EQ(a.src_mac, kOurMac);
  EXPECT_EQ(a.dst_mac, (MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

const char* kArpReply =
    "020000000001 020000000002 0806"
    "0001 0800 06 04 0002"
    "020000000002 c612004d"
    "020000000001 c6120001";

TEST(ParseArp, Reply) {
  auto f = hex(kArpReply);
  ArpPacket a;
  ASSERT_TRUE(parse_arp(f, LinkType::Ethernet, a));
  EXPECT_EQ(a.op, arp::kReply);
  EXPECT_EQ(a.spa, ip("198.18.0.77"));
  EXPECT_EQ(a.sha, kPeerMac);
  EXPECT_EQ(a.tpa, ip("198.18.0.1"));
  EXPECT_EQ(a.tha, kOurMac);
  EXPECT_EQ(a.vlan_id, 0);
  // Trailing padding is ignored.
  f.resize(60, 0);
  EXPECT_TRUE(parse_arp(f, LinkType::Ethernet, a));
}

TEST(ParseArp, VlanTaggedAndCooked) {
  auto f =
      hex("020000000001 020000000002 8100 0007 0806"
          "0001 0800 06 04 0002 020000000002 c612004d 020000000001 c6120001");
  ArpPacket a;
  ASSERT_TRUE(parse_arp(f, LinkType::Ethernet, a));
  EXPECT_EQ(a.vlan_id, 7);
  EXPECT_EQ(a.spa, ip("198.18.0.77"));
  auto sll =
      hex("0000 0001 0006 0200000000020000 0806"
          "0001 0800 06 04 0002 020000000002 c612004d 020000000001 c6120001");
  ASSERT_TRUE(parse_arp(sll, LinkType::LinuxSll, a));
  EXPECT_EQ(a.src_mac, kPeerMac);
}

TEST(ParseArp, RejectsMalformedAndOtherFrames) {
  ArpPacket a;
  const auto good = hex(kArpReply);
  for (size_t n = 0; n < good.size(); ++n)  // every truncation
    EXPECT_FALSE(parse_arp({good.data(), n}, LinkType::Ethernet, a)) << n;
  auto bad = good;
  bad[15] = 6;  // htype 6 (IEEE 802)
  EXPECT_FALSE(parse_arp(bad, LinkType::Ethernet, a));
  bad = good;
  bad[17] = 0xdd;  // ptype 0x08dd
  EXPECT_FALSE(parse_arp(bad, LinkType::Ethernet, a));
  bad = good;
  bad[18] = 8;  // hlen 8
  EXPECT_FALSE(parse_arp(bad, LinkType::Ethernet, a));
  bad = good;
  bad[19] = 16;  // plen 16
  EXPECT_FALSE(parse_arp(bad, LinkType::Ethernet, a));
  bad = good;
  bad[21] = 3;  // RARP request
  EXPECT_FALSE(parse_arp(bad, LinkType::Ethernet, a));
  bad = good;
  bad[13] = 0x00;  // ethertype 0x0800: an IP frame is not ARP
  EXPECT_FALSE(parse_arp(bad, LinkType::Ethernet, a));
  EXPECT_FALSE(parse_arp(good, LinkType::RawIp, a));
  EXPECT_FALSE(parse_arp(good, LinkType::Loopback, a));
  // parse_packet, for its part, still refuses ARP (its contract: IP only).
  ParsedPacket p;
  EXPECT_FALSE(parse_packet(good, LinkType::Ethernet, p));
}

// ---- IPv6 neighbor discovery
// ----------------------------------------------------------------------

TEST(NeighborSolicit, SolicitedNodeAddressAndMac) {
  EXPECT_EQ(solicited_node_address(ip("2001:db8::12:3456")), ip("ff02::1:ff12:3456"));
  EXPECT_EQ(solicited_node_address(ip("fe80::aabb:ccdd:eeff")), ip("ff02::1:ffdd:eeff"));
  EXPECT_EQ(solicited_node_mac(ip("2001:db8::12:3456")),
            (MacAddress{0x33, 0x33, 0xff, 0x12, 0x34, 0x56}));
}

TEST(NeighborSolicit, BuildsRfc4861Solicitation) {
  NeighborSolicitTemplate t(ip("2001:db8::1"), kOurMac);
  uint8_t out[NeighborSolicitTemplate::kSize];
  ASSERT_EQ(t.build(out, ip("2001:db8::abcd")), NeighborSolicitTemplate::kSize);
  std::vector<uint8_t> want =
      hex("3333ff00abcd 020000000001 86dd"
          "60000000 0020 3a ff"               // payload 32, ICMPv6, hop limit 255
          "20010db8000000000000000000000001"  // src
          "ff0200000000000000000001ff00abcd"  // solicited-node group
          "87 00 0000 00000000"               // NS, checksum below
          "20010db800000000000000000000abcd"  // target
          "01 01 020000000001");              // source link-layer address option
  // Checksum independently: the pseudo-header plus the message.
  std::vector<uint8_t> msg(want.begin() + 54, want.end());
  uint16_t c = l4_checksum(ip("2001:db8::1"), ip("ff02::1:ff00:abcd"), ipproto::kIcmpv6, msg);
  want[56] = static_cast<uint8_t>(c >> 8);
  want[57] = static_cast<uint8_t>(c);
  EXPECT_EQ(built(sizeof out, out), want);
  ParsedPacket p;
  ASSERT_TRUE(parse_packet({out, sizeof out}, LinkType::Ethernet, p));
  EXPECT_TRUE(verify_l4_checksum({out, sizeof out}, p));
  EXPECT_EQ(p.icmp.type, icmp6::kNeighborSolicit);
  // Unicast to a known MAC: destination is the target itself.
  ASSERT_EQ(t.build(out, ip("2001:db8::abcd"), &kPeerMac), NeighborSolicitTemplate::kSize);
  ASSERT_TRUE(parse_packet({out, sizeof out}, LinkType::Ethernet, p));
  EXPECT_EQ(p.dst, ip("2001:db8::abcd"));
  EXPECT_TRUE(verify_l4_checksum({out, sizeof out}, p));
  EXPECT_EQ(t.build(out, ip("198.18.0.1")), 0u);
  EXPECT_THROW(NeighborSolicitTemplate(ip("198.18.0.1"), kOurMac), UsageError);
}

// A solicited advertisement from 2001:db8::abcd (MAC 02:..:02) to us, with a TLLA option.
std::vector<uint8_t> advert(uint8_t hop_limit = 255, const char* options = "02 01 020000000002") {
  std::vector<uint8_t> f =
      hex("020000000001 020000000002 86dd"
          "60000000 0000 3a 00"
          "20010db800000000000000000000abcd"
          "20010db8000000000000000000000001"
          "88 00 0000 60000000"  // NA, solicited + override
          "20010db800000000000000000000abcd");
  auto opt = hex(options);
  f.insert(f.end(), opt.begin(), opt.end());
  f[21] = hop_limit;
  const uint16_t plen = static_cast<uint16_t>(f.size() - 54);
  f[18] = static_cast<uint8_t>(plen >> 8);
  f[19] = static_cast<uint8_t>(plen);
  std::vector<uint8_t> msg(f.begin() + 54, f.end());
  uint16_t c = l4_checksum(ip("2001:db8::abcd"), ip("2001:db8::1"), ipproto::kIcmpv6, msg);
  f[56] = static_cast<uint8_t>(c >> 8);
  f[57] = static_cast<uint8_t>(c);
  return f;
}

TEST(NeighborAdvert, ParsesTargetFlagsAndMac) {
  auto f = advert();
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(f, LinkType::Ethernet, p));
  EXPECT_TRUE(verify_l4_checksum(f, p));
  NeighborAdvert na;
  ASSERT_TRUE(parse_neighbor_advert(f, p, na));
  EXPECT_EQ(na.target, ip("2001:db8::abcd"));
  EXPECT_EQ(na.flags, icmp6::kNaSolicited | icmp6::kNaOverride);
  ASSERT_TRUE(na.mac.has_value());
  EXPECT_EQ(*na.mac, kPeerMac);
}

TEST(NeighborAdvert, RejectsForwardedTruncatedAndSurvivesBadOptions) {
  ParsedPacket p;
  NeighborAdvert na;
  auto routed = advert(64);  // hop limit below 255: not from the link
  ASSERT_TRUE(parse_packet(routed, LinkType::Ethernet, p));
  EXPECT_FALSE(parse_neighbor_advert(routed, p, na));
  auto no_opt = advert(255, "");
  ASSERT_TRUE(parse_packet(no_opt, LinkType::Ethernet, p));
  ASSERT_TRUE(parse_neighbor_advert(no_opt, p, na));
  EXPECT_FALSE(na.mac.has_value());
  auto zero_len = advert(255, "02 00 020000000002");  // option length 0: walk stops
  ASSERT_TRUE(parse_packet(zero_len, LinkType::Ethernet, p));
  ASSERT_TRUE(parse_neighbor_advert(zero_len, p, na));
  EXPECT_FALSE(na.mac.has_value());
  auto long_opt = advert(255, "02 03 020000000002");  // claims 24 bytes, has 8
  ASSERT_TRUE(parse_packet(long_opt, LinkType::Ethernet, p));
  ASSERT_TRUE(parse_neighbor_advert(long_opt, p, na));
  EXPECT_FALSE(na.mac.has_value());
  // A body shorter than the target address: rebuild with 8 bytes of target only.
  auto cut = advert(255, "");
  cut.resize(cut.size() - 8);
  cut[19] = static_cast<uint8_t>(cut.size() - 54);
  ASSERT_TRUE(parse_packet(cut, LinkType::Ethernet, p));
  EXPECT_FALSE(parse_neighbor_advert(cut, p, na));
  // Not an advertisement at all.
  NeighborSolicitTemplate t(ip("2001:db8::1"), kOurMac);
  uint8_t ns[NeighborSolicitTemplate::kSize];
  t.build(ns, ip("2001:db8::abcd"));
  ASSERT_TRUE(parse_packet({ns, sizeof ns}, LinkType::Ethernet, p));
  EXPECT_FALSE(parse_neighbor_advert({ns, sizeof ns}, p, na));
}

// ---- ICMP requests
// --------------------------------------------------------------------------------

IcmpTemplateParams icmp_params(const char* src, IcmpProbeKind kind) {
  IcmpTemplateParams p;
  p.src = ip(src);
  p.src_mac = kOurMac;
  p.dst_mac = kPeerMac;
  p.kind = kind;
  return p;
}

TEST(IcmpTemplate, EchoRequestMatchesFixture) {
  IcmpProbeTemplate t(icmp_params("198.18.0.1", IcmpProbeKind::Echo));
  uint8_t out[IcmpProbeTemplate::kMaxSize];
  ASSERT_EQ(t.build(out, ip("198.18.0.9"), 0x1234, 0x5601, 0x0042), 42u);
  // Checksums by hand: IPv4 header words, and ICMP 0800 + 1234 + 5601.
  auto want =
      hex("020000000002 020000000001 0800"
          "45 00 001c 0042 0000 40 01 0000 c6120001 c6120009"
          "08 00 0000 1234 5601");
  auto ipb = std::vector<uint8_t>(want.begin() + 14, want.begin() + 34);
  uint16_t ic = internet_checksum(ipb);
  want[24] = static_cast<uint8_t>(ic >> 8);
  want[25] = static_cast<uint8_t>(ic);
  uint16_t cc = static_cast<uint16_t>(~(0x0800 + 0x1234 + 0x5601));
  want[36] = static_cast<uint8_t>(cc >> 8);
  want[37] = static_cast<uint8_t>(cc);
  EXPECT_EQ(built(42, out), want);
  EXPECT_EQ(t.reply_type(), icmp::kEchoReply);
}

TEST(IcmpTemplate, EveryKindParsesBackWithGoodChecksums) {
  struct Case {
    const char* src;
    const char* dst;
    IcmpProbeKind kind;
    uint8_t type;
    uint8_t reply;
    size_t size;
  } cases[] = {
      {"198.18.0.1", "198.18.7.7", IcmpProbeKind::Echo, icmp::kEchoRequest, icmp::kEchoReply, 42},
      {"198.18.0.1", "198.18.7.7", IcmpProbeKind::Timestamp, icmp::kTimestamp,
       icmp::kTimestampReply, 54},
      {"198.18.0.1", "198.18.7.7", IcmpProbeKind::AddressMask, icmp::kAddressMaskRequest,
       icmp::kAddressMaskReply, 46},
      {"2001:db8::1", "2001:db8::77", IcmpProbeKind::Echo, icmp6::kEchoRequest, icmp6::kEchoReply,
       62},
  };
  for (const auto& c : cases) {
    IcmpProbeTemplate t(icmp_params(c.src, c.kind));
    EXPECT_EQ(t.request_type(), c.type);
    EXPECT_EQ(t.reply_type(), c.reply);
    uint8_t out[IcmpProbeTemplate::kMaxSize];
    for (uint16_t id : {0, 1, 0xffff, 0x8001}) {
      ASSERT_EQ(t.build(out, ip(c.dst), id, static_cast<uint16_t>(~id), id), c.size);
      ParsedPacket p;
      ASSERT_TRUE(parse_packet({out, c.size}, LinkType::Ethernet, p));
      EXPECT_TRUE(verify_l4_checksum({out, c.size}, p)) << int(c.type) << " " << id;
      if (p.ip_version == 4) {
        EXPECT_TRUE(verify_ipv4_header_checksum({out, c.size}, p));
      }
      EXPECT_EQ(p.icmp.type, c.type);
      EXPECT_EQ(p.icmp.id(), id);
      EXPECT_EQ(p.icmp.seq(), static_cast<uint16_t>(~id));
      EXPECT_EQ(p.dst, ip(c.dst));
      EXPECT_EQ(p.src, ip(c.src));
    }
    EXPECT_EQ(t.build(out, c.src[0] == '1' ? ip("2001:db8::1") : ip("198.18.0.1"), 1, 1, 1), 0u);
  }
  EXPECT_THROW(IcmpProbeTemplate(icmp_params("2001:db8::1", IcmpProbeKind::Timestamp)), UsageError);
  EXPECT_THROW(IcmpProbeTemplate(icmp_params("2001:db8::1", IcmpProbeKind::AddressMask)),
               UsageError);
}

TEST(IcmpTemplate, PerHostMacAndNoLinkHeader) {
  IcmpTemplateParams p = icmp_params("198.18.0.1", IcmpProbeKind::Echo);
  IcmpProbeTemplate t(p);
  uint8_t out[IcmpProbeTemplate::kMaxSize];
  const MacAddress other = {0x02, 9, 9, 9, 9, 9};
  t.build(out, ip("198.18.0.9"), 1, 2, 3, &other);
  EXPECT_EQ(built(6, out), hex("020909090909"));
  p.ethernet = false;
  IcmpProbeTemplate raw(p);
  ASSERT_EQ(raw.build(out, ip("198.18.0.9"), 1, 2, 3, &other), 28u);
  ParsedPacket pp;
  ASSERT_TRUE(parse_packet({out, 28}, LinkType::RawIp, pp));
  EXPECT_TRUE(verify_l4_checksum({out, 28}, pp));
}

// ---- UDP and TCP ACK pings
// ------------------------------------------------------------------------

TEST(UdpTemplate, BuildsAndPredictsItsChecksum) {
  for (const char* src : {"198.18.0.1", "2001:db8::1"}) {
    UdpTemplateParams p;
    p.src = ip(src);
    p.src_mac = kOurMac;
    p.dst_mac = kPeerMac;
    UdpProbeTemplate t(p);
    const IpAddress dst = p.src.is_v4() ? ip("198.18.9.9") : ip("2001:db8::99");
    uint8_t out[UdpProbeTemplate::kMaxSize];
    for (uint32_t word : {0u, 1u, 0xdeadbeefu, 0xffffffffu}) {
      size_t n = t.build(out, dst, 45000, 40125, word, 7);
      ASSERT_EQ(n, t.size());
      ParsedPacket pp;
      ASSERT_TRUE(parse_packet({out, n}, LinkType::Ethernet, pp));
      ASSERT_TRUE(pp.is_udp());
      EXPECT_TRUE(verify_l4_checksum({out, n}, pp));
      EXPECT_EQ(pp.udp.sport, 45000);
      EXPECT_EQ(pp.udp.dport, 40125);
      EXPECT_EQ(pp.udp.length, 12);
      EXPECT_EQ(pp.payload_len, 4);
      EXPECT_EQ(pp.udp.checksum, t.expected_checksum(dst, 45000, 40125, word));
      EXPECT_NE(pp.udp.checksum, 0);
    }
  }
}

TEST(TcpTemplate, AckPingCarriesFlagsAndAcknowledgment) {
  SynTemplateParams p;
  p.src = ip("198.18.0.1");
  p.src_mac = kOurMac;
  p.dst_mac = kPeerMac;
  p.flags = tcpflag::kAck;
  p.tcp_options.clear();
  TcpSynTemplate t(p);
  uint8_t out[TcpSynTemplate::kMaxSize];
  size_t n = t.build(out, ip("198.18.0.9"), 41000, 80, 0x11223344, 5, 0x11223344, nullptr);
  ASSERT_EQ(n, 54u);
  ParsedPacket pp;
  ASSERT_TRUE(parse_packet({out, n}, LinkType::Ethernet, pp));
  EXPECT_TRUE(verify_l4_checksum({out, n}, pp));
  EXPECT_EQ(pp.tcp.flags, tcpflag::kAck);
  EXPECT_EQ(pp.tcp.ack, 0x11223344u);
  EXPECT_EQ(pp.tcp.seq, 0x11223344u);
}

// ---- Cookies
// --------------------------------------------------------------------------------------

TEST(DiscoveryCookie, IcmpIdSeqRoundTripAndKeyed) {
  Cookie c(1, 2), other(3, 4);
  const IpAddress us = ip("198.18.0.1"), them = ip("198.18.0.9");
  for (unsigned attempt : {0u, 1u, 9u, 255u}) {
    auto v = c.icmp_id_seq(us, them, icmp::kEchoRequest, attempt);
    auto a = c.icmp_attempt(us, them, icmp::kEchoRequest, v.id, v.seq);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(*a, attempt);
    EXPECT_FALSE(c.icmp_attempt(us, them, icmp::kTimestamp, v.id, v.seq).has_value());
    EXPECT_FALSE(c.icmp_attempt(us, ip("198.18.0.10"), icmp::kEchoRequest, v.id, v.seq));
    EXPECT_FALSE(other.icmp_attempt(us, them, icmp::kEchoRequest, v.id, v.seq).has_value());
    EXPECT_FALSE(c.icmp_attempt(us, them, icmp::kEchoRequest, v.id ^ 1, v.seq).has_value());
    EXPECT_FALSE(
        c.icmp_attempt(us, them, icmp::kEchoRequest, v.id, static_cast<uint16_t>(v.seq ^ 0x100)));
  }
  EXPECT_NE(c.probe_word(us, them, 1), c.probe_word(us, them, 2));
}

// A TCP segment from `from`:sport to `to`:dport, as a frame parse_packet reads.
std::vector<uint8_t> tcp_reply(const IpAddress& from, const IpAddress& to, uint16_t sport,
                               uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags) {
  SynTemplateParams p;
  p.src = from;
  p.flags = flags;
  p.tcp_options.clear();
  TcpSynTemplate t(p);
  std::vector<uint8_t> f(TcpSynTemplate::kMaxSize);
  f.resize(t.build(f.data(), to, sport, dport, seq, 0, ack, nullptr));
  return f;
}

TEST(DiscoveryCookie, AckPingRstValidates) {
  Cookie c(7, 8);
  const IpAddress us = ip("198.18.0.1"), them = ip("198.18.0.9");
  const uint16_t sport = c.source_port(them, 80, 40000, 20000, 2);
  const uint32_t s = c.tcp_seq(us, them, sport, 80);
  ParsedPacket p;
  ProbeReply m;
  auto rst = tcp_reply(them, us, 80, sport, s, 0, tcpflag::kRst);
  ASSERT_TRUE(parse_packet(rst, LinkType::Ethernet, p));
  ASSERT_TRUE(c.validate_tcp_ack_reply(p, us, 40000, 20000, m));
  EXPECT_EQ(m.kind, ReplyKind::Reset);
  EXPECT_EQ(m.target, them);
  EXPECT_EQ(m.target_port, 80);
  EXPECT_EQ(m.attempt, 2);
  auto wrong = tcp_reply(them, us, 80, sport, s + 1, 0, tcpflag::kRst);
  ASSERT_TRUE(parse_packet(wrong, LinkType::Ethernet, p));
  EXPECT_FALSE(c.validate_tcp_ack_reply(p, us, 40000, 20000, m));
  auto synack = tcp_reply(them, us, 80, sport, s, s + 1, tcpflag::kSyn | tcpflag::kAck);
  ASSERT_TRUE(parse_packet(synack, LinkType::Ethernet, p));
  EXPECT_FALSE(c.validate_tcp_ack_reply(p, us, 40000, 20000, m));
  auto other_port = tcp_reply(them, us, 81, sport, s, 0, tcpflag::kRst);
  ASSERT_TRUE(parse_packet(other_port, LinkType::Ethernet, p));
  EXPECT_FALSE(c.validate_tcp_ack_reply(p, us, 40000, 20000, m));
  auto not_us = tcp_reply(them, ip("198.18.0.2"), 80, sport, s, 0, tcpflag::kRst);
  ASSERT_TRUE(parse_packet(not_us, LinkType::Ethernet, p));
  EXPECT_FALSE(c.validate_tcp_ack_reply(p, us, 40000, 20000, m));
}

}  // namespace
}  // namespace gh::net
