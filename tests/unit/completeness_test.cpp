#include "scan/completeness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace gh {
namespace {

TEST(Completeness, NoRetryPassMeasuresNoLoss) {
  std::vector<PassCounts> one{{100, 40}};
  EXPECT_FALSE(LossModel::loss(one).has_value());
  EXPECT_FALSE(LossModel::loss({}).has_value());
}

TEST(Completeness, LossIsTheShareAnsweredOnlyOnRetry) {
  // 10,000 responsive probes, q = 0.1: pass 0 settles 9,000, pass 1 900.
  std::vector<PassCounts> passes{{196608, 9000}, {187608, 900}};
  EXPECT_NEAR(*LossModel::loss(passes), 0.1, 0.001);
  // Nothing new on retry: a small loss, not zero.
  std::vector<PassCounts> clean{{65536, 655}, {64881, 0}};
  double q = *LossModel::loss(clean);
  EXPECT_GT(q, 0);
  EXPECT_LT(q, 0.001);
}

TEST(Completeness, SinglePortMissedFollowsTheRetries) {
  MissedInput in;
  in.loss = 0.1;
  in.found = 1000;
  in.single_port = true;
  in.answered_passes = 3;  // 0.1^3 / (1 - 0.1^3) of what was found
  EXPECT_NEAR(expected_missed(in), 1000 * 0.001 / 0.999, 1e-9);
  in.answered_passes = 4;
  EXPECT_LT(expected_missed(in), 0.11);
}

TEST(Completeness, SilentHostsWeighByHowManyPortsAnswered) {
  MissedInput in;
  in.loss = 0.1;
  in.found = 0;
  in.answered_passes = 5;
  in.silent_passes = 2;
  in.hosts_by_answers = {0, 0, 100};  // 100 hosts answered on 3+ ports
  double three = expected_missed(in);
  EXPECT_NEAR(three, 100 * 3 * std::pow(0.1, 6) / (1 - std::pow(0.1, 6)), 1e-12);
  in.hosts_by_answers = {100, 0, 0};  // the same hosts with one port each: far more missed
  double one = expected_missed(in);
  EXPECT_NEAR(one, 100 * 0.01 / 0.99, 1e-12);
  EXPECT_GT(one, 1000 * three);
}

TEST(Completeness, NoLossNothingMissed) {
  MissedInput in;
  in.loss = 0;
  in.found = 500;
  in.hosts_by_answers = {10, 20, 30};
  EXPECT_EQ(expected_missed(in), 0);
}

// Host discovery: a clean sweep of a /16 with 655 live hosts stops after one retry; a lossy one
// (30% of the replies lost) goes on until few live hosts can be missing; a sweep that found
// nothing stops after the retry.
TEST(Completeness, SweepAgainFollowsTheMeasuredLoss) {
  std::vector<PassCounts> p{{65534, 655}};
  EXPECT_TRUE(sweep_again(p, 655)) << "one pass measures nothing";
  p.push_back({64879, 0});
  EXPECT_FALSE(sweep_again(p, 655));
  // 30% lost: 1000 live, 700 found in pass 0, 210 in pass 1 (q = 0.3).
  std::vector<PassCounts> lossy{{65534, 700}, {64834, 210}};
  uint64_t found = 910;
  int passes = 2;
  double missing = 90;
  while (sweep_again(lossy, found) && passes < 20) {
    const double got = missing * 0.7;
    missing -= got;
    found += static_cast<uint64_t>(got);
    lossy.push_back({64000, static_cast<uint64_t>(got)});
    ++passes;
  }
  EXPECT_EQ(passes, 10) << "1000 x 0.3^P must fall under 0.01";
  std::vector<PassCounts> none{{256, 0}, {256, 0}};
  EXPECT_FALSE(sweep_again(none, 0));
  // Three hosts of a /24, none needing a retry: q is still uncertain, one more pass.
  std::vector<PassCounts> small{{254, 3}, {251, 0}};
  EXPECT_TRUE(sweep_again(small, 3));
  small.push_back({251, 0});
  EXPECT_FALSE(sweep_again(small, 3));
}

}  // namespace
}  // namespace gh
