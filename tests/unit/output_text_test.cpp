#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "output/text_sink.h"

namespace gh {
namespace {

// 2026-11-22T23:04:01Z, a Sunday.
const WallClock::time_point kStart{std::chrono::seconds(1795388641)};

std::string_view fake_services(Protocol proto, uint16_t port) {
  if (proto != Protocol::Tcp) return "unknown";
  switch (port) {
    case 22:
      return "ssh";
    case 25:
      return "smtp";
    case 80:
      return "http";
    case 443:
      return "https";
    case 8080:
      return "http-proxy";
    default:
      return "unknown";
  }
}

TextOptions stdout_options() {
  TextOptions o;
  o.utc = true;
  o.service_name = fake_services;
  return o;
}

PortResult res(const char* ip, uint16_t port, PortState state, Reason reason, uint8_t ttl = 64,
               Protocol proto = Protocol::Tcp) {
  PortResult r;
  r.addr = *IpAddress::parse(ip);
  r.proto = proto;
  r.port = port;
  r.state = state;
  r.reason = reason;
  r.reply_ttl = reason == Reason::NoResponse ? 0 : ttl;
  r.seen = kStart;
  return r;
}
PortResult open_(const char* ip, uint16_t port) {
  return res(ip, port, PortState::Open, Reason::SynAck);
}
PortResult closed_(const char* ip, uint16_t port) {
  return res(ip, port, PortState::Closed, Reason::Reset);
}
PortResult silent_(const char* ip, uint16_t port) {
  return res(ip, port, PortState::Filtered, Reason::NoResponse);
}

// Drives a TextSink the way the scanner does: every verdict through the table, then port().
struct TextRun {
  TextRun(uint64_t targets, uint64_t ports, TextOptions opts = stdout_options())
      : table(ports), sink(out, std::move(opts)) {
    info.command_line = "glasshouse -p 1-1000 192.0.2.7";
    info.scan_type = "syn";
    info.start = kStart;
    info.targets = targets;
    info.ports = ports;
    sink.begin(info);
  }
  void add(const PortResult& r) {
    if (table.add(r)) sink.port(r);
  }
  std::string finish(uint64_t hosts_up, bool interrupted = false, std::string why = "done") {
    ScanSummary s;
    s.end = kStart + std::chrono::milliseconds(12500);
    s.hosts_up = hosts_up;
    s.interrupted = interrupted;
    s.exit_reason = std::move(why);
    sink.end(table, s);
    return out.str();
  }

  ScanInfo info;
  ResultTable table;
  std::ostringstream out;
  TextSink sink;
};

TEST(TextSink, SmallScanListsEveryPortWithAlignedColumns) {
  TextRun run(1, 3);
  run.add(open_("192.0.2.7", 22));
  run.add(closed_("192.0.2.7", 80));
  run.add(silent_("192.0.2.7", 443));  // reported at the end, derived in the table
  EXPECT_EQ(run.finish(1),
            "Starting Glasshouse 0.1.0 at 2026-11-22 23:04 UTC\n"
            "Glasshouse scan report for 192.0.2.7\n"
            "Host is up.\n"
            "\n"
            "PORT    STATE    SERVICE\n"
            "22/tcp  open     ssh\n"
            "80/tcp  closed   http\n"
            "443/tcp filtered https\n"
            "\n"
            "Glasshouse done: 1 IP address (1 host up) scanned in 12.50 seconds\n");
}

TEST(TextSink, NormalFileHeaderNotShownAndFooter) {
  TextOptions o = stdout_options();
  o.file = true;
  TextRun run(1, 1000, o);
  for (uint16_t p = 1; p <= 1000; ++p) {
    if (p == 22 || p == 80) {
      run.add(open_("192.0.2.7", p));
    } else if (p == 999) {
      run.add(silent_("192.0.2.7", 8080));  // the one port that never answered
    } else {
      run.add(closed_("192.0.2.7", p));
    }
  }
  EXPECT_EQ(run.finish(1),
            "# Glasshouse 0.1.0 scan initiated Sun Nov 22 23:04:01 2026 as: glasshouse -p "
            "1-1000 192.0.2.7\n"
            "Glasshouse scan report for 192.0.2.7\n"
            "Host is up.\n"
            "Not shown: 997 closed tcp ports (reset)\n"
            "PORT     STATE    SERVICE\n"
            "22/tcp   open     ssh\n"
            "80/tcp   open     http\n"
            "8080/tcp filtered http-proxy\n"
            "\n"
            "# Glasshouse done at Sun Nov 22 23:04:13 2026 -- 1 IP address (1 host up) scanned in "
            "12.50 seconds\n");
}

TEST(TextSink, SeveralHiddenStatesLargestFirstOneItemPerReason) {
  TextRun run(1, 65535);
  run.add(open_("192.0.2.7", 22));
  run.add(open_("192.0.2.7", 80));
  for (uint16_t p = 23; p <= 52; ++p)
    run.add(res("192.0.2.7", p, PortState::Filtered, Reason::AdminProhibited));
  for (uint32_t p = 101; p <= 65100; ++p) run.add(closed_("192.0.2.7", static_cast<uint16_t>(p)));
  run.add(res("192.0.2.7", 53, PortState::Open, Reason::UdpResponse, 64, Protocol::Udp));
  for (uint32_t p = 65101; p <= 65535; ++p) run.add(silent_("192.0.2.7", static_cast<uint16_t>(p)));
  // 65535 - 65000 closed - 2 open - 30 admin-prohibited - 1 udp = 502 without an answer.
  std::string out = run.finish(1);
  EXPECT_NE(out.find("Glasshouse scan report for 192.0.2.7\n"
                     "Host is up.\n"
                     "Not shown: 65000 closed tcp ports (reset), 502 filtered tcp ports "
                     "(no-response), 30 filtered tcp ports (admin-prohibited)\n"
                     "PORT   STATE SERVICE\n"
                     "22/tcp open  ssh\n"
                     "80/tcp open  http\n"
                     "53/udp open  unknown\n"
                     "\n"
                     "Glasshouse done: 1 IP address (1 host up) scanned in 12.50 seconds\n"),
            std::string::npos)
      << out;
}

TEST(TextSink, AllPortsInIgnoredStates) {
  TextRun run(2, 1000);
  run.table.note_host(*IpAddress::parse("192.0.2.7"));
  run.table.note_host(*IpAddress::parse("192.0.2.9"));
  for (uint16_t p = 1; p <= 1000; ++p) run.add(closed_("192.0.2.7", p));
  for (uint16_t p = 1; p <= 1000; ++p) run.add(silent_("192.0.2.9", p));
  EXPECT_EQ(run.finish(1),
            "Starting Glasshouse 0.1.0 at 2026-11-22 23:04 UTC\n"
            "Glasshouse scan report for 192.0.2.7\n"
            "Host is up.\n"
            "All 1000 scanned ports on 192.0.2.7 are in ignored states.\n"
            "Not shown: 1000 closed tcp ports (reset)\n"
            "\n"
            "Glasshouse scan report for 192.0.2.9\n"
            "All 1000 scanned ports on 192.0.2.9 are in ignored states.\n"
            "Not shown: 1000 filtered tcp ports (no-response)\n"
            "\n"
            "Glasshouse done: 2 IP addresses (1 host up) scanned in 12.50 seconds\n");
}

// Without a discovery latency (-Pn, loopback, an unprivileged -sT), the host line carries its
// first port verdict's round trip, as nmap's carries its port scan's.
TEST(TextSink, AHostWithoutDiscoveryLatencyShowsItsFirstPortsRoundTrip) {
  TextRun run(2, 2);
  run.table.note_host(*IpAddress::parse("192.0.2.7"));
  run.table.note_host(*IpAddress::parse("192.0.2.9"));
  PortResult first = closed_("192.0.2.7", 1);
  first.rtt = std::chrono::microseconds(110);
  PortResult second = closed_("192.0.2.7", 2);
  second.rtt = std::chrono::microseconds(5000);
  run.add(first);
  run.add(second);
  run.add(closed_("192.0.2.9", 1));
  run.add(closed_("192.0.2.9", 2));
  const std::string out = run.finish(2);
  EXPECT_NE(out.find("Glasshouse scan report for 192.0.2.7\nHost is up (0.00011s latency).\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Glasshouse scan report for 192.0.2.9\nHost is up.\n"), std::string::npos)
      << out;
}

// nmap: "All 1000 scanned ports on localhost (127.0.0.1) are in ignored states."
TEST(TextSink, TheIgnoredStatesLineNamesTheHostAsTheHeaderDoes) {
  TextOptions opts = stdout_options();
  opts.host_name = [](const IpAddress& a) {
    return a.to_string() == "127.0.0.1" ? std::string("localhost") : std::string{};
  };
  TextRun run(2, 1000, opts);
  run.table.note_host(*IpAddress::parse("127.0.0.1"));
  run.table.note_host(*IpAddress::parse("192.0.2.7"));
  for (uint16_t p = 1; p <= 1000; ++p) run.add(closed_("127.0.0.1", p));
  for (uint16_t p = 1; p <= 1000; ++p) run.add(closed_("192.0.2.7", p));
  const std::string out = run.finish(2);
  EXPECT_NE(out.find("Glasshouse scan report for localhost (127.0.0.1)\nHost is up.\n"
                     "All 1000 scanned ports on localhost (127.0.0.1) are in ignored states.\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("All 1000 scanned ports on 192.0.2.7 are in ignored states.\n"),
            std::string::npos)
      << out;
}

TEST(TextSink, OpenOnlyHidesOtherStatesAndHostsWithoutOpenPorts) {
  TextOptions o = stdout_options();
  o.open_only = true;
  TextRun run(3, 3, o);
  for (const char* ip : {"192.0.2.7", "192.0.2.8", "192.0.2.9"})
    run.table.note_host(*IpAddress::parse(ip));
  run.add(open_("192.0.2.7", 22));
  run.add(closed_("192.0.2.7", 80));
  run.add(silent_("192.0.2.7", 443));
  for (uint16_t p : {22, 80, 443}) run.add(closed_("192.0.2.8", p));
  EXPECT_EQ(run.finish(2),
            "Starting Glasshouse 0.1.0 at 2026-11-22 23:04 UTC\n"
            "Glasshouse scan report for 192.0.2.7\n"
            "Host is up.\n"
            "Not shown: 1 closed tcp port (reset), 1 filtered tcp port (no-response)\n"
            "PORT   STATE SERVICE\n"
            "22/tcp open  ssh\n"
            "\n"
            "Glasshouse done: 3 IP addresses (2 hosts up) scanned in 12.50 seconds\n");
}

TEST(TextSink, OpenOnlyStillListsOpenFiltered) {
  TextOptions o = stdout_options();
  o.open_only = true;
  TextRun run(1, 2, o);
  run.add(res("192.0.2.7", 53, PortState::OpenFiltered, Reason::NoResponse, 0, Protocol::Udp));
  run.add(res("192.0.2.7", 123, PortState::Closed, Reason::PortUnreach, 64, Protocol::Udp));
  std::string out = run.finish(1);
  EXPECT_NE(out.find("Not shown: 1 closed udp port (port-unreach)\n"
                     "PORT   STATE         SERVICE\n"
                     "53/udp open|filtered unknown\n"),
            std::string::npos)
      << out;
}

TEST(TextSink, ReasonColumnWithTtl) {
  TextOptions o = stdout_options();
  o.reason = true;
  TextRun run(1, 3, o);
  run.add(open_("192.0.2.7", 22));
  run.add(closed_("192.0.2.7", 80));
  run.add(res("192.0.2.7", 25, PortState::Open, Reason::ConnAccepted, 0));  // connect(): no TTL
  std::string out = run.finish(1);
  EXPECT_NE(out.find("Host is up.\n"
                     "\n"
                     "PORT   STATE  SERVICE REASON\n"
                     "22/tcp open   ssh     syn-ack ttl 64\n"
                     "25/tcp open   smtp    syn-ack\n"
                     "80/tcp closed http    reset ttl 64\n"
                     "\n"),
            std::string::npos)
      << out;
}

TEST(TextSink, VeryVerboseImpliesReasonButVerboseDoesNot) {
  for (int v : {1, 2}) {
    TextOptions o = stdout_options();
    o.verbosity = v;
    TextRun run(1, 1, o);
    run.add(closed_("192.0.2.7", 22));
    std::string out = run.finish(1);
    if (v == 1) {
      EXPECT_NE(out.find("PORT   STATE  SERVICE\n22/tcp closed ssh\n"), std::string::npos) << out;
    } else {
      EXPECT_NE(out.find("PORT   STATE  SERVICE REASON\n22/tcp closed ssh     reset ttl 64\n"),
                std::string::npos)
          << out;
    }
  }
}

TEST(TextSink, VerbosityRaisesTheHidingLimit) {
  auto render = [](int verbosity) {
    TextOptions o = stdout_options();
    o.verbosity = verbosity;
    TextRun run(1, 31, o);
    run.add(open_("192.0.2.7", 22));
    for (uint16_t p = 100; p < 130; ++p) run.add(closed_("192.0.2.7", p));
    return run.finish(1);
  };
  std::string quiet = render(0);
  EXPECT_NE(quiet.find("Not shown: 30 closed tcp ports (reset)\nPORT   STATE SERVICE\n"),
            std::string::npos)
      << quiet;
  std::string verbose = render(1);  // the limit is 50 with -v
  EXPECT_EQ(verbose.find("Not shown"), std::string::npos) << verbose;
  EXPECT_NE(verbose.find("129/tcp closed unknown\n"), std::string::npos) << verbose;
}

TEST(TextSink, VerboseStdoutPrintsDiscoveredOpenPortsLive) {
  TextOptions o = stdout_options();
  o.verbosity = 1;
  TextRun run(1, 3, o);
  run.add(open_("192.0.2.7", 22));
  run.add(closed_("192.0.2.7", 80));
  EXPECT_EQ(run.out.str(),
            "Starting Glasshouse 0.1.0 at 2026-11-22 23:04 UTC\n"
            "Discovered open port 22/tcp on 192.0.2.7\n");

  std::vector<std::string> live;
  TextOptions routed = stdout_options();
  routed.verbosity = 1;
  routed.live_line = [&live](std::string_view l) { live.emplace_back(l); };
  TextRun run2(1, 3, routed);
  run2.add(open_("192.0.2.7", 443));
  EXPECT_EQ(live, std::vector<std::string>{"Discovered open port 443/tcp on 192.0.2.7"});
  EXPECT_EQ(run2.out.str(), "Starting Glasshouse 0.1.0 at 2026-11-22 23:04 UTC\n");

  TextOptions file = stdout_options();
  file.file = true;
  file.verbosity = 1;
  TextRun run3(1, 3, file);
  run3.add(open_("192.0.2.7", 22));
  EXPECT_EQ(run3.out.str().find("Discovered"), std::string::npos);
}

TEST(TextSink, LargeScansListOnlyHostsThatAnswered) {
  TextRun run(1024, 2);
  run.table.note_host(*IpAddress::parse("192.0.2.9"));  // not listed: more than 256 targets
  run.add(silent_("192.0.2.9", 22));
  run.add(silent_("192.0.2.9", 443));
  run.add(res("192.0.2.10", 22, PortState::Filtered, Reason::HostUnreach));  // a router spoke
  run.add(open_("192.0.2.7", 22));
  run.add(silent_("192.0.2.7", 443));
  EXPECT_EQ(run.finish(1),
            "Starting Glasshouse 0.1.0 at 2026-11-22 23:04 UTC\n"
            "Glasshouse scan report for 192.0.2.7\n"
            "Host is up.\n"
            "\n"
            "PORT    STATE    SERVICE\n"
            "22/tcp  open     ssh\n"
            "443/tcp filtered https\n"
            "\n"
            "Glasshouse done: 1024 IP addresses (1 host up) scanned in 12.50 seconds\n");
}

TEST(TextSink, HostsInAddressOrderIpv4First) {
  TextRun run(3, 1);
  run.add(open_("2001:db8::1", 22));
  run.add(open_("192.0.2.20", 22));
  run.add(open_("192.0.2.3", 22));
  std::string out = run.finish(3);
  size_t a = out.find("report for 192.0.2.3\n");
  size_t b = out.find("report for 192.0.2.20\n");
  size_t c = out.find("report for 2001:db8::1\n");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(out.find("scanned in 12.50 seconds"), std::string::npos);
  EXPECT_NE(out.find("3 IP addresses (3 hosts up)"), std::string::npos);
}

TEST(TextSink, NoHostUpAndInterruptedLines) {
  TextRun run(1, 1);
  EXPECT_EQ(run.finish(0, true, "interrupted"),
            "Starting Glasshouse 0.1.0 at 2026-11-22 23:04 UTC\n"
            "Scan interrupted: results are incomplete.\n"
            "Glasshouse done: 1 IP address (0 hosts up) scanned in 12.50 seconds\n");

  TextOptions o = stdout_options();
  o.file = true;
  TextRun failed(1, 1, o);
  std::string out = failed.finish(0, false, "sendto: Operation not permitted");
  EXPECT_NE(out.find("\n# Scan stopped: sendto: Operation not permitted; results are incomplete.\n"
                     "# Glasshouse done at "),
            std::string::npos)
      << out;
}

TEST(TextSink, CommandLineControlCharactersAreShownEscaped) {
  TextOptions o = stdout_options();
  o.file = true;
  std::ostringstream out;
  TextSink sink(out, o);
  ScanInfo info;
  info.command_line = "glasshouse\n-p 22 \x1b[31m";
  info.start = kStart;
  sink.begin(info);
  EXPECT_EQ(out.str(),
            "# Glasshouse 0.1.0 scan initiated Sun Nov 22 23:04:01 2026 as: glasshouse\\x0a-p 22 "
            "\\x1b[31m\n");
}

TEST(TextSink, HeaderNamesTheEngagement) {
  TextOptions o = stdout_options();
  o.file = true;
  std::ostringstream out;
  TextSink sink(out, o);
  ScanInfo info;
  info.command_line = "glasshouse scan --scope acme.toml 198.18.0.2";
  info.start = kStart;
  info.engagement_id = "ACME-2026-11";
  sink.begin(info);
  EXPECT_EQ(out.str(),
            "# Glasshouse 0.1.0 scan initiated Sun Nov 22 23:04:01 2026 as: glasshouse scan "
            "--scope acme.toml 198.18.0.2\n# Engagement: ACME-2026-11\n");
}

TEST(TextSink, WriteFailureThrowsRuntimeError) {
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  TextOptions o = stdout_options();
  o.name = "scan.nmap";
  TextSink sink(out, o);
  ScanInfo info;
  EXPECT_THROW(sink.begin(info), RuntimeError);
}

}  // namespace
}  // namespace gh
