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

}  // namespace
}  // namespace gh
