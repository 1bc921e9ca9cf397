// The TCP flag scans (scan/probe_tcp_flags.h, net/tcp_flags.h): --scanflags parsing, the probes
// each kind builds, and nmap's state rules applied to replies built from those probes as a
// target's stack makes them (RFC 793 resets), ICMP errors quoting them, and foreign replies.
#include "scan/probe_tcp_flags.h"

#include <gtest/gtest.h>

#include <vector>

#include "net/bytes.h"
#include "net/headers.h"
#include "net/packet.h"
#include "net/tcp_flags.h"
#include "scan/probe_registry.h"

namespace gh {
namespace {

using namespace net::tcpflag;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

std::unique_ptr<ProbeModule> module(std::string_view name, Family f, ModuleKeys keys = {7, 8},
                                    std::optional<uint8_t> flags = std::nullopt) {
  auto m = make_probe_module(name, keys);
  if (flags) m->set_tcp_flags(*flags);
  PathInfo path;
  path.family = f;
  path.source = f == Family::V4 ? ip("198.18.0.1") : ip("2001:db8::1");
  path.framing = LinkFraming::RawIp;
  EXPECT_TRUE(m->prepare(path));
  return m;
}

IpAddress target(Family f) {
  return f == Family::V4 ? ip("198.18.1.2") : ip("2001:db8::2");
}

std::vector<uint8_t> probe(const ProbeModule& m, Family f, uint16_t port, uint8_t attempt = 0) {
  std::vector<uint8_t> out(m.max_frame());
  out.resize(m.build(out, Probe{target(f), Protocol::Tcp, port}, BuildArgs{1, attempt}));
  return out;
}

net::ParsedPacket parse(const std::vector<uint8_t>& raw) {
  net::ParsedPacket p;
  EXPECT_TRUE(net::parse_packet(raw, net::LinkType::RawIp, p));
  return p;
}

std::vector<uint8_t> ip_header(const net::ParsedPacket& p, uint8_t proto, size_t payload) {
  std::vector<uint8_t> b;
  const auto s = p.dst.bytes(), d = p.src.bytes();
  if (p.ip_version == 4) {
    uint16_t len = static_cast<uint16_t>(20 + payload);
    b = {0x45,
         0,
         static_cast<uint8_t>(len >> 8),
         static_cast<uint8_t>(len),
         0,
         0,
         0x40,
         0,
         64,
         proto,
         0,
         0};
    b.insert(b.end(), s.begin(), s.begin() + 4);
    b.insert(b.end(), d.begin(), d.begin() + 4);
  } else {
    b = {0x60,  0, 0, 0, static_cast<uint8_t>(payload >> 8), static_cast<uint8_t>(payload),
         proto, 64};
    b.insert(b.end(), s.begin(), s.end());
    b.insert(b.end(), d.begin(), d.end());
  }
  return b;
}

// A TCP reply to `sent` with these fields (the target's stack as RFC 793 makes a RST: see
// net/tcp_flags.h).
std::vector<uint8_t> tcp_reply(const std::vector<uint8_t>& sent, uint8_t flags, uint32_t seq,
                               uint32_t ack, uint16_t window) {
  net::ParsedPacket p = parse(sent);
  std::vector<uint8_t> b = ip_header(p, net::ipproto::kTcp, 20);
  size_t t = b.size();
  b.resize(t + 20);
  net::store_be16(&b[t], p.tcp.dport);
  net::store_be16(&b[t + 2], p.tcp.sport);
  net::store_be32(&b[t + 4], seq);
  net::store_be32(&b[t + 8], ack);
  b[t + 12] = 0x50;
  b[t + 13] = flags;
  net::store_be16(&b[t + 14], window);
  return b;
}

// What Linux answers to `sent` at a closed port (or, for ACK-bearing probes, at any port).
std::vector<uint8_t> rst_for(const std::vector<uint8_t>& sent, uint16_t window = 0) {
  net::ParsedPacket p = parse(sent);
  if (p.tcp.flags & kAck) return tcp_reply(sent, kRst, p.tcp.ack, 0, window);
  uint32_t len = ((p.tcp.flags & kSyn) ? 1 : 0) + ((p.tcp.flags & kFin) ? 1 : 0);
  return tcp_reply(sent, kRst | kAck, 0, p.tcp.seq + len, window);
}

// An ICMP destination unreachable (v4 type 3 / v6 type 1) with `code`, quoting `sent`.
std::vector<uint8_t> unreachable(const std::vector<uint8_t>& sent, uint8_t code) {
  net::ParsedPacket p = parse(sent);
  size_t quote = p.ip_version == 4 ? 20 + 8 : 40 + 8;
  bool v4 = p.ip_version == 4;
  std::vector<uint8_t> b =
      ip_header(p, v4 ? net::ipproto::kIcmp : net::ipproto::kIcmpv6, 8 + quote);
  // From a router, not the target: the source differs.
  b.insert(b.end(), {static_cast<uint8_t>(v4 ? 3 : 1), code, 0, 0, 0, 0, 0, 0});
  b.insert(b.end(), sent.begin(), sent.begin() + static_cast<long>(quote));
  return b;
}

bool classify(const ProbeModule& m, const std::vector<uint8_t>& raw, ProbeVerdict& v) {
  net::ParsedPacket p;
  if (!net::parse_packet(raw, net::LinkType::RawIp, p)) return false;
  RxFrame f{raw, LinkFraming::RawIp, &p, {}};
  return m.classify(f, v);
}

TEST(ScanFlags, ParsesNmapSyntax) {
  EXPECT_EQ(net::parse_tcp_flags("URGACKPSHRSTSYNFIN"), 0x3F);
  EXPECT_EQ(net::parse_tcp_flags("synfin"), kSyn | kFin);
  EXPECT_EQ(net::parse_tcp_flags("FIN,PSH,URG"), kFin | kPsh | kUrg);
  EXPECT_EQ(net::parse_tcp_flags("ACK|RST"), kAck | kRst);
  EXPECT_EQ(net::parse_tcp_flags("RESET PUSH"), kRst | kPsh);
  EXPECT_EQ(net::parse_tcp_flags("ECECWR"), kEce | kCwr);
  EXPECT_EQ(net::parse_tcp_flags("ALL"), 0xFF);
  EXPECT_EQ(net::parse_tcp_flags("NONE"), 0);
  EXPECT_EQ(net::parse_tcp_flags("9"), kPsh | kFin);
  EXPECT_EQ(net::parse_tcp_flags("0x12"), kSyn | kAck);
  EXPECT_EQ(net::parse_tcp_flags("255"), 255);
  EXPECT_EQ(net::parse_tcp_flags("0"), 0);
  for (const char* bad : {"", "SYNX", "FOO", "SYN,BOGUS", "256", "-1", "12a", "0x", "0x100", ","})
    EXPECT_EQ(net::parse_tcp_flags(bad), std::nullopt) << bad;
  EXPECT_EQ(net::tcp_flags_text(kFin | kPsh | kUrg), "URG,PSH,FIN");
  EXPECT_EQ(net::tcp_flags_text(0), "none");
}

TEST(FlagScans, RegistryRowsAndStaticFacts) {
  struct Row {
    const char* flag;
    const char* module;
    uint8_t flags;
    Silence silence;
  };
  for (const Row& r : {Row{"-sF", "tcp_fin", kFin, Silence::PortOpenFiltered},
                       Row{"-sN", "tcp_null", 0, Silence::PortOpenFiltered},
                       Row{"-sX", "tcp_xmas", kFin | kPsh | kUrg, Silence::PortOpenFiltered},
                       Row{"-sM", "tcp_maimon", kFin | kAck, Silence::PortOpenFiltered},
                       Row{"-sA", "tcp_ack", kAck, Silence::PortFiltered},
                       Row{"-sW", "tcp_window", kAck, Silence::PortFiltered}}) {
    const ScanTypeEntry* t = scan_type_by_flag(r.flag);
    ASSERT_NE(t, nullptr) << r.flag;
    EXPECT_EQ(t->port_module, r.module);
    EXPECT_EQ(t->engine, EngineKind::Raw);
    EXPECT_TRUE(t->needs_raw);
    EXPECT_EQ(scan_type_by_code(t->checkpoint_code), t);
    for (Family f : {Family::V4, Family::V6}) {
      auto m = module(r.module, f);
      EXPECT_EQ(m->silence(), r.silence) << r.flag;
      auto sent = probe(*m, f, 80);
      ASSERT_FALSE(sent.empty());
      net::ParsedPacket p = parse(sent);
      EXPECT_EQ(p.tcp.flags, r.flags) << r.flag;
      EXPECT_EQ(p.tcp.dport, 80);
      EXPECT_EQ(p.tcp.window, 1024);
      EXPECT_EQ(p.tcp.options.len, 0) << "no options without SYN";
      EXPECT_EQ(p.tcp.ack, (r.flags & kAck) ? p.tcp.seq : 0u);
      EXPECT_EQ(p.dst, target(f));
      EXPECT_TRUE(net::verify_l4_checksum(sent, p));
    }
  }
  // --scanflags alone runs tcp_custom, read as -sS.
  ScanConfig c;
  c.type = ScanType::Syn;
  EXPECT_EQ(raw_port_module(c), "tcp_syn");
  c.scan_flags = kSyn | kFin;
  EXPECT_EQ(raw_port_module(c), "tcp_custom");
  c.type = ScanType::Ack;
  EXPECT_EQ(raw_port_module(c), "tcp_ack");
}

struct Expect {
  const char* module;
  PortState rst;      // a RST (window 0)
  PortState rst_win;  // a RST with a non-zero window
};

TEST(FlagScans, ResetsReadAsNmapDoes) {
  for (const Expect& e : {Expect{"tcp_fin", PortState::Closed, PortState::Closed},
                          Expect{"tcp_null", PortState::Closed, PortState::Closed},
                          Expect{"tcp_xmas", PortState::Closed, PortState::Closed},
                          Expect{"tcp_maimon", PortState::Closed, PortState::Closed},
                          Expect{"tcp_ack", PortState::Unfiltered, PortState::Unfiltered},
                          Expect{"tcp_window", PortState::Closed, PortState::Open}}) {
    for (Family f : {Family::V4, Family::V6}) {
      auto m = module(e.module, f);
      for (uint8_t attempt : {0, 5}) {
        auto sent = probe(*m, f, 8080, attempt);
        ProbeVerdict v;
        ASSERT_TRUE(classify(*m, rst_for(sent), v)) << e.module;
        EXPECT_EQ(v.probe.addr, target(f));
        EXPECT_EQ(v.probe.port, 8080);
        EXPECT_EQ(v.attempt, attempt);
        EXPECT_EQ(v.state, e.rst) << e.module;
        EXPECT_EQ(v.reason, Reason::Reset);
        EXPECT_EQ(to_string(v.reason), "reset");
        EXPECT_EQ(v.ttl, 64);
        ASSERT_TRUE(classify(*m, rst_for(sent, 512), v));
        EXPECT_EQ(v.state, e.rst_win) << e.module;
        // A reply from another scan's keys is not ours.
        auto other = module(e.module, f, ModuleKeys{1, 1});
        EXPECT_FALSE(classify(*other, rst_for(sent), v)) << e.module;
      }
    }
  }
}

TEST(FlagScans, TheCookieIsWhereTheResetEchoesIt) {
  for (Family f : {Family::V4, Family::V6}) {
    // FIN: RST|ACK with ack = seq + 1; seq + 0 (a NULL probe's answer) is not ours.
    auto fin = module("tcp_fin", f);
    auto sent = probe(*fin, f, 21);
    net::ParsedPacket p = parse(sent);
    ProbeVerdict v;
    EXPECT_TRUE(classify(*fin, tcp_reply(sent, kRst | kAck, 0, p.tcp.seq + 1, 0), v));
    EXPECT_FALSE(classify(*fin, tcp_reply(sent, kRst | kAck, 0, p.tcp.seq, 0), v));
    EXPECT_FALSE(classify(*fin, tcp_reply(sent, kRst, 0, p.tcp.seq + 1, 0), v))
        << "a RST without ACK carries no ack";
    // NULL: ack = seq.
    auto null = module("tcp_null", f);
    sent = probe(*null, f, 21);
    p = parse(sent);
    EXPECT_TRUE(classify(*null, tcp_reply(sent, kRst | kAck, 0, p.tcp.seq, 0), v));
    EXPECT_FALSE(classify(*null, tcp_reply(sent, kRst | kAck, 0, p.tcp.seq + 1, 0), v));
    // ACK-bearing (ACK, Maimon): the RST's seq is our ack.
    auto ack = module("tcp_maimon", f);
    sent = probe(*ack, f, 21);
    p = parse(sent);
    EXPECT_TRUE(classify(*ack, tcp_reply(sent, kRst, p.tcp.ack, 0, 0), v));
    EXPECT_FALSE(classify(*ack, tcp_reply(sent, kRst, p.tcp.ack + 1, 0, 0), v));
    // Not a RST, not a SYN-ACK: nothing.
    EXPECT_FALSE(classify(*ack, tcp_reply(sent, kAck, p.tcp.ack, 0, 0), v));
    // A SYN-ACK answers only probes with SYN.
    EXPECT_FALSE(
        classify(*fin, tcp_reply(probe(*fin, f, 21), kSyn | kAck, 1, p.tcp.seq + 1, 0), v));
  }
}

TEST(FlagScans, IcmpUnreachablesAreFiltered) {
  for (const char* name :
       {"tcp_fin", "tcp_null", "tcp_xmas", "tcp_maimon", "tcp_ack", "tcp_window", "tcp_custom"}) {
    // IPv4 codes 1, 2, 3, 9, 10, 13 (nmap's list) and IPv6's admin-prohibited (1).
    auto m = module(name, Family::V4);
    auto sent = probe(*m, Family::V4, 443);
    const std::pair<uint8_t, Reason> v4_codes[] = {
        {1, Reason::HostUnreach},     {2, Reason::ProtoUnreach},     {3, Reason::PortUnreach},
        {9, Reason::AdminProhibited}, {10, Reason::AdminProhibited}, {13, Reason::AdminProhibited}};
    for (auto [code, reason] : v4_codes) {
      ProbeVerdict v;
      ASSERT_TRUE(classify(*m, unreachable(sent, code), v)) << name << " code " << int{code};
      EXPECT_EQ(v.state, PortState::Filtered);
      EXPECT_EQ(v.reason, reason);
      EXPECT_EQ(v.probe.port, 443);
    }
    ProbeVerdict v;
    EXPECT_EQ(to_string(Reason::AdminProhibited), "admin-prohibited");
    auto m6 = module(name, Family::V6);
    auto sent6 = probe(*m6, Family::V6, 443);
    ASSERT_TRUE(classify(*m6, unreachable(sent6, 1), v)) << name;
    EXPECT_EQ(v.state, PortState::Filtered);
    EXPECT_EQ(v.reason, Reason::AdminProhibited);
    // A quote of another scan's probe is not ours.
    auto other = module(name, Family::V4, ModuleKeys{3, 3});
    EXPECT_FALSE(classify(*other, unreachable(sent, 13), v));
  }
}

TEST(FlagScans, ScanFlagsSetTheProbeAndTheCookie) {
  for (Family f : {Family::V4, Family::V6}) {
    // -sS --scanflags SYNFIN: a SYN-ACK is open, a RST|ACK (ack = seq + 2) closed; MSS is sent.
    auto m = module("tcp_custom", f, {7, 8}, kSyn | kFin);
    EXPECT_EQ(m->silence(), Silence::PortFiltered);
    auto sent = probe(*m, f, 22);
    net::ParsedPacket p = parse(sent);
    EXPECT_EQ(p.tcp.flags, kSyn | kFin);
    EXPECT_TRUE(p.tcp.options.has_mss);
    ProbeVerdict v;
    ASSERT_TRUE(classify(*m, tcp_reply(sent, kSyn | kAck, 5, p.tcp.seq + 1, 64240), v));
    EXPECT_EQ(v.state, PortState::Open);
    EXPECT_EQ(v.reason, Reason::SynAck);
    ASSERT_TRUE(classify(*m, rst_for(sent), v));
    EXPECT_EQ(v.state, PortState::Closed);
    EXPECT_EQ(p.tcp.seq + 2, parse(rst_for(sent)).tcp.ack);
    // -sA --scanflags ACKPSH: read as an ACK scan.
    auto a = module("tcp_ack", f, {7, 8}, kAck | kPsh);
    sent = probe(*a, f, 22);
    EXPECT_EQ(parse(sent).tcp.flags, kAck | kPsh);
    ASSERT_TRUE(classify(*a, rst_for(sent), v));
    EXPECT_EQ(v.state, PortState::Unfiltered);
    // -sF --scanflags NONE behaves as -sN.
    auto n = module("tcp_fin", f, {7, 8}, 0);
    sent = probe(*n, f, 22);
    EXPECT_EQ(parse(sent).tcp.flags, 0);
    ASSERT_TRUE(classify(*n, rst_for(sent), v));
    EXPECT_EQ(v.state, PortState::Closed);
  }
}

TEST(FlagScans, TruncatedAndForeignFramesAreDropped) {
  auto m = module("tcp_xmas", Family::V4);
  auto sent = probe(*m, Family::V4, 80);
  auto reply = rst_for(sent);
  ProbeVerdict v;
  for (size_t n = 0; n < reply.size(); ++n) {
    std::vector<uint8_t> cut(reply.begin(), reply.begin() + static_cast<long>(n));
    EXPECT_FALSE(classify(*m, cut, v)) << n;
  }
  std::vector<uint8_t> arp(42, 0);
  RxFrame f{arp, LinkFraming::Ethernet, nullptr, {}};
  EXPECT_FALSE(m->classify(f, v));
  // Our own probe seen on the way out is not a reply.
  EXPECT_FALSE(classify(*m, sent, v));
}

}  // namespace
}  // namespace gh
