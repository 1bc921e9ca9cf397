#include "service/services.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "core/build_paths.h"
#include "core/error.h"
#include "targets/ports.h"

namespace gh {
namespace {

ServiceTable nmap_table(const std::string& text) {
  std::istringstream in(text);
  return ServiceTable::from_nmap_services(in);
}

ServiceTable tsv_table(const std::string& text) {
  std::istringstream in(text);
  return ServiceTable::from_glasshouse_tsv(in);
}

// A made-up nmap-services excerpt (the values are invented for the test, not nmap's).
const char kNmapText[] =
    "# header comment\n"
    "\n"
    "ftp\t21/tcp\t0.200000\t# File Transfer\n"
    "ssh\t22/tcp\t0.300000\t# Secure Shell\n"
    "telnet\t23/tcp\t0.100000\n"
    "domain\t53/tcp\t0.050000\n"
    "domain\t53/udp\t0.400000\n"
    "http\t80/tcp\t0.500000\n"
    "http\t80/udp\t0.001000\n"
    "http-alt\t8080/tcp\t0.100000\n"
    "http-proxy\t3128/tcp\t0.010000\n"
    "https\t443/tcp\t0.300000\n"
    "snmp\t161/udp\t0.300000\n"
    "unknown\t4/tcp\t0.000100\n"
    "sctp-only\t9/sctp\t0.900000\n"
    "zero\t7/tcp\t0.000000\n"
    "nofreq\t9/tcp\n"
    "  spaced   13/tcp   0.01   trailing words without hash\r\n"
    "X11:1\t6001/tcp\t0.002\n";

TEST(ServiceTable, NmapFormatNamesPorts) {
  auto t = nmap_table(kNmapText);
  EXPECT_EQ(t.name(Protocol::Tcp, 22), "ssh");
  EXPECT_EQ(t.name(Protocol::Tcp, 80), "http");
  EXPECT_EQ(t.name(Protocol::Udp, 80), "http");
  EXPECT_EQ(t.name(Protocol::Udp, 53), "domain");
  EXPECT_EQ(t.name(Protocol::Udp, 161), "snmp");
  EXPECT_EQ(t.name(Protocol::Tcp, 161), "unknown");  // only listed for UDP
  EXPECT_EQ(t.name(Protocol::Tcp, 9), "nofreq");     // frequency column is optional
  EXPECT_EQ(t.name(Protocol::Tcp, 13), "spaced");    // blanks and CRLF tolerated
  EXPECT_EQ(t.name(Protocol::Tcp, 4), "unknown");    // nmap's own "unknown" entries
  EXPECT_EQ(t.name(Protocol::Tcp, 6001), "X11:1");
  EXPECT_EQ(t.name(Protocol::Tcp, 12345), "unknown");
  EXPECT_EQ(t.name(Protocol::Udp, 22), "unknown");
  EXPECT_EQ(t.source(), "");
}

TEST(ServiceTable, NmapTopPortsByFrequencyThenPort) {
  auto t = nmap_table(kNmapText);
  // 0.5 http; 0.3 ssh, https (tie -> ascending port); 0.2 ftp; 0.1 telnet, http-alt; 0.05 domain;
  // 0.01 spaced(13), http-proxy(3128); 0.002 X11:1(6001); 0.0001 unknown(4).
  EXPECT_EQ(t.top_ports(Protocol::Tcp, 11),
            (std::vector<uint16_t>{80, 22, 443, 21, 23, 8080, 53, 13, 3128, 6001, 4}));
  EXPECT_EQ(t.top_ports(Protocol::Tcp, 3), (std::vector<uint16_t>{80, 22, 443}));
  EXPECT_EQ(t.top_ports(Protocol::Udp, 3), (std::vector<uint16_t>{53, 161, 80}));
  EXPECT_TRUE(t.top_ports(Protocol::Tcp, 0).empty());
}

TEST(ServiceTable, TopPortsContinuePastTheRanking) {
  auto t = nmap_table(kNmapText);
  // After the 11 ranked TCP ports: the table's unranked ones (7 zero, 9 nofreq), ascending, then
  // every other port ascending (1, 2, 3, 5, 6, 8, 10, ...).
  auto top = t.top_ports(Protocol::Tcp, 19);
  EXPECT_EQ(top, (std::vector<uint16_t>{80, 22, 443, 21, 23, 8080, 53, 13, 3128, 6001, 4, 7, 9, 1,
                                        2, 3, 5, 6, 8}));
}

TEST(ServiceTable, TopPortsAllGivesEveryPortOnce) {
  auto t = nmap_table(kNmapText);
  for (size_t n : {size_t{65535}, size_t{70000}, static_cast<size_t>(-1)}) {
    auto all = t.top_ports(Protocol::Tcp, n);
    ASSERT_EQ(all.size(), 65535u) << n;
    EXPECT_EQ(all.front(), 80);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all.front(), 1);  // never port 0
    EXPECT_EQ(all.back(), 65535);
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  }
}

TEST(ServiceTable, PortsForNameExactAndWildcards) {
  auto t = nmap_table(kNmapText);
  EXPECT_EQ(t.ports_for_name(Protocol::Tcp, "http"), (std::vector<uint16_t>{80}));
  EXPECT_EQ(t.ports_for_name(Protocol::Udp, "http"), (std::vector<uint16_t>{80}));
  EXPECT_EQ(t.ports_for_name(Protocol::Tcp, "http*"), (std::vector<uint16_t>{80, 443, 3128, 8080}));
  EXPECT_EQ(t.ports_for_name(Protocol::Tcp, "http?"), (std::vector<uint16_t>{443}));
  EXPECT_EQ(t.ports_for_name(Protocol::Tcp, "*-*"), (std::vector<uint16_t>{3128, 8080}));
  EXPECT_EQ(t.ports_for_name(Protocol::Tcp, "t?l*t"), (std::vector<uint16_t>{23}));
  EXPECT_EQ(t.ports_for_name(Protocol::Tcp, "HTTP"), (std::vector<uint16_t>{80}));
  EXPECT_EQ(t.ports_for_name(Protocol::Udp, "*"), (std::vector<uint16_t>{53, 80, 161}));
  EXPECT_TRUE(t.ports_for_name(Protocol::Tcp, "snmp").empty());
  EXPECT_TRUE(t.ports_for_name(Protocol::Tcp, "htt").empty());
  EXPECT_TRUE(t.ports_for_name(Protocol::Tcp, "http??").empty());
  EXPECT_TRUE(t.ports_for_name(Protocol::Tcp, "").empty());
}

TEST(ServiceTable, NmapFormatSkipsMalformedLines) {
  auto t = nmap_table(
      "good\t1/tcp\t0.5\n"
      "noport\n"
      "badport\t70000/tcp\t0.1\n"
      "badport2\tx/tcp\t0.1\n"
      "negport\t-5/tcp\t0.1\n"
      "noproto\t2\t0.1\n"
      "badproto\t3/icmp\t0.1\n"
      "emptyproto\t4/\t0.1\n"
      "negfreq\t5/tcp\t-0.1\n"
      "nanfreq\t6/tcp\tnan\n"
      "inffreq\t7/tcp\tinf\n"
      "wordfreq\t8/tcp\tlots\n"
      "bad\"name\t9/tcp\t0.1\n"
      "\t\t\t\n"
      "10/tcp\n"
      "good2\t11/udp\t0.25\n");
  EXPECT_EQ(t.name(Protocol::Tcp, 1), "good");
  EXPECT_EQ(t.name(Protocol::Udp, 11), "good2");
  for (uint16_t p = 2; p <= 10; ++p) EXPECT_EQ(t.name(Protocol::Tcp, p), "unknown") << p;
  EXPECT_EQ(t.ports_for_name(Protocol::Tcp, "*"), (std::vector<uint16_t>{1}));
}

TEST(ServiceTable, DuplicatePortKeepsTheMoreCommonEntry) {
  auto t = nmap_table(
      "first\t100/tcp\t0.1\n"
      "second\t100/tcp\t0.3\n"
      "third\t100/tcp\t0.2\n"
      "tie-a\t200/tcp\t0.1\n"
      "tie-b\t200/tcp\t0.1\n");
  EXPECT_EQ(t.name(Protocol::Tcp, 100), "second");
  EXPECT_EQ(t.name(Protocol::Tcp, 200), "tie-a");
}

TEST(ServiceTable, TsvFormatRanks) {
  auto t = tsv_table(
      "# Glasshouse test table\n"
      "ssh\t22/tcp\t2\n"
      "http\t80/tcp\t1\n"
      "https\t443/tcp\t3\n"
      "telnet\t23/tcp\t0\n"
      "echo\t7/tcp\t0\n"
      "domain\t53/udp\t1\n"
      "ntp\t123/udp\t2  # trailing comment\n");
  EXPECT_EQ(t.name(Protocol::Tcp, 22), "ssh");
  EXPECT_EQ(t.name(Protocol::Udp, 123), "ntp");
  EXPECT_EQ(t.top_ports(Protocol::Tcp, 3), (std::vector<uint16_t>{80, 22, 443}));
  EXPECT_EQ(t.top_ports(Protocol::Tcp, 7), (std::vector<uint16_t>{80, 22, 443, 7, 23, 1, 2}));
  EXPECT_EQ(t.top_ports(Protocol::Udp, 4), (std::vector<uint16_t>{53, 123, 1, 2}));
}

TEST(ServiceTable, TsvFormatSkipsMalformedLines) {
  auto t = tsv_table(
      "ok\t1/tcp\t1\n"
      "two-fields\t2/tcp\n"
      "four-fields\t3/tcp\t1\textra\n"
      "neg-rank\t4/tcp\t-1\n"
      "frac-rank\t5/tcp\t1.5\n"
      "word-rank\t6/tcp\tfirst\n"
      "big-rank\t7/tcp\t99999999999999999999999\n"
      "bad-proto\t8/xtp\t1\n"
      "big-port\t65536/tcp\t1\n"
      "no-slash\t9tcp\t1\n"
      "ok-max\t65535/udp\t0\n");
  EXPECT_EQ(t.name(Protocol::Tcp, 1), "ok");
  EXPECT_EQ(t.name(Protocol::Udp, 65535), "ok-max");
  EXPECT_EQ(t.ports_for_name(Protocol::Tcp, "*"), (std::vector<uint16_t>{1}));
  EXPECT_EQ(t.ports_for_name(Protocol::Udp, "*"), (std::vector<uint16_t>{65535}));
}

TEST(ServiceTable, GarbageNeverCrashes) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::string junk(static_cast<size_t>(rng() % 4096), '\0');
    for (auto& c : junk) c = static_cast<char>(rng() % 256);
    // Sprinkle in separators so that some lines get far into the parser.
    for (int i = 0; i < 40 && !junk.empty(); ++i)
      junk[rng() % junk.size()] = "\t\n/#0 9."[rng() % 8];
    auto a = nmap_table(junk);
    auto b = tsv_table(junk);
    EXPECT_LE(a.top_ports(Protocol::Tcp, 5).size(), 5u);
    EXPECT_LE(b.top_ports(Protocol::Udp, 5).size(), 5u);
    (void)a.name(Protocol::Tcp, 1);
    (void)b.ports_for_name(Protocol::Tcp, "*");
  }
  auto huge = nmap_table(std::string(1 << 20, 'x') + "\nok\t5/tcp\t0.1\n");
  EXPECT_EQ(huge.name(Protocol::Tcp, 5), "ok");
}

TEST(ServiceTable, ShippedTsvParses) {
  std::ifstream in(std::string(GLASSHOUSE_SOURCE_DATADIR) + "/services.tsv");
  ASSERT_TRUE(in) << "data/services.tsv not found";
  auto t = ServiceTable::from_glasshouse_tsv(in);
  EXPECT_EQ(t.name(Protocol::Tcp, 22), "ssh");
  EXPECT_EQ(t.name(Protocol::Tcp, 80), "http");
  EXPECT_EQ(t.name(Protocol::Tcp, 443), "https");
  EXPECT_EQ(t.name(Protocol::Udp, 53), "domain");
  auto top10 = t.top_ports(Protocol::Tcp, 10);
  EXPECT_NE(std::find(top10.begin(), top10.end(), 80), top10.end());
  EXPECT_NE(std::find(top10.begin(), top10.end(), 22), top10.end());
  auto top_udp = t.top_ports(Protocol::Udp, 5);
  EXPECT_NE(std::find(top_udp.begin(), top_udp.end(), 53), top_udp.end());
  // The hand ranking covers ~150-250 TCP and ~50 UDP ports. After it come the other ports the
  // file names, in ascending order, and only then the ports it does not name.
  auto tcp_known = t.ports_for_name(Protocol::Tcp, "*");
  ASSERT_GT(tcp_known.size(), 300u);
  auto tcp = t.top_ports(Protocol::Tcp, tcp_known.size() + 1);
  EXPECT_FALSE(std::is_sorted(tcp.begin(), tcp.begin() + 150));
  EXPECT_TRUE(std::is_sorted(tcp.begin() + 250, tcp.end() - 1));
  EXPECT_TRUE(std::is_permutation(tcp.begin(), tcp.end() - 1, tcp_known.begin()));
  EXPECT_EQ(tcp.back(), 2);  // the first port without a name (1 is tcpmux)
  auto udp_known = t.ports_for_name(Protocol::Udp, "*");
  ASSERT_GT(udp_known.size(), 80u);
  auto udp = t.top_ports(Protocol::Udp, udp_known.size());
  EXPECT_FALSE(std::is_sorted(udp.begin(), udp.begin() + 45));
  EXPECT_TRUE(std::is_sorted(udp.begin() + 60, udp.end()));
  EXPECT_TRUE(std::is_permutation(udp.begin(), udp.end(), udp_known.begin()));
  // Every glossary ("worms") port has a TCP name.
  for (uint16_t p : worm_ports()) EXPECT_NE(t.name(Protocol::Tcp, p), "unknown") << p;
}

TEST(ServiceTable, InstanceIsLoadedOnceAndAnswers) {
  const auto& a = ServiceTable::instance();
  const auto& b = ServiceTable::instance();
  EXPECT_EQ(&a, &b);
  EXPECT_FALSE(a.source().empty());
  EXPECT_EQ(a.name(Protocol::Tcp, 22), "ssh");  // true for nmap's table, ours and the built-in
  EXPECT_EQ(a.top_ports(Protocol::Tcp, 100).size(), 100u);
}

// instance() caches its table for the life of the process, so the environment overrides are
// checked in a fresh child process (the "threadsafe" death-test style re-executes the binary).
class ServiceTableEnv : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(ServiceTableEnv, ForcedTsvIsUsed) {
  std::string path = ::testing::TempDir() + "glasshouse_services_test.tsv";
  {
    std::ofstream out(path);
    out << "only-this\t22/tcp\t1\n";
  }
  EXPECT_EXIT(
      {
        setenv("GLASSHOUSE_SERVICES_TSV", path.c_str(), 1);
        const auto& t = ServiceTable::instance();
        bool ok = t.source() == path && t.name(Protocol::Tcp, 22) == "only-this" &&
                  t.name(Protocol::Tcp, 80) == "unknown";
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  std::remove(path.c_str());
}

TEST_F(ServiceTableEnv, ForcedNmapServicesIsUsed) {
  std::string path = ::testing::TempDir() + "glasshouse_nmap_services_test";
  {
    std::ofstream out(path);
    out << "from-env\t22/tcp\t0.5\n";
  }
  EXPECT_EXIT(
      {
        unsetenv("GLASSHOUSE_SERVICES_TSV");
        setenv("GLASSHOUSE_NMAP_SERVICES", path.c_str(), 1);
        const auto& t = ServiceTable::instance();
        std::exit(t.source() == path && t.name(Protocol::Tcp, 22) == "from-env" ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  std::remove(path.c_str());
}

// A file's UDP part is read on its first use (a TCP scan never reads it): it must come out as an
// eager parse would, and a file listing only UDP ports is a table, not a file passed over.
TEST_F(ServiceTableEnv, FileUdpPartIsReadOnFirstUseAsAWholeParse) {
  std::string path = ::testing::TempDir() + "glasshouse_nmap_services_lazy";
  {
    std::ofstream out(path);
    out << kNmapText;
  }
  EXPECT_EXIT(
      {
        unsetenv("GLASSHOUSE_SERVICES_TSV");
        setenv("GLASSHOUSE_NMAP_SERVICES", path.c_str(), 1);
        const auto& t = ServiceTable::instance();
        auto whole = nmap_table(kNmapText);
        bool ok = t.source() == path;
        for (Protocol p : {Protocol::Tcp, Protocol::Udp}) {
          ok = ok && t.top_ports(p, 20) == whole.top_ports(p, 20);
          for (uint16_t port : {22, 53, 80, 161, 443, 6001, 9, 4})
            ok = ok && t.name(p, port) == whole.name(p, port);
          ok = ok && t.ports_for_name(p, "http*") == whole.ports_for_name(p, "http*");
        }
        ok = ok && t.name(Protocol::Udp, 161) == "snmp" && t.name(Protocol::Udp, 53) == "domain";
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  std::remove(path.c_str());
}

TEST_F(ServiceTableEnv, FileOfUdpPortsOnlyIsATable) {
  std::string path = ::testing::TempDir() + "glasshouse_nmap_services_udp_only";
  {
    std::ofstream out(path);
    out << "# nothing for TCP\nsnmp\t161/udp\t0.3\ndomain\t53/udp\t0.4\n";
  }
  EXPECT_EXIT(
      {
        unsetenv("GLASSHOUSE_SERVICES_TSV");
        setenv("GLASSHOUSE_NMAP_SERVICES", path.c_str(), 1);
        const auto& t = ServiceTable::instance();
        bool ok = t.source() == path && t.name(Protocol::Udp, 161) == "snmp" &&
                  (t.top_ports(Protocol::Udp, 2) == std::vector<uint16_t>({53, 161})) &&
                  t.name(Protocol::Tcp, 22) == "unknown";
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  std::remove(path.c_str());
}

TEST_F(ServiceTableEnv, UnreadableForcedFileIsAUsageError) {
  EXPECT_EXIT(
      {
        setenv("GLASSHOUSE_SERVICES_TSV", "/nonexistent/glasshouse/services.tsv", 1);
        try {
          (void)ServiceTable::instance();
        } catch (const UsageError&) {
          std::exit(0);
        }
        std::exit(1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace gh
