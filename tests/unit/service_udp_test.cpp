// -sU -sV (service/udp_version.h): the shipped UDP rules against the replies the lab's Debian
// daemons sent (tests/lab/udp_daemons.sh), the order of a port's steps, and a UDP port job end to
// end on loopback (an in-process datagram server, a closed port, a silent one).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include "core/build_paths.h"
#include "net/udp_payloads.h"
#include "output/result_table.h"
#include "scan/config.h"
#include "service/nmap_probes.h"
#include "service/toml_probes.h"
#include "service/udp_version.h"
#include "service/version_scan.h"

namespace gh {
namespace {

template <size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

ProbeDb shipped() {
  return load_toml_probes(std::string(GLASSHOUSE_SOURCE_DATADIR) + "/service-probes.toml");
}

TEST(UdpServiceRules, NameTheLabDaemonsFromTheirReplies) {
  ProbeDb db = shipped();
  struct Case {
    uint16_t port;
    const char* probe;  // nullptr: the reply to -sU's own payload
    std::string reply;
    const char* service;
    const char* product;
    const char* version;
  };
  const Case cases[] = {
      {53, nullptr,
       bytes("\x00\x06\x85\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07version\x04"
             "bind\x00\x00\x10\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x0d\x0c"
             "dnsmasq-2.90"),
       "domain", "dnsmasq", "2.90"},
      {123, nullptr,
       bytes("$\x0a\x04\xe6\x00\x00\x00\x00\x00\x00\x00\x00\x7f\x7f\x01\x01\xee\xbc\x99W\xc7"
             "Cvs\xc5O#Kq\xb1R\xf3\xee\xbc\x99Y\xa2\x95N\xe5\xee\xbc\x99Y\xa2\xa7-\x5c"),
       "ntp", "chrony", ""},
      {161, "SnmpVersionTag",
       bytes("0v\x02\x01\x00\x04\x06public\xa2i\x02\x02\x12"
             "4\x02\x01\x00\x02\x01\x00"
             "0]0F\x06\x08+\x06\x01\x02\x01\x01\x01\x00\x04:Linux vm 6.18.44-fc-v1252 #1 SMP "
             "PREEMPT_DYNAMIC @0 x86_640\x13\x06\x0a+\x06\x01\x04\x01\x8f"
             "ed\x02\x00\x04\x05"
             "5.9.3"),
       "snmp", "net-snmp", "5.9.3"},
      {161, nullptr,
       bytes("0m\x02\x01\x03"
             "0\x0f\x02\x02Ji\x02\x03\x00\xff\xe3\x04\x01\x00\x02\x01\x03\x04!0\x1f\x04\x11\x80"
             "\x00\x1f\x88\x80\xeb"
             "b\x0f}\xd9\x1a\x12k\x00\x00\x00\x00\x02\x01\x01\x02\x01\x02\x04\x00\x04\x00\x04\x00"
             "04\x04\x11\x80\x00\x1f\x88\x80\xeb"
             "b\x0f}\xd9\x1a\x12k\x00\x00\x00\x00\x04\x00\xa8\x1d\x02\x02"
             "7\xf0\x02\x01\x00\x02\x01\x00"
             "0\x11"
             "0\x0f\x06\x0a+\x06\x01\x06\x03\x0f\x01\x01\x04\x00"
             "A\x01\x01"),
       "snmp", "net-snmp", ""},
      {11211, nullptr, bytes("\x00\x01\x00\x00\x00\x01\x00\x00VERSION 1.6.18\x0d\x0a"), "memcached",
       "Memcached", "1.6.18"},
      {69, nullptr,
       bytes("\x00\x05\x00\x01"
             "file /tmp/lab/tftp/glasshouse-probe not found for 2001:db8::1\x00"),
       "tftp", "dnsmasq tftpd", ""},
      {137, nullptr,
       bytes("\x80\xf0\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00 CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
             "\x00\x00!\x00\x01\x00\x00\x00\x00\x00\x89\x05GHLAB          \x00\x04\x00GHLAB "
             "         \x03\x04\x00GHLAB           \x04\x00GLASSHOUSE     \x00\x84\x00GLASSHOUSE "
             "    \x1e\x84\x00") +
           std::string(46, '\0'),  // unit id (MAC) and statistics: all zero from nmbd
       "netbios-ns", "Samba nmbd netbios-ns", ""},
  };
  for (const Case& c : cases) {
    UdpStep step;
    if (c.probe != nullptr) {
      step.probe = db.find(c.probe, Protocol::Udp);
      ASSERT_NE(step.probe, nullptr) << c.probe;
    }
    auto m = match_udp_reply(db, step, c.port, c.reply);
    ASSERT_TRUE(m) << c.port;
    EXPECT_FALSE(m->soft) << c.port;
    EXPECT_EQ(m->service, c.service) << c.port;
    EXPECT_EQ(m->product, c.product) << c.port;
    EXPECT_EQ(m->version, c.version) << c.port;
  }
  // A sysDescr answer without net-snmp's versionTag names SNMP, no product.
  UdpStep payload;
  auto m = match_udp_reply(db, payload, 161,
                           bytes("0\x2b\x02\x01\x01\x04\x06public\xa2\x1e\x02\x04GH01"
                                 "\x02\x01\x00\x02\x01\x00\x30\x10\x30\x0e\x06\x08\x2b"
                                 "\x06\x01\x02\x01\x01\x01\x00\x04\x02hi"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->service, "snmp");
  EXPECT_EQ(m->product, "");
  // The same node status from a node with a MAC (Windows) is NetBIOS, not Samba.
  {
    std::string win = bytes(
        "\x80\xf0\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00 CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "\x00\x00!\x00\x01\x00\x00\x00\x00\x00\x41\x02WINBOX         \x00\x04\x00WORKGROUP  "
        "    \x00\x84\x00\x52\x54\x00\x12\x34\x56");
    win += std::string(40, '\0');
    auto w = match_udp_reply(db, payload, 137, win);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->service, "netbios-ns");
    EXPECT_EQ(w->product, "");
    EXPECT_EQ(w->hostname, "WINBOX");
  }
  // Garbage on port 53 is not DNS.
  EXPECT_FALSE(match_udp_reply(db, payload, 53, "hello"));
}

TEST(UdpServicePlan, PayloadsFirstThenListedProbesOursFirstThenByRarity) {
  ProbeDb db = shipped();
  std::istringstream in(
      "Probe UDP Theirs123 q|\\x01\\x02|\nrarity 5\nports 123\n"
      "Probe UDP Rare q|\\x03|\nrarity 9\n"
      "Probe UDP Common q|\\x04|\nrarity 2\n");
  db.merge(parse_nmap_probes(in, "test", DbSource::Nmap));
  net::UdpPayloads payloads = net::UdpPayloads::builtin();
  auto plan = udp_probe_plan(db, payloads, 161, 7);
  ASSERT_GE(plan.size(), 3u);
  EXPECT_EQ(plan[0].probe, nullptr);  // -sU's v2c request
  EXPECT_EQ(plan[1].probe, nullptr);  // -sU's v3 discovery
  ASSERT_NE(plan[2].probe, nullptr);
  EXPECT_EQ(plan[2].probe->name, "SnmpVersionTag");
  // 123: -sU's NTP request, then ours (the same bytes: not sent twice), then nmap's listed probe,
  // then the unlisted ones within the intensity; the rarity-9 probe only at 9.
  plan = udp_probe_plan(db, payloads, 123, 7);
  ASSERT_GE(plan.size(), 3u);
  EXPECT_EQ(plan[0].probe, nullptr);
  ASSERT_NE(plan[1].probe, nullptr);
  EXPECT_EQ(plan[1].probe->name, "Theirs123");
  auto has = [](const std::vector<UdpStep>& p, const char* name) {
    for (const auto& s : p)
      if (s.probe != nullptr && s.probe->name == name) return true;
    return false;
  };
  EXPECT_FALSE(has(plan, "NtpClient"));
  EXPECT_TRUE(has(plan, "Common"));
  EXPECT_FALSE(has(plan, "Rare"));
  EXPECT_TRUE(has(udp_probe_plan(db, payloads, 123, 9), "Rare"));
  EXPECT_FALSE(has(udp_probe_plan(db, payloads, 123, 1), "Common"));
}

// A UDP socket bound to a free loopback port; `port`: that port.
int bind_loopback_udp(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// A loopback datagram server answering "ping" with a version line.
class UdpServer {
 public:
  UdpServer() {
    fd_ = bind_loopback_udp(port_);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        char buf[512];
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n == 4 && std::string(buf, 4) == "ping")
          ::sendto(fd_, "toyd 4.2\n", 9, 0, reinterpret_cast<sockaddr*>(&from), fl);
      }
    });
  }
  ~UdpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(UdpVersionScan, IdentifiesAnsweringPortAndEndsClosedAndSilentOnes) {
  UdpServer server;
  // A closed port: bind and close to get a free one.
  uint16_t closed = 0;
  ::close(bind_loopback_udp(closed));
  // A silent port: bound, never read.
  uint16_t silent = 0;
  int silent_fd = bind_loopback_udp(silent);

  std::string text =
      "Probe UDP Noise q|noise|\nrarity 1\n"
      "Probe UDP Ping q|ping|\nrarity 1\nports " +
      std::to_string(server.port()) + "," + std::to_string(silent) +
      "\nmatch toy m|^toyd ([\\d.]+)\\n| p/Toy daemon/ v/$1/\n";
  std::istringstream in(text);
  ProbeDb db = parse_nmap_probes(in, "test", DbSource::Nmap);
  ServiceOptions o;
  o.port_budget = std::chrono::milliseconds(5000);
  std::atomic<bool> stop{false};
  IpAddress lo = IpAddress::v4(0x7f000001);
  auto res = run_version_scan(std::vector<ServiceTarget>{{lo, Protocol::Udp, server.port()},
                                                         {lo, Protocol::Udp, closed},
                                                         {lo, Protocol::Udp, silent}},
                              db, o, nullptr, stop);
  ::close(silent_fd);
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0].proto, Protocol::Udp);
  EXPECT_EQ(res[0].name, "toy");
  EXPECT_EQ(res[0].product, "Toy daemon");
  EXPECT_EQ(res[0].version, "4.2");
  EXPECT_EQ(res[0].method, "probed");
  EXPECT_EQ(res[1].method, "table");
  EXPECT_NE(res[1].note.find("port unreachable"), std::string::npos) << res[1].note;
  EXPECT_EQ(res[2].method, "table");
  EXPECT_EQ(res[2].product, "");
  EXPECT_EQ(res[2].note, "");  // ended by its steps, not by the port budget
}

// open|filtered ports (the sweep): -sU's payloads are not sent again; the probes listing the port
// first, then those within the intensity; at intensity 0 only the listed ones.
TEST(UdpSweepPlan, DatabaseProbesOnlyListedFirstWithinTheIntensity) {
  ProbeDb db = shipped();
  std::istringstream in(
      "Probe UDP Theirs161 q|\\x01\\x02|\nrarity 5\nports 161\n"
      "Probe UDP Rare q|\\x03|\nrarity 9\n"
      "Probe UDP Common q|\\x04|\nrarity 2\n");
  db.merge(parse_nmap_probes(in, "test", DbSource::Nmap));
  net::UdpPayloads payloads = net::UdpPayloads::builtin();
  auto names = [](const std::vector<UdpStep>& p) {
    std::vector<std::string> out;
    for (const auto& s : p) out.push_back(s.probe != nullptr ? s.probe->name : "-");
    return out;
  };
  auto plan = udp_sweep_plan(db, payloads, 161, 7);
  ASSERT_GE(plan.size(), 3u);
  for (const auto& s : plan) {
    ASSERT_NE(s.probe, nullptr);  // no -sU payload step: -sU sent those, unanswered
    EXPECT_EQ(s.udp_payload, nullptr);
  }
  EXPECT_EQ(plan[0].probe->name, "SnmpVersionTag");  // listed, ours first
  EXPECT_EQ(plan[1].probe->name, "Theirs161");       // listed, nmap's
  auto n = names(plan);
  EXPECT_NE(std::find(n.begin(), n.end(), "Common"), n.end());
  EXPECT_EQ(std::find(n.begin(), n.end(), "Rare"), n.end());
  // An unusual port: no probe lists it; at intensity 0 nothing is sent, at 1 only rarity 1.
  EXPECT_TRUE(udp_sweep_plan(db, payloads, 5300, 0).empty());
  for (const auto& s : udp_sweep_plan(db, payloads, 5300, 1)) EXPECT_LE(s.probe->rarity, 1);
  n = names(udp_sweep_plan(db, payloads, 5300, 7));
  EXPECT_NE(std::find(n.begin(), n.end(), "DnsVersionBind"), n.end());
  EXPECT_NE(std::find(n.begin(), n.end(), "Common"), n.end());
  EXPECT_EQ(std::find(n.begin(), n.end(), "Rare"), n.end());
  n = names(udp_sweep_plan(db, payloads, 5300, 9));
  EXPECT_NE(std::find(n.begin(), n.end(), "Rare"), n.end());
}

// The port answered: promoted, with the best match (hard with a version > hard > soft; the
// earlier step on ties); silent: not promoted, the port table's name.
TEST(UdpSweep, PromotesOnAnyReplyAndKeepsTheBestMatch) {
  ServiceInfo res;
  res.port = 5300;
  UdpSweepPort p;
  p.res = &res;
  std::vector<UdpStep> four(4);
  p.steps = &four;
  auto match = [](bool soft, const char* product, const char* version) {
    ServiceMatch m;
    m.service = "domain";
    m.soft = soft;
    m.product = product;
    m.version = version;
    return m;
  };
  ServiceMatch soft = match(true, "", "");
  ServiceMatch hard = match(false, "dnsmasq", "");
  ServiceMatch versioned = match(false, "dnsmasq", "2.90");
  versioned.probe = "DnsVersionBind";
  udp_sweep_offer(p, 3, soft);
  EXPECT_TRUE(p.answered);
  EXPECT_FALSE(udp_sweep_settled(p));
  udp_sweep_offer(p, 2, hard);
  EXPECT_EQ(p.best_step, 2u);
  udp_sweep_offer(p, 1, std::nullopt);  // an answer no rule matched changes no match
  EXPECT_EQ(p.best_step, 2u);
  udp_sweep_offer(p, 3, versioned);
  EXPECT_TRUE(udp_sweep_settled(p));
  udp_sweep_offer(p, 0, hard);  // ranks lower than a version, however early
  EXPECT_EQ(p.best_step, 3u);
  udp_sweep_finish(p);
  EXPECT_TRUE(res.promoted);
  EXPECT_EQ(res.proto, Protocol::Udp);
  EXPECT_EQ(res.name, "domain");
  EXPECT_EQ(res.product, "dnsmasq");
  EXPECT_EQ(res.version, "2.90");
  EXPECT_EQ(res.method, "probed");
  EXPECT_EQ(res.confidence, 10);
  EXPECT_EQ(res.probe, "DnsVersionBind");

  ServiceInfo quiet;
  quiet.port = 520;
  UdpSweepPort q;
  q.res = &quiet;
  udp_sweep_finish(q);
  EXPECT_FALSE(quiet.promoted);
  EXPECT_EQ(quiet.name, "route");
  EXPECT_EQ(quiet.method, "table");

  // An answer without a match: promoted, named by the port table, the probe noted.
  ServiceInfo odd;
  odd.port = 5300;
  UdpSweepPort o;
  o.res = &odd;
  ServiceProbe probe;
  probe.name = "Noise";
  std::vector<UdpStep> one{UdpStep{"x", &probe, nullptr}};
  o.steps = &one;
  udp_sweep_offer(o, 0, std::nullopt);
  udp_sweep_finish(o);
  EXPECT_TRUE(odd.promoted);
  EXPECT_EQ(odd.method, "table");
  EXPECT_EQ(odd.probe, "Noise");
  EXPECT_NE(odd.note.find("no rule matched"), std::string::npos);
}

// End to end on loopback: two open|filtered ports, one a daemon that answers only the "ping"
// probe (which does not list its port: chosen by rarity), one bound and silent.
TEST(UdpVersionScan, SweepsOpenFilteredPortsAndPromotesTheOneThatAnswers) {
  UdpServer server;
  uint16_t silent = 0;
  int silent_fd = bind_loopback_udp(silent);
  std::istringstream in(
      "Probe UDP Noise q|noise|\nrarity 1\n"
      "Probe UDP Ping q|ping|\nrarity 3\n"
      "match toy m|^toyd ([\\d.]+)\\n| p/Toy daemon/ v/$1/\n"
      "Probe UDP Never q|ping|\nrarity 8\n");
  ProbeDb db = parse_nmap_probes(in, "test", DbSource::Nmap);
  ServiceOptions o;
  o.intensity = 3;
  std::atomic<bool> stop{false};
  IpAddress lo = IpAddress::v4(0x7f000001);
  SweepStats st;
  auto res = run_version_scan(std::vector<ServiceTarget>{{lo, Protocol::Udp, server.port(), true},
                                                         {lo, Protocol::Udp, silent, true}},
                              db, o, nullptr, stop, &st);
  ::close(silent_fd);
  ASSERT_EQ(res.size(), 2u);
  EXPECT_TRUE(res[0].promoted);
  EXPECT_EQ(res[0].name, "toy");
  EXPECT_EQ(res[0].product, "Toy daemon");
  EXPECT_EQ(res[0].version, "4.2");
  EXPECT_EQ(res[0].probe, "Ping");
  EXPECT_EQ(res[0].reply_ttl, 64);  // loopback: the kernel's default TTL
  EXPECT_FALSE(res[1].promoted);
  EXPECT_EQ(res[1].method, "table");
  EXPECT_EQ(st.ports, 2u);
  EXPECT_EQ(st.promoted, 1u);
  EXPECT_EQ(st.sent, 4u);  // Noise and Ping to each; Never is above the intensity
  EXPECT_EQ(st.cut, 0u);
}

// The sweep's jobs are bounded (64 x max_active): the probes beyond, and those a stop left
// unstarted, are counted as cut and never sent.
TEST(UdpVersionScan, SweepJobsAreCappedAndUnsentOnesCounted) {
  std::string text;
  for (int i = 0; i < 70; ++i)
    text += "Probe UDP P" + std::to_string(i) + " q|p" + std::to_string(i) + "|\nrarity 1\n";
  std::istringstream in(text);
  ProbeDb db = parse_nmap_probes(in, "test", DbSource::Nmap);
  ServiceOptions o;
  o.max_active = 1;
  std::atomic<bool> stop{true};  // nothing starts
  SweepStats st;
  IpAddress lo = IpAddress::v4(0x7f000001);
  auto res = run_version_scan(std::vector<ServiceTarget>{{lo, Protocol::Udp, 9, true}}, db, o,
                              nullptr, stop, &st);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_FALSE(res[0].promoted);
  EXPECT_EQ(st.ports, 1u);
  EXPECT_EQ(st.sent, 0u);
  EXPECT_EQ(st.cut, 70u);  // 6 beyond the cap of 64, and the 64 the stop left unstarted
}

// detect_services passes at most max_sweep_jobs() open|filtered ports to the runner (the
// others could get no job) and counts the rest: a large -sU -sV holds no ServiceInfo for them.
TEST(UdpVersionScan, PortsBeyondTheSweepCapAreCountedNotHeld) {
  ScanConfig config;
  config.timing.level = 1;  // one connection at a time: a cap of 64 ports
  ResultTable table(100);
  const IpAddress host = IpAddress::v4(0xc6120001);  // 198.18.0.1: nothing is sent (stopped)
  for (uint16_t p = 1; p <= 100; ++p)
    table.add(PortResult{host, Protocol::Udp, p, PortState::OpenFiltered, Reason::NoResponse, 0,
                         WallClock::now()});
  std::istringstream in("Probe UDP P q|p|\nrarity 1\n");
  ProbeDb db = parse_nmap_probes(in, "test", DbSource::Nmap);
  std::atomic<bool> stop{true};
  SweepStats st;
  auto found = detect_services(config, db, table, nullptr, stop, nullptr, &st);
  EXPECT_TRUE(found.empty());  // nothing answered: no open|filtered port gets a record
  ServiceOptions o;
  o.max_active = 1;
  EXPECT_EQ(max_sweep_jobs(o), 64u);
  EXPECT_EQ(st.ports, 64u);
  EXPECT_EQ(st.unswept, 36u);
  EXPECT_EQ(st.sent, 0u);
}

}  // namespace
}  // namespace gh

namespace gh {
namespace {

// --announce: -sV's datagrams carry the -sU trailer by -sU's rules (service/udp_version.h).
TEST(UdpVersionAnnounce, DatagramsCarryTheTagWhereTheProtocolTakesIt) {
  const std::array<uint8_t, 32> secret = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                          12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                          23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  auth::AnnounceKey key = auth::AnnounceKey::derive(secret, std::string(64, 'a'));
  auth::ProbeAnnouncer announcer(key);
  ProbeDb db = shipped();
  net::UdpPayloads payloads = net::UdpPayloads::builtin();
  IpAddress src = *IpAddress::parse("198.18.0.1"), dst = *IpAddress::parse("198.18.0.2");
  auto tagged_for = [&](const std::string& d, size_t base, uint16_t port) {
    net::AnnounceOption o;
    if (d.size() != base + net::kAnnounceLen ||
        !net::find_announce_trailer(reinterpret_cast<const uint8_t*>(d.data()), d.size(), o))
      return false;
    uint32_t epoch = auth::nearest_epoch(o.epoch_lo, auth::ProbeAnnouncer::now_epoch());
    return key.check(o.tag, src, dst, 17, port, epoch) == auth::AnnounceKey::Check::Valid;
  };
  // SNMP takes a trailer: -sU's payload, then the tag for this source, target and port.
  auto snmp = udp_probe_plan(db, payloads, 161, 7);
  ASSERT_FALSE(snmp.empty());
  ASSERT_NE(snmp[0].udp_payload, nullptr);
  std::string d = udp_step_datagram(snmp[0], &announcer, payloads, src, dst, 161);
  EXPECT_EQ(d.substr(0, snmp[0].payload.size()), snmp[0].payload);
  EXPECT_TRUE(tagged_for(d, snmp[0].payload.size(), 161));
  EXPECT_FALSE(tagged_for(d, snmp[0].payload.size(), 162));  // bound to the port
  // Without --announce: the payload alone.
  EXPECT_EQ(udp_step_datagram(snmp[0], nullptr, payloads, src, dst, 161), snmp[0].payload);
  // NTP: the block ends an extension field (the wrap) after the 48-byte request.
  auto ntp = udp_probe_plan(db, payloads, 123, 7);
  ASSERT_NE(ntp[0].udp_payload, nullptr);
  d = udp_step_datagram(ntp[0], &announcer, payloads, src, dst, 123);
  size_t wrap = ntp[0].udp_payload->announce_wrap.size();
  EXPECT_GT(wrap, 0u);
  EXPECT_TRUE(tagged_for(d, ntp[0].payload.size() + wrap, 123));
  // IKE does not take a trailer: -sU's payload and any database probe of port 500 go untagged.
  auto ike = udp_probe_plan(db, payloads, 500, 7);
  ASSERT_NE(ike[0].udp_payload, nullptr);
  EXPECT_EQ(udp_step_datagram(ike[0], &announcer, payloads, src, dst, 500), ike[0].payload);
  UdpStep probe{"\x01\x02", &db.probes().front(), nullptr};
  EXPECT_EQ(udp_step_datagram(probe, &announcer, payloads, src, dst, 500), probe.payload);
  // A database probe to a port none of our payloads covers: tagged.
  d = udp_step_datagram(probe, &announcer, payloads, src, dst, 40000);
  EXPECT_TRUE(tagged_for(d, 2, 40000));
}

}  // namespace
}  // namespace gh
