// The probe-module contract (scan/probe_module.h) and the registry (scan/probe_registry.h), with
// the TCP SYN module: static facts, the registry's lookups, build() into a caller's buffer, and
// classify() of replies built from the probe it sent.
#include "scan/probe_module.h"

#include <gtest/gtest.h>

#include <vector>

#include "net/bytes.h"
#include "net/headers.h"
#include "net/packet.h"
#include "scan/probe_registry.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

std::unique_ptr<ProbeModule> syn_module(Family f, LinkFraming framing) {
  auto m = make_probe_module("tcp_syn", ModuleKeys{0x1111, 0x2222});
  PathInfo path;
  path.family = f;
  path.source = f == Family::V4 ? ip("198.18.0.1") : ip("2001:db8::1");
  path.framing = framing;
  path.src_mac = {2, 0, 0, 0, 0, 1};
  path.dst_mac = {2, 0, 0, 0, 0, 2};
  EXPECT_TRUE(m->prepare(path));
  return m;
}

// The reply a target's stack sends to `syn` (raw IP): SYN-ACK (flags 0x12) or RST|ACK (0x14).
std::vector<uint8_t> reply_to(const std::vector<uint8_t>& syn, uint8_t flags, int ack_delta = 1) {
  net::ParsedPacket p;
  EXPECT_TRUE(net::parse_packet(syn, net::LinkType::RawIp, p));
  std::vector<uint8_t> b;
  const auto s = p.dst.bytes(), d = p.src.bytes();
  if (p.ip_version == 4) {
    b = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, net::ipproto::kTcp, 0, 0};
    b.insert(b.end(), s.begin(), s.begin() + 4);
    b.insert(b.end(), d.begin(), d.begin() + 4);
  } else {
    b = {0x60, 0, 0, 0, 0, 20, net::ipproto::kTcp, 64};
    b.insert(b.end(), s.begin(), s.end());
    b.insert(b.end(), d.begin(), d.end());
  }
  size_t t = b.size();
  b.resize(t + 20);
  net::store_be16(&b[t], p.tcp.dport);
  net::store_be16(&b[t + 2], p.tcp.sport);
  net::store_be32(&b[t + 4], 777);
  net::store_be32(&b[t + 8], p.tcp.seq + static_cast<uint32_t>(ack_delta));
  b[t + 12] = 0x50;
  b[t + 13] = flags;
  return b;
}

bool classify(const ProbeModule& m, const std::vector<uint8_t>& raw, ProbeVerdict& v) {
  net::ParsedPacket p;
  if (!net::parse_packet(raw, net::LinkType::RawIp, p)) return false;
  RxFrame f{raw, LinkFraming::RawIp, &p, {}};
  return m.classify(f, v);
}

TEST(ProbeRegistry, FindsModulesAndScanTypes) {
  ASSERT_NE(find_probe_module("tcp_syn"), nullptr);
  EXPECT_EQ(find_probe_module("no_such_module"), nullptr);
  EXPECT_THROW(make_probe_module("no_such_module", {}), std::invalid_argument);
  for (const ModuleEntry& e : probe_modules()) {
    auto m = e.make(ModuleKeys{1, 2});
    EXPECT_EQ(m->name(), e.name) << "a module's name() is its registry name";
    EXPECT_GT(m->max_frame(), 0u);
  }
  const ScanTypeEntry* syn = scan_type_by_flag("-sS");
  ASSERT_NE(syn, nullptr);
  EXPECT_EQ(syn->type, ScanType::Syn);
  EXPECT_EQ(scan_type_by_flag("--syn"), syn);
  EXPECT_EQ(syn->engine, EngineKind::Raw);
  EXPECT_NE(find_probe_module(syn->port_module), nullptr);
  EXPECT_EQ(scan_type_by_flag("-sY"), nullptr);
  EXPECT_EQ(scan_type_entry(ScanType::Connect).engine, EngineKind::Connect);
  EXPECT_EQ(scan_type_entry(ScanType::List).engine, EngineKind::List);
  // Resume files name scan types by code: codes are unique and stable.
  EXPECT_EQ(scan_type_by_code(1)->type, ScanType::Syn);
  EXPECT_EQ(scan_type_by_code(2)->type, ScanType::Connect);
  EXPECT_EQ(scan_type_by_code(3)->type, ScanType::List);
  for (const auto& a : scan_types())
    for (const auto& b : scan_types()) {
      if (&a != &b) {
        EXPECT_NE(a.checkpoint_code, b.checkpoint_code);
      }
    }
}

TEST(TcpSynModule, StaticFacts) {
  auto m = make_probe_module("tcp_syn", {});
  EXPECT_EQ(m->frame_kind(), FrameKind::Ip);
  EXPECT_EQ(m->silence(), Silence::PortFiltered);
  EXPECT_FALSE(m->host_module());
  EXPECT_TRUE(m->receive().tcp);
  EXPECT_TRUE(m->receive().icmp);
  EXPECT_FALSE(m->receive().arp);
  EXPECT_FALSE(m->receive().udp);
}

TEST(TcpSynModule, EthernetFrameCarriesThePathsMacs) {
  auto m = syn_module(Family::V4, LinkFraming::Ethernet);
  std::vector<uint8_t> out(m->max_frame());
  size_t n = m->build(out, Probe{ip("198.18.1.2"), Protocol::Tcp, 80}, BuildArgs{7, 0});
  ASSERT_GT(n, 14u + 20 + 20);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 6),
            (std::vector<uint8_t>{2, 0, 0, 0, 0, 2}));
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 6, out.begin() + 12),
            (std::vector<uint8_t>{2, 0, 0, 0, 0, 1}));
  net::ParsedPacket p;
  ASSERT_TRUE(net::parse_packet({out.data(), n}, net::LinkType::Ethernet, p));
  EXPECT_EQ(p.dst, ip("198.18.1.2"));
  EXPECT_EQ(p.tcp.dport, 80);
  EXPECT_EQ(p.tcp.flags, net::tcpflag::kSyn);
  EXPECT_NE(m->describe({out.data(), n}, LinkFraming::Ethernet).find("198.18.1.2:80"),
            std::string::npos);
}

TEST(TcpSynModule, SkipsWhatItCannotBuild) {
  auto m = syn_module(Family::V4, LinkFraming::RawIp);
  std::vector<uint8_t> out(m->max_frame());
  EXPECT_EQ(m->build(out, Probe{ip("2001:db8::2"), Protocol::Tcp, 80}, {}), 0u)
      << "no IPv6 path was prepared";
  EXPECT_EQ(m->build(out, Probe{ip("198.18.1.2"), Protocol::Udp, 53}, {}), 0u);
  std::vector<uint8_t> tiny(10);
  EXPECT_EQ(m->build(tiny, Probe{ip("198.18.1.2"), Protocol::Tcp, 80}, {}), 0u);
}

TEST(TcpSynModule, ClassifiesRepliesToItsOwnProbesByAttempt) {
  for (Family f : {Family::V4, Family::V6}) {
    auto m = syn_module(f, LinkFraming::RawIp);
    IpAddress target = f == Family::V4 ? ip("198.18.1.2") : ip("2001:db8::2");
    for (uint8_t attempt : {0, 3}) {
      std::vector<uint8_t> syn(m->max_frame());
      syn.resize(m->build(syn, Probe{target, Protocol::Tcp, 443}, BuildArgs{1, attempt}));
      ASSERT_FALSE(syn.empty());
      ProbeVerdict v;
      ASSERT_TRUE(classify(*m, reply_to(syn, 0x12), v));
      EXPECT_FALSE(v.host);
      EXPECT_EQ(v.probe.addr, target);
      EXPECT_EQ(v.probe.port, 443);
      EXPECT_EQ(v.state, PortState::Open);
      EXPECT_EQ(v.reason, Reason::SynAck);
      EXPECT_EQ(v.attempt, attempt);
      EXPECT_EQ(v.ttl, 64);
      ASSERT_TRUE(classify(*m, reply_to(syn, 0x14), v));
      EXPECT_EQ(v.state, PortState::Closed);
      EXPECT_EQ(v.reason, Reason::Reset);
      EXPECT_FALSE(classify(*m, reply_to(syn, 0x12, 2), v)) << "wrong ack";
      // Another scan's keys: the same reply is not ours.
      auto other = make_probe_module("tcp_syn", ModuleKeys{9, 9});
      PathInfo path;
      path.family = f;
      path.source = f == Family::V4 ? ip("198.18.0.1") : ip("2001:db8::1");
      path.framing = LinkFraming::RawIp;
      ASSERT_TRUE(other->prepare(path));
      EXPECT_FALSE(classify(*other, reply_to(syn, 0x12), v));
    }
  }
}

TEST(TcpSynModule, IgnoresFramesThatAreNotIp) {
  auto m = syn_module(Family::V4, LinkFraming::Ethernet);
  std::vector<uint8_t> arp(42, 0);
  RxFrame f{arp, LinkFraming::Ethernet, nullptr, {}};
  ProbeVerdict v;
  EXPECT_FALSE(m->classify(f, v));
}

TEST(Reasons, HostReasonsUseNmapSpelling) {
  EXPECT_EQ(to_string(Reason::ArpResponse), "arp-response");
  EXPECT_EQ(to_string(Reason::NdResponse), "nd-response");
  EXPECT_EQ(to_string(Reason::EchoReply), "echo-reply");
  EXPECT_EQ(to_string(Reason::TimestampReply), "timestamp-reply");
  EXPECT_EQ(to_string(Reason::AddressMaskReply), "addressmask-reply");
  EXPECT_EQ(to_string(Reason::UserSet), "user-set");
}

}  // namespace
}  // namespace gh
