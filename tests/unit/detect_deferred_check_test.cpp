// Challenge first, the kernel's check after (blocker.h defer_answer()/commit_deferred(),
// DeferredChecks; README "Challenge first"): a challenge that was not prepared leaves before its
// answer's elements are committed; its answer, when it comes before the commit (a fast link), is
// checked in this process alone, with the same rules (right answer, wrong sequence number, late,
// replayed), and the kernel's check of a source settled so is never committed.
#include <gtest/gtest.h>

#include <vector>

#include "challenge_fixture.h"
#include "detect/blocker.h"
#include "detect/challenge.h"

namespace gh::detect {
namespace {

using namespace fixture;

DeferredChecks::Entry entry(const IpAddress& src, bool arm, uint32_t cookie = 7) {
  DeferredChecks::Entry e;
  e.src = src;
  SetElem a = address_element("armed4", src, 2000);
  e.n = challenge_transaction(arm ? &a : nullptr, ChallengePacket{challenge_target(src), 1, cookie},
                              2000, e.elems);
  e.arm = arm;
  return e;
}

std::vector<uint8_t> key(const SetElem& e) {
  return std::vector<uint8_t>(e.key.begin(), e.key.begin() + e.key_len);
}

TEST(DeferredCheck, UnsettledEntriesAreCommittedInOrderWithTheChallengesElements) {
  DeferredChecks d;
  const IpAddress b = ip("198.18.0.67");
  ASSERT_TRUE(d.push(entry(kScanner, true, 0xA1B2C3D4)));
  ASSERT_TRUE(d.push(entry(b, false)));
  std::vector<IpAddress> dropped;
  auto out = d.take([](const IpAddress&) { return false; }, dropped);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(dropped.empty());
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(out[0].src, kScanner);
  ASSERT_EQ(out[0].n, 3u);
  EXPECT_STREQ(out[0].elems[0].set, "armed4");
  EXPECT_STREQ(out[0].elems[1].set, "chal4");
  EXPECT_STREQ(out[0].elems[2].set, "try4");
  // The very elements the check before the challenge would have sent (expect_answer).
  SetElem chal, tried;
  ASSERT_TRUE(
      challenge_elements(ChallengePacket{challenge_target(), 1, 0xA1B2C3D4}, 2000, chal, tried));
  EXPECT_EQ(key(out[0].elems[1]), key(chal));
  EXPECT_EQ(key(out[0].elems[2]), key(tried));
  EXPECT_EQ(out[1].src, b);
  EXPECT_EQ(out[1].n, 2u);
}

TEST(DeferredCheck, ASettledSourceGetsNoKernelCheckAndLosesItsArm) {
  // Its answer was read and checked in this process before the commit: the kernel must not get
  // the check (a replay of the same RST would otherwise prove it there).
  DeferredChecks d;
  const IpAddress b = ip("198.18.0.67");
  ASSERT_TRUE(d.push(entry(kScanner, true)));
  ASSERT_TRUE(d.push(entry(b, true)));
  std::vector<IpAddress> dropped;
  auto out = d.take([](const IpAddress& s) { return s == kScanner; }, dropped);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].src, b);
  EXPECT_EQ(dropped, std::vector<IpAddress>{kScanner});
}

TEST(DeferredCheck, Bounded) {
  DeferredChecks d;
  for (size_t i = 0; i < DeferredChecks::kMax; ++i) ASSERT_TRUE(d.push(entry(kScanner, false)));
  EXPECT_FALSE(d.push(entry(kScanner, false)));
  EXPECT_EQ(d.size(), DeferredChecks::kMax);
}

// The answer before the kernel holds the check: this process's own check decides, by the usual
// rules, and the source is settled (no kernel check is committed for it) exactly when its
// challenge is no longer outstanding.
struct ChallengeFirst : ::testing::Test {
  Sent sent;
  Challenger c{ChallengeConfig{}, 1, 2, sent.sender()};
  uint32_t cookie() {
    EXPECT_EQ(c.challenge(challenge_target(), kSec), Issue::Sent);
    return sent.packets.back().ack;
  }
  bool settled(int64_t now) { return !c.outstanding(kScanner, now); }
};

TEST_F(ChallengeFirst, TheRightAnswerProvesOnceAndSettles) {
  uint32_t k = cookie();
  EXPECT_FALSE(settled(kSec + 10));
  IpAddress proven;
  EXPECT_EQ(c.on_packet(challenge_rst(challenge_target(), k, kSec + 10), proven), Answer::Proven);
  EXPECT_EQ(proven, kScanner);
  EXPECT_TRUE(settled(kSec + 20));
  // Replayed: proves nothing more.
  EXPECT_EQ(c.on_packet(challenge_rst(challenge_target(), k, kSec + 30), proven), Answer::Replayed);
}

TEST_F(ChallengeFirst, AWrongSequenceNumberProvesNothingAndLeavesItOutstanding) {
  uint32_t k = cookie();
  IpAddress proven;
  EXPECT_EQ(c.on_packet(challenge_rst(challenge_target(), k + 1, kSec + 10), proven),
            Answer::WrongSeq);
  EXPECT_FALSE(settled(kSec + 20));  // the kernel still gets its check (one guess)
  EXPECT_EQ(c.on_packet(challenge_rst(challenge_target(), k, kSec + 30), proven), Answer::Proven);
}

TEST_F(ChallengeFirst, ALateAnswerProvesNothingAndIsSettled) {
  uint32_t k = cookie();
  const int64_t late = kSec + ChallengeConfig{}.timeout_us + 1;
  EXPECT_TRUE(settled(late));  // no kernel check for a challenge past its timeout
  IpAddress proven;
  EXPECT_EQ(c.on_packet(challenge_rst(challenge_target(), k, late), proven), Answer::Late);
}

}  // namespace
}  // namespace gh::detect
