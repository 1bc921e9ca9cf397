#include "net/cookie.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>
#include <vector>

#include "net/bytes.h"
#include "net/checksum.h"
#include "net/headers.h"
#include "net/packet.h"
#include "net/siphash.h"
#include "net/tcp_template.h"

namespace gh::net {
namespace {

// ---- SipHash-2-4 -------------------------------------------------------------------------------

// The reference vectors (veorq/SipHash vectors.h, vectors_sip64): key 00 01 .. 0f, message
// 00 01 .. (i-1) for i = 0..63, output as little-endian bytes.
const uint8_t kSipVectors[64][8] = {
    {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72},
    {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74},
    {0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d},
    {0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85},
    {0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf},
    {0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18},
    {0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb},
    {0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab},
    {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93},
    {0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e},
    {0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a},
    {0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4},
    {0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75},
    {0x90, 0x3d, 0x84, 0xc0, 0x27, 0x56, 0xea, 0x14},
    {0xee, 0xf2, 0x7a, 0x8e, 0x90, 0xca, 0x23, 0xf7},
    {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1},
    {0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f},
    {0x94, 0x47, 0xbe, 0x2c, 0xf5, 0xe9, 0x9a, 0x69},
    {0x9c, 0xd3, 0x8d, 0x96, 0xf0, 0xb3, 0xc1, 0x4b},
    {0xbd, 0x61, 0x79, 0xa7, 0x1d, 0xc9, 0x6d, 0xbb},
    {0x98, 0xee, 0xa2, 0x1a, 0xf2, 0x5c, 0xd6, 0xbe},
    {0xc7, 0x67, 0x3b, 0x2e, 0xb0, 0xcb, 0xf2, 0xd0},
    {0x88, 0x3e, 0xa3, 0xe3, 0x95, 0x67, 0x53, 0x93},
    {0xc8, 0xce, 0x5c, 0xcd, 0x8c, 0x03, 0x0c, 0xa8},
    {0x94, 0xaf, 0x49, 0xf6, 0xc6, 0x50, 0xad, 0xb8},
    {0xea, 0xb8, 0x85, 0x8a, 0xde, 0x92, 0xe1, 0xbc},
    {0xf3, 0x15, 0xbb, 0x5b, 0xb8, 0x35, 0xd8, 0x17},
    {0xad, 0xcf, 0x6b, 0x07, 0x63, 0x61, 0x2e, 0x2f},
    {0xa5, 0xc9, 0x1d, 0xa7, 0xac, 0xaa, 0x4d, 0xde},
    {0x71, 0x65, 0x95, 0x87, 0x66, 0x50, 0xa2, 0xa6},
    {0x28, 0xef, 0x49, 0x5c, 0x53, 0xa3, 0x87, 0xad},
    {0x42, 0xc3, 0x41, 0xd8, 0xfa, 0x92, 0xd8, 0x32},
    {0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71},
    {0xe3, 0x78, 0x59, 0xf9, 0x46, 0x23, 0xf3, 0xa7},
    {0x38, 0x12, 0x05, 0xbb, 0x1a, 0xb0, 0xe0, 0x12},
    {0xae, 0x97, 0xa1, 0x0f, 0xd4, 0x34, 0xe0, 0x15},
    {0xb4, 0xa3, 0x15, 0x08, 0xbe, 0xff, 0x4d, 0x31},
    {0x81, 0x39, 0x62, 0x29, 0xf0, 0x90, 0x79, 0x02},
    {0x4d, 0x0c, 0xf4, 0x9e, 0xe5, 0xd4, 0xdc, 0xca},
    {0x5c, 0x73, 0x33, 0x6a, 0x76, 0xd8, 0xbf, 0x9a},
    {0xd0, 0xa7, 0x04, 0x53, 0x6b, 0xa9, 0x3e, 0x0e},
    {0x92, 0x59, 0x58, 0xfc, 0xd6, 0x42, 0x0c, 0xad},
    {0xa9, 0x15, 0xc2, 0x9b, 0xc8, 0x06, 0x73, 0x18},
    {0x95, 0x2b, 0x79, 0xf3, 0xbc, 0x0a, 0xa6, 0xd4},
    {0xf2, 0x1d, 0xf2, 0xe4, 0x1d, 0x45, 0x35, 0xf9},
    {0x87, 0x57, 0x75, 0x19, 0x04, 0x8f, 0x53, 0xa9},
    {0x10, 0xa5, 0x6c, 0xf5, 0xdf, 0xcd, 0x9a, 0xdb},
    {0xeb, 0x75, 0x09, 0x5c, 0xcd, 0x98, 0x6c, 0xd0},
    {0x51, 0xa9, 0xcb, 0x9e, 0xcb, 0xa3, 0x12, 0xe6},
    {0x96, 0xaf, 0xad, 0xfc, 0x2c, 0xe6, 0x66, 0xc7},
    {0x72, 0xfe, 0x52, 0x97, 0x5a, 0x43, 0x64, 0xee},
    {0x5a, 0x16, 0x45, 0xb2, 0x76, 0xd5, 0x92, 0xa1},
    {0xb2, 0x74, 0xcb, 0x8e, 0xbf, 0x87, 0x87, 0x0a},
    {0x6f, 0x9b, 0xb4, 0x20, 0x3d, 0xe7, 0xb3, 0x81},
    {0xea, 0xec, 0xb2, 0xa3, 0x0b, 0x22, 0xa8, 0x7f},
    {0x99, 0x24, 0xa4, 0x3c, 0xc1, 0x31, 0x57, 0x24},
    {0xbd, 0x83, 0x8d, 0x3a, 0xaf, 0xbf, 0x8d, 0xb7},
    {0x0b, 0x1a, 0x2a, 0x32, 0x65, 0xd5, 0x1a, 0xea},
    {0x13, 0x50, 0x79, 0xa3, 0x23, 0x1c, 0xe6, 0x60},
    {0x93, 0x2b, 0x28, 0x46, 0xe4, 0xd7, 0x06, 0x66},
    {0xe1, 0x91, 0x5f, 0x5c, 0xb1, 0xec, 0xa4, 0x6c},
    {0xf3, 0x25, 0x96, 0x5c, 0xa1, 0x6d, 0x62, 0x9f},
    {0x57, 0x5f, 0xf2, 0x8e, 0x60, 0x38, 0x1b, 0xe5},
    {0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95},
};

uint64_t le64(const uint8_t* b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

std::array<uint8_t, 16> reference_key() {
  std::array<uint8_t, 16> k{};
  for (int i = 0; i < 16; ++i) k[i] = static_cast<uint8_t>(i);
  return k;
}

TEST(SipHash, ReferenceVectors) {
  const auto key = reference_key();
  const SipHash24 h = SipHash24::from_key_bytes(key);
  std::vector<uint8_t> msg;
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(h(msg), le64(kSipVectors[i])) << "length " << i;
    msg.push_back(static_cast<uint8_t>(i));
  }
}

TEST(SipHash, PaperAppendixExample) {
  // The SipHash paper, appendix A: key 00..0f, message 00..0e, result a129ca6149be45e5.
  const auto key = reference_key();
  std::vector<uint8_t> msg(15);
  for (int i = 0; i < 15; ++i) msg[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(siphash24(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull, msg), 0xa129ca6149be45e5ull);
  EXPECT_EQ(SipHash24::from_key_bytes(key)(msg), 0xa129ca6149be45e5ull);
}

TEST(SipHash, WordVariantEqualsByteVariant) {
  const SipHash24 h(0x0123456789abcdefull, 0xfedcba9876543210ull);
  uint64_t w[6];
  for (size_t n = 0; n <= 6; ++n) {
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i < n; ++i) {
      w[i] = 0x1111111111111111ull * (i + 1) ^ (i << 40);
      for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<uint8_t>(w[i] >> (8 * b)));
    }
    EXPECT_EQ(h.words(w, n), h(bytes)) << n << " words";
  }
  // And against a reference vector: the 16-byte message 00..0f is two little-endian words.
  const SipHash24 ref = SipHash24::from_key_bytes(reference_key());
  const uint64_t words[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
  EXPECT_EQ(ref.words(words, 2), le64(kSipVectors[16]));
}

// ---- Cookie ------------------------------------------------------------------------------------

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

constexpr uint16_t kBase = 32768;
constexpr uint16_t kRange = 28232;  // Linux's default ephemeral range, 32768..60999

TEST(CookieValues, DeterministicKeyedAndDomainSeparated) {
  const Cookie a(1, 2), b(1, 3);
  const auto us = ip("198.18.0.1"), them = ip("198.18.1.2");
  EXPECT_EQ(a.tcp_seq(us, them, 40000, 80), Cookie(1, 2).tcp_seq(us, them, 40000, 80));
  EXPECT_NE(a.tcp_seq(us, them, 40000, 80), b.tcp_seq(us, them, 40000, 80));
  EXPECT_NE(a.tcp_seq(us, them, 40000, 80), a.tcp_seq(us, them, 40000, 81));
  EXPECT_NE(a.tcp_seq(us, them, 40000, 80), a.tcp_seq(us, them, 40001, 80));
  EXPECT_NE(a.tcp_seq(us, them, 40000, 80), a.tcp_seq(them, us, 40000, 80));
  EXPECT_NE(a.tcp_seq(us, them, 40000, 80), a.tcp_seq(us, ip("198.18.1.3"), 40000, 80));
  // The IPv4 address a.b.c.d and the IPv6 address ::a.b.c.d hash differently.
  EXPECT_NE(a.tcp_seq(us, them, 1, 2),
            a.tcp_seq(IpAddress::v6(us.value), IpAddress::v6(them.value), 1, 2));
}

TEST(CookieValues, SourcePortStaysInRangeAndSpreads) {
  const Cookie c(0xdeadbeef, 0xfeedface);
  std::set<uint16_t> seen;
  for (uint32_t i = 0; i < 4096; ++i) {
    const uint16_t p = c.source_port(IpAddress::v4(0xc6120000 + i), 80, 40000, 16);
    ASSERT_GE(p, 40000);
    ASSERT_LT(p, 40016);
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 16u);  // every port of the range gets used
  EXPECT_EQ(c.source_port(ip("198.18.1.2"), 80, 1234, 1), 1234);
  EXPECT_EQ(c.source_port(ip("198.18.1.2"), 80, 1234, 0), 1234);
  const uint16_t top = c.source_port(ip("198.18.1.2"), 80, 65535, 1);
  EXPECT_EQ(top, 65535);
}

// A reply as the target's stack would send it: IPv4 or IPv6 + TCP, no link header.
std::vector<uint8_t> tcp_reply(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                               uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags) {
  std::vector<uint8_t> b;
  const auto s = src.bytes(), d = dst.bytes();
  if (src.is_v4()) {
    b = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, ipproto::kTcp, 0, 0};
    b.insert(b.end(), s.begin(), s.begin() + 4);
    b.insert(b.end(), d.begin(), d.begin() + 4);
  } else {
    b = {0x60, 0, 0, 0, 0, 20, ipproto::kTcp, 64};
    b.insert(b.end(), s.begin(), s.end());
    b.insert(b.end(), d.begin(), d.end());
  }
  const size_t t = b.size();
  b.resize(t + 20);
  store_be16(&b[t], sport);
  store_be16(&b[t + 2], dport);
  store_be32(&b[t + 4], seq);
  store_be32(&b[t + 8], ack);
  b[t + 12] = 0x50;
  b[t + 13] = flags;
  store_be16(&b[t + 14], 65535);
  return b;
}

// An ICMP/ICMPv6 error from `router` to `dst` quoting `probe` (a raw IP packet).
std::vector<uint8_t> icmp_error(const IpAddress& router, const IpAddress& dst, uint8_t type,
                                uint8_t code, const std::vector<uint8_t>& probe) {
  std::vector<uint8_t> b;
  const auto s = router.bytes(), d = dst.bytes();
  const size_t len = 8 + probe.size();
  if (router.is_v4()) {
    b = {0x45, 0, 0, static_cast<uint8_t>(20 + len), 0, 0, 0, 0, 255, ipproto::kIcmp, 0, 0};
    b.insert(b.end(), s.begin(), s.begin() + 4);
    b.insert(b.end(), d.begin(), d.begin() + 4);
  } else {
    b = {0x60, 0, 0, 0, 0, static_cast<uint8_t>(len), ipproto::kIcmpv6, 64};
    b.insert(b.end(), s.begin(), s.end());
    b.insert(b.end(), d.begin(), d.end());
  }
  b.insert(b.end(), {type, code, 0, 0, 0, 0, 0, 0});
  b.insert(b.end(), probe.begin(), probe.end());
  return b;
}

struct Scan {
  Cookie cookie{0x5eed5eed5eed5eedull, 0x0123456789abcdefull};
  IpAddress us;
  IpAddress target;
  uint16_t port;
  uint16_t sport;
  uint32_t seq;
  std::vector<uint8_t> syn;  // raw IP

  Scan(const char* our_addr, const char* target_addr, uint16_t dport)
      : us(ip(our_addr)), target(ip(target_addr)), port(dport) {
    sport = cookie.source_port(target, port, kBase, kRange);
    seq = cookie.tcp_seq(us, target, sport, port);
    SynTemplateParams params;
    params.src = us;
    params.ethernet = false;
    TcpSynTemplate t(params);
    syn.resize(t.size());
    t.build(syn.data(), target, sport, port, seq, 7);
  }

  bool validate(const std::vector<uint8_t>& bytes, ProbeReply& m) const {
    ParsedPacket p;
    if (!parse_packet(bytes, LinkType::RawIp, p)) {
      ADD_FAILURE() << "reply did not parse";
      return false;
    }
    return cookie.validate_tcp_reply(p, us, kBase, kRange, m);
  }
};

TEST(CookieValidate, AcceptsMatchingSynAckAndRst) {
  for (auto [us, target] :
       {std::pair{"198.18.0.1", "198.18.1.2"}, std::pair{"2001:db8::1", "2001:db8::2"}}) {
    const Scan s(us, target, 443);
    EXPECT_GE(s.sport, kBase);
    EXPECT_LT(s.sport, kBase + kRange);
    ProbeReply m;
    ASSERT_TRUE(s.validate(
        tcp_reply(s.target, s.us, 443, s.sport, 999, s.seq + 1, tcpflag::kSyn | tcpflag::kAck), m))
        << us;
    EXPECT_EQ(m.kind, ReplyKind::SynAck);
    EXPECT_EQ(m.target, s.target);
    EXPECT_EQ(m.target_port, 443);
    EXPECT_EQ(m.our_port, s.sport);
    EXPECT_EQ(m.responder, s.target);

    ASSERT_TRUE(s.validate(
        tcp_reply(s.target, s.us, 443, s.sport, 0, s.seq + 1, tcpflag::kRst | tcpflag::kAck), m))
        << us;
    EXPECT_EQ(m.kind, ReplyKind::Reset);
    EXPECT_EQ(m.target_port, 443);
  }
}

// Each retry comes from its own source port; a reply says which attempt it answers, and a
// port that is no attempt's is refused even with the right sequence number.
TEST(CookieValidate, EachAttemptHasItsOwnSourcePort) {
  const Scan s("198.18.0.1", "198.18.1.2", 8080);
  std::set<uint16_t> ports;
  for (unsigned a = 0; a < Cookie::kMaxAttempts; ++a) {
    uint16_t sport = s.cookie.source_port(s.target, 8080, kBase, kRange, a);
    EXPECT_GE(sport, kBase);
    EXPECT_LT(sport, kBase + kRange);
    ports.insert(sport);
    EXPECT_EQ(s.cookie.attempt_of(s.target, 8080, sport, kBase, kRange), a);
    uint32_t seq = s.cookie.tcp_seq(s.us, s.target, sport, 8080);
    ProbeReply m;
    ASSERT_TRUE(s.validate(
        tcp_reply(s.target, s.us, 8080, sport, 1, seq + 1, tcpflag::kSyn | tcpflag::kAck), m))
        << "attempt " << a;
    EXPECT_EQ(m.attempt, a);
    EXPECT_EQ(m.our_port, sport);
  }
  EXPECT_EQ(ports.size(), Cookie::kMaxAttempts);  // all distinct
  EXPECT_EQ(s.sport, s.cookie.source_port(s.target, 8080, kBase, kRange, 0));
  // Attempts past the last reuse its port.
  EXPECT_EQ(s.cookie.source_port(s.target, 8080, kBase, kRange, 1000),
            s.cookie.source_port(s.target, 8080, kBase, kRange, Cookie::kMaxAttempts - 1));
  // A port in range that no attempt uses, answered with a matching sequence number: refused.
  uint16_t other = kBase;
  while (ports.count(other) != 0) ++other;
  EXPECT_FALSE(s.cookie.attempt_of(s.target, 8080, other, kBase, kRange).has_value());
  ProbeReply m;
  EXPECT_FALSE(s.validate(
      tcp_reply(s.target, s.us, 8080, other, 1, s.cookie.tcp_seq(s.us, s.target, other, 8080) + 1,
                tcpflag::kSyn | tcpflag::kAck),
      m));
  EXPECT_FALSE(s.cookie.attempt_of(s.target, 8080, kBase - 1, kBase, kRange).has_value());
}

TEST(CookieValidate, SeqWrapsAround) {
  // Find a probe whose seq is 0xffffffff-ish is impractical; check the arithmetic directly.
  const Scan s("198.18.0.1", "198.18.1.2", 80);
  ProbeReply m;
  EXPECT_TRUE(
      s.validate(tcp_reply(s.target, s.us, 80, s.sport, 1, static_cast<uint32_t>(s.seq + 1u),
                           tcpflag::kSyn | tcpflag::kAck),
                 m));
}

TEST(CookieValidate, RejectsWrongAckPortAddressOrFlags) {
  const Scan s("198.18.0.1", "198.18.1.2", 80);
  const uint8_t synack = tcpflag::kSyn | tcpflag::kAck;
  ProbeReply m;
  // Wrong ack: the seq itself, seq + 2.
  EXPECT_FALSE(s.validate(tcp_reply(s.target, s.us, 80, s.sport, 1, s.seq, synack), m));
  EXPECT_FALSE(s.validate(tcp_reply(s.target, s.us, 80, s.sport, 1, s.seq + 2, synack), m));
  EXPECT_FALSE(s.validate(
      tcp_reply(s.target, s.us, 80, s.sport, 1, s.seq, tcpflag::kRst | tcpflag::kAck), m));
  // Wrong port: to another of our ports; from another target port.
  EXPECT_FALSE(s.validate(tcp_reply(s.target, s.us, 80, s.sport + 1, 1, s.seq + 1, synack), m));
  EXPECT_FALSE(s.validate(tcp_reply(s.target, s.us, 81, s.sport, 1, s.seq + 1, synack), m));
  // Wrong address: from another host; to another of our addresses.
  EXPECT_FALSE(s.validate(tcp_reply(ip("198.18.1.3"), s.us, 80, s.sport, 1, s.seq + 1, synack), m));
  EXPECT_FALSE(
      s.validate(tcp_reply(s.target, ip("198.18.0.2"), 80, s.sport, 1, s.seq + 1, synack), m));
  // Right numbers, wrong flags: a bare SYN, a bare ACK.
  EXPECT_FALSE(s.validate(tcp_reply(s.target, s.us, 80, s.sport, 1, s.seq + 1, tcpflag::kSyn), m));
  EXPECT_FALSE(s.validate(tcp_reply(s.target, s.us, 80, s.sport, 1, s.seq + 1, tcpflag::kAck), m));
  // A different key rejects a reply the right key accepts.
  const auto good = tcp_reply(s.target, s.us, 80, s.sport, 1, s.seq + 1, synack);
  ASSERT_TRUE(s.validate(good, m));
  ParsedPacket p;
  ASSERT_TRUE(parse_packet(good, LinkType::RawIp, p));
  EXPECT_FALSE(Cookie(1, 2).validate_tcp_reply(p, s.us, kBase, kRange, m));
}

TEST(CookieValidate, AcceptsIcmpErrorQuotingOurSyn) {
  for (auto [us, target, router] : {std::tuple{"198.18.0.1", "198.18.1.2", "192.0.2.1"},
                                    std::tuple{"2001:db8::1", "2001:db8::2", "2001:db8::fe"}}) {
    const Scan s(us, target, 22);
    const bool v4 = s.us.is_v4();
    const uint8_t unreach = v4 ? icmp::kDestUnreach : icmp6::kDestUnreach;
    const uint8_t code = v4 ? icmp::kCommProhibited : icmp6::kAdminProhibited;
    ProbeReply m;
    // The whole SYN quoted (Linux), and only the IP header + 8 bytes (RFC 792 minimum).
    const std::vector<uint8_t> short_quote(s.syn.begin(), s.syn.begin() + (v4 ? 28 : 48));
    for (const auto* quote : {&s.syn, &short_quote}) {
      ASSERT_TRUE(s.validate(icmp_error(ip(router), s.us, unreach, code, *quote), m)) << us;
      EXPECT_EQ(m.kind, ReplyKind::IcmpError);
      EXPECT_EQ(m.target, s.target);
      EXPECT_EQ(m.target_port, 22);
      EXPECT_EQ(m.our_port, s.sport);
      EXPECT_EQ(m.responder, ip(router));
      EXPECT_EQ(m.icmp_type, unreach);
      EXPECT_EQ(m.icmp_code, code);
    }
    const uint8_t exceeded = v4 ? icmp::kTimeExceeded : icmp6::kTimeExceeded;
    ASSERT_TRUE(s.validate(icmp_error(ip(router), s.us, exceeded, 0, s.syn), m));
    EXPECT_EQ(m.icmp_type, exceeded);
  }
}

TEST(CookieValidate, RejectsIcmpErrorsNotAboutOurProbe) {
  const Scan s("198.18.0.1", "198.18.1.2", 22);
  const IpAddress router = ip("192.0.2.1");
  ProbeReply m;
  auto quote = s.syn;
  quote[24 + 3] ^= 1;  // quoted seq off by one bit
  EXPECT_FALSE(s.validate(icmp_error(router, s.us, icmp::kDestUnreach, 3, quote), m));
  quote = s.syn;
  quote[21] ^= 1;  // quoted source port
  EXPECT_FALSE(s.validate(icmp_error(router, s.us, icmp::kDestUnreach, 3, quote), m));
  quote = s.syn;
  quote[19] ^= 1;  // quoted destination address
  EXPECT_FALSE(s.validate(icmp_error(router, s.us, icmp::kDestUnreach, 3, quote), m));
  quote = s.syn;
  quote[9] = ipproto::kUdp;  // quoted protocol
  EXPECT_FALSE(s.validate(icmp_error(router, s.us, icmp::kDestUnreach, 3, quote), m));
  // Sent to another address of ours.
  EXPECT_FALSE(s.validate(icmp_error(router, ip("198.18.0.2"), icmp::kDestUnreach, 3, s.syn), m));
  // Quote cut before the sequence number.
  std::vector<uint8_t> cut(s.syn.begin(), s.syn.begin() + 24);
  EXPECT_FALSE(s.validate(icmp_error(router, s.us, icmp::kDestUnreach, 3, cut), m));
  // Not an error type that answers a probe (redirect, parameter problem).
  EXPECT_FALSE(s.validate(icmp_error(router, s.us, icmp::kRedirect, 1, s.syn), m));
  EXPECT_FALSE(s.validate(icmp_error(router, s.us, icmp::kParamProblem, 0, s.syn), m));
  // Our own SYN, captured on the way out, is not a reply.
  EXPECT_FALSE(s.validate(s.syn, m));
}

}  // namespace
}  // namespace gh::net
