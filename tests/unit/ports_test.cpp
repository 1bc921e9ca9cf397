#include "targets/ports.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "core/error.h"
#include "service/services.h"

namespace gh {
namespace {

using Ports = std::vector<uint16_t>;

// A small table so that the tests do not depend on what is installed on the machine.
ServiceTable test_table() {
  std::istringstream in(
      "ftp-data\t20/tcp\t0\n"
      "ftp\t21/tcp\t5\n"
      "ssh\t22/tcp\t3\n"
      "telnet\t23/tcp\t6\n"
      "smtp\t25/tcp\t4\n"
      "domain\t53/tcp\t0\n"
      "domain\t53/udp\t1\n"
      "http\t80/tcp\t1\n"
      "ntp\t123/udp\t2\n"
      "snmp\t161/udp\t3\n"
      "https\t443/tcp\t2\n"
      "http-alt\t8008/tcp\t0\n"
      "http-alt\t8080/tcp\t7\n"
      "http-proxy\t3128/tcp\t0\n");
  return ServiceTable::from_glasshouse_tsv(in);
}

class PortSpec : public ::testing::Test {
 protected:
  PortList parse(std::string_view spec) { return parse_port_spec(spec, table_); }
  ServiceTable table_ = test_table();
};

TEST_F(PortSpec, SinglePortsAndLists) {
  auto l = parse("22");
  EXPECT_EQ(l.tcp, (Ports{22}));
  EXPECT_TRUE(l.udp.empty());
  EXPECT_EQ(parse("443,22,80").tcp, (Ports{22, 80, 443}));
  EXPECT_EQ(parse("80,22,80,22").tcp, (Ports{22, 80}));
  EXPECT_EQ(parse("65535").tcp, (Ports{65535}));
  EXPECT_EQ(parse("022").tcp, (Ports{22}));  // leading zeros are still decimal
  EXPECT_EQ(parse("1").size(), 1u);
}

TEST_F(PortSpec, Ranges) {
  EXPECT_EQ(parse("20-25").tcp, (Ports{20, 21, 22, 23, 24, 25}));
  EXPECT_EQ(parse("22-22").tcp, (Ports{22}));
  EXPECT_EQ(parse("23-25,20-24").tcp, (Ports{20, 21, 22, 23, 24, 25}));
  EXPECT_EQ(parse("65530-").tcp, (Ports{65530, 65531, 65532, 65533, 65534, 65535}));
  EXPECT_EQ(parse("-5").tcp, (Ports{1, 2, 3, 4, 5}));  // open start is 1, not 0
  auto all = parse("-");                               // what "-p-" passes
  ASSERT_EQ(all.tcp.size(), 65535u);
  EXPECT_EQ(all.tcp.front(), 1);
  EXPECT_EQ(all.tcp.back(), 65535);
  EXPECT_TRUE(all.udp.empty());
  EXPECT_EQ(parse("1-65535").tcp, all.tcp);
  EXPECT_EQ(parse("-,-,1-65535,80").tcp, all.tcp);
}

TEST_F(PortSpec, PortZeroOnlyWhenExplicit) {
  EXPECT_EQ(parse("0").tcp, (Ports{0}));
  EXPECT_EQ(parse("0-2").tcp, (Ports{0, 1, 2}));
  EXPECT_EQ(parse("0-").tcp.size(), 65536u);
  EXPECT_EQ(parse("-").tcp.front(), 1);
  EXPECT_EQ(parse("-2").tcp, (Ports{1, 2}));
}

TEST_F(PortSpec, ProtocolPrefixes) {
  auto l = parse("T:22,80,U:53,161");
  EXPECT_EQ(l.tcp, (Ports{22, 80}));
  EXPECT_EQ(l.udp, (Ports{53, 161}));
  EXPECT_EQ(l.size(), 4u);
  l = parse("U:53,T:25,U:123-124");
  EXPECT_EQ(l.tcp, (Ports{25}));
  EXPECT_EQ(l.udp, (Ports{53, 123, 124}));
  l = parse("22,u:53,t:80");  // lowercase too; before any prefix it is TCP
  EXPECT_EQ(l.tcp, (Ports{22, 80}));
  EXPECT_EQ(l.udp, (Ports{53}));
  l = parse("T:53,U:53");
  EXPECT_EQ(l.tcp, (Ports{53}));
  EXPECT_EQ(l.udp, (Ports{53}));
  l = parse("U:-");
  EXPECT_TRUE(l.tcp.empty());
  EXPECT_EQ(l.udp.size(), 65535u);
}

TEST_F(PortSpec, ServiceNames) {
  EXPECT_EQ(parse("ssh").tcp, (Ports{22}));
  EXPECT_EQ(parse("http,ssh,22").tcp, (Ports{22, 80}));
  EXPECT_EQ(parse("ftp-data").tcp, (Ports{20}));  // a name with '-' is not a range
  EXPECT_EQ(parse("http-alt").tcp, (Ports{8008, 8080}));
  EXPECT_EQ(parse("HTTP").tcp, (Ports{80}));
  auto l = parse("domain,U:domain,ntp");  // names resolve for the current protocol
  EXPECT_EQ(l.tcp, (Ports{53}));
  EXPECT_EQ(l.udp, (Ports{53, 123}));
}

TEST_F(PortSpec, ServiceWildcards) {
  EXPECT_EQ(parse("http*").tcp, (Ports{80, 443, 3128, 8008, 8080}));
  EXPECT_EQ(parse("http?").tcp, (Ports{443}));
  EXPECT_EQ(parse("ftp*,ssh").tcp, (Ports{20, 21, 22}));
  EXPECT_EQ(parse("U:*").udp, (Ports{53, 123, 161}));
  EXPECT_EQ(parse("*").tcp, (Ports{20, 21, 22, 23, 25, 53, 80, 443, 3128, 8008, 8080}));
}

TEST_F(PortSpec, Worms) {
  auto l = parse("worms");
  EXPECT_EQ(l.tcp, worm_ports());
  EXPECT_TRUE(l.udp.empty());
  EXPECT_EQ(parse("WORMS").tcp, worm_ports());
  l = parse("U:worms");
  EXPECT_TRUE(l.tcp.empty());
  EXPECT_EQ(l.udp, worm_ports());
  EXPECT_EQ(parse("worms,22,80").tcp.size(), worm_ports().size() + 1);  // 80 is already in it
}

TEST_F(PortSpec, BracketsSelectKnownPorts) {
  EXPECT_EQ(parse("[1-100]").tcp, (Ports{20, 21, 22, 23, 25, 53, 80}));
  EXPECT_EQ(parse("[-30]").tcp, (Ports{20, 21, 22, 23, 25}));
  EXPECT_EQ(parse("[1000-]").tcp, (Ports{3128, 8008, 8080}));
  EXPECT_EQ(parse("[-]").tcp, (Ports{20, 21, 22, 23, 25, 53, 80, 443, 3128, 8008, 8080}));
  EXPECT_EQ(parse("[80]").tcp, (Ports{80}));
  auto l = parse("U:[1-200],T:[440-450],9999");
  EXPECT_EQ(l.udp, (Ports{53, 123, 161}));
  EXPECT_EQ(l.tcp, (Ports{443, 9999}));
}

TEST(PortSpecErrors, EveryMalformedFormThrowsUsageError) {
  auto table = test_table();
  for (const char* bad : {
           "",                         // empty spec
           ",",                        // empty items
           "22,",                      // trailing comma
           ",22",                      // leading comma
           "22,,80",                   // empty item in the middle
           "80-22",                    // reversed
           "-0",                       // reversed (1-0)
           "70000",                    // too large
           "65536",                    // just too large
           "99999999999999999999999",  // overflows any integer
           "1-70000",                  // range end too large
           "70000-",                   // range start too large
           "1-2-3",                    // two dashes
           "--",                       // two dashes
           "1--5",                     // two dashes
           "22a",                      // letters in a number (not a known service)
           "2x2",                      // letters in a number
           "0x16",                     // hex
           "+22",                      // sign
           "22.0",                     // decimal point
           "htp",                      // unknown service
           "snmp",                     // a UDP-only service, asked for TCP
           "U:ssh",                    // a TCP-only service, asked for UDP
           "nosuch*",                  // wildcard matching nothing
           "S:22",                     // SCTP
           "s:22",                     // SCTP
           "P:6",                      // IP protocol
           "X:22",                     // unknown prefix
           "TCP:22",                   // unknown prefix
           ":22",                      // empty prefix
           "T:",                       // prefix with nothing after it
           "T:,80",                    // prefix with nothing after it
           "T:U:22",                   // two prefixes
           " 22",                      // blanks
           "22 ",                      // blanks
           "22, 80",                   // blanks
           "22;80",                    // wrong separator
           "\n",                       // control character
           "[1-1024",                  // unclosed bracket
           "[]",                       // empty bracket
           "[abc]",                    // not a range in brackets
           "[80-22]",                  // reversed in brackets
           "[5-6]",                    // no known port in the range
           "[70000]",                  // out of range in brackets
           "1-1024]",                  // stray bracket
           "ssh!",                     // invalid character
       }) {
    EXPECT_THROW(parse_port_spec(bad, table), UsageError) << '"' << bad << '"';
  }
}

std::string error_of(std::string_view spec) {
  auto table = test_table();
  try {
    parse_port_spec(spec, table);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PortSpecErrors, MessagesNameTheOffendingItem) {
  EXPECT_EQ(error_of("22,70000"), "invalid port \"70000\" in -p: port out of range 1-65535");
  EXPECT_EQ(error_of("22,htp"), "unknown service \"htp\" in -p");
  EXPECT_EQ(error_of("80-22"),
            "invalid port range \"80-22\" in -p: start 80 is greater than end 22");
  EXPECT_EQ(error_of("1-70000"),
            "invalid port range \"1-70000\" in -p: port 70000 out of range 1-65535");
  EXPECT_EQ(error_of(""), "empty port list in -p");
  EXPECT_EQ(error_of("22,,80"), "empty item (number 2) in -p \"22,,80\"");
  EXPECT_EQ(error_of("22,"), "empty item (number 2) in -p \"22,\"");
  EXPECT_NE(error_of("S:22").find("SCTP is not supported"), std::string::npos);
  EXPECT_NE(error_of("80,X:22").find("\"X:22\""), std::string::npos);
  EXPECT_NE(error_of("snmp").find("try U:snmp"), std::string::npos);
  EXPECT_NE(error_of("22,[5-6]").find("\"[5-6]\""), std::string::npos);
  EXPECT_NE(error_of("2x2").find("\"2x2\""), std::string::npos);
}

TEST(PortSpecErrors, MessagesAreOneLineAndBounded) {
  std::string msg = error_of("22,\n\x01\"oops");
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("\\x0A\\x01\\\"oops"), std::string::npos) << msg;
  std::string long_item(5000, '!');
  EXPECT_LT(error_of(long_item).size(), 300u);
}

TEST(PortTopPorts, UsesTheTableRanking) {
  auto table = test_table();
  auto l = top_ports(3, table);
  EXPECT_EQ(l.tcp, (Ports{22, 80, 443}));  // ranks 1-3, returned sorted
  EXPECT_TRUE(l.udp.empty());              // TCP only
  EXPECT_EQ(top_ports(7, table).tcp, (Ports{21, 22, 23, 25, 80, 443, 8080}));
  // Past the 7 ranked ports: the unranked known ones (20, 53, 3128, 8008), then 1, 2, ...
  EXPECT_EQ(top_ports(12, table).tcp,
            (Ports{1, 20, 21, 22, 23, 25, 53, 80, 443, 3128, 8008, 8080}));
  EXPECT_EQ(top_ports(100, table).size(), 100u);
}

TEST(PortTopPorts, AllPortsAndLimits) {
  auto table = test_table();
  auto all = top_ports(65535, table);
  ASSERT_EQ(all.tcp.size(), 65535u);
  EXPECT_EQ(all.tcp.front(), 1);
  EXPECT_EQ(all.tcp.back(), 65535);
  EXPECT_EQ(top_ports(1000000, table).tcp.size(), 65535u);
  EXPECT_THROW(top_ports(0, table), UsageError);
}

TEST(PortWorms, MatchesTheGlossary) {
  EXPECT_EQ(worm_ports(), (Ports{21,  23,   25,   67,   80,   111,  113,  119,   137,   445,
                                 515, 1080, 1214, 1243, 1433, 3128, 8080, 12345, 27374, 31337}));
  EXPECT_TRUE(std::is_sorted(worm_ports().begin(), worm_ports().end()));
}

}  // namespace
}  // namespace gh
