// Prepared challenges (challenge.h prepare(), blocker.h prepare()/take_prepared(), response.h):
// a suspect's challenge drawn at its second failure and sent nowhere, so that the kernel holds
// its answer's check before the detection; the detection then sends exactly that challenge.
// The challenge's proof rules (right answer, wrong sequence number, late, replayed) hold for it
// as for any other.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "challenge_fixture.h"
#include "detect/blocker.h"
#include "detect/challenge.h"
#include "detect/detector.h"
#include "detect/response.h"

namespace gh::detect {
namespace {

using namespace fixture;  // the shared lab: kSec, kScanner, kTarget, their MACs, Sent

ChallengeTarget target(uint16_t local_port = 1000, const IpAddress& src = kScanner) {
  return challenge_target(src, kTarget, local_port);
}

// The scanner's RST to its probe of `local_port`.
PacketEvent rst(uint16_t local_port, int64_t ts, uint32_t seq) {
  return challenge_rst(target(local_port), seq, ts);
}

TEST(PreparedChallenge, SendsNothingAndTheNextChallengeSendsIt) {
  Sent sent;
  Challenger c({}, 1, 2, sent.sender());
  std::optional<ChallengePacket> p = c.prepare(target(2), kSec);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->prepared);
  EXPECT_TRUE(sent.packets.empty());
  EXPECT_FALSE(c.outstanding(kScanner, kSec));  // nothing is out: nothing can be answered
  EXPECT_TRUE(c.prepared(kScanner, kSec));
  EXPECT_EQ(c.stats().prepared, 1u);
  EXPECT_EQ(c.stats().sent, 0u);
  // The detection (its latest probe on port 7) sends the prepared packet, to port 2.
  EXPECT_EQ(c.challenge(target(7), kSec + 300), Issue::Sent);
  ASSERT_EQ(sent.packets.size(), 1u);
  EXPECT_TRUE(sent.packets[0].prepared);
  EXPECT_EQ(sent.packets[0].ack, p->ack);
  EXPECT_EQ(sent.packets[0].seq, p->seq);
  EXPECT_EQ(sent.packets[0].to.local_port, 2);
  EXPECT_FALSE(c.prepared(kScanner, kSec + 300));
  EXPECT_EQ(c.stats().prepared_sent, 1u);
  // The right answer proves the source once.
  IpAddress who;
  EXPECT_EQ(c.on_packet(rst(2, kSec + 400, p->ack), who), Answer::Proven);
  EXPECT_EQ(who, kScanner);
  EXPECT_EQ(c.on_packet(rst(2, kSec + 500, p->ack), who), Answer::Replayed);
}

TEST(PreparedChallenge, ItsAnswerBeforeItLeavesProvesNothing) {
  // Drawn, not sent: a RST carrying the cookie (a lucky guess) finds no challenge out.
  Challenger c({}, 1, 2, Sent{}.sender());
  std::optional<ChallengePacket> p = c.prepare(target(2), kSec);
  ASSERT_TRUE(p);
  IpAddress who;
  EXPECT_NE(c.on_packet(rst(2, kSec + 10, p->ack), who), Answer::Proven);
  EXPECT_EQ(c.stats().proven, 0u);
}

TEST(PreparedChallenge, WrongSequenceAndLateAnswers) {
  Sent sent;
  ChallengeConfig cfg;
  cfg.timeout_us = 2 * kSec;
  Challenger c(cfg, 1, 2, sent.sender());
  std::optional<ChallengePacket> p = c.prepare(target(2), kSec);
  ASSERT_TRUE(p);
  ASSERT_EQ(c.challenge(target(5), kSec + 100), Issue::Sent);
  IpAddress who;
  EXPECT_EQ(c.on_packet(rst(2, kSec + 200, p->ack + 1), who), Answer::WrongSeq);
  // Late: the timeout runs from the challenge's send, not from its preparation.
  EXPECT_EQ(c.on_packet(rst(2, kSec + 100 + 2 * kSec + 1, p->ack), who), Answer::Late);
  EXPECT_EQ(c.stats().proven, 0u);
}

TEST(PreparedChallenge, AStalePreparationIsNotUsed) {
  Sent sent;
  Challenger c({}, 1, 2, sent.sender());
  std::optional<ChallengePacket> p = c.prepare(target(2), kSec);
  ASSERT_TRUE(p);
  // Past the timeout the kernel's elements may be gone: a fresh cookie, with its transaction.
  const int64_t later = kSec + c.config().timeout_us + 1;
  EXPECT_FALSE(c.prepared(kScanner, later));
  ASSERT_EQ(c.challenge(target(7), later), Issue::Sent);
  ASSERT_EQ(sent.packets.size(), 1u);
  EXPECT_FALSE(sent.packets[0].prepared);
  EXPECT_NE(sent.packets[0].ack, p->ack);
  EXPECT_EQ(sent.packets[0].to.local_port, 7);
}

TEST(PreparedChallenge, AnEarlyChallengeNeverTakesIt) {
  Sent sent;
  Challenger c({}, 1, 2, sent.sender());
  std::optional<ChallengePacket> p = c.prepare(target(2), kSec);
  ASSERT_TRUE(p);
  ASSERT_EQ(c.challenge(target(3), kSec + 10, /*early=*/true), Issue::Sent);
  ASSERT_EQ(sent.packets.size(), 1u);
  EXPECT_FALSE(sent.packets[0].prepared);
  EXPECT_NE(sent.packets[0].ack, p->ack);
  EXPECT_FALSE(c.prepared(kScanner, kSec + 10));
}

TEST(PreparedChallenge, BudgetsAndWhenNoneIsPrepared) {
  ChallengeConfig cfg;
  cfg.rate = 10;
  cfg.burst = 5;
  Sent sent;
  Challenger c(cfg, 1, 2, sent.sender());
  // Preparations have their own bucket: 5 at one instant, then 10 per second.
  size_t n = 0;
  for (uint32_t i = 0; i < 50; ++i)
    n += c.prepare(target(2, IpAddress::v4(0xC6128000 + i)), kSec).has_value();
  EXPECT_EQ(n, 5u);
  EXPECT_TRUE(c.prepare(target(2, IpAddress::v4(0xC6129000)), kSec + kSec / 10).has_value());
  // They spend none of the challenges' bucket.
  size_t sentn = 0;
  for (uint32_t i = 100; i < 150; ++i)
    sentn += c.challenge(target(2, IpAddress::v4(0xC6128000 + i)), kSec + kSec / 10) == Issue::Sent;
  EXPECT_EQ(sentn, 5u);
  EXPECT_TRUE(sent.packets.size() == 5u);
  for (const ChallengePacket& p : sent.packets) EXPECT_FALSE(p.prepared);

  // One preparation per source at a time; none while a challenge is out or within the interval.
  Challenger d({}, 1, 2, sent.sender());
  EXPECT_TRUE(d.prepare(target(2), kSec));
  EXPECT_FALSE(d.prepare(target(3), kSec + 10));
  ASSERT_EQ(d.challenge(target(4), kSec + 20), Issue::Sent);
  EXPECT_FALSE(d.prepare(target(5), kSec + 30));
  EXPECT_FALSE(d.prepare(target(5), kSec + d.config().interval_us - 1));
  EXPECT_TRUE(d.prepare(target(5), kSec + 20 + d.config().interval_us));
  d.forget_prepared(kScanner);
  EXPECT_FALSE(d.prepared(kScanner, kSec + 20 + d.config().interval_us));

  // Reading a capture, or no probe to answer: nothing prepared.
  ChallengeConfig sim;
  sim.simulate = true;
  Challenger s(sim, 1, 2, nullptr);
  EXPECT_FALSE(s.prepare(target(2), kSec));
  ChallengeTarget none = target(0);
  none.source_port = 0;
  EXPECT_FALSE(d.prepare(none, kSec));
}

TEST(PreparedChallenge, KernelElementsGoToThePreparedSets) {
  ChallengePacket p{target(2), 7, 0xA1B2C3D4, true};
  SetElem chal, tried, pchal, ptried;
  ASSERT_TRUE(challenge_elements(p, 4000, chal, tried));
  ASSERT_TRUE(prepared_elements(p, 4000, pchal, ptried));
  EXPECT_STREQ(pchal.set, "pchal4");
  EXPECT_STREQ(ptried.set, "try4");  // the one guess per four-tuple is shared with challenges
  EXPECT_EQ(pchal.key, chal.key);
  EXPECT_EQ(pchal.key_len, chal.key_len);
  EXPECT_EQ(ptried.key, tried.key);
  EXPECT_EQ(pchal.timeout_ms, 4000u);
  ChallengeTarget t6 = target(2);
  t6.source = ip("2001:db8::66");
  t6.local = ip("2001:db8::1");
  ASSERT_TRUE(prepared_elements(ChallengePacket{t6, 1, 2, true}, 4000, pchal, ptried));
  EXPECT_STREQ(pchal.set, "pchal6");
  EXPECT_STREQ(ptried.set, "try6");
  ChallengeTarget nomac = target(2);
  nomac.has_macs = false;
  EXPECT_FALSE(prepared_elements(ChallengePacket{nomac, 1, 2, true}, 4000, pchal, ptried));
}

TEST(PreparedChallenge, NoKernelNoPreparation) {
  // Without a blocker whose kernel checks answers (a dry run, or no netlink), a suspect gets
  // nothing: no preparation, no packet.
  ChallengeConfig cfg;
  cfg.prepare_after = 2;
  Sent sent;
  Challenger c(cfg, 1, 2, sent.sender());
  BlockConfig bc;
  bc.local.add(*Prefix::parse("198.18.1.0/24"));
  Responder r(bc, nullptr, &c);
  Alert a;
  a.src = kScanner;
  a.last_probe.present = true;
  a.last_probe.local = kTarget;
  a.last_probe.source_port = 40000;
  a.last_probe.local_port = 2;
  a.last_probe.has_macs = true;
  EXPECT_EQ(r.on_suspect(a, kSec), std::nullopt);
  EXPECT_FALSE(c.prepared(kScanner, kSec));
  EXPECT_EQ(c.stats().prepared, 0u);
  EXPECT_TRUE(sent.packets.empty());
}

}  // namespace
}  // namespace gh::detect
