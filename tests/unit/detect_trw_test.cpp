#include "detect/trw.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace gh::detect {
namespace {

// Feeds "F"/"S" outcomes; returns the 1-based step at which `want` was first returned, 0 if never.
int step_of(const TrwModel& m, TrwWalk& w, const std::string& seq, TrwVerdict want) {
  for (size_t i = 0; i < seq.size(); ++i)
    if (w.observe(m, seq[i] == 'S') == want) return static_cast<int>(i + 1);
  return 0;
}

TEST(Trw, PaperDefaultsGiveWaldThresholds) {
  TrwModel m{TrwParams{}};
  EXPECT_NEAR(std::exp(m.log_eta1()), 99.0, 1e-9);
  EXPECT_NEAR(std::exp(m.log_eta0()), 0.01 / 0.99, 1e-12);
  EXPECT_NEAR(std::exp(m.log_success()), 0.25, 1e-12);
  EXPECT_NEAR(std::exp(m.log_failure()), 4.0, 1e-12);
}

TEST(Trw, FourFailuresMakeAScanner) {
  TrwModel m{TrwParams{}};
  TrwWalk w;
  EXPECT_EQ(w.observe(m, false), TrwVerdict::Pending);  // 4
  EXPECT_EQ(w.observe(m, false), TrwVerdict::Pending);  // 16
  EXPECT_EQ(w.observe(m, false), TrwVerdict::Pending);  // 64 < 99
  EXPECT_EQ(w.observe(m, false), TrwVerdict::Scanner);  // 256 >= 99
  EXPECT_NEAR(w.ratio(), 256.0, 0.01);
  // Reported once; the walk goes on accumulating evidence.
  EXPECT_EQ(w.observe(m, false), TrwVerdict::Pending);
  EXPECT_NEAR(w.ratio(), 1024.0, 0.1);
  EXPECT_TRUE(w.flagged());
}

TEST(Trw, FourSuccessesAreBenignAndRestartTheWalk) {
  TrwModel m{TrwParams{}};
  TrwWalk w;
  EXPECT_EQ(step_of(m, w, "SSSS", TrwVerdict::Benign), 4);  // 0.25^4 = 0.0039 <= 0.0101
  EXPECT_DOUBLE_EQ(w.ratio(), 1.0);
  // A benign past does not hide a later scan: four failures still suffice.
  EXPECT_EQ(step_of(m, w, "FFFF", TrwVerdict::Scanner), 4);
}

TEST(Trw, MixedSequencesCrossWhereTheProductSays) {
  TrwModel m{TrwParams{}};
  {
    TrwWalk w;  // F S cancel out (4 * 0.25 = 1), then four failures
    EXPECT_EQ(step_of(m, w, "FSFFFF", TrwVerdict::Scanner), 6);
  }
  {
    TrwWalk w;  // S F F F: 0.25*64 = 16; F -> 64; F -> 256
    EXPECT_EQ(step_of(m, w, "SFFFFF", TrwVerdict::Scanner), 6);
  }
  {
    TrwWalk w;  // one success in three slows it down: 4, 16, 4, 16, 64, 16, 64, 256
    EXPECT_EQ(step_of(m, w, "FFSFFSFFSFFS", TrwVerdict::Scanner), 8);
  }
}

TEST(Trw, CustomParameters) {
  TrwParams p;
  p.theta0 = 0.9;
  p.theta1 = 0.1;  // failure multiplies by 9: 81 < 99 <= 729
  TrwModel m{p};
  TrwWalk w;
  EXPECT_EQ(step_of(m, w, "FFFF", TrwVerdict::Scanner), 3);
  p = TrwParams{};
  p.p_detect = 0.999;
  p.p_false = 0.001;  // eta1 = 999: 4^5 = 1024 is the first power above it
  TrwModel strict{p};
  TrwWalk w2;
  EXPECT_EQ(step_of(strict, w2, "FFFFFF", TrwVerdict::Scanner), 5);
}

TEST(Trw, ScoreIsClampedAndFinite) {
  TrwModel m{TrwParams{}};
  TrwWalk w;
  for (int i = 0; i < 100000; ++i) w.observe(m, false);
  EXPECT_TRUE(std::isfinite(w.ratio()));
  EXPECT_LE(w.ratio(), 1e300);
  EXPECT_GT(w.ratio(), 1e290);
}

TEST(Trw, ValidationNamesTheBadParameter) {
  EXPECT_EQ(TrwParams{}.validate(), nullptr);
  TrwParams p;
  p.theta1 = 0.9;
  ASSERT_NE(p.validate(), nullptr);
  EXPECT_NE(std::string(p.validate()).find("theta1"), std::string::npos);
  p = TrwParams{};
  p.theta0 = 1.0;
  EXPECT_NE(p.validate(), nullptr);
  p = TrwParams{};
  p.p_false = 0.995;
  EXPECT_NE(p.validate(), nullptr);
}

}  // namespace
}  // namespace gh::detect
