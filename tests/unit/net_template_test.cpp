#include "net/tcp_template.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "hex_fixture.h"
#include "net/describe.h"
#include "net/headers.h"
#include "net/packet.h"

namespace gh::net {
namespace {

using test::hex;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

const MacAddress kOurMac = {0x02, 0, 0, 0, 0, 0x01};
const MacAddress kGatewayMac = {0x02, 0, 0, 0, 0, 0x02};

// Straightforward full checksum, independent of net/checksum: 16-bit words, 32-bit sum, fold.
uint16_t naive_sum(const std::vector<uint8_t>& b) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < b.size(); i += 2) s += uint32_t{b[i]} << 8 | b[i + 1];
  if (b.size() % 2) s += uint32_t{b.back()} << 8;
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  put16(b, at, static_cast<uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<uint16_t>(v));
}

// The SYN we expect, assembled field by field from the RFCs with full checksums.
std::vector<uint8_t> expected_v4_syn(bool ethernet, uint32_t dst, uint16_t sport, uint16_t dport,
                                     uint32_t seq, uint16_t id) {
  std::vector<uint8_t> ipb =
      hex("45 00 002c 0000 0000 40 06 0000 c6120001 00000000"  // IPv4, 44 bytes, TTL 64, TCP
          "0000 0000 00000000 00000000 60 02 0400 0000 0000"   // TCP SYN, data offset 6, win 1024
          "020405b4");                                         // MSS 1460
  put16(ipb, 4, id);
  put32(ipb, 16, dst);
  put16(ipb, 10, naive_sum({ipb.begin(), ipb.begin() + 20}));
  put16(ipb, 20, sport);
  put16(ipb, 22, dport);
  put32(ipb, 24, seq);
  std::vector<uint8_t> pseudo(ipb.begin() + 12, ipb.begin() + 20);  // src, dst
  pseudo.insert(pseudo.end(), {0, 6, 0, 24});
  pseudo.insert(pseudo.end(), ipb.begin() + 20, ipb.end());
  put16(ipb, 36, naive_sum(pseudo));
  if (!ethernet) return ipb;
  std::vector<uint8_t> frame = hex("020000000002 020000000001 0800");
  frame.insert(frame.end(), ipb.begin(), ipb.end());
  return frame;
}

SynTemplateParams v4_params(bool ethernet) {
  SynTemplateParams p;
  p.src = ip("198.18.0.1");
  p.ethernet = ethernet;
  p.src_mac = kOurMac;
  p.dst_mac = kGatewayMac;
  return p;
}

TEST(TcpTemplate, Ipv4EthernetMatchesIndependentFixture) {
  TcpSynTemplate t(v4_params(true));
  EXPECT_EQ(t.size(), 14u + 20u + 24u);
  EXPECT_EQ(t.family(), Family::V4);
  EXPECT_EQ(t.ip_offset(), 14u);
  EXPECT_EQ(t.tcp_offset(), 34u);
  std::vector<uint8_t> out(t.size());
  ASSERT_EQ(t.build(out.data(), ip("198.18.1.2"), 40000, 80, 0x12345678, 0x4242), t.size());
  // Spelled out once, so the expected bytes are visible: checksums 0xab62 (IP) and 0x01c2 (TCP).
  EXPECT_EQ(out, hex("020000000002 020000000001 0800"
                     "45 00 002c 4242 0000 40 06 ab62 c6120001 c6120102"
                     "9c40 0050 12345678 00000000 60 02 0400 01c2 0000 020405b4"));
  EXPECT_EQ(out, expected_v4_syn(true, 0xc6120102, 40000, 80, 0x12345678, 0x4242));
}

TEST(TcpTemplate, Ipv4RandomProbesMatchFullChecksums) {
  for (bool ethernet : {true, false}) {
    TcpSynTemplate t(v4_params(ethernet));
    std::mt19937 rng(ethernet ? 1 : 2);
    std::vector<uint8_t> out(t.size());
    for (int i = 0; i < 2000; ++i) {
      const uint32_t dst = static_cast<uint32_t>(rng());
      const uint16_t sport = static_cast<uint16_t>(rng()), dport = static_cast<uint16_t>(rng());
      const uint32_t seq = static_cast<uint32_t>(rng());
      const uint16_t id = static_cast<uint16_t>(rng());
      ASSERT_EQ(t.build(out.data(), IpAddress::v4(dst), sport, dport, seq, id), t.size());
      ASSERT_EQ(out, expected_v4_syn(ethernet, dst, sport, dport, seq, id)) << "probe " << i;
    }
  }
}

TEST(TcpTemplate, Ipv4RoundTripThroughParser) {
  auto params = v4_params(true);
  params.ttl = 37;
  params.window = 29200;
  params.dont_fragment = true;
  params.tcp_options = hex("020405b4 0402 080a 00000001 00000000 030308");  // 19 bytes, padded
  TcpSynTemplate t(params);
  std::vector<uint8_t> out(TcpSynTemplate::kMaxSize);
  const size_t n = t.build(std::span<uint8_t>(out), ip("198.18.7.9"), 41234, 443, 0xfeedface, 99);
  ASSERT_EQ(n, 14u + 20u + 40u);
  out.resize(n);

  ParsedPacket p;
  ASSERT_TRUE(parse_packet(out, LinkType::Ethernet, p));
  EXPECT_EQ(p.src_mac, kOurMac);
  EXPECT_EQ(p.dst_mac, kGatewayMac);
  EXPECT_EQ(p.ip_version, 4);
  EXPECT_EQ(p.src, ip("198.18.0.1"));
  EXPECT_EQ(p.dst, ip("198.18.7.9"));
  EXPECT_EQ(p.ttl, 37);
  EXPECT_EQ(p.ip_id, 99);
  EXPECT_EQ(p.ip_total_len, 60u);
  EXPECT_TRUE(p.dont_fragment);
  EXPECT_FALSE(p.is_fragment);
  ASSERT_TRUE(p.is_tcp());
  EXPECT_EQ(p.tcp.sport, 41234);
  EXPECT_EQ(p.tcp.dport, 443);
  EXPECT_EQ(p.tcp.seq, 0xfeedfaceu);
  EXPECT_EQ(p.tcp.ack, 0u);
  EXPECT_EQ(p.tcp.flags, tcpflag::kSyn);
  EXPECT_EQ(p.tcp.window, 29200);
  EXPECT_EQ(p.tcp.data_offset, 10);
  EXPECT_EQ(p.tcp.urgent, 0);
  EXPECT_FALSE(p.tcp.options.malformed);
  EXPECT_EQ(p.tcp.options.mss, 1460);
  EXPECT_TRUE(p.tcp.options.sack_permitted);
  EXPECT_EQ(p.tcp.options.ts_val, 1u);
  EXPECT_EQ(p.tcp.options.wscale, 8);
  EXPECT_EQ(p.tcp.options.len, 20);
  EXPECT_EQ(p.tcp.options.raw[19], 0);  // EOL padding
  EXPECT_EQ(p.payload_len, 0);
  EXPECT_TRUE(verify_ipv4_header_checksum(out, p));
  EXPECT_TRUE(verify_l4_checksum(out, p));
}

TEST(TcpTemplate, Ipv6EthernetMatchesIndependentFixture) {
  SynTemplateParams params;
  params.src = ip("2001:db8::1");
  params.src_mac = kOurMac;
  params.dst_mac = kGatewayMac;
  params.ttl = 255;
  TcpSynTemplate t(params);
  EXPECT_EQ(t.family(), Family::V6);
  EXPECT_EQ(t.size(), 14u + 40u + 24u);
  std::vector<uint8_t> out(t.size());
  ASSERT_EQ(t.build(out.data(), ip("2001:db8::2"), 40000, 22, 0x9abcdef0, 1234), t.size());

  std::vector<uint8_t> want =
      hex("020000000002 020000000001 86dd"
          "60000000 0018 06 ff 20010db8000000000000000000000001 20010db8000000000000000000000002"
          "9c40 0016 9abcdef0 00000000 60 02 0400 0000 0000 020405b4");
  // TCP checksum over the RFC 8200 pseudo-header: src, dst, 32-bit length, 3 zeros, next header.
  std::vector<uint8_t> pseudo(want.begin() + 22, want.begin() + 54);
  pseudo.insert(pseudo.end(), {0, 0, 0, 24, 0, 0, 0, 6});
  pseudo.insert(pseudo.end(), want.begin() + 54, want.end());
  put16(want, 54 + 16, naive_sum(pseudo));
  EXPECT_EQ(out, want);

  ParsedPacket p;
  ASSERT_TRUE(parse_packet(out, LinkType::Ethernet, p));
  EXPECT_EQ(p.ip_version, 6);
  EXPECT_EQ(p.src, ip("2001:db8::1"));
  EXPECT_EQ(p.dst, ip("2001:db8::2"));
  EXPECT_EQ(p.ttl, 255);
  ASSERT_TRUE(p.is_tcp());
  EXPECT_EQ(p.tcp.sport, 40000);
  EXPECT_EQ(p.tcp.dport, 22);
  EXPECT_EQ(p.tcp.seq, 0x9abcdef0u);
  EXPECT_EQ(p.tcp.flags, tcpflag::kSyn);
  EXPECT_TRUE(verify_l4_checksum(out, p));
}

TEST(TcpTemplate, Ipv6RawRandomProbesVerify) {
  SynTemplateParams params;
  params.src = ip("fd00::1:2:3:4");
  params.ethernet = false;
  params.tcp_options = {};
  TcpSynTemplate t(params);
  EXPECT_EQ(t.size(), 60u);
  EXPECT_EQ(t.ip_offset(), 0u);
  std::mt19937_64 rng(5);
  std::vector<uint8_t> out(t.size());
  for (int i = 0; i < 2000; ++i) {
    const IpAddress dst = IpAddress::v6(u128{rng()} << 64 | rng());
    const uint16_t sport = static_cast<uint16_t>(rng()), dport = static_cast<uint16_t>(rng());
    const uint32_t seq = static_cast<uint32_t>(rng());
    ASSERT_EQ(t.build(out.data(), dst, sport, dport, seq, 0), t.size());
    ParsedPacket p;
    ASSERT_TRUE(parse_packet(out, LinkType::RawIp, p));
    ASSERT_EQ(p.dst, dst);
    ASSERT_EQ(p.tcp.sport, sport);
    ASSERT_EQ(p.tcp.dport, dport);
    ASSERT_EQ(p.tcp.seq, seq);
    // Independent check: the full sum over pseudo-header and segment is 0xFFFF (i.e. verifies).
    std::vector<uint8_t> pseudo(out.begin() + 8, out.begin() + 40);
    pseudo.insert(pseudo.end(), {0, 0, 0, 20, 0, 0, 0, 6});
    pseudo.insert(pseudo.end(), out.begin() + 40, out.end());
    ASSERT_EQ(naive_sum(pseudo), 0) << "probe " << i;
  }
}

TEST(TcpTemplate, RefusesMismatchedFamilyAndShortBuffer) {
  TcpSynTemplate t(v4_params(false));
  std::vector<uint8_t> out(t.size(), 0xEE);
  EXPECT_EQ(t.build(out.data(), ip("2001:db8::2"), 1, 2, 3, 4), 0u);
  EXPECT_EQ(out, std::vector<uint8_t>(t.size(), 0xEE));  // nothing written
  std::vector<uint8_t> small(t.size() - 1);
  EXPECT_EQ(t.build(std::span<uint8_t>(small), ip("198.18.1.2"), 1, 2, 3, 4), 0u);
}

TEST(TcpTemplate, RejectsOversizedOptions) {
  auto params = v4_params(true);
  params.tcp_options.assign(41, tcpopt::kNop);
  EXPECT_THROW(TcpSynTemplate{params}, UsageError);
  params.tcp_options.assign(40, tcpopt::kNop);
  TcpSynTemplate t(params);
  EXPECT_EQ(t.size(), TcpSynTemplate::kMaxSize - 20);  // IPv4 is 20 bytes shorter than IPv6
}

TEST(NetDescribe, RendersBuiltSynLikeTcpdump) {
  TcpSynTemplate t(v4_params(true));
  std::vector<uint8_t> out(t.size());
  t.build(out.data(), ip("198.18.1.2"), 40000, 80, 305419896, 1);
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(out, LinkType::Ethernet, p));
  EXPECT_EQ(describe_packet(p),
            "198.18.0.1:40000 > 198.18.1.2:80 TCP [S] seq=305419896 win=1024 mss=1460 ttl=64");
}

TEST(NetDescribe, RendersRepliesAndOtherKinds) {
  ParsedPacket p;
  p.ip_version = 6;
  p.src = ip("2001:db8::2");
  p.dst = ip("2001:db8::1");
  p.ttl = 64;
  p.l4_parsed = true;
  p.l4_protocol = ipproto::kTcp;
  p.tcp.sport = 443;
  p.tcp.dport = 40000;
  p.tcp.seq = 1;
  p.tcp.ack = 305419897;
  p.tcp.flags = tcpflag::kSyn | tcpflag::kAck;
  p.tcp.window = 65535;
  EXPECT_EQ(
      describe_packet(p),
      "[2001:db8::2]:443 > [2001:db8::1]:40000 TCP [S.] seq=1 ack=305419897 win=65535 ttl=64");

  p = {};
  p.ip_version = 4;
  p.src = ip("192.0.2.1");
  p.dst = ip("198.18.0.1");
  p.ttl = 255;
  p.l4_parsed = true;
  p.l4_protocol = ipproto::kIcmp;
  p.icmp.type = icmp::kDestUnreach;
  p.icmp.code = icmp::kPortUnreach;
  p.quoted.valid = true;
  p.quoted.has_l4 = true;
  p.quoted.ip_version = 4;
  p.quoted.protocol = ipproto::kTcp;
  p.quoted.src = ip("198.18.0.1");
  p.quoted.dst = ip("198.18.1.2");
  p.quoted.sport = 40000;
  p.quoted.dport = 80;
  p.quoted.seq = 305419896;
  EXPECT_EQ(describe_packet(p),
            "192.0.2.1 > 198.18.0.1 ICMP unreachable port [198.18.0.1:40000 > 198.18.1.2:80 TCP "
            "seq=305419896] ttl=255");

  p = {};
  p.ip_version = 4;
  p.src = ip("198.18.0.1");
  p.dst = ip("198.18.1.2");
  p.ttl = 64;
  p.l4_protocol = ipproto::kTcp;
  p.is_fragment = true;
  p.ip_id = 7;
  p.frag_offset = 1480;
  EXPECT_EQ(describe_packet(p), "198.18.0.1 > 198.18.1.2 IPv4 proto=6 frag id=7 off=1480 ttl=64");

  EXPECT_EQ(tcp_flags_string(tcpflag::kRst | tcpflag::kAck), "R.");
  EXPECT_EQ(tcp_flags_string(0), "none");
  EXPECT_EQ(tcp_flags_string(0xff), "FSRP.UEW");
  EXPECT_EQ(icmp_description(6, icmp6::kTimeExceeded, 0), "time-exceeded hop-limit");
  EXPECT_EQ(icmp_description(4, 42, 1), "type=42 code=1");
}

}  // namespace
}  // namespace gh::net
