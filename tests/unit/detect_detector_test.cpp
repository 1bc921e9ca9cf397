// The detector's rules, driven by hand-made PacketEvents (no bytes, no capture).
#include "detect/detector.h"

#include <gtest/gtest.h>

#include <vector>

namespace gh::detect {
namespace {

constexpr int64_t kSec = 1'000'000;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

const IpAddress kTarget = ip("198.18.1.1");
const IpAddress kScanner = ip("198.18.0.66");
const IpAddress kClient = ip("198.18.0.77");

PrefixSet local_net() {
  PrefixSet s;
  s.add(*Prefix::parse("198.18.1.0/24"));
  s.add(*Prefix::parse("2001:db8:1::/48"));
  return s;
}

PacketEvent tcp(const IpAddress& src, uint16_t sport, const IpAddress& dst, uint16_t dport,
                uint8_t flags, int64_t ts) {
  PacketEvent e;
  e.ts_us = ts;
  e.src = src;
  e.dst = dst;
  e.proto = kProtoTcp;
  e.sport = sport;
  e.dport = dport;
  e.tcp_flags = flags;
  e.window = 64240;
  e.ttl = 64;
  e.seq = 1000;
  return e;
}

// nmap -sS's SYN: window 1024, a lone MSS 1460 option, a TTL of 37-59.
PacketEvent nmap_syn(const IpAddress& src, const IpAddress& dst, uint16_t dport, int64_t ts) {
  PacketEvent e = tcp(src, 40000, dst, dport, tcpf::kSyn, ts);
  e.window = 1024;
  e.ttl = 48;
  e.options.count = 1;
  e.options.mss = 1460;
  e.ip_id = static_cast<uint16_t>(dport * 7 + 3);
  return e;
}

// A Linux connect(): MSS, SACK permitted, timestamps, window scale.
PacketEvent os_syn(const IpAddress& src, uint16_t sport, const IpAddress& dst, uint16_t dport,
                   int64_t ts) {
  PacketEvent e = tcp(src, sport, dst, dport, tcpf::kSyn, ts);
  e.options = TcpOptionSummary{1460, 4, true, true, true, false};
  return e;
}

PacketEvent rst_ack(const IpAddress& local, uint16_t lport, const IpAddress& remote, uint16_t rport,
                    int64_t ts) {
  return tcp(local, lport, remote, rport, tcpf::kRst | tcpf::kAck, ts);
}

PacketEvent syn_ack(const IpAddress& local, uint16_t lport, const IpAddress& remote, uint16_t rport,
                    uint32_t isn, int64_t ts) {
  PacketEvent e = tcp(local, lport, remote, rport, tcpf::kSyn | tcpf::kAck, ts);
  e.seq = isn;
  return e;
}

PacketEvent udp(const IpAddress& src, uint16_t sport, const IpAddress& dst, uint16_t dport,
                int64_t ts) {
  PacketEvent e;
  e.ts_us = ts;
  e.src = src;
  e.dst = dst;
  e.proto = kProtoUdp;
  e.sport = sport;
  e.dport = dport;
  return e;
}

PacketEvent port_unreachable(const PacketEvent& probe, int64_t ts) {
  PacketEvent e;
  e.ts_us = ts;
  e.src = probe.dst;
  e.dst = probe.src;
  e.proto = kProtoIcmp;
  e.icmp_type = 3;
  e.icmp_code = 3;
  e.quote = IcmpQuote{true, probe.proto, probe.src, probe.dst, probe.sport, probe.dport};
  return e;
}

struct Harness {
  explicit Harness(DetectConfig cfg = {})
      : det(cfg, local_net(), [this](const Alert& a) { alerts.push_back(a); }) {}
  std::vector<Alert> of(AlertEvent e) const {
    std::vector<Alert> out;
    for (const auto& a : alerts)
      if (a.event == e) out.push_back(a);
    return out;
  }
  std::vector<Alert> alerts;
  Detector det;
};

TEST(Detector, SynScanOfClosedPortsIsCaughtByTheWalkAtTheFourthFailure) {
  DetectConfig cfg;
  cfg.vertical_threshold = 1000;  // isolate the walk
  Harness h(cfg);
  int64_t t = 100 * kSec;
  for (uint16_t port = 1000; port < 1010; ++port) {
    h.det.on_packet(nmap_syn(kScanner, kTarget, port, t));
    h.det.on_packet(rst_ack(kTarget, port, kScanner, 40000, t + 100));
    if (port == 1002) {
      EXPECT_TRUE(h.alerts.empty());
    }
    if (port == 1003) {
      ASSERT_EQ(h.alerts.size(), 1u);
      const Alert& a = h.alerts[0];
      EXPECT_EQ(a.event, AlertEvent::New);
      EXPECT_EQ(a.src, kScanner);
      EXPECT_EQ(a.type, ProbeType::Syn);
      EXPECT_EQ(a.shape, Shape::Vertical);
      EXPECT_EQ(a.probes, 4u);
      EXPECT_EQ(a.failures, 4u);
      EXPECT_EQ(a.ports, 4u);
      EXPECT_EQ(a.hosts, 1u);
      EXPECT_EQ(a.detected_by, rule::kTrw);
      EXPECT_NEAR(a.score, 256, 0.1);
      ASSERT_TRUE(a.tool);
      EXPECT_EQ(a.tool->name, "nmap");
      EXPECT_EQ(a.sample_ports, (std::vector<uint16_t>{1000, 1001, 1002, 1003}));
    }
    t += kSec / 10;
  }
  // Later records update the same alert; the end of input closes it.
  h.det.finish(t + 60 * kSec, true);
  auto ends = h.of(AlertEvent::End);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].id, h.alerts[0].id);
  EXPECT_EQ(ends[0].probes, 10u);
  EXPECT_EQ(ends[0].ports, 10u);
  EXPECT_EQ(h.det.stats().alerts, 1u);
}

TEST(Detector, SlowScanIsCaughtWithoutAnyTimeWindow) {
  // One probe every five minutes (nmap -T0), no reply at all (a firewall drops them).
  Harness h;
  int64_t t = 1000 * kSec;
  for (uint16_t i = 0; i < 4; ++i) {
    h.det.on_packet(nmap_syn(kScanner, kTarget, static_cast<uint16_t>(20 + i), t));
    t += 300 * kSec;
    h.det.advance(t);
  }
  ASSERT_EQ(h.of(AlertEvent::New).size(), 1u);
  const Alert a = h.of(AlertEvent::New)[0];
  EXPECT_EQ(a.detected_by, rule::kTrw);  // the window rules never saw 4 ports in 3 seconds
  EXPECT_EQ(a.probes, 4u);
  EXPECT_EQ(a.failures, 4u);
}

TEST(Detector, FastVerticalScanFiresTheWindowRuleBeforeAnyReply) {
  Harness h;
  int64_t t = 5 * kSec;
  for (uint16_t port = 1; port <= 7; ++port)
    h.det.on_packet(nmap_syn(kScanner, kTarget, port, t + port));
  // 7 privileged ports x 3 = 21 = scanlogd's threshold; no reply has come yet.
  ASSERT_EQ(h.alerts.size(), 1u);
  EXPECT_EQ(h.alerts[0].detected_by, rule::kVertical);
  EXPECT_EQ(h.alerts[0].shape, Shape::Vertical);
}

TEST(Detector, HorizontalSweepWithMasscanFingerprint) {
  Harness h;
  int64_t t = 5 * kSec;
  for (uint32_t i = 1; i <= 40; ++i) {
    IpAddress dst = IpAddress::v4(kTarget.v4_value() - 1 + i);
    PacketEvent e = tcp(kScanner, 61000, dst, 80, tcpf::kSyn, t);
    e.window = 1024;
    e.options.count = 1;
    e.options.mss = 1460;
    e.ttl = 255;
    e.seq = 0x12345678u * i;
    e.ip_id = static_cast<uint16_t>(dst.v4_value() ^ 80 ^ e.seq);
    h.det.on_packet(e);
    t += 1000;
  }
  ASSERT_FALSE(h.alerts.empty());
  const Alert& first = h.alerts[0];
  EXPECT_EQ(first.detected_by & rule::kHorizontal, rule::kHorizontal);
  EXPECT_EQ(first.shape, Shape::Horizontal);
  EXPECT_EQ(first.ports, 1u);
  EXPECT_EQ(first.hosts, 20u);
  ASSERT_TRUE(first.tool);
  EXPECT_EQ(first.tool->name, "masscan");
}

TEST(Detector, ZmapIsRecognisedByItsIpId) {
  Harness h;
  for (uint32_t i = 1; i <= 25; ++i) {
    PacketEvent e =
        tcp(kScanner, 50000, IpAddress::v4(kTarget.v4_value() + i), 443, tcpf::kSyn, kSec + i);
    e.ip_id = 54321;
    e.window = 65535;
    h.det.on_packet(e);
  }
  ASSERT_FALSE(h.alerts.empty());
  ASSERT_TRUE(h.alerts[0].tool);
  EXPECT_EQ(h.alerts[0].tool->name, "zmap");
}

TEST(Detector, GlasshouseScanIsToldFromNmapByItsTtl) {
  Harness h;
  for (uint16_t port = 1; port <= 10; ++port) {
    PacketEvent e = nmap_syn(kScanner, kTarget, port, kSec + port);
    e.ttl = 64;
    h.det.on_packet(e);
  }
  ASSERT_FALSE(h.alerts.empty());
  ASSERT_TRUE(h.alerts[0].tool);
  EXPECT_EQ(h.alerts[0].tool->name, "glasshouse");
}

TEST(Detector, StealthFlagsAreTypedAndFlagged) {
  struct Case {
    uint8_t flags;
    ProbeType type;
  };
  for (Case c : {Case{tcpf::kFin, ProbeType::Fin}, Case{0, ProbeType::Null},
                 Case{tcpf::kFin | tcpf::kPsh | tcpf::kUrg, ProbeType::Xmas}}) {
    Harness h;
    for (uint16_t port = 2000; port < 2003; ++port) {
      PacketEvent e = tcp(kScanner, 33333, kTarget, port, c.flags, kSec * port);  // slow: 1 s apart
      e.window = 1024;
      e.ttl = 40;
      h.det.on_packet(e);
    }
    ASSERT_EQ(h.alerts.size(), 1u) << int(c.flags);
    EXPECT_EQ(h.alerts[0].type, c.type);
    EXPECT_EQ(h.alerts[0].detected_by & rule::kFlags, rule::kFlags);
  }
}

TEST(Detector, LoneAckProbesAreInferredFromTheResetsTheyDraw) {
  Harness h;
  int64_t t = 10 * kSec;
  for (uint16_t port = 3000; port < 3004; ++port) {
    // Only the reply is in the capture (the default filter leaves pure ACKs in the kernel).
    h.det.on_packet(tcp(kTarget, port, kScanner, 44444, tcpf::kRst, t));
    t += 2 * kSec;
  }
  ASSERT_FALSE(h.alerts.empty());
  EXPECT_EQ(h.alerts[0].type, ProbeType::Ack);
  EXPECT_EQ(h.alerts[0].src, kScanner);
}

TEST(Detector, BackscatterIsNotAnAckProbe) {
  Harness h;
  int64_t t = 10 * kSec;
  for (uint16_t i = 0; i < 10; ++i) {
    uint16_t lport = static_cast<uint16_t>(5000 + i);
    // Someone flooded kScanner with SYNs spoofing our address; its SYN-ACKs come to us.
    h.det.on_packet(tcp(kScanner, 80, kTarget, lport, tcpf::kSyn | tcpf::kAck, t));
    h.det.on_packet(tcp(kTarget, lport, kScanner, 80, tcpf::kRst, t + 10));
    t += kSec;
  }
  EXPECT_TRUE(h.alerts.empty());
}

TEST(Detector, ResetsFromClientPortsAreNotAckProbes) {
  Harness h;
  int64_t t = 10 * kSec;
  for (uint16_t i = 0; i < 10; ++i, t += kSec) {
    // Late segments from a server to connections our client closed long ago.
    h.det.on_packet(tcp(kTarget, static_cast<uint16_t>(40000 + i), kScanner, 443, tcpf::kRst, t));
  }
  EXPECT_TRUE(h.alerts.empty());
}

TEST(Detector, UdpProbesRefusedWithPortUnreachable) {
  Harness h;
  int64_t t = 10 * kSec;
  for (uint16_t port = 100; port < 103; ++port) {
    PacketEvent probe = udp(kScanner, 55000, kTarget, port, t);
    h.det.on_packet(probe);
    h.det.on_packet(port_unreachable(probe, t + 50));
    t += 2 * kSec;
  }
  ASSERT_EQ(h.alerts.size(), 1u);
  EXPECT_EQ(h.alerts[0].type, ProbeType::Udp);
  EXPECT_EQ(h.alerts[0].detected_by, rule::kUdpRefused);
}

TEST(Detector, OrdinaryConnectionsRaiseNothing) {
  Harness h;
  int64_t t = 10 * kSec;
  const uint16_t open_ports[] = {22, 80, 443};
  for (int i = 0; i < 300; ++i) {
    uint16_t sport = static_cast<uint16_t>(40000 + i);
    uint16_t port = open_ports[i % 3];
    h.det.on_packet(os_syn(kClient, sport, kTarget, port, t));
    h.det.on_packet(syn_ack(kTarget, port, kClient, sport, 777000 + i, t + 100));
    PacketEvent fin = tcp(kClient, sport, kTarget, port, tcpf::kFin | tcpf::kAck, t + 5000);
    fin.ack = 777000 + i + 1;
    h.det.on_packet(fin);
    t += kSec / 100;
  }
  // DNS: local queries out, answers in.
  for (int i = 0; i < 100; ++i) {
    uint16_t sport = static_cast<uint16_t>(30000 + i);
    h.det.on_packet(udp(kTarget, sport, ip("198.18.0.53"), 53, t));
    h.det.on_packet(udp(ip("198.18.0.53"), 53, kTarget, sport, t + 500));
    t += kSec / 100;
  }
  h.det.finish(t + 10 * kSec, true);
  EXPECT_TRUE(h.alerts.empty());
  EXPECT_EQ(h.det.stats().alerts, 0u);
}

TEST(Detector, ConnectScanCompletesHandshakesAndIsVerified) {
  DetectConfig cfg;
  cfg.vertical_threshold = 1000;
  Harness h(cfg);
  int64_t t = 10 * kSec;
  uint16_t sport = 50000;
  for (uint16_t port = 20; port < 26; ++port, ++sport, t += kSec) {
    h.det.on_packet(os_syn(kScanner, sport, kTarget, port, t));
    h.det.on_packet(rst_ack(kTarget, port, kScanner, sport, t + 10));
  }
  ASSERT_EQ(h.alerts.size(), 1u);
  EXPECT_EQ(h.alerts[0].type, ProbeType::Connect);
  EXPECT_FALSE(h.alerts[0].verified);
  // An open port: SYN-ACK, and the scanner's stack completes, then aborts with RST+ACK.
  h.det.on_packet(os_syn(kScanner, sport, kTarget, 80, t));
  h.det.on_packet(syn_ack(kTarget, 80, kScanner, sport, 0xFFFFFFF0u, t + 10));
  PacketEvent rst = tcp(kScanner, sport, kTarget, 80, tcpf::kRst | tcpf::kAck, t + 20);
  rst.ack = 0xFFFFFFF1u;
  h.det.on_packet(rst);
  ASSERT_EQ(h.alerts.size(), 2u);
  EXPECT_EQ(h.alerts[1].event, AlertEvent::Update);
  EXPECT_EQ(h.alerts[1].id, h.alerts[0].id);
  EXPECT_TRUE(h.alerts[1].verified);
}

TEST(Detector, HalfOpenScanIsNotVerified) {
  Harness h;
  int64_t t = 10 * kSec;
  for (uint16_t port = 1; port < 10; ++port, t += kSec) {
    h.det.on_packet(nmap_syn(kScanner, kTarget, port, t));
    h.det.on_packet(syn_ack(kTarget, port, kScanner, 40000, 5000, t + 10));
    // A spoofer can send this RST too: its sequence number is the scanner's own.
    h.det.on_packet(tcp(kScanner, 40000, kTarget, port, tcpf::kRst, t + 20));
  }
  h.det.finish(t, true);
  for (const auto& a : h.alerts) EXPECT_FALSE(a.verified);
}

TEST(Detector, RetransmissionsAreNotNewAttempts) {
  Harness h;
  for (int i = 0; i < 10; ++i) h.det.on_packet(nmap_syn(kScanner, kTarget, 8080, kSec * (i + 1)));
  h.det.advance(100 * kSec);
  EXPECT_TRUE(h.alerts.empty());  // one failed first contact, nine repeats
  auto s = h.det.stats();
  EXPECT_EQ(s.probes, 10u);
}

TEST(Detector, UpdatesAreRateLimitedAndKeepTheId) {
  DetectConfig cfg;
  cfg.update_interval_us = 10 * kSec;
  Harness h(cfg);
  int64_t t = kSec;
  for (int i = 0; i < 3000; ++i) {  // 30 s of scanning, 100 probes per second
    uint16_t port = static_cast<uint16_t>(1 + i);
    h.det.on_packet(nmap_syn(kScanner, kTarget, port, t));
    h.det.on_packet(rst_ack(kTarget, port, kScanner, 40000, t + 10));
    t += kSec / 100;
  }
  auto news = h.of(AlertEvent::New), updates = h.of(AlertEvent::Update);
  ASSERT_EQ(news.size(), 1u);
  EXPECT_GE(updates.size(), 2u);
  EXPECT_LE(updates.size(), 5u);  // 30 s / 10 s, plus one for the walk joining the window rule
  for (const auto& u : updates) EXPECT_EQ(u.id, news[0].id);
  EXPECT_EQ(news[0].detected_by, rule::kTrw);  // the 4th RST comes before the 7th port
  EXPECT_EQ(updates.front().detected_by, rule::kTrw | rule::kVertical);  // reported at once
  EXPECT_GT(updates.back().probes, 1000u);
}

TEST(Detector, IdleAlertsEnd) {
  DetectConfig cfg;
  cfg.idle_end_us = 60 * kSec;
  Harness h(cfg);
  for (uint16_t port = 1; port <= 10; ++port)
    h.det.on_packet(nmap_syn(kScanner, kTarget, port, kSec + port));
  ASSERT_EQ(h.of(AlertEvent::New).size(), 1u);
  h.det.advance(30 * kSec);
  EXPECT_TRUE(h.of(AlertEvent::End).empty());
  h.det.advance(70 * kSec);
  EXPECT_EQ(h.of(AlertEvent::End).size(), 1u);
  EXPECT_EQ(h.det.stats().sources, 0u);
}

TEST(Detector, SpoofedFloodStaysWithinTheSourceBound) {
  DetectConfig cfg;
  cfg.max_sources = 1000;
  cfg.max_pending = 2000;
  Harness h(cfg);
  for (uint32_t i = 0; i < 50000; ++i) {
    IpAddress src = IpAddress::v4(0xC6130000u + i);  // 198.19.x.y, all different
    h.det.on_packet(nmap_syn(src, kTarget, static_cast<uint16_t>(i % 1000 + 1), kSec + i));
  }
  auto s = h.det.stats();
  EXPECT_EQ(s.sources, 1000u);
  EXPECT_EQ(s.sources_evicted, 49000u);
  EXPECT_LE(s.pending, 2000u);
  EXPECT_LT(h.det.memory_bound(), size_t{16} << 20);
}

TEST(Detector, EvictedAlertedSourceGetsAnEndRecord) {
  DetectConfig cfg;
  cfg.max_sources = 2;
  Harness h(cfg);
  for (uint16_t port = 1; port <= 8; ++port)
    h.det.on_packet(nmap_syn(kScanner, kTarget, port, kSec + port));
  ASSERT_EQ(h.of(AlertEvent::New).size(), 1u);
  h.det.on_packet(os_syn(ip("198.18.0.10"), 1, kTarget, 80, 2 * kSec));
  h.det.on_packet(os_syn(ip("198.18.0.11"), 1, kTarget, 80, 2 * kSec));
  ASSERT_EQ(h.of(AlertEvent::End).size(), 1u);
  EXPECT_EQ(h.of(AlertEvent::End)[0].src, kScanner);
}

TEST(Detector, TrafficNotCrossingTheBoundaryIsIgnoredWithoutLocalTracking) {
  DetectConfig cfg;
  cfg.track_local = false;
  Harness h(cfg);
  for (uint16_t port = 1; port <= 50; ++port) {
    h.det.on_packet(nmap_syn(ip("198.18.1.9"), kTarget, port, kSec + port));   // local -> local
    h.det.on_packet(nmap_syn(kScanner, ip("198.18.2.1"), port, kSec + port));  // remote -> remote
  }
  EXPECT_TRUE(h.alerts.empty());
  EXPECT_EQ(h.det.stats().ignored, 100u);
}

TEST(Detector, Ipv6ScanIsDetected) {
  Harness h;
  IpAddress scanner6 = ip("2001:db8:ff::66"), target6 = ip("2001:db8:1::1");
  for (uint16_t port = 1; port <= 10; ++port) {
    h.det.on_packet(nmap_syn(scanner6, target6, port, kSec * port));
    h.det.on_packet(rst_ack(target6, port, scanner6, 40000, kSec * port + 5));
  }
  ASSERT_FALSE(h.alerts.empty());
  EXPECT_EQ(h.alerts[0].src, scanner6);
}

}  // namespace
}  // namespace gh::detect
