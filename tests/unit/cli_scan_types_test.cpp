// Scan types on the command line (cli/scan_options.h) and the port stages they make
// (scan/probe_registry.h, stage_configs): one type, or -sU beside a TCP type (nmap's -sS -sU),
// with -p, T:/U: and --top-ports applied as nmap applies them.
#include <gtest/gtest.h>

#include "cli/scan_options.h"
#include "core/error.h"
#include "scan/probe_registry.h"

namespace gh {
namespace {

ScanConfig parse(std::vector<std::string> args) {
  args.push_back("--no-db");
  args.push_back("198.18.0.2");
  return parse_scan_args(args, /*raw_allowed=*/true).config;
}

const std::vector<uint16_t> kNone;

TEST(CliScanTypes, SynAndUdpScanPortsWithoutPrefixOverBothProtocols) {
  ScanConfig c = parse({"-sS", "-sU", "-p", "53,7"});
  EXPECT_EQ(c.type, ScanType::Syn);
  EXPECT_TRUE(c.also_udp);
  EXPECT_EQ(c.ports.tcp, (std::vector<uint16_t>{7, 53}));
  EXPECT_EQ(c.ports.udp, (std::vector<uint16_t>{7, 53}));
  std::vector<ScanConfig> st = stage_configs(c);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].type, ScanType::Syn);
  EXPECT_FALSE(st[0].also_udp);
  EXPECT_EQ(st[0].ports.tcp, (std::vector<uint16_t>{7, 53}));
  EXPECT_EQ(st[0].ports.udp, kNone);
  EXPECT_EQ(st[1].type, ScanType::Udp);
  EXPECT_EQ(st[1].ports.tcp, kNone);
  EXPECT_EQ(st[1].ports.udp, (std::vector<uint16_t>{7, 53}));
  // The order of the flags does not matter.
  ScanConfig d = parse({"-sU", "-p", "53", "-sS"});
  EXPECT_EQ(d.type, ScanType::Syn);
  EXPECT_TRUE(d.also_udp);
}

TEST(CliScanTypes, PrefixesKeepTheirMeaning) {
  // 22 (before any prefix) is both protocols' port; T: and U: switch for what follows.
  ScanConfig c = parse({"-sS", "-sU", "-p", "22,T:80,U:53,161"});
  EXPECT_EQ(c.ports.tcp, (std::vector<uint16_t>{22, 80}));
  EXPECT_EQ(c.ports.udp, (std::vector<uint16_t>{22, 53, 161}));
  // Only UDP ports: the TCP stage has nothing to scan and is left out.
  ScanConfig u = parse({"-sS", "-sU", "-p", "U:53"});
  std::vector<ScanConfig> st = stage_configs(u);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].type, ScanType::Udp);
  EXPECT_EQ(st[0].ports.udp, (std::vector<uint16_t>{53}));
}

TEST(CliScanTypes, TopPortsGiveNOfEachProtocol) {
  ScanConfig c = parse({"-sS", "-sU", "--top-ports", "20"});
  EXPECT_EQ(c.ports.tcp.size(), 20u);
  EXPECT_EQ(c.ports.udp.size(), 20u);
  ScanConfig f = parse({"-sS", "-sU", "-F"});
  EXPECT_EQ(f.ports.tcp.size(), 100u);
  EXPECT_EQ(f.ports.udp.size(), 100u);
  // The UDP ranking, not the TCP one: 53 and 161 are among the top 20 UDP ports.
  auto has = [](const std::vector<uint16_t>& v, uint16_t p) {
    return std::find(v.begin(), v.end(), p) != v.end();
  };
  EXPECT_TRUE(has(c.ports.udp, 161));
  EXPECT_TRUE(has(c.ports.udp, 53));
  EXPECT_FALSE(has(c.ports.tcp, 161));
  ScanConfig u = parse({"-sU", "--top-ports", "20"});
  EXPECT_EQ(u.ports.udp, c.ports.udp);
  EXPECT_TRUE(u.ports.tcp.empty());
}

TEST(CliScanTypes, UdpBesideConnectAndFlagScans) {
  ScanConfig t = parse({"-sT", "-sU", "-p", "53"});
  EXPECT_EQ(t.type, ScanType::Connect);
  EXPECT_TRUE(t.also_udp);
  EXPECT_TRUE(stages_need_raw(t));  // the UDP stage
  ScanConfig f = parse({"-sF", "-sU", "-p", "53"});
  EXPECT_EQ(f.type, ScanType::Fin);
  EXPECT_TRUE(f.also_udp);
  ScanConfig s = parse({"-sS", "-sU", "--scanflags", "SYNFIN", "-p", "53"});
  std::vector<ScanConfig> st = stage_configs(s);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_TRUE(st[0].scan_flags.has_value());
  EXPECT_EQ(raw_port_module(st[0]), "tcp_custom");
  EXPECT_FALSE(st[1].scan_flags.has_value());
  EXPECT_EQ(raw_port_module(st[1]), "udp");
}

TEST(CliScanTypes, OneTypeAloneIsOneStage) {
  ScanConfig u = parse({"-sU", "-p", "53"});
  EXPECT_EQ(u.type, ScanType::Udp);
  EXPECT_FALSE(u.also_udp);
  ASSERT_EQ(stage_configs(u).size(), 1u);
  ScanConfig s = parse({"-sS", "-p", "53"});
  EXPECT_FALSE(s.also_udp);
  ASSERT_EQ(stage_configs(s).size(), 1u);
  EXPECT_EQ(stage_configs(s)[0].ports.tcp, (std::vector<uint16_t>{53}));
}

TEST(CliScanTypes, BadCombinationsAreOneLineUsageErrors) {
  EXPECT_THROW(parse({"-sS", "-sT"}), UsageError);
  EXPECT_THROW(parse({"-sS", "-sF", "-sU"}), UsageError);
  EXPECT_THROW(parse({"-sL", "-sU"}), UsageError);
  EXPECT_THROW(parse({"-sU", "--scanflags", "SYN"}), UsageError);
  EXPECT_THROW(parse({"-sS", "-p", "U:53"}), UsageError);
  EXPECT_THROW(parse({"-sT", "-sU", "-Pn", "--checkpoint", "/tmp/gh-never.resume"}), UsageError);
  // -Pn -sS -sU is checkpointed (the stage under way and its progress: scan/checkpoint.h).
  EXPECT_NO_THROW(parse({"-sS", "-sU", "-Pn", "--checkpoint", "/tmp/gh-never.resume"}));
}

}  // namespace
}  // namespace gh
