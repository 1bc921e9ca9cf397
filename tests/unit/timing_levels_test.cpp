// The -T levels' rates (scan/config.h Timing): what host discovery may send at each level.
#include <gtest/gtest.h>

#include <chrono>

#include "scan/config.h"

namespace gh {
namespace {

TEST(DiscoveryRate, PoliteLevelsSendOneProbePerScanDelay) {
  // nmap's -T0..-T2 serialize their probes: 5 min, 15 s and 0.4 s apart.
  EXPECT_DOUBLE_EQ(Timing::for_level(0).discovery_rate(), 1.0 / 300.0);
  EXPECT_DOUBLE_EQ(Timing::for_level(1).discovery_rate(), 1.0 / 15.0);
  EXPECT_DOUBLE_EQ(Timing::for_level(2).discovery_rate(), 2.5);
}

TEST(DiscoveryRate, FastLevelsHaveNoFixedRate) {
  // -T3/-T4: the congestion control sets it; -T5: as fast as this machine sends.
  for (int level : {3, 4, 5}) EXPECT_EQ(Timing::for_level(level).discovery_rate(), 0) << level;
}

TEST(DiscoveryRate, MaxRateLowersAndMinRateRaisesThePoliteRate) {
  Timing t = Timing::for_level(2);
  t.max_rate = 1;
  EXPECT_DOUBLE_EQ(t.discovery_rate(), 1.0);
  t.max_rate = 100;  // a cap above the pacing does not speed it up
  EXPECT_DOUBLE_EQ(t.discovery_rate(), 2.5);
  t.min_rate = 50;
  EXPECT_DOUBLE_EQ(t.discovery_rate(), 50.0);
  Timing t5 = Timing::for_level(5);
  t5.max_rate = 1000;
  EXPECT_DOUBLE_EQ(t5.discovery_rate(), 1000.0);
  t5.scan_delay = std::chrono::milliseconds(10);  // --scan-delay at any level
  EXPECT_DOUBLE_EQ(t5.discovery_rate(), 100.0);
}

}  // namespace
}  // namespace gh
