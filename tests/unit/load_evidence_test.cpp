// merge_load (core/load_evidence.h): the audit log's load evidence of a run whose discovery
// sweep and port stages each measured their own: maxima kept, counts summed, an unmeasured side
// (a -sn run's port stages, a -Pn run's discovery) changing nothing.
#include "core/load_evidence.h"

#include <gtest/gtest.h>

namespace gh {
namespace {

LoadEvidence evidence(double rate, double host_rate, double infl, uint64_t loss, uint64_t rtt) {
  LoadEvidence e;
  e.measured = true;
  e.max_rate = rate;
  e.max_host_rate = host_rate;
  e.max_rtt_inflation = infl;
  e.max_rtt_inflation_ms = infl * 2;
  e.backoffs_loss = loss;
  e.backoffs_rtt = rtt;
  e.backoffs_icmp = 1;
  e.backoffs_kernel = 2;
  e.hosts_backed_off = loss + rtt;
  e.hosts_impaired = 1;
  return e;
}

TEST(LoadEvidence, DiscoveryAloneIsTheRunsEvidence) {
  LoadEvidence ports;  // -sn: no port stage measured anything
  const LoadEvidence disc = evidence(12000, 40, 1.5, 3, 0);
  merge_load(ports, disc);
  EXPECT_TRUE(ports.measured);
  EXPECT_EQ(ports.max_rate, 12000);
  EXPECT_EQ(ports.backoffs(), 6u);
  EXPECT_EQ(ports.hosts_impaired, 1u);
}

TEST(LoadEvidence, MaximaKeptCountsSummed) {
  LoadEvidence total = evidence(50000, 30, 1.2, 1, 2);
  merge_load(total, evidence(12000, 45, 3.0, 4, 0));
  EXPECT_EQ(total.max_rate, 50000);
  EXPECT_EQ(total.max_host_rate, 45);
  EXPECT_EQ(total.max_rtt_inflation, 3.0);
  EXPECT_EQ(total.max_rtt_inflation_ms, 6.0);
  EXPECT_EQ(total.backoffs_loss, 5u);
  EXPECT_EQ(total.backoffs_rtt, 2u);
  EXPECT_EQ(total.backoffs_icmp, 2u);
  EXPECT_EQ(total.backoffs_kernel, 4u);
  EXPECT_EQ(total.hosts_backed_off, 7u);
  EXPECT_EQ(total.hosts_impaired, 2u);
  // An unmeasured side (a -Pn run has no discovery sweep) changes nothing.
  const LoadEvidence before = total;
  merge_load(total, LoadEvidence{});
  EXPECT_EQ(total.max_rate, before.max_rate);
  EXPECT_EQ(total.backoffs(), before.backoffs());
}

}  // namespace
}  // namespace gh
