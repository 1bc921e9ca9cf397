// Challenge before block (challenge.h), the responder's order of decisions (response.h), and the
// detector's scanners inside (direction, local thresholds, the worm rule), UDP classification and
// IPv6 neighbour discovery noise.
#include "detect/challenge.h"

#include <gtest/gtest.h>

#include <vector>

#include "challenge_fixture.h"
#include "detect/decode.h"
#include "detect/detector.h"
#include "detect/response.h"
#include "net/packet.h"

namespace gh::detect {
namespace {

using namespace fixture;  // the shared lab: kSec, kScanner, kTarget, their MACs, Sent

ChallengeTarget target(const IpAddress& src = kScanner, const IpAddress& local = kTarget) {
  return challenge_target(src, local);
}

PacketEvent rst(const ChallengeTarget& t, uint32_t seq, int64_t ts) {
  return challenge_rst(t, seq, ts);
}

TEST(Challenge, TheRightAnswerProvesTheSourceOnce) {
  Sent sent;
  Challenger c({}, 1, 2, sent.sender());
  ChallengeTarget t = target();
  ASSERT_EQ(c.challenge(t, 10 * kSec), Issue::Sent);
  ASSERT_EQ(sent.packets.size(), 1u);
  uint32_t cookie = sent.packets[0].ack;
  EXPECT_EQ(c.cookie_of(kScanner), cookie);
  IpAddress who;
  EXPECT_EQ(c.on_packet(rst(t, cookie, 10 * kSec + 300), who), Answer::Proven);
  EXPECT_EQ(who, kScanner);
  EXPECT_EQ(c.stats().proven, 1u);
  // Replayed: the same answer again proves nothing more.
  IpAddress again;
  EXPECT_EQ(c.on_packet(rst(t, cookie, 10 * kSec + 400), again), Answer::Replayed);
  EXPECT_EQ(c.stats().replayed, 1u);
  EXPECT_EQ(c.stats().proven, 1u);
}

TEST(Challenge, AWrongSequenceNumberProvesNothingAndGuessingVoidsTheChallenge) {
  Sent sent;
  ChallengeConfig cfg;
  cfg.max_wrong = 3;
  Challenger c(cfg, 1, 2, sent.sender());
  ChallengeTarget t = target();
  ASSERT_EQ(c.challenge(t, 10 * kSec), Issue::Sent);
  uint32_t cookie = sent.packets[0].ack;
  IpAddress who;
  for (uint32_t i = 1; i <= 3; ++i)
    EXPECT_EQ(c.on_packet(rst(t, cookie + i, 10 * kSec + i), who), Answer::WrongSeq);
  // Three wrong guesses void it: the right cookie now comes too late to count.
  EXPECT_NE(c.on_packet(rst(t, cookie, 10 * kSec + 10), who), Answer::Proven);
  EXPECT_EQ(c.stats().proven, 0u);
  EXPECT_GE(c.stats().wrong, 3u);
}

TEST(Challenge, ALateAnswerProvesNothing) {
  Sent sent;
  ChallengeConfig cfg;
  cfg.timeout_us = 2 * kSec;
  Challenger c(cfg, 1, 2, sent.sender());
  ChallengeTarget t = target();
  ASSERT_EQ(c.challenge(t, 10 * kSec), Issue::Sent);
  IpAddress who;
  EXPECT_EQ(c.on_packet(rst(t, sent.packets[0].ack, 12 * kSec + 1), who), Answer::Late);
  EXPECT_EQ(c.stats().late, 1u);
  EXPECT_EQ(c.stats().proven, 0u);
}

TEST(Challenge, AnAnswerToAnEarlierChallengeIsNotAcceptedForALaterOne) {
  Sent sent;
  ChallengeConfig cfg;
  cfg.interval_us = kSec;
  Challenger c(cfg, 1, 2, sent.sender());
  ChallengeTarget t = target();
  ASSERT_EQ(c.challenge(t, 10 * kSec), Issue::Sent);
  ASSERT_EQ(c.challenge(t, 12 * kSec), Issue::Sent);
  ASSERT_EQ(sent.packets.size(), 2u);
  ASSERT_NE(sent.packets[0].ack, sent.packets[1].ack);
  IpAddress who;
  EXPECT_EQ(c.on_packet(rst(t, sent.packets[0].ack, 12 * kSec + 5), who), Answer::WrongSeq);
  EXPECT_EQ(c.on_packet(rst(t, sent.packets[1].ack, 12 * kSec + 6), who), Answer::Proven);
}

TEST(Challenge, AnAnswerFromAnotherLinkAddressIsNotAProof) {
  Sent sent;
  Challenger c({}, 1, 2, sent.sender());
  ChallengeTarget t = target();
  ASSERT_EQ(c.challenge(t, 10 * kSec), Issue::Sent);
  PacketEvent r = rst(t, sent.packets[0].ack, 10 * kSec + 5);
  r.src_mac[5] = 0x99;  // the probes came from another machine on the link
  IpAddress who;
  EXPECT_EQ(c.on_packet(r, who), Answer::WrongPath);
  EXPECT_EQ(c.stats().proven, 0u);
}

TEST(Challenge, OtherResetsAndOurOwnSynAckAreRecognised) {
  Sent sent;
  Challenger c({}, 1, 2, sent.sender());
  ChallengeTarget t = target();
  IpAddress who;
  EXPECT_EQ(c.on_packet(rst(t, 5, kSec), who), Answer::None);  // nothing outstanding
  ASSERT_EQ(c.challenge(t, 10 * kSec), Issue::Sent);
  PacketEvent other = rst(t, sent.packets[0].ack, 10 * kSec + 1);
  other.sport = 40001;  // another port of the source
  EXPECT_EQ(c.on_packet(other, who), Answer::None);
  PacketEvent own;
  own.ts_us = 10 * kSec;
  own.src = kTarget;
  own.dst = kScanner;
  own.proto = kProtoTcp;
  own.sport = 1000;
  own.dport = 40000;
  own.tcp_flags = tcpf::kSyn | tcpf::kAck;
  own.ack = sent.packets[0].ack;
  EXPECT_EQ(c.on_packet(own, who), Answer::Own);
}

TEST(Challenge, BudgetsPerSourceAndOverall) {
  Sent sent;
  ChallengeConfig cfg;
  cfg.interval_us = 5 * kSec;
  cfg.max_per_source = 2;
  cfg.rate = 10;
  cfg.burst = 5;
  Challenger c(cfg, 1, 2, sent.sender());
  ChallengeTarget t = target();
  EXPECT_EQ(c.challenge(t, 10 * kSec), Issue::Sent);
  EXPECT_EQ(c.challenge(t, 11 * kSec), Issue::TooSoon);
  EXPECT_EQ(c.challenge(t, 16 * kSec), Issue::Sent);
  EXPECT_EQ(c.challenge(t, 30 * kSec), Issue::SourceBudget);
  // 1,000 distinct sources at one instant: the bucket lets `burst` through.
  size_t ok = 0;
  for (uint32_t i = 0; i < 1000; ++i)
    ok += c.challenge(target(IpAddress::v4(0xC6128000 + i)), 40 * kSec) == Issue::Sent;
  EXPECT_EQ(ok, 5u);
  EXPECT_EQ(c.stats().limited_global, 995u);
  // One second later, `rate` more.
  ok = 0;
  for (uint32_t i = 1000; i < 2000; ++i)
    ok += c.challenge(target(IpAddress::v4(0xC6128000 + i)), 41 * kSec) == Issue::Sent;
  EXPECT_EQ(ok, 5u);  // 10 tokens refilled, capped at the burst of 5
  EXPECT_EQ(sent.packets.size(), 2u + 10u);
}

TEST(Challenge, SimulatedChallengesSendNothing) {
  ChallengeConfig cfg;
  cfg.simulate = true;
  int calls = 0;
  Challenger c(cfg, 1, 2, [&](const ChallengePacket&) { return ++calls, 0; });
  EXPECT_EQ(c.challenge(target(), kSec), Issue::Simulated);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(c.stats().simulated, 1u);
  EXPECT_EQ(c.stats().sent, 0u);
}

TEST(Challenge, TheFrameIsAValidSynAckCarryingTheCookie) {
  for (const char* pair : {"v4", "v6"}) {
    ChallengeTarget t = target();
    if (std::string(pair) == "v6") {
      t.source = ip("2001:db8:ff::66");
      t.local = ip("2001:db8:1::1");
    }
    ChallengePacket p{t, 0x11223344, 0xCAFEBABE};
    uint8_t frame[kChallengeFrameMax];
    size_t n = build_challenge_frame(p, frame);
    ASSERT_GT(n, 0u) << pair;
    net::ParsedPacket parsed;
    ASSERT_TRUE(net::parse_packet({frame, n}, net::LinkType::Ethernet, parsed)) << pair;
    EXPECT_TRUE(net::verify_l4_checksum({frame, n}, parsed)) << pair;
    EXPECT_EQ(parsed.src, t.local);
    EXPECT_EQ(parsed.dst, t.source);
    EXPECT_EQ(parsed.tcp.sport, 1000);
    EXPECT_EQ(parsed.tcp.dport, 40000);
    EXPECT_EQ(parsed.tcp.flags, tcpf::kSyn | tcpf::kAck);
    EXPECT_EQ(parsed.tcp.ack, 0xCAFEBABEu);
    EXPECT_EQ(parsed.tcp.seq, 0x11223344u);
    EXPECT_EQ(parsed.dst_mac, kScannerMac);
    EXPECT_EQ(parsed.src_mac, kTargetMac);
  }
}

// --- The detector: proof by challenge, direction, local thresholds, worms ---------------------

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
  e.window = 1024;
  e.ttl = 48;
  e.options.count = 1;
  e.options.mss = 1460;
  e.has_macs = true;
  e.src_mac = kScannerMac;
  e.dst_mac = kTargetMac;
  return e;
}

struct Harness {
  explicit Harness(DetectConfig cfg = {})
      : det(cfg, local_net(), [this](const Alert& a) { alerts.push_back(a); }) {}
  std::vector<Alert> alerts;
  Detector det;
};

TEST(DetectorProof, AnAnsweredChallengeVerifiesAndReportsAtOnce) {
  Harness h;
  for (uint16_t port = 1; port <= 6; ++port) {
    h.det.on_packet(tcp(kScanner, 40000, kTarget, port, tcpf::kSyn, kSec + port));
    h.det.on_packet(tcp(kTarget, port, kScanner, 40000, tcpf::kRst | tcpf::kAck, kSec + port + 1));
  }
  ASSERT_FALSE(h.alerts.empty());
  const Alert& a = h.alerts.back();
  EXPECT_FALSE(a.verified);
  ASSERT_TRUE(a.last_probe.present);
  EXPECT_EQ(a.last_probe.local, kTarget);
  EXPECT_EQ(a.last_probe.source_port, 40000);
  EXPECT_EQ(a.last_probe.source_mac, kScannerMac);
  size_t before = h.alerts.size();
  EXPECT_TRUE(h.det.mark_verified(kScanner, Proof::Challenge));
  ASSERT_EQ(h.alerts.size(), before + 1);
  EXPECT_EQ(h.alerts.back().event, AlertEvent::Update);
  EXPECT_TRUE(h.alerts.back().verified);
  EXPECT_EQ(h.alerts.back().proof, Proof::Challenge);
  EXPECT_FALSE(h.det.mark_verified(ip("198.18.0.99"), Proof::Challenge));
}

// One local host sweeping its /24 on one worm-list port; every address refuses.
void sweep(Harness& h, const IpAddress& src, uint16_t port, int n, int64_t t0, int64_t step) {
  for (int i = 1; i <= n; ++i) {
    IpAddress dst = IpAddress::v4(kTarget.v4_value() - 1 + static_cast<uint32_t>(i));
    if (dst == src) continue;
    int64_t t = t0 + i * step;
    h.det.on_packet(tcp(src, 50000, dst, port, tcpf::kSyn, t));
    h.det.on_packet(tcp(dst, port, src, 50000, tcpf::kRst | tcpf::kAck, t + 100));
  }
}

TEST(DetectorInside, AWormSweepOfTheLocalNetworkIsAnInternalAlert) {
  Harness h;
  IpAddress worm = ip("198.18.1.200");
  sweep(h, worm, 445, 30, kSec, kSec);  // slow: one probe a second, no window rule
  ASSERT_FALSE(h.alerts.empty());
  const Alert& a = h.alerts.front();
  EXPECT_EQ(a.src, worm);
  EXPECT_EQ(a.direction, Direction::Internal);
  EXPECT_EQ(a.shape, Shape::Horizontal);
  EXPECT_TRUE(a.detected_by & rule::kWorm) << rules_to_string(a.detected_by, '+');
  EXPECT_FALSE(a.detected_by & rule::kTrw);  // the walk asks ten times the evidence inside
  EXPECT_EQ(a.failures, 20u);
}

TEST(DetectorInside, LocalSourcesNeedTenTimesTheEvidence) {
  // A sweep on a port off the worm list: a remote source is caught at its 4th failure, a local
  // one only at its 34th (log eta1 times 10).
  Harness remote, inside;
  sweep(remote, kScanner, 5000, 40, kSec, kSec);
  ASSERT_FALSE(remote.alerts.empty());
  EXPECT_EQ(remote.alerts.front().failures, 4u);
  sweep(inside, ip("198.18.1.200"), 5000, 40, kSec, kSec);
  ASSERT_FALSE(inside.alerts.empty());
  EXPECT_EQ(inside.alerts.front().failures, 34u);
  EXPECT_EQ(inside.alerts.front().direction, Direction::Internal);
  // A local host with a few failed connections raises nothing.
  Harness quiet;
  sweep(quiet, ip("198.18.1.201"), 5000, 15, kSec, kSec);
  EXPECT_TRUE(quiet.alerts.empty());
}

TEST(DetectorInside, ALocalHostScanningOutIsOutbound) {
  Harness h;
  IpAddress inside = ip("198.18.1.7"), outside = ip("198.19.0.1");
  for (uint16_t port = 1; port <= 100; ++port) {
    int64_t t = kSec + port * 1000;
    h.det.on_packet(tcp(inside, 50000, outside, port, tcpf::kSyn, t));
    h.det.on_packet(tcp(outside, port, inside, 50000, tcpf::kRst | tcpf::kAck, t + 100));
  }
  ASSERT_FALSE(h.alerts.empty());
  EXPECT_EQ(h.alerts.front().src, inside);
  EXPECT_EQ(h.alerts.front().direction, Direction::Outbound);
  EXPECT_EQ(h.alerts.front().hosts, 1u);
}

TEST(DetectorInside, LocalClientsOfLocalServersRaiseNothing) {
  Harness h;
  IpAddress client = ip("198.18.1.50");
  for (int i = 0; i < 300; ++i) {
    IpAddress server = IpAddress::v4(kTarget.v4_value() + static_cast<uint32_t>(i % 5));
    uint16_t sport = static_cast<uint16_t>(33000 + i), dport = i % 2 ? 443 : 445;
    int64_t t = kSec + i * 10000;
    PacketEvent syn = tcp(client, sport, server, dport, tcpf::kSyn, t);
    syn.options = TcpOptionSummary{1460, 4, true, true, true, false};
    h.det.on_packet(syn);
    PacketEvent sa = tcp(server, dport, client, sport, tcpf::kSyn | tcpf::kAck, t + 50);
    sa.seq = 777;
    h.det.on_packet(sa);
    PacketEvent fin = tcp(client, sport, server, dport, tcpf::kFin | tcpf::kAck, t + 500);
    fin.ack = 778;
    h.det.on_packet(fin);
  }
  EXPECT_TRUE(h.alerts.empty());
}

// --- UDP and IPv6 -----------------------------------------------------------------------------

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

TEST(DetectorUdp, AScanOfOpenUdpServicesIsCaughtAndClassified) {
  // One source asks 40 UDP services on 40 hosts within a second; every one answers.
  Harness h;
  for (uint32_t i = 1; i <= 40; ++i) {
    IpAddress dst = IpAddress::v4(kTarget.v4_value() + i);
    int64_t t = kSec + i * 1000;
    h.det.on_packet(udp(kScanner, 41000, dst, 161, t));
    h.det.on_packet(udp(dst, 161, kScanner, 41000, t + 200));
  }
  ASSERT_FALSE(h.alerts.empty());
  h.det.finish(3 * kSec, true);
  const Alert& a = h.alerts.back();
  EXPECT_EQ(a.type, ProbeType::Udp);
  EXPECT_EQ(a.shape, Shape::Horizontal);
  EXPECT_TRUE(a.detected_by & rule::kHorizontal);
  EXPECT_EQ(a.udp_answered, 40u);
  EXPECT_NE(to_json(a).find(R"("class":"open-services")"), std::string::npos) << to_json(a);
}

TEST(DetectorUdp, Icmpv6PortUnreachableRefusesUdpProbes) {
  Harness h;
  IpAddress s6 = ip("2001:db8:ff::66"), t6 = ip("2001:db8:1::1");
  for (uint16_t port = 100; port < 106; ++port) {
    PacketEvent probe = udp(s6, 41000, t6, port, kSec + port);
    h.det.on_packet(probe);
    PacketEvent e;
    e.ts_us = kSec + port + 50;
    e.src = t6;
    e.dst = s6;
    e.proto = kProtoIcmp6;
    e.icmp_type = 1;
    e.icmp_code = 4;
    e.quote = IcmpQuote{true, kProtoUdp, s6, t6, 41000, port};
    h.det.on_packet(e);
  }
  ASSERT_FALSE(h.alerts.empty());
  const Alert& a = h.alerts.back();
  EXPECT_EQ(a.src, s6);
  EXPECT_TRUE(a.detected_by & rule::kUdpRefused);
  EXPECT_GE(a.udp_refused, 3u);
}

TEST(DetectorIpv6, NeighbourDiscoveryIsNoise) {
  Harness h;
  IpAddress t6 = ip("2001:db8:1::1");
  for (uint32_t i = 0; i < 500; ++i) {
    for (uint8_t type : {133, 134, 135, 136, 137, 143}) {
      PacketEvent e;
      e.ts_us = kSec + i * 1000 + type;
      e.src = IpAddress::v6((static_cast<unsigned __int128>(0x20010db800ffull) << 80) + i);
      e.dst = t6;
      e.proto = kProtoIcmp6;
      e.icmp_type = type;
      h.det.on_packet(e);
      std::swap(e.src, e.dst);
      h.det.on_packet(e);
    }
  }
  h.det.finish(10 * kSec, true);
  EXPECT_TRUE(h.alerts.empty());
  EXPECT_EQ(h.det.stats().probes, 0u);
}

// --- The responder --------------------------------------------------------------------------

Alert detected(const IpAddress& src, Direction dir = Direction::Inbound) {
  Alert a;
  a.src = src;
  a.direction = dir;
  a.last_probe.present = true;
  a.last_probe.local = kTarget;
  a.last_probe.source_port = 40000;
  a.last_probe.local_port = 1000;
  a.last_probe.has_macs = true;
  return a;
}

TEST(Responder, ChallengesOnlyWhatItWouldBlock) {
  BlockConfig cfg;
  cfg.allow.add(*Prefix::parse("198.18.0.41"));
  cfg.local = local_net();
  cfg.gateways.push_back(ip("198.18.0.1"));
  Sent sent;
  Challenger c({}, 1, 2, sent.sender());
  Responder r(cfg, nullptr, &c);  // dry run: no blocker

  Alert a = detected(kScanner);
  r.on_alert(a, 10 * kSec);
  EXPECT_EQ(a.challenge, "sent");
  EXPECT_FALSE(a.blocked);
  EXPECT_EQ(sent.packets.size(), 1u);

  for (const char* exempt : {"198.18.0.41", "198.18.0.1"}) {
    Alert b = detected(ip(exempt));
    r.on_alert(b, 10 * kSec);
    EXPECT_TRUE(b.challenge.empty()) << exempt;
    EXPECT_FALSE(b.block_note.empty()) << exempt;
  }
  Alert inside = detected(ip("198.18.1.9"), Direction::Internal);
  r.on_alert(inside, 10 * kSec);
  EXPECT_TRUE(inside.challenge.empty());
  EXPECT_NE(inside.block_note.find("--block-internal"), std::string::npos);
  EXPECT_EQ(sent.packets.size(), 1u);

  // With --block-internal an internal source is challenged like any other.
  cfg.block_internal = true;
  Responder r2(cfg, nullptr, &c);
  Alert inside2 = detected(ip("198.18.1.9"), Direction::Internal);
  r2.on_alert(inside2, 10 * kSec);
  EXPECT_EQ(inside2.challenge, "sent");

  // Step 3: an authorised scan is neither challenged nor blocked.
  Responder r3(cfg, nullptr, &c);
  r3.set_authorized_check([](const Alert& x) -> std::optional<std::string> {
    if (x.src == ip("198.18.0.60")) return std::string("authorized: engagement E1");
    return std::nullopt;
  });
  Alert authorised = detected(ip("198.18.0.60"));
  authorised.verified = true;
  r3.on_alert(authorised, 10 * kSec);
  EXPECT_TRUE(authorised.challenge.empty());
  EXPECT_FALSE(authorised.blocked);
  EXPECT_EQ(authorised.block_note, "authorized: engagement E1");
  Alert other = detected(ip("198.18.0.61"));
  r3.on_alert(other, 10 * kSec);
  EXPECT_EQ(other.challenge, "sent");

  // A proven source is not challenged again; the dry run says what would happen.
  Alert proven = detected(ip("198.18.0.50"));
  proven.verified = true;
  proven.proof = Proof::Challenge;
  r.on_alert(proven, 10 * kSec);
  EXPECT_TRUE(proven.challenge.empty());
  EXPECT_NE(proven.block_note.find("would block"), std::string::npos) << proven.block_note;
}

}  // namespace
}  // namespace gh::detect
