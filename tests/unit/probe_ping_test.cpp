// The host-discovery probe modules (scan/probe_ping_*.h) through the contract
// (scan/probe_module.h) and the registry: static facts; prepare() refusing the paths a module
// cannot probe; the key fields of every frame each module builds (IPv4 and IPv6, routed and
// on-link --send-ip, plain and --announce: the wire format the sweep sends, pinned); classify()
// of a matching reply (reason, attempt, MAC, TTL) and rejection of a wrong cookie, a reply from
// another address, a router's error and truncated frames; DiscoveryModules' plan -> probes.
#include <gtest/gtest.h>

#include <vector>

#include "auth/announce.h"
#include "net/announce_option.h"
#include "net/cookie.h"
#include "net/icmp_template.h"
#include "ping_replies.h"
#include "scan/discovery_modules.h"
#include "scan/probe_ping.h"
#include "scan/probe_registry.h"

namespace gh {
namespace {

using test::kTargetMac;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

constexpr ModuleKeys kKeys{0x1234, 0x5678};
const MacAddress kOurMac{2, 0, 0, 0, 0, 1};
const MacAddress kGatewayMac{2, 0, 0, 0, 0, 2};

IpAddress our(Family f) {
  return f == Family::V4 ? ip("198.18.0.1") : ip("2001:db8::1");
}
IpAddress target(Family f) {
  return f == Family::V4 ? ip("198.18.1.5") : ip("2001:db8:1::5");
}

PathInfo path(Family f, bool on_link, LinkFraming framing = LinkFraming::Ethernet) {
  PathInfo p;
  p.family = f;
  p.source = our(f);
  p.framing = framing;
  p.src_mac = kOurMac;
  p.dst_mac = on_link ? MacAddress{} : kGatewayMac;
  p.on_link = on_link;
  p.ifindex = 3;
  p.mtu = 1500;
  return p;
}

std::unique_ptr<ProbeModule> module(std::string_view name, const PathInfo& p,
                                    const auth::ProbeAnnouncer* a = nullptr) {
  auto m = make_probe_module(name, kKeys);
  m->set_announcer(a);
  EXPECT_TRUE(m->prepare(p)) << name;
  return m;
}

Probe probe_for(const ProbeModule& m, const IpAddress& addr, uint16_t port) {
  if (m.name() == "tcp_syn_ping" || m.name() == "tcp_ack_ping")
    return Probe{addr, Protocol::Tcp, port};
  if (m.name() == "udp_ping") return Probe{addr, Protocol::Udp, port};
  return host_probe(addr);
}

std::vector<uint8_t> build(const ProbeModule& m, const Probe& probe, uint8_t attempt,
                           uint16_t ip_id = 0x4242) {
  std::vector<uint8_t> b(m.max_frame());
  size_t n = m.build(b, probe, BuildArgs{ip_id, attempt});
  EXPECT_NE(n, 0u) << m.name();
  b.resize(n);
  return b;
}

bool classify(const ProbeModule& m, const std::vector<uint8_t>& f, ProbeVerdict& v) {
  net::ParsedPacket p;
  const bool is_ip = net::parse_packet(f, net::LinkType::Ethernet, p);
  return m.classify(RxFrame{f, LinkFraming::Ethernet, is_ip ? &p : nullptr, {}}, v);
}

auth::ProbeAnnouncer& announcer() {
  static const std::vector<uint8_t> secret(32, 3);
  static auth::ProbeAnnouncer a(auth::AnnounceKey::derive(secret, std::string(64, 'd')));
  return a;
}

const char* const kHostModules[] = {"arp",       "ndp",          "icmp_echo",    "icmp_timestamp",
                                    "icmp_mask", "tcp_syn_ping", "tcp_ack_ping", "udp_ping"};

TEST(PingModules, RegisteredWithTheirStaticFacts) {
  for (const char* name : kHostModules) {
    SCOPED_TRACE(name);
    ASSERT_NE(find_probe_module(name), nullptr);
    EXPECT_FALSE(find_probe_module(name)->summary.empty());
    auto m = make_probe_module(name, kKeys);
    EXPECT_EQ(m->name(), name);
    EXPECT_EQ(m->silence(), Silence::HostDown);
    EXPECT_TRUE(m->host_module());
    const std::string_view n = name;
    EXPECT_EQ(m->frame_kind(), n == "arp"   ? FrameKind::Arp
                               : n == "ndp" ? FrameKind::Ndp
                                            : FrameKind::Ip);
    EXPECT_EQ(m->protocol(), n == "udp_ping" ? Protocol::Udp : Protocol::Tcp);
    const ReceiveSpec r = m->receive();
    EXPECT_EQ(r.arp, n == "arp");
    EXPECT_EQ(r.tcp, n.starts_with("tcp_"));
    EXPECT_EQ(r.udp, n == "udp_ping");
    EXPECT_EQ(r.icmp, n != "arp");
    // TCP/UDP replies only to the pings' own source ports (the receive filter narrows to them).
    const PortSpan pings{HostPingModule::kPortBase,
                         HostPingModule::kPortBase + HostPingModule::kPortRange - 1};
    EXPECT_EQ(r.tcp_ports, r.tcp ? pings : PortSpan{});
    EXPECT_EQ(r.udp_ports, r.udp ? pings : PortSpan{});
  }
  EXPECT_FALSE(make_probe_module("tcp_syn", kKeys)->host_module());
}

TEST(PingModules, PrepareRefusesPathsTheyCannotProbe) {
  auto refuses = [](const char* name, const PathInfo& p) {
    return !make_probe_module(name, kKeys)->prepare(p);
  };
  EXPECT_TRUE(refuses("arp", path(Family::V4, false)));  // routed
  EXPECT_TRUE(refuses("arp", path(Family::V6, true)));
  EXPECT_TRUE(refuses("arp", path(Family::V4, true, LinkFraming::RawIp)));
  PathInfo lo = path(Family::V4, true);
  lo.loopback = true;
  EXPECT_TRUE(refuses("arp", lo));
  EXPECT_TRUE(refuses("ndp", path(Family::V6, false)));
  EXPECT_TRUE(refuses("ndp", path(Family::V4, true)));
  EXPECT_TRUE(refuses("icmp_timestamp", path(Family::V6, false)));
  EXPECT_TRUE(refuses("icmp_mask", path(Family::V6, false)));
  EXPECT_FALSE(refuses("arp", path(Family::V4, true)));
  EXPECT_FALSE(refuses("ndp", path(Family::V6, true)));
  for (const char* n : {"icmp_echo", "tcp_syn_ping", "tcp_ack_ping", "udp_ping"})
    for (Family f : {Family::V4, Family::V6})
      for (bool on_link : {false, true}) {
        EXPECT_FALSE(refuses(n, path(f, on_link))) << n;
      }
  // A module unprepared for a family builds nothing for it.
  auto m = module("icmp_echo", path(Family::V4, false));
  std::vector<uint8_t> b(m->max_frame());
  EXPECT_EQ(m->build(b, host_probe(target(Family::V6)), BuildArgs{}), 0u);
}

// -- The frames: key fields pinned --------------------------------------------------------------

TEST(PingFrames, ArpAndNeighborSolicitation) {
  auto arp = module("arp", path(Family::V4, true));
  auto f = build(*arp, host_probe(target(Family::V4)), 2);
  ASSERT_EQ(f.size(), 60u);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(6, 0xff));
  EXPECT_EQ(MacAddress(std::to_array({f[6], f[7], f[8], f[9], f[10], f[11]})), kOurMac);
  net::ArpPacket a;
  ASSERT_TRUE(net::parse_arp(f, net::LinkType::Ethernet, a));
  EXPECT_EQ(a.op, net::arp::kRequest);
  EXPECT_EQ(a.spa, our(Family::V4));
  EXPECT_EQ(a.tpa, target(Family::V4));
  EXPECT_EQ(a.sha, kOurMac);
  EXPECT_NE(arp->describe(f, LinkFraming::Ethernet).find("198.18.1.5"), std::string::npos);

  auto ndp = module("ndp", path(Family::V6, true));
  f = build(*ndp, host_probe(target(Family::V6)), 0);
  ASSERT_EQ(f.size(), 86u);
  net::ParsedPacket p = test::parsed_probe(f);
  EXPECT_EQ(p.dst_mac, net::solicited_node_mac(target(Family::V6)));
  EXPECT_EQ(p.dst, net::solicited_node_address(target(Family::V6)));
  EXPECT_EQ(p.src, our(Family::V6));
  EXPECT_EQ(p.ttl, 255);
  EXPECT_EQ(p.icmp.type, net::icmp6::kNeighborSolicit);
  EXPECT_TRUE(net::verify_l4_checksum(f, p));
}

// Each IP ping, both families, routed and on-link (--send-ip), plain and tagged.
TEST(PingFrames, IpPingsKeyFields) {
  const net::Cookie cookie(kKeys.k0, kKeys.k1);
  for (const char* name :
       {"icmp_echo", "icmp_timestamp", "icmp_mask", "tcp_syn_ping", "tcp_ack_ping", "udp_ping"})
    for (Family f : {Family::V4, Family::V6})
      for (bool on_link : {false, true})
        for (bool tagged : {false, true}) {
          const std::string_view n = name;
          if (f == Family::V6 && (n == "icmp_timestamp" || n == "icmp_mask")) continue;
          SCOPED_TRACE(std::string(name) + (f == Family::V4 ? " v4" : " v6") +
                       (on_link ? " on-link" : " routed") + (tagged ? " tagged" : ""));
          auto m = module(name, path(f, on_link), tagged ? &announcer() : nullptr);
          const IpAddress dst = target(f), src = our(f);
          const uint16_t port = n == "udp_ping" ? 40125 : n == "tcp_ack_ping" ? 80 : 443;
          const auto frame = build(*m, probe_for(*m, dst, port), 3, 0x4242);
          net::ParsedPacket p = test::parsed_probe(frame);
          ASSERT_TRUE(p.l4_parsed);
          // Link and IP.
          const MacAddress want_dst = !on_link ? kGatewayMac
                                      : f == Family::V4
                                          ? MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
                                          : net::solicited_node_mac(dst);
          EXPECT_EQ(p.dst_mac, want_dst);
          EXPECT_EQ(p.src_mac, kOurMac);
          EXPECT_EQ(p.src, src);
          EXPECT_EQ(p.dst, dst);
          EXPECT_EQ(p.ttl, 64);
          if (f == Family::V4) {
            EXPECT_EQ(p.ip_id, 0x4242);
            EXPECT_TRUE(net::verify_ipv4_header_checksum(frame, p));
          }
          EXPECT_TRUE(net::verify_l4_checksum(frame, p));
          const size_t ip_len = f == Family::V4 ? 20 : 40;
          const size_t tag = tagged ? net::kAnnounceLen : 0;
          if (n.starts_with("icmp_")) {
            const uint8_t type = n == "icmp_echo" ? (f == Family::V4 ? net::icmp::kEchoRequest
                                                                     : net::icmp6::kEchoRequest)
                                 : n == "icmp_timestamp" ? net::icmp::kTimestamp
                                                         : net::icmp::kAddressMaskRequest;
            EXPECT_EQ(p.icmp.type, type);
            EXPECT_EQ(p.icmp.code, 0);
            auto v = cookie.icmp_id_seq(src, dst, type, 3);
            EXPECT_EQ(p.icmp.id(), v.id);
            EXPECT_EQ(p.icmp.seq(), v.seq);
            // Echo: no data (the tag block when tagged); timestamp: 3 x 4; mask: 4; untagged.
            const size_t body = n == "icmp_echo" ? tag : n == "icmp_timestamp" ? 12 : 4;
            EXPECT_EQ(frame.size(), 14 + ip_len + 8 + body);
          } else if (n == "udp_ping") {
            EXPECT_EQ(p.udp.dport, 40125);
            EXPECT_EQ(p.udp.sport, cookie.source_port(dst, 40125, 33000, 7000, 3));
            EXPECT_EQ(p.udp.length, 8 + 4 + tag);
            EXPECT_EQ(net::load_be32(&frame[p.l4_offset + 8]), cookie.probe_word(src, dst, 0x200));
            EXPECT_EQ(frame.size(), 14 + ip_len + 8 + 4 + tag);
            net::AnnounceOption o;
            EXPECT_EQ(net::find_announce_trailer(&frame[p.l4_offset + 8], 4 + tag, o), tagged);
          } else {
            const bool ack = n == "tcp_ack_ping";
            EXPECT_EQ(p.tcp.dport, port);
            const uint16_t sport = cookie.source_port(dst, port, 33000, 7000, ack ? 19 : 3);
            EXPECT_EQ(p.tcp.sport, sport);
            const uint32_t seq = cookie.tcp_seq(src, dst, sport, port);
            EXPECT_EQ(p.tcp.seq, seq);
            EXPECT_EQ(p.tcp.ack, ack ? seq : 0u);
            EXPECT_EQ(p.tcp.flags, ack ? net::tcpflag::kAck : net::tcpflag::kSyn);
            EXPECT_EQ(p.tcp.window, 1024);
            // SYN: MSS 1460 then the tag at 24; ACK: no option but the tag at 20.
            const size_t opts = ((ack ? 0 : 4) + tag + 3) / 4 * 4;  // EOL-padded
            EXPECT_EQ(p.tcp.options.len, opts);
            if (!ack) {
              EXPECT_EQ(p.tcp.options.mss, 1460);
            }
            net::AnnounceOption o;
            EXPECT_EQ(net::find_announce_option(p.tcp.options.raw.data(), p.tcp.options.len, o),
                      tagged);
            if (tagged) {
              EXPECT_EQ(p.tcp.options.raw[ack ? 0 : 4], net::kAnnounceKind);
            }
            EXPECT_EQ(frame.size(), 14 + ip_len + 20 + opts);
          }
          EXPECT_LE(frame.size(), m->max_frame());
        }
}

TEST(PingFrames, NoLinkHeaderOnARawIpPath) {
  auto m = module("icmp_echo", path(Family::V4, false, LinkFraming::RawIp));
  auto f = build(*m, host_probe(target(Family::V4)), 0);
  ASSERT_EQ(f.size(), 28u);
  EXPECT_EQ(f[0], 0x45);
}

// -- classify ----------------------------------------------------------------------------------

struct Expect {
  Reason reason;
  uint16_t port;  // the probe the verdict names
  Protocol proto;
};

void expect_up(const ProbeModule& m, const std::vector<uint8_t>& reply, const IpAddress& addr,
               const Expect& e, std::optional<uint8_t> attempt) {
  ProbeVerdict v;
  v.syn_ack = SynAckFacts{};  // stale fields of a reused verdict are cleared
  ASSERT_TRUE(classify(m, reply, v));
  EXPECT_TRUE(v.host);
  EXPECT_EQ(v.host_state, HostState::Up);
  EXPECT_EQ(v.reason, e.reason);
  EXPECT_EQ(v.probe.addr, addr);
  EXPECT_EQ(v.probe.port, e.port);
  EXPECT_EQ(v.probe.proto, e.proto);
  EXPECT_EQ(v.attempt_unknown, !attempt.has_value());
  EXPECT_EQ(v.attempt, attempt.value_or(0));
  EXPECT_TRUE(v.has_mac);
  EXPECT_EQ(v.mac, kTargetMac);
  EXPECT_FALSE(v.syn_ack.has_value());
}

// Every prefix of an accepted reply shorter than `keep` is rejected; none crashes.
void expect_truncations_rejected(const ProbeModule& m, const std::vector<uint8_t>& reply,
                                 size_t keep) {
  for (size_t n = 0; n < reply.size(); ++n) {
    std::vector<uint8_t> cut(reply.begin(), reply.begin() + static_cast<long>(n));
    ProbeVerdict v;
    const bool ok = classify(m, cut, v);
    if (n < keep) {
      EXPECT_FALSE(ok) << m.name() << " accepted " << n << " of " << reply.size() << " bytes";
    }
  }
}

TEST(PingClassify, ArpReply) {
  auto m = module("arp", path(Family::V4, true));
  const IpAddress dst = target(Family::V4), src = our(Family::V4);
  auto reply = test::arp_reply(dst, src, kOurMac);
  expect_up(*m, reply, dst, {Reason::ArpResponse, 0, Protocol::Tcp}, std::nullopt);
  // The verdict names the sender: the sweep drops it unless it is a target it probes.
  ProbeVerdict v;
  ASSERT_TRUE(classify(*m, test::arp_reply(ip("198.18.9.9"), src, kOurMac), v));
  EXPECT_EQ(v.probe.addr, ip("198.18.9.9"));
  EXPECT_FALSE(classify(*m, test::arp_reply(dst, src, kOurMac, 1), v));            // a request
  EXPECT_FALSE(classify(*m, test::arp_reply(dst, ip("198.18.0.2"), kOurMac), v));  // not to us
  EXPECT_FALSE(classify(*m, test::arp_reply(dst, src, MacAddress{2, 9, 9, 9, 9, 9}), v));
  expect_truncations_rejected(*m, reply, 42);
}

TEST(PingClassify, NeighborAdvertisement) {
  auto m = module("ndp", path(Family::V6, true));
  const IpAddress dst = target(Family::V6), src = our(Family::V6);
  auto reply = test::neighbor_advert(dst, src, kOurMac);
  expect_up(*m, reply, dst, {Reason::NdResponse, 0, Protocol::Tcp}, std::nullopt);
  ProbeVerdict v;
  EXPECT_FALSE(classify(*m, test::neighbor_advert(dst, src, kOurMac, 0), v));  // unsolicited
  EXPECT_FALSE(classify(*m, test::neighbor_advert(dst, ip("2001:db8::2"), kOurMac), v));
  auto forwarded = reply;
  forwarded[21] = 254;  // hop limit: not from the link
  EXPECT_FALSE(classify(*m, forwarded, v));
  expect_truncations_rejected(*m, reply, 14 + 40 + 24);
}

TEST(PingClassify, IcmpReplies) {
  struct K {
    const char* name;
    uint8_t reply4, reply6;
    Reason reason;
  };
  for (const K& k : {K{"icmp_echo", 0, 129, Reason::EchoReply},
                     K{"icmp_timestamp", 14, 0, Reason::TimestampReply},
                     K{"icmp_mask", 18, 0, Reason::AddressMaskReply}})
    for (Family f : {Family::V4, Family::V6}) {
      const uint8_t type = f == Family::V4 ? k.reply4 : k.reply6;
      if (f == Family::V6 && type == 0) continue;
      SCOPED_TRACE(std::string(k.name) + (f == Family::V4 ? " v4" : " v6"));
      auto m = module(k.name, path(f, false));
      const IpAddress dst = target(f);
      const auto probe = build(*m, host_probe(dst), 3);
      const auto reply = test::icmp_reply(probe, type);
      expect_up(*m, reply, dst, {k.reason, 0, Protocol::Tcp}, 3);
      ProbeVerdict v;
      auto bad = reply;
      bad[test::parsed_probe(reply).l4_offset + 4] ^= 1;  // the identifier: not our cookie
      EXPECT_FALSE(classify(*m, bad, v));
      // The same reply from another address: its cookie is not that address's.
      auto other = test::icmp_reply(build(*m, host_probe(dst), 3), type);
      const size_t src_at = 14 + (f == Family::V4 ? 12 : 8);
      other[src_at + (f == Family::V4 ? 3 : 15)] ^= 1;
      EXPECT_FALSE(classify(*m, other, v));
      // Another module's reply type (an echo reply to the timestamp module, ...).
      EXPECT_FALSE(classify(*m, test::icmp_reply(probe, f == Family::V4 ? 8 : 128), v));
      expect_truncations_rejected(*m, reply, test::parsed_probe(reply).l4_offset + 8);
    }
}

TEST(PingClassify, TcpPings) {
  for (Family f : {Family::V4, Family::V6})
    for (bool tagged : {false, true}) {
      SCOPED_TRACE(std::string(f == Family::V4 ? "v4" : "v6") + (tagged ? " tagged" : ""));
      const IpAddress dst = target(f);
      const uint8_t unreach = f == Family::V4 ? net::icmp::kDestUnreach : net::icmp6::kDestUnreach;
      const uint8_t port_unreach =
          f == Family::V4 ? net::icmp::kPortUnreach : net::icmp6::kPortUnreach;
      auto syn = module("tcp_syn_ping", path(f, false), tagged ? &announcer() : nullptr);
      auto ack = module("tcp_ack_ping", path(f, false), tagged ? &announcer() : nullptr);
      const auto sp = build(*syn, Probe{dst, Protocol::Tcp, 443}, 2);
      const auto ap = build(*ack, Probe{dst, Protocol::Tcp, 80}, 2);
      expect_up(*syn, test::syn_answer(sp, 0x12), dst, {Reason::SynAck, 443, Protocol::Tcp}, 2);
      expect_up(*syn, test::syn_answer(sp, 0x14), dst, {Reason::Reset, 443, Protocol::Tcp}, 2);
      expect_up(*ack, test::ack_answer(ap), dst, {Reason::Reset, 80, Protocol::Tcp}, 2);
      expect_up(*syn, test::icmp_error(sp, unreach, port_unreach), dst,
                {Reason::PortUnreach, 443, Protocol::Tcp}, 2);
      expect_up(*ack, test::icmp_error(ap, unreach, port_unreach), dst,
                {Reason::PortUnreach, 80, Protocol::Tcp}, 2);
      ProbeVerdict v;
      // Each module reads only its own probes' replies.
      EXPECT_FALSE(classify(*ack, test::syn_answer(sp, 0x14), v));
      EXPECT_FALSE(classify(*syn, test::ack_answer(ap), v));
      EXPECT_FALSE(classify(*syn, test::icmp_error(ap, unreach, port_unreach), v));
      // A wrong acknowledgment (not our cookie + 1).
      EXPECT_FALSE(
          classify(*syn, test::tcp_answer(sp, 0x12, 1, test::parsed_probe(sp).tcp.seq + 2), v));
      EXPECT_FALSE(classify(*ack, test::tcp_answer(ap, net::tcpflag::kRst, 12345, 0), v));
      // A router's error says nothing about the host.
      EXPECT_FALSE(classify(
          *syn,
          test::icmp_error(sp, unreach, 1, f == Family::V4 ? ip("198.18.7.7") : ip("2001:db8::7")),
          v));
      const auto good = test::syn_answer(sp, 0x12);
      expect_truncations_rejected(*syn, good, test::parsed_probe(good).l4_offset + 20);
    }
}

TEST(PingClassify, UdpPing) {
  for (Family f : {Family::V4, Family::V6})
    for (bool tagged : {false, true}) {
      SCOPED_TRACE(std::string(f == Family::V4 ? "v4" : "v6") + (tagged ? " tagged" : ""));
      const IpAddress dst = target(f);
      const uint8_t unreach = f == Family::V4 ? net::icmp::kDestUnreach : net::icmp6::kDestUnreach;
      const uint8_t port_unreach =
          f == Family::V4 ? net::icmp::kPortUnreach : net::icmp6::kPortUnreach;
      auto m = module("udp_ping", path(f, false), tagged ? &announcer() : nullptr);
      const auto probe = build(*m, Probe{dst, Protocol::Udp, 40125}, 4);
      const auto err = test::icmp_error(probe, unreach, port_unreach);
      expect_up(*m, err, dst, {Reason::PortUnreach, 40125, Protocol::Udp}, 4);
      expect_up(*m, test::udp_answer(probe), dst, {Reason::UdpResponse, 40125, Protocol::Udp}, 4);
      ProbeVerdict v;
      auto bad = err;
      bad.back() ^= 0x10;  // the quoted checksum: not the datagram we built
      EXPECT_FALSE(classify(*m, bad, v));
      EXPECT_FALSE(
          classify(*m,
                   test::icmp_error(probe, unreach, port_unreach,
                                    f == Family::V4 ? ip("198.18.7.7") : ip("2001:db8::7")),
                   v));
      // A datagram to a port that is not a cookie port of that sender.
      auto stray = test::udp_answer(probe);
      stray[test::parsed_probe(stray).l4_offset + 3] ^= 1;
      EXPECT_FALSE(classify(*m, stray, v));
      expect_truncations_rejected(*m, err, test::parsed_probe(err).l4_offset + 8 + 28);
    }
}

// -- DiscoveryModules: the plan as modules --------------------------------------------------------

TEST(DiscoveryModules, PlanToModulesAndProbes) {
  DiscoveryPlan plan;
  plan.echo = plan.timestamp = true;
  plan.syn_ports = {443, 22};
  plan.ack_ports = {80};
  plan.udp_ports = {40125};
  DiscoveryModules routed(plan, kKeys, nullptr);
  for (Family f : {Family::V4, Family::V6}) routed.prepare(path(f, false));
  auto names = [](const std::vector<DiscoveryModules::Entry>& es) {
    std::vector<std::string> out;
    for (const auto& e : es)
      out.push_back(std::string(e.module->name()) + ":" + std::to_string(e.port));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(routed.probes(Family::V4, false)),
            (V{"icmp_echo:0", "icmp_timestamp:0", "tcp_syn_ping:443", "tcp_syn_ping:22",
               "tcp_ack_ping:80", "udp_ping:40125"}));
  EXPECT_EQ(names(routed.probes(Family::V6, false)),
            (V{"icmp_echo:0", "tcp_syn_ping:443", "tcp_syn_ping:22", "tcp_ack_ping:80",
               "udp_ping:40125"}));
  EXPECT_TRUE(routed.probes(Family::V4, true).empty());
  EXPECT_TRUE(routed.probes(Family::V4, false)[0].portless);
  EXPECT_EQ(routed.probes(Family::V4, false)[5].proto, Protocol::Udp);

  plan.arp = true;
  DiscoveryModules lan(plan, kKeys, nullptr);
  for (Family f : {Family::V4, Family::V6}) lan.prepare(path(f, true));
  EXPECT_EQ(names(lan.probes(Family::V4, true)), V{"arp:0"});
  EXPECT_EQ(names(lan.probes(Family::V6, true)), V{"ndp:0"});
  EXPECT_LE(lan.max_frame(), 128u);
  // Classify asks every prepared module: an ARP reply and an echo reply... (no echo here).
  ProbeVerdict v;
  auto reply = test::arp_reply(target(Family::V4), our(Family::V4), kOurMac);
  net::ParsedPacket unused;
  ASSERT_TRUE(lan.classify(RxFrame{reply, LinkFraming::Ethernet, nullptr, {}}, v));
  EXPECT_EQ(v.reason, Reason::ArpResponse);
  (void)unused;
}

}  // namespace
}  // namespace gh
