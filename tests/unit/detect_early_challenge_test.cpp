// The early challenge (challenge.h, response.h: a suspect is challenged at its second failed first
// contact, before detection) and the kernel's check of the answer (blocker.h: the chal/try
// elements and their key layout; the multi-element netlink transaction).
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <array>
#include <vector>

#include "challenge_fixture.h"
#include "detect/blocker.h"
#include "detect/challenge.h"
#include "detect/detector.h"
#include "detect/nft_netlink.h"
#include "detect/response.h"

namespace gh::detect {
namespace {

using namespace fixture;  // the shared lab: kSec, kScanner, kTarget, their MACs, Sent

ChallengeTarget target(const IpAddress& src = kScanner) {
  return challenge_target(src);
}

PacketEvent tcp(const IpAddress& src, uint16_t sport, const IpAddress& dst, uint16_t dport,
                uint8_t flags, int64_t ts, uint32_t seq = 0) {
  PacketEvent e;
  e.ts_us = ts;
  e.src = src;
  e.dst = dst;
  e.proto = kProtoTcp;
  e.sport = sport;
  e.dport = dport;
  e.tcp_flags = flags;
  e.seq = seq;
  e.window = 1024;
  e.ttl = 48;
  e.options.count = 1;
  e.options.mss = 1460;
  e.has_macs = true;
  e.src_mac = src == kTarget ? kTargetMac : kScannerMac;
  e.dst_mac = src == kTarget ? kScannerMac : kTargetMac;
  return e;
}

PrefixSet local_net() {
  PrefixSet s;
  s.add(*Prefix::parse("198.18.1.0/24"));
  return s;
}

// The detector, the challenger and the responder wired as watch.cpp wires them (dry of a
// blocker: decisions are described, not applied).
ChallengeConfig early2() {
  ChallengeConfig c;
  c.early_after = 2;
  return c;
}

struct Pipeline {
  explicit Pipeline(ChallengeConfig ccfg = early2())
      : chal(ccfg, 1, 2, sent.sender()),
        resp(block_cfg(), nullptr, &chal),
        det({}, local_net(), [this](const Alert& a) {
          Alert x = a;
          resp.on_alert(x, now);
          alerts.push_back(x);
        }) {
    det.set_suspect_listener(
        [this](const Alert& a) {
          suspects.push_back(a);
          issues.push_back(resp.on_suspect(a, now));
        },
        ccfg.early_after);
  }
  static BlockConfig block_cfg() {
    BlockConfig c;
    c.local = local_net();
    c.allow.add(*Prefix::parse("198.18.0.41"));
    return c;
  }
  void feed(const PacketEvent& ev) {
    now = ev.ts_us;
    IpAddress who;
    Answer a = chal.on_packet(ev, who);
    if (a == Answer::Own) return;
    det.on_packet(ev);
    if (a == Answer::Proven) det.mark_verified(who, Proof::Challenge);
  }
  // A SYN to a closed port and the target's RST+ACK.
  void refused(const IpAddress& src, uint16_t port, int64_t t) {
    feed(tcp(src, 40000, kTarget, port, tcpf::kSyn, t));
    feed(tcp(kTarget, port, src, 40000, tcpf::kRst | tcpf::kAck, t + 10));
  }
  int64_t now = 0;
  Sent sent;
  Challenger chal;
  Responder resp;
  std::vector<Alert> alerts, suspects;
  std::vector<std::optional<Issue>> issues;
  Detector det;
};

TEST(EarlyChallenge, ASuspectIsChallengedAtItsSecondFailureBeforeDetection) {
  Pipeline p;
  p.refused(kScanner, 1, kSec);
  EXPECT_TRUE(p.suspects.empty());
  EXPECT_TRUE(p.sent.packets.empty());
  p.refused(kScanner, 2, kSec + 100);
  ASSERT_EQ(p.suspects.size(), 1u);
  EXPECT_TRUE(p.alerts.empty());  // not detected yet
  EXPECT_EQ(p.issues[0], Issue::Sent);
  ASSERT_EQ(p.sent.packets.size(), 1u);
  EXPECT_EQ(p.sent.packets[0].to.local_port, 2);  // the reverse of the latest probe
  EXPECT_EQ(p.chal.stats().early, 1u);
  // The answer comes before the detection: the source is verified when it is detected, and the
  // detection's record blocks at once (here: would block), with no second challenge.
  uint32_t cookie = p.sent.packets[0].ack;
  p.feed(tcp(kScanner, 40000, kTarget, 2, tcpf::kRst, kSec + 150, cookie));
  EXPECT_TRUE(p.alerts.empty());
  for (uint16_t port = 3; port <= 6; ++port) p.refused(kScanner, port, kSec + 100 * port);
  ASSERT_FALSE(p.alerts.empty());
  EXPECT_TRUE(p.alerts[0].verified);
  EXPECT_EQ(p.alerts[0].proof, Proof::Challenge);
  EXPECT_NE(p.alerts[0].block_note.find("would block"), std::string::npos)
      << p.alerts[0].block_note;
  EXPECT_EQ(p.sent.packets.size(), 1u);
  EXPECT_EQ(p.suspects.size(), 1u);  // once per source
}

TEST(EarlyChallenge, ASpoofedSuspectIsNeverProvenNorBlocked) {
  // A source that never sees our packets: its forger guesses the cookie, or sends nothing.
  Pipeline p;
  p.refused(kScanner, 1, kSec);
  p.refused(kScanner, 2, kSec + 100);
  ASSERT_EQ(p.sent.packets.size(), 1u);
  uint32_t cookie = p.sent.packets[0].ack;
  p.refused(kScanner, 3, kSec + 300);
  p.refused(kScanner, 4, kSec + 400);
  ASSERT_FALSE(p.alerts.empty());
  // The detection found the early challenge out: no second one within the interval.
  EXPECT_EQ(p.alerts[0].challenge, "sent");
  EXPECT_NE(p.alerts[0].block_note.find("challenged early"), std::string::npos)
      << p.alerts[0].block_note;
  EXPECT_EQ(p.sent.packets.size(), 1u);
  for (uint32_t guess = 1; guess <= 20; ++guess)
    p.feed(tcp(kScanner, 40000, kTarget, 2, tcpf::kRst, kSec + 500 + guess, cookie + guess));
  for (uint16_t port = 5; port <= 30; ++port) p.refused(kScanner, port, kSec + 1000 * port);
  // Even the right cookie after 8 wrong guesses is refused (the challenge is void).
  p.feed(tcp(kScanner, 40000, kTarget, 2, tcpf::kRst, kSec + 40000, cookie));
  for (const Alert& a : p.alerts) {
    EXPECT_FALSE(a.verified);
    EXPECT_FALSE(a.blocked);
  }
  EXPECT_EQ(p.chal.stats().proven, 0u);
  EXPECT_GE(p.chal.stats().wrong, 20u);
}

TEST(EarlyChallenge, ExemptSourcesAndDisabledEarlyChallengesSendNothing) {
  Pipeline p;
  IpAddress allowed = ip("198.18.0.41");
  p.refused(allowed, 1, kSec);
  p.refused(allowed, 2, kSec + 100);
  ASSERT_EQ(p.suspects.size(), 1u);
  EXPECT_EQ(p.issues[0], std::nullopt);
  EXPECT_TRUE(p.sent.packets.empty());

  ChallengeConfig off;
  off.early_after = 0;
  Pipeline q(off);
  for (uint16_t port = 1; port <= 3; ++port) q.refused(kScanner, port, kSec + 100 * port);
  EXPECT_TRUE(q.suspects.empty());
  EXPECT_TRUE(q.sent.packets.empty());
}

TEST(EarlyChallenge, EarlyChallengesLeaveTheReserveToDetectedSources) {
  Sent sent;
  ChallengeConfig cfg;
  cfg.rate = 10;
  cfg.burst = 20;
  cfg.early_reserve = 0.5;
  Challenger c(cfg, 1, 2, sent.sender());
  // A flood of suspects at one instant: early challenges stop with 10 tokens left...
  size_t early = 0;
  for (uint32_t i = 0; i < 1000; ++i)
    early += c.challenge(target(IpAddress::v4(0xC6128000 + i)), 10 * kSec, true) == Issue::Sent;
  EXPECT_EQ(early, 10u);
  EXPECT_EQ(c.stats().early, 10u);
  // ...which detected sources still get.
  size_t detected = 0;
  for (uint32_t i = 2000; i < 2100; ++i)
    detected += c.challenge(target(IpAddress::v4(0xC6128000 + i)), 10 * kSec) == Issue::Sent;
  EXPECT_EQ(detected, 10u);
  EXPECT_EQ(sent.packets.size(), 20u);
  // Per source, an early challenge counts like any other: one per interval.
  EXPECT_EQ(c.challenge(target(IpAddress::v4(0xC6128000)), 11 * kSec), Issue::TooSoon);
}

TEST(EarlyChallenge, OutstandingUntilAnsweredOrLate) {
  Sent sent;
  Challenger c({}, 1, 2, sent.sender());
  EXPECT_FALSE(c.outstanding(kScanner, kSec));
  ASSERT_EQ(c.challenge(target(), kSec, true), Issue::Sent);
  EXPECT_TRUE(c.outstanding(kScanner, kSec + 1));
  EXPECT_FALSE(c.outstanding(kScanner, kSec + c.config().timeout_us + 1));  // late
  IpAddress who;
  PacketEvent ans = tcp(kScanner, 40000, kTarget, 1000, tcpf::kRst, kSec + 50, sent.packets[0].ack);
  EXPECT_EQ(c.on_packet(ans, who), Answer::Proven);
  EXPECT_FALSE(c.outstanding(kScanner, kSec + 60));
}

// --- The kernel's check: elements and transaction ----------------------------------------------

TEST(KernelProof, ChallengeElementsMatchTheRulesConcatenations) {
  ChallengePacket p{target(), 0x11111111, 0xA1B2C3D4};
  SetElem chal, tried;
  ASSERT_TRUE(challenge_elements(p, 2000, chal, tried));
  EXPECT_STREQ(chal.set, "chal4");
  EXPECT_STREQ(tried.set, "try4");
  // ip saddr . ip daddr . ether saddr . tcp sport . tcp dport . tcp sequence, each field padded
  // to 4 bytes, network byte order.
  std::vector<uint8_t> want = {198,  18,   0,    66,  198,  18,   1, 1,  // addresses
                               2,    0,    0,    0,   0,    0x66, 0, 0,  // MAC + pad
                               0x9c, 0x40, 0,    0,   0x03, 0xe8, 0, 0,  // 40000, 1000
                               0xA1, 0xB2, 0xC3, 0xD4};                  // the cookie
  ASSERT_EQ(chal.key_len, want.size());
  EXPECT_EQ(std::vector<uint8_t>(chal.key.begin(), chal.key.begin() + chal.key_len), want);
  // ip saddr . ip daddr . tcp sport . tcp dport
  std::vector<uint8_t> want_try = {198, 18, 0, 66, 198, 18, 1, 1, 0x9c, 0x40, 0, 0, 3, 0xe8, 0, 0};
  EXPECT_EQ(std::vector<uint8_t>(tried.key.begin(), tried.key.begin() + tried.key_len), want_try);
  EXPECT_EQ(chal.timeout_ms, 2000u);
  EXPECT_EQ(tried.timeout_ms, 2000u);

  // IPv6: 16 + 16 + 8 + 4 + 4 + 4 bytes.
  ChallengeTarget t6 = target(ip("2001:db8::66"));
  t6.local = ip("2001:db8:1::1");
  ASSERT_TRUE(challenge_elements(ChallengePacket{t6, 1, 2}, 2000, chal, tried));
  EXPECT_STREQ(chal.set, "chal6");
  EXPECT_EQ(chal.key_len, 52);
  EXPECT_EQ(tried.key_len, 40);
  // No link addresses (nothing for `ether saddr` to match), or mixed families: no elements.
  ChallengeTarget nomac = target();
  nomac.has_macs = false;
  EXPECT_FALSE(challenge_elements(ChallengePacket{nomac, 1, 2}, 2000, chal, tried));
  ChallengeTarget mixed = target();
  mixed.local = ip("2001:db8:1::1");
  EXPECT_FALSE(challenge_elements(ChallengePacket{mixed, 1, 2}, 2000, chal, tried));
}

TEST(KernelProof, SeveralElementsAreOneTransaction) {
  ChallengePacket p{target(), 1, 2};
  SetElem el[2];
  ASSERT_TRUE(challenge_elements(p, 2000, el[0], el[1]));
  std::vector<char> buf(2 * kSetElemBatchMax);
  size_t n = build_setelems_batch(buf, 500, "gh", std::span<const SetElem>(el, 2));
  ASSERT_GT(n, 0u);
  std::vector<uint16_t> types;
  std::vector<uint32_t> seqs;
  const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  int left = static_cast<int>(n);
  while (mnl_nlmsg_ok(nlh, left)) {
    types.push_back(nlh->nlmsg_type);
    seqs.push_back(nlh->nlmsg_seq);
    if (nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM)) {
      EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_ACK);
    }
    nlh = mnl_nlmsg_next(nlh, &left);
  }
  const uint16_t elem = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
  EXPECT_EQ(types, (std::vector<uint16_t>{NFNL_MSG_BATCH_BEGIN, elem, elem, NFNL_MSG_BATCH_END}));
  EXPECT_EQ(seqs, (std::vector<uint32_t>{500, 501, 502, 503}));
  // Too small a buffer, no elements, too many: nothing built.
  std::vector<char> small(kSetElemBatchMax);
  EXPECT_EQ(build_setelems_batch(small, 1, "gh", std::span<const SetElem>(el, 2)), 0u);
  EXPECT_EQ(build_setelems_batch(buf, 1, "gh", {}), 0u);
  std::vector<SetElem> many(kMaxElemsPerBatch + 1, el[0]);
  std::vector<char> big(kSetElemBatchMax * many.size());
  EXPECT_EQ(build_setelems_batch(big, 1, "gh", many), 0u);
}

TEST(KernelProof, TheArmGoesInTheChallengesTransaction) {
  // The detection's arm and its challenge's two elements: one transaction, the arm first.
  ChallengePacket p{target(), 1, 0xA1B2C3D4};
  const SetElem arm = address_element("armed4", kScanner, 2000);
  std::array<SetElem, 3> el;
  ASSERT_EQ(challenge_transaction(&arm, p, 2000, el), 3u);
  EXPECT_STREQ(el[0].set, "armed4");
  EXPECT_EQ(std::vector<uint8_t>(el[0].key.begin(), el[0].key.begin() + el[0].key_len),
            (std::vector<uint8_t>{198, 18, 0, 66}));
  EXPECT_EQ(el[0].timeout_ms, 2000u);
  EXPECT_STREQ(el[1].set, "chal4");
  EXPECT_STREQ(el[2].set, "try4");
  SetElem chal, tried;
  ASSERT_TRUE(challenge_elements(p, 2000, chal, tried));
  EXPECT_EQ(std::vector<uint8_t>(el[1].key.begin(), el[1].key.begin() + el[1].key_len),
            std::vector<uint8_t>(chal.key.begin(), chal.key.begin() + chal.key_len));
  std::vector<char> buf(3 * kSetElemBatchMax);
  size_t n = build_setelems_batch(buf, 700, "gh", std::span<const SetElem>(el.data(), 3));
  ASSERT_GT(n, 0u);
  std::vector<uint16_t> types;
  const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  int left = static_cast<int>(n);
  while (mnl_nlmsg_ok(nlh, left)) {
    types.push_back(nlh->nlmsg_type);
    nlh = mnl_nlmsg_next(nlh, &left);
  }
  const uint16_t elem = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
  EXPECT_EQ(types,
            (std::vector<uint16_t>{NFNL_MSG_BATCH_BEGIN, elem, elem, elem, NFNL_MSG_BATCH_END}));
  // Without an arm: the challenge's two; without link addresses: the arm alone (added by
  // flush_arm), or nothing.
  EXPECT_EQ(challenge_transaction(nullptr, p, 2000, el), 2u);
  EXPECT_STREQ(el[0].set, "chal4");
  ChallengeTarget nomac = target();
  nomac.has_macs = false;
  EXPECT_EQ(challenge_transaction(&arm, ChallengePacket{nomac, 1, 2}, 2000, el), 1u);
  EXPECT_STREQ(el[0].set, "armed4");
  EXPECT_EQ(challenge_transaction(nullptr, ChallengePacket{nomac, 1, 2}, 2000, el), 0u);
  // IPv6: the armed6 key is the 16 address bytes.
  const SetElem arm6 = address_element("armed6", ip("2001:db8::66"), 2000);
  EXPECT_EQ(arm6.key_len, 16);
}

}  // namespace
}  // namespace gh::detect
