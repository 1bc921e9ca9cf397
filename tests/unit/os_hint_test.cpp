// The -O/-A OS hint (scan/os_hint.h): facts read from fixture SYN-ACKs as Linux, Windows, macOS and
// a router send them, the initial-TTL guess, the table's labels and the evidence text.
#include "scan/os_hint.h"

#include <gtest/gtest.h>

#include <vector>

#include "net/bytes.h"
#include "net/packet.h"

namespace gh {
namespace {

// An IPv4 SYN-ACK from 198.18.0.2:port with this TTL, window and raw options.
std::vector<uint8_t> syn_ack(uint8_t ttl, uint16_t window, std::vector<uint8_t> options,
                             uint16_t port = 22) {
  while (options.size() % 4) options.push_back(0);
  const size_t tcp_len = 20 + options.size();
  std::vector<uint8_t> b(20 + tcp_len, 0);
  const uint8_t ip[20] = {0x45, 0,  0,    static_cast<uint8_t>(20 + tcp_len),
                          0,    0,  0x40, 0,
                          ttl,  6,  0,    0,
                          198,  18, 0,    2,
                          198,  18, 0,    1};
  for (size_t i = 0; i < 20; ++i) b[i] = ip[i];
  net::store_be16(&b[20], port);
  net::store_be16(&b[22], 40001);
  b[32] = static_cast<uint8_t>(tcp_len / 4 << 4);
  b[33] = 0x12;
  net::store_be16(&b[34], window);
  for (size_t i = 0; i < options.size(); ++i) b[40 + i] = options[i];
  return b;
}

SynAckFacts facts(const std::vector<uint8_t>& frame, uint16_t port = 22) {
  net::ParsedPacket p;
  EXPECT_TRUE(net::parse_packet(frame, net::LinkType::RawIp, p));
  return syn_ack_facts(p, port);
}

// Linux 6.x: MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
const std::vector<uint8_t> kLinux = {2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7};
// Windows 10/11: MSS, NOP, WS 8, NOP, NOP, SACK permitted.
const std::vector<uint8_t> kWindows = {2, 4, 5, 180, 1, 3, 3, 8, 1, 1, 4, 2};
// macOS: MSS, NOP, WS 6, NOP, NOP, TS, SACK permitted, EOL.
const std::vector<uint8_t> kMac = {2, 4, 5, 180, 1, 3, 3, 6, 1, 1, 8, 10,
                                   0, 0, 0, 1,   0, 0, 0, 2, 4, 2, 0, 0};

TEST(OsHint, InitialTtlGuess) {
  EXPECT_EQ(initial_ttl_guess(64), 64);
  EXPECT_EQ(initial_ttl_guess(57), 64);
  EXPECT_EQ(initial_ttl_guess(30), 32);
  EXPECT_EQ(initial_ttl_guess(65), 128);
  EXPECT_EQ(initial_ttl_guess(120), 128);
  EXPECT_EQ(initial_ttl_guess(129), 255);
  EXPECT_EQ(initial_ttl_guess(255), 255);
}

TEST(OsHint, LinuxSynAck) {
  SynAckFacts f = facts(syn_ack(64, 65160, kLinux), 22);
  EXPECT_EQ(f.ttl, 64);
  EXPECT_EQ(f.window, 65160);
  EXPECT_EQ(f.mss, 1460);
  EXPECT_EQ(f.wscale, 7);
  EXPECT_EQ(f.port, 22);
  EXPECT_EQ(tcp_option_order(f), "MSS,SACK,TS,NOP,WS");
  OsHint h = make_os_hint(f);
  EXPECT_EQ(h.name, "Linux 2.6+");
  EXPECT_EQ(h.evidence,
            "initial TTL 64, window 65160, options MSS,SACK,TS,NOP,WS, MSS 1460, wscale 7");
  EXPECT_EQ(os_hint_text(h),
            "OS hint: Linux 2.6+ (evidence: initial TTL 64, window 65160, options "
            "MSS,SACK,TS,NOP,WS, MSS 1460, wscale 7; SYN-ACK from port 22)");
  // Three routers away: the initial TTL is still 64.
  EXPECT_EQ(make_os_hint(facts(syn_ack(61, 65160, kLinux))).name, "Linux 2.6+");
}

TEST(OsHint, WindowsMacAndNetworkGear) {
  OsHint w = make_os_hint(facts(syn_ack(128, 65535, kWindows)));
  EXPECT_EQ(w.name, "Windows");
  EXPECT_NE(w.evidence.find("initial TTL 128"), std::string::npos);
  EXPECT_NE(w.evidence.find("options MSS,NOP,WS,NOP,NOP,SACK"), std::string::npos);
  EXPECT_NE(w.evidence.find("wscale 8"), std::string::npos);
  OsHint m = make_os_hint(facts(syn_ack(64, 65535, kMac)));
  EXPECT_EQ(tcp_option_order(m.facts), "MSS,NOP,WS,NOP,NOP,TS,SACK,EOL");
  EXPECT_EQ(m.name, "macOS or BSD");
  OsHint r = make_os_hint(facts(syn_ack(254, 4128, {2, 4, 5, 180})));
  EXPECT_EQ(r.name, "network device or Solaris (initial TTL 255)");
  EXPECT_NE(r.evidence.find("options MSS"), std::string::npos);
  EXPECT_EQ(r.evidence.find("wscale"), std::string::npos) << "no window scale option";
}

TEST(OsHint, UnknownKeepsTheEvidence) {
  // Linux's options with Windows' TTL: no row matches; the facts are still given.
  OsHint h = make_os_hint(facts(syn_ack(128, 8192, kLinux)));
  EXPECT_EQ(h.name, "unknown");
  EXPECT_EQ(h.evidence,
            "initial TTL 128, window 8192, options MSS,SACK,TS,NOP,WS, MSS 1460, wscale 7");
  OsHint none = make_os_hint(facts(syn_ack(64, 1024, {})));
  EXPECT_EQ(none.name, "unknown");
  EXPECT_EQ(none.evidence, "initial TTL 64, window 1024, options none");
}

TEST(OsHint, MalformedOptionsStopTheWalk) {
  // MSS, then a length byte of 0: the walk stops after what it could read.
  SynAckFacts f = facts(syn_ack(64, 100, {2, 4, 5, 180, 3, 0, 0, 0}));
  EXPECT_EQ(tcp_option_order(f), "MSS,WS");
  EXPECT_EQ(make_os_hint(f).name, "unknown");
}

}  // namespace
}  // namespace gh
