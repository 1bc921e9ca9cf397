// Connect scan engine tests. Every connection goes to a loopback listener or port this test opens
// itself (127.0.0.0/8, ::1), or stays inside a network namespace the test creates.
#include "scan/connect_engine.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "io/fd.h"
#include "io/privilege.h"
#include "targets/probe_space.h"

namespace gh {
namespace {

using namespace std::chrono_literals;
using connect_detail::classify_connect_errno;
using connect_detail::connect_pending;
using connect_detail::ConnectTimeout;
using connect_detail::Outcome;
using connect_detail::socket_reusable;

// ---- loopback fixtures ------------------------------------------------------------------------

socklen_t to_sockaddr(const std::string& ip, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  if (::inet_pton(AF_INET, ip.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr) != 1) ADD_FAILURE() << "bad ip " << ip;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  return sizeof(sockaddr_in6);
}

struct BoundSocket {
  FileDescriptor fd;
  uint16_t port = 0;
};

// A TCP socket bound to ip:port (0 = any free port); listening with `backlog` unless backlog < 0.
// A bound socket that does not listen answers SYNs with RST, and keeps its port reserved, so it
// makes a closed port that nothing else can grab while the test runs.
std::optional<BoundSocket> bind_tcp(const std::string& ip, int backlog, uint16_t port = 0) {
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(ip, port, ss);
  FileDescriptor fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return std::nullopt;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return std::nullopt;
  if (backlog >= 0 && ::listen(fd.get(), backlog) != 0) return std::nullopt;
  len = sizeof ss;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  uint16_t bound = ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port;
  return BoundSocket{std::move(fd), ntohs(bound)};
}

bool ipv6_loopback_available() {
  return bind_tcp("::1", -1).has_value();
}

// A listener that answers no SYN: backlog 0 with one connection already queued and never
// accepted. Linux drops SYNs to a listener whose accept queue is full, so connects to it time out.
struct SilentListener {
  BoundSocket listener;
  FileDescriptor filler;
};

std::optional<SilentListener> silent_listener(const std::string& ip) {
  auto l = bind_tcp(ip, 0);
  if (!l) return std::nullopt;
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(ip, l->port, ss);
  FileDescriptor c(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!c || ::connect(c.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return std::nullopt;
  pollfd p{l->fd.get(), POLLIN, 0};  // the connection is in the accept queue
  if (::poll(&p, 1, 2000) != 1) return std::nullopt;
  return SilentListener{std::move(*l), std::move(c)};
}

// ---- running the engine -----------------------------------------------------------------------

struct ScanRun {
  std::vector<PortResult> results;
  EngineReport report;
  uint64_t sent = 0, received = 0, retries = 0, done = 0, total = 0, open = 0;

  // Verdicts by (address, port), failing the test on any duplicate.
  std::map<std::pair<std::string, uint16_t>, PortResult> by_key() const {
    std::map<std::pair<std::string, uint16_t>, PortResult> m;
    for (const auto& r : results) {
      EXPECT_EQ(r.proto, Protocol::Tcp);
      bool fresh = m.emplace(std::make_pair(r.addr.to_string(), r.port), r).second;
      EXPECT_TRUE(fresh) << "reported twice: " << r.addr.to_string() << " port " << r.port;
    }
    return m;
  }
};

Timing fast_timing(int level = 4) {
  Timing t;
  t.level = level;
  t.max_retries = 2;
  t.initial_rtt = 150ms;
  t.max_rtt = 300ms;
  return t;
}

ScanRun scan(const ScanConfig& cfg, const std::atomic<bool>& stop, uint64_t seed = 42,
             size_t workers = 0) {
  ProbeSpace space(cfg.targets, cfg.ports);
  EngineCounters counters;
  ScanRun out;
  EngineContext ctx{cfg,  space,    seed,
                    stop, counters, [&](const PortResult& r) { out.results.push_back(r); }};
  out.report = run_connect_scan(ctx, nullptr, workers);
  out.sent = counters.sent;
  out.received = counters.received;
  out.retries = counters.retries;
  out.done = counters.done;
  out.total = counters.total;
  out.open = counters.open;
  return out;
}

ScanRun scan(const ScanConfig& cfg, uint64_t seed = 42) {
  std::atomic<bool> stop{false};
  return scan(cfg, stop, seed);
}

std::vector<uint16_t> sorted(std::vector<uint16_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// N open and M closed ports on one loopback address, and the config that scans exactly them.
struct LoopbackLab {
  std::vector<BoundSocket> open, closed;
  std::vector<uint16_t> open_ports, closed_ports;

  bool build(const std::string& ip, int n_open, int n_closed) {
    for (int i = 0; i < n_open; ++i) {
      auto s = bind_tcp(ip, 128);
      if (!s) return false;
      open_ports.push_back(s->port);
      open.push_back(std::move(*s));
    }
    for (int i = 0; i < n_closed; ++i) {
      auto s = bind_tcp(ip, -1);
      if (!s) return false;
      closed_ports.push_back(s->port);
      closed.push_back(std::move(*s));
    }
    return true;
  }
  std::vector<uint16_t> all_ports() const {
    std::vector<uint16_t> v = open_ports;
    v.insert(v.end(), closed_ports.begin(), closed_ports.end());
    return sorted(v);
  }
};

void expect_open_closed(const ScanRun& out, const std::string& ip, const LoopbackLab& lab) {
  auto m = out.by_key();
  for (uint16_t p : lab.open_ports) {
    auto it = m.find({ip, p});
    ASSERT_NE(it, m.end()) << ip << " port " << p << " not reported";
    EXPECT_EQ(it->second.state, PortState::Open) << p;
    EXPECT_EQ(it->second.reason, Reason::ConnAccepted) << p;
  }
  for (uint16_t p : lab.closed_ports) {
    auto it = m.find({ip, p});
    ASSERT_NE(it, m.end()) << ip << " port " << p << " not reported";
    EXPECT_EQ(it->second.state, PortState::Closed) << p;
    EXPECT_EQ(it->second.reason, Reason::ConnRefused) << p;
  }
}

// ---- pure helpers -----------------------------------------------------------------------------

TEST(ConnectClassify, MapsErrnosToVerdicts) {
  auto is = [](int err, PortState s, Reason r) {
    auto c = classify_connect_errno(err);
    EXPECT_EQ(c.outcome, Outcome::Verdict) << err;
    EXPECT_EQ(c.state, s) << err;
    EXPECT_EQ(c.reason, r) << err;
  };
  is(0, PortState::Open, Reason::ConnAccepted);
  is(ECONNRESET, PortState::Open, Reason::ConnAccepted);
  is(ECONNREFUSED, PortState::Closed, Reason::ConnRefused);
  is(EHOSTUNREACH, PortState::Filtered, Reason::HostUnreach);
  is(ENETUNREACH, PortState::Filtered, Reason::NetUnreach);
  is(EACCES, PortState::Filtered, Reason::AdminProhibited);
  is(EPERM, PortState::Filtered, Reason::AdminProhibited);
  EXPECT_EQ(classify_connect_errno(ETIMEDOUT).outcome, Outcome::Timeout);
  for (int err : {EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL})
    EXPECT_EQ(classify_connect_errno(err).outcome, Outcome::LocalTransient) << err;
  EXPECT_EQ(classify_connect_errno(EAFNOSUPPORT).outcome, Outcome::LocalFatal);
  EXPECT_EQ(classify_connect_errno(EINVAL).outcome, Outcome::LocalFatal);
}

TEST(ConnectClassify, PendingAndReusableSockets) {
  // A second connect() on a connected socket says EISCONN: that is an open port.
  auto c = classify_connect_errno(EISCONN);
  EXPECT_EQ(c.outcome, Outcome::Verdict);
  EXPECT_EQ(c.state, PortState::Open);
  EXPECT_EQ(c.reason, Reason::ConnAccepted);

  for (int err : {EALREADY, EINPROGRESS, EINTR}) EXPECT_TRUE(connect_pending(err)) << err;
  for (int err : {0, EISCONN, ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EMFILE})
    EXPECT_FALSE(connect_pending(err)) << err;

  // Refused and unreachable attempts leave the socket unconnected, ready for the next attempt.
  for (int err : {ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EACCES, EPERM, ENOPROTOOPT})
    EXPECT_TRUE(socket_reusable(err)) << err;
  // Connected (open) sockets are closed with RST; timeouts, local errors and fatal ones are
  // closed too.
  for (int err : {0, EISCONN, ECONNRESET, EPIPE, ETIMEDOUT, EALREADY, EINPROGRESS, EMFILE, ENOBUFS,
                  EADDRNOTAVAIL, EAFNOSUPPORT, EINVAL, EMSGSIZE})
    EXPECT_FALSE(socket_reusable(err)) << err;
}

TEST(ConnectInflightCap, GrowsWithTimingLevel) {
  EXPECT_EQ(connect_detail::inflight_cap_for_level(0), 1u);
  EXPECT_EQ(connect_detail::inflight_cap_for_level(1), 1u);
  EXPECT_LT(connect_detail::inflight_cap_for_level(2), connect_detail::inflight_cap_for_level(3));
  EXPECT_EQ(connect_detail::inflight_cap_for_level(3), 1024u);
  EXPECT_EQ(connect_detail::inflight_cap_for_level(4), 4096u);
  EXPECT_EQ(connect_detail::inflight_cap_for_level(5), 4096u);
}

TEST(ConnectWorkers, TwoForFastScansOfManyPorts) {
  using connect_detail::kMinProbesPerWorker;
  using connect_detail::workers_for;
  Timing t4;
  t4.level = 4;
  Timing t5;
  t5.level = 5;
  EXPECT_EQ(workers_for(t4, 65535, 2), 2u);
  EXPECT_EQ(workers_for(t5, 65535, 8), 2u);
  EXPECT_EQ(workers_for(t5, 2 * kMinProbesPerWorker, 2), 2u);
  EXPECT_EQ(workers_for(t5, 2 * kMinProbesPerWorker - 1, 2), 1u);  // small scans: one
  EXPECT_EQ(workers_for(t5, 1000, 2), 1u);
  EXPECT_EQ(workers_for(t5, 65535, 1), 1u);  // one core
  EXPECT_EQ(workers_for(t5, 65535, 0), 1u);  // unknown
  Timing t3;                                 // the default: two workers as well (issue 16)
  t3.level = 3;
  EXPECT_EQ(workers_for(t3, 65535, 2), 2u);
  Timing t2;  // polite: one
  t2.level = 2;
  EXPECT_EQ(workers_for(t2, 65535, 2), 1u);
  Timing delay = t5;
  delay.scan_delay = 1ms;
  EXPECT_EQ(workers_for(delay, 65535, 2), 1u);
  Timing host = t5;
  host.host_timeout = 1s;
  EXPECT_EQ(workers_for(host, 65535, 2), 1u);
  host.host_timeout = 0ms;  // nmap's "no host timeout"
  EXPECT_EQ(workers_for(host, 65535, 2), 2u);
}

TEST(ConnectTimeoutEstimator, StartsAtInitialClamped) {
  EXPECT_EQ(ConnectTimeout(1000ms, 10000ms).timeout(), 1000ms);
  EXPECT_EQ(ConnectTimeout(20000ms, 10000ms).timeout(), 10000ms);
  EXPECT_EQ(ConnectTimeout(10ms, 10000ms).timeout(), 100ms);  // floor
  EXPECT_EQ(ConnectTimeout(10ms, 50ms).timeout(), 50ms);      // floor never above max_rtt
}

TEST(ConnectTimeoutEstimator, AdaptsToSamples) {
  ConnectTimeout t(1000ms, 10000ms);
  t.sample(200ms);  // srtt 200, rttvar 200 -> 1000
  EXPECT_EQ(t.timeout(), 1000ms);
  t.sample(200ms);  // srtt 200, rttvar 150 -> 800
  EXPECT_EQ(t.timeout(), 800ms);
  for (int i = 0; i < 100; ++i) t.sample(1ms);
  EXPECT_EQ(t.timeout(), 100ms);  // fast answers: down to the floor
  for (int i = 0; i < 100; ++i) t.sample(30s);
  EXPECT_EQ(t.timeout(), 10000ms);  // slow answers: up to max_rtt
}

// ---- loopback scans ---------------------------------------------------------------------------

TEST(ConnectEngine, ReportsOpenAndClosedOnIpv4Loopback) {
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 5, 7));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = lab.all_ports();
  cfg.timing = fast_timing();

  auto out = scan(cfg);
  EXPECT_FALSE(out.report.interrupted);
  ASSERT_EQ(out.results.size(), 12u);
  expect_open_closed(out, "127.0.0.1", lab);
  EXPECT_EQ(out.total, 12u);
  EXPECT_EQ(out.done, 12u);
  EXPECT_EQ(out.open, 5u);
  EXPECT_EQ(out.received, 12u);
  EXPECT_EQ(out.sent, 12u + out.retries);
  EXPECT_EQ(out.report.probes_sent, out.sent);
  EXPECT_EQ(out.report.replies, 12u);
}

TEST(ConnectEngine, ReportsOpenAndClosedOnIpv6Loopback) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "::1 cannot be bound";
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("::1", 4, 6));
  ScanConfig cfg;
  cfg.targets.add_spec("::1");
  cfg.ports.tcp = lab.all_ports();
  cfg.timing = fast_timing();

  auto out = scan(cfg);
  EXPECT_FALSE(out.report.interrupted);
  ASSERT_EQ(out.results.size(), 10u);
  expect_open_closed(out, "::1", lab);
  EXPECT_EQ(out.open, 4u);
  EXPECT_EQ(out.done, 10u);
}

TEST(ConnectEngine, ScansBothFamiliesInOneRun) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "::1 cannot be bound";
  // A port open on one family is scanned on the other too, where it is closed.
  auto v4 = bind_tcp("127.0.0.1", 128);
  auto v6 = bind_tcp("::1", 128);
  ASSERT_TRUE(v4 && v6);
  auto hold_v6 = bind_tcp("::1", -1, v4->port);  // reserve the other family's twin (best effort)
  auto hold_v4 = bind_tcp("127.0.0.1", -1, v6->port);
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.targets.add_spec("::1");
  cfg.ports.tcp = sorted({v4->port, v6->port});
  cfg.timing = fast_timing();

  auto out = scan(cfg);
  auto m = out.by_key();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m.at({"127.0.0.1", v4->port}).state, PortState::Open);
  EXPECT_EQ(m.at({"::1", v6->port}).state, PortState::Open);
  EXPECT_EQ(m.at({"127.0.0.1", v6->port}).state, PortState::Closed);
  EXPECT_EQ(m.at({"::1", v4->port}).state, PortState::Closed);
  EXPECT_EQ(out.open, 2u);
}

// Many closed ports and a few open ones, scanned through 16 sockets at a time: every verdict right,
// refused attempts' sockets used again (far fewer sockets than probes), answers taken as soon as
// connect() has them.
void expect_sockets_reused(const std::string& ip) {
  LoopbackLab lab;
  ASSERT_TRUE(lab.build(ip, 3, 200));
  ScanConfig cfg;
  cfg.targets.add_spec(ip);
  cfg.ports.tcp = lab.all_ports();
  cfg.timing = fast_timing(2);
  size_t cap = connect_detail::inflight_cap_for_level(2);

  for (uint64_t seed : {1u, 2u, 3u}) {
    std::atomic<bool> stop{false};
    ProbeSpace space(cfg.targets, cfg.ports);
    EngineCounters counters;
    ScanRun out;
    EngineContext ctx{cfg,  space,    seed,
                      stop, counters, [&](const PortResult& r) { out.results.push_back(r); }};
    connect_detail::Stats stats;
    out.report = run_connect_scan(ctx, &stats);
    ASSERT_EQ(out.results.size(), 203u);
    expect_open_closed(out, ip, lab);
    EXPECT_EQ(counters.retries.load(), 0u);
    // One socket per concurrent attempt at most, plus one for each connection closed (the open
    // ports): not one per probe.
    EXPECT_LE(stats.sockets_opened, cap + 3) << "seed " << seed;
    EXPECT_GE(stats.sockets_opened, 1u);
    // Every attempt went one way or the other; on loopback most answers are there at once.
    EXPECT_EQ(stats.immediate + stats.waited, counters.sent.load());
    EXPECT_GT(stats.immediate, 0u);
  }
}

TEST(ConnectEngine, ReusesSocketsOnIpv4Loopback) {
  expect_sockets_reused("127.0.0.1");
}

TEST(ConnectEngine, ReusesSocketsOnIpv6Loopback) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "::1 cannot be bound";
  expect_sockets_reused("::1");
}

TEST(ConnectEngine, TwoWorkersReportEveryPortOnceFromTheCallingThread) {
  for (std::string ip : {"127.0.0.1", "::1"}) {
    if (ip == "::1" && !ipv6_loopback_available()) continue;
    LoopbackLab lab;
    ASSERT_TRUE(lab.build(ip, 4, 300));
    ScanConfig cfg;
    cfg.targets.add_spec(ip);
    cfg.ports.tcp = lab.all_ports();
    cfg.timing = fast_timing(5);

    std::atomic<bool> stop{false};
    ProbeSpace space(cfg.targets, cfg.ports);
    EngineCounters counters;
    ScanRun out;
    auto caller = std::this_thread::get_id();
    size_t elsewhere = 0;
    EngineContext ctx{cfg, space, 9, stop, counters, [&](const PortResult& r) {
                        if (std::this_thread::get_id() != caller) ++elsewhere;
                        out.results.push_back(r);
                      }};
    connect_detail::Stats stats;
    out.report = run_connect_scan(ctx, &stats, 2);
    EXPECT_EQ(stats.workers, 2u);
    EXPECT_EQ(elsewhere, 0u) << "a verdict was reported from another thread";
    EXPECT_FALSE(out.report.interrupted);
    ASSERT_EQ(out.results.size(), 304u);
    expect_open_closed(out, ip, lab);  // also fails on a port reported twice
    EXPECT_EQ(counters.done.load(), 304u);
    EXPECT_EQ(counters.open.load(), 4u);
    EXPECT_EQ(out.report.probes_sent, counters.sent.load());
    EXPECT_EQ(out.report.replies, 304u);
    EXPECT_EQ(stats.immediate + stats.waited, counters.sent.load());
  }
}

// The kernel behaviour the engine is built on: a refused non-blocking connect() has its answer
// by the time a second connect() looks (on loopback), and leaves the socket ready for another
// connect(), which can then succeed.
TEST(ConnectEngine, RefusedSocketConnectsAgain) {
  for (std::string ip : {"127.0.0.1", "::1"}) {
    if (ip == "::1" && !ipv6_loopback_available()) continue;
    auto closed = bind_tcp(ip, -1);
    auto open = bind_tcp(ip, 16);
    ASSERT_TRUE(closed && open) << ip;
    sockaddr_storage to_closed, to_open;
    socklen_t len = to_sockaddr(ip, closed->port, to_closed);
    to_sockaddr(ip, open->port, to_open);
    FileDescriptor fd(::socket(to_closed.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd);
    auto conn = [&](const sockaddr_storage& ss) {
      return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) == 0 ? 0 : errno;
    };
    // Waits for the attempt under way and returns what a second connect() says then.
    auto outcome = [&](const sockaddr_storage& ss) {
      int err = conn(ss);
      if (!connect_pending(err)) return err;
      pollfd p{fd.get(), POLLOUT, 0};
      EXPECT_EQ(::poll(&p, 1, 5000), 1);
      return conn(ss);
    };
    for (int round = 0; round < 3; ++round) {
      int err = conn(to_closed);
      if (connect_pending(err)) err = outcome(to_closed);
      EXPECT_EQ(err, ECONNREFUSED) << ip << " round " << round;
    }
    int err = conn(to_open);
    if (connect_pending(err)) err = outcome(to_open);
    EXPECT_EQ(err, 0) << ip;
    EXPECT_EQ(conn(to_open), EISCONN) << ip;
  }
}

TEST(ConnectEngine, ManyHostsAndPortsWithSmallCap) {
  // 12 hosts x 25 ports through 16 sockets at a time (-T2's cap): slots are reused many times.
  auto a = bind_tcp("127.0.0.2", 128);
  auto b = bind_tcp("127.0.0.7", 128);
  ASSERT_TRUE(a && b);
  std::vector<BoundSocket> holds;
  std::vector<uint16_t> ports{a->port, b->port};
  while (ports.size() < 25) {
    auto s = bind_tcp("127.0.0.1", -1);
    ASSERT_TRUE(s);
    ports.push_back(s->port);
    holds.push_back(std::move(*s));
  }
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1-12");
  cfg.ports.tcp = sorted(ports);
  cfg.timing = fast_timing(2);

  for (uint64_t seed : {1u, 2u}) {
    auto out = scan(cfg, seed);
    auto m = out.by_key();
    ASSERT_EQ(m.size(), 12u * 25u);
    for (const auto& [key, r] : m) {
      bool want_open = (key.first == "127.0.0.2" && key.second == a->port) ||
                       (key.first == "127.0.0.7" && key.second == b->port);
      EXPECT_EQ(r.state, want_open ? PortState::Open : PortState::Closed)
          << key.first << " port " << key.second;
    }
    EXPECT_EQ(out.open, 2u);
    EXPECT_EQ(out.done, 300u);
    EXPECT_EQ(out.total, 300u);
  }
}

TEST(ConnectEngine, SerialScanWithRateAndScanDelay) {
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 2, 4));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = lab.all_ports();
  cfg.timing = fast_timing(1);
  cfg.timing.max_rate = 500;
  cfg.timing.scan_delay = 2ms;

  auto out = scan(cfg);
  ASSERT_EQ(out.results.size(), 6u);
  expect_open_closed(out, "127.0.0.1", lab);
}

TEST(ConnectEngine, SkipsUdpEntries) {
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 1, 1));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = lab.all_ports();
  cfg.ports.udp = {53, 123, 161};
  cfg.timing = fast_timing();

  auto out = scan(cfg);
  EXPECT_EQ(out.total, 2u);
  EXPECT_EQ(out.sent, 2u + out.retries);
  ASSERT_EQ(out.results.size(), 2u);
  expect_open_closed(out, "127.0.0.1", lab);

  ScanConfig udp_only;
  udp_only.targets.add_spec("127.0.0.1");
  udp_only.ports.udp = {53};
  auto none = scan(udp_only);
  EXPECT_TRUE(none.results.empty());
  EXPECT_EQ(none.total, 0u);
  EXPECT_EQ(none.sent, 0u);

  ScanConfig no_targets;
  no_targets.ports.tcp = {80};
  auto empty = scan(no_targets);
  EXPECT_TRUE(empty.results.empty());
  EXPECT_FALSE(empty.report.interrupted);
  EXPECT_EQ(empty.total, 0u);
}

TEST(ConnectEngine, UnansweredPortIsRetriedThenFiltered) {
  auto silent = silent_listener("127.0.0.1");
  ASSERT_TRUE(silent) << "could not build a listener that drops SYNs";
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 1, 2));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  auto ports = lab.all_ports();
  ports.push_back(silent->listener.port);
  cfg.ports.tcp = sorted(ports);
  cfg.timing = fast_timing();
  cfg.timing.max_retries = 2;

  auto out = scan(cfg);
  EXPECT_FALSE(out.report.interrupted);
  ASSERT_EQ(out.results.size(), 4u);
  expect_open_closed(out, "127.0.0.1", lab);
  auto m = out.by_key();
  const auto& r = m.at({"127.0.0.1", silent->listener.port});
  EXPECT_EQ(r.state, PortState::Filtered);
  EXPECT_EQ(r.reason, Reason::NoResponse);
  EXPECT_EQ(out.retries, 2u);  // the silent port, twice; loopback answers everything else
  EXPECT_EQ(out.sent, 4u + 2u);
  EXPECT_EQ(out.received, 3u);  // no-response is not an answer
  EXPECT_EQ(out.done, 4u);
}

// Refuses one port, defers another a few times, and records what it admitted.
class FakeGate : public ProbeGate {
 public:
  FakeGate(uint16_t refuse, uint16_t defer) : refuse_(refuse), defer_(defer) {}
  Decision check(const Probe& probe, std::chrono::steady_clock::time_point,
                 std::chrono::nanoseconds* retry_in) override {
    // The gate is not thread-safe: the engine must never call it from two threads at once.
    if (inside_.exchange(true)) ++overlaps_;
    std::this_thread::yield();  // widen the window a concurrent call would hit
    Decision d = decide(probe, retry_in);
    inside_ = false;
    return d;
  }
  int deferrals_ = 0;
  uint64_t admitted_ = 0;
  std::atomic<int> overlaps_{0};

 private:
  Decision decide(const Probe& probe, std::chrono::nanoseconds* retry_in) {
    EXPECT_EQ(probe.proto, Protocol::Tcp);
    if (probe.port == refuse_) return Decision::Refuse;
    if (probe.port == defer_ && deferrals_ < 3) {
      ++deferrals_;
      *retry_in = 2ms;
      return Decision::Later;
    }
    ++admitted_;
    return Decision::Send;
  }
  std::atomic<bool> inside_{false};
  uint16_t refuse_, defer_;
};

TEST(ConnectEngine, EveryConnectPassesTheGate) {
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 3, 4));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = lab.all_ports();
  cfg.timing = fast_timing();
  uint16_t refused = lab.open_ports[0], deferred = lab.closed_ports[0];

  FakeGate gate(refused, deferred);
  std::atomic<bool> stop{false};
  ProbeSpace space(cfg.targets, cfg.ports);
  EngineCounters counters;
  ScanRun out;
  EngineContext ctx{
      cfg, space, 5, stop, counters, [&](const PortResult& r) { out.results.push_back(r); }, &gate};
  out.report = run_connect_scan(ctx);

  auto m = out.by_key();
  EXPECT_EQ(m.size(), 6u);
  EXPECT_EQ(m.count({"127.0.0.1", refused}), 0u);  // dropped, not reported
  EXPECT_EQ(m.at({"127.0.0.1", deferred}).state, PortState::Closed);
  EXPECT_EQ(gate.deferrals_, 3);
  EXPECT_EQ(out.report.refused, 1u);
  EXPECT_EQ(gate.admitted_, counters.sent.load());  // nothing was sent around the gate
  EXPECT_EQ(counters.done, 7u);
  // The refused port's listener never saw a connection.
  pollfd p{lab.open[0].fd.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
}

TEST(ConnectEngine, TwoWorkersShareTheGate) {
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 3, 400));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = lab.all_ports();
  cfg.timing = fast_timing(5);
  uint16_t refused = lab.open_ports[0], deferred = lab.closed_ports[0];

  FakeGate gate(refused, deferred);
  std::atomic<bool> stop{false};
  ProbeSpace space(cfg.targets, cfg.ports);
  EngineCounters counters;
  ScanRun out;
  EngineContext ctx{
      cfg, space, 5, stop, counters, [&](const PortResult& r) { out.results.push_back(r); }, &gate};
  connect_detail::Stats stats;
  out.report = run_connect_scan(ctx, &stats, 2);

  EXPECT_EQ(stats.workers, 2u);
  EXPECT_EQ(gate.overlaps_.load(), 0) << "the gate was called from two threads at once";
  auto m = out.by_key();
  EXPECT_EQ(m.size(), 402u);
  EXPECT_EQ(m.count({"127.0.0.1", refused}), 0u);
  EXPECT_EQ(m.at({"127.0.0.1", deferred}).state, PortState::Closed);
  EXPECT_EQ(gate.deferrals_, 3);
  EXPECT_EQ(out.report.refused, 1u);
  EXPECT_EQ(gate.admitted_, counters.sent.load());
  EXPECT_EQ(counters.done, 403u);
}

TEST(ConnectEngine, StopEndsEveryWorker) {
  auto silent = silent_listener("127.0.0.1");
  ASSERT_TRUE(silent);
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 2, 100));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  auto ports = lab.all_ports();
  ports.push_back(silent->listener.port);
  cfg.ports.tcp = sorted(ports);
  cfg.timing = fast_timing(5);
  cfg.timing.initial_rtt = 60s;
  cfg.timing.max_rtt = 60s;
  cfg.timing.max_retries = 10;

  std::atomic<bool> stop{false};
  ProbeSpace space(cfg.targets, cfg.ports);
  EngineCounters counters;
  ScanRun out;
  EngineContext ctx{cfg,  space,    7,
                    stop, counters, [&](const PortResult& r) { out.results.push_back(r); }};
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop = true;
  });
  auto begin = std::chrono::steady_clock::now();
  out.report = run_connect_scan(ctx, nullptr, 2);
  auto elapsed = std::chrono::steady_clock::now() - begin;
  stopper.join();

  EXPECT_TRUE(out.report.interrupted);
  auto m = out.by_key();
  EXPECT_EQ(m.count({"127.0.0.1", silent->listener.port}), 0u);
  // Every verdict either worker reached before the stop is reported (and right).
  EXPECT_EQ(m.size(), counters.done.load());
  EXPECT_EQ(m.size(), 102u);
  for (const auto& [key, r] : m) {
    bool open =
        std::find(lab.open_ports.begin(), lab.open_ports.end(), key.second) != lab.open_ports.end();
    EXPECT_EQ(r.state, open ? PortState::Open : PortState::Closed) << key.second;
  }
  EXPECT_LT(elapsed, 30s);  // liveness only: unstopped, the silent port would take 11 minutes
}

TEST(ConnectEngine, AWorkerFailureFailsTheScan) {
  // A link-local IPv6 target without an interface: every connect() fails with EINVAL at once
  // (nothing is sent). Whichever worker meets it first fails the scan; nothing hangs.
  ScanConfig cfg;
  cfg.targets.add_spec("fe80::1");
  cfg.ports.tcp.clear();
  for (uint16_t p = 1; p <= 500; ++p) cfg.ports.tcp.push_back(p);
  cfg.timing = fast_timing(5);
  std::atomic<bool> stop{false};
  ProbeSpace space(cfg.targets, cfg.ports);
  EngineCounters counters;
  EngineContext ctx{cfg, space, 1, stop, counters, [](const PortResult&) {}};
  EXPECT_THROW(run_connect_scan(ctx, nullptr, 2), RuntimeError);
}

TEST(ConnectEngine, AnswerSeenLateIsNotATimeout) {
  // The port starts silent (SYNs dropped); at 0.3 s its queue is drained, so the kernel's SYN
  // retransmission at ~1 s connects. Meanwhile the engine is stuck in the sink for 3 s (a slow
  // output), past the attempt's 2 s deadline. When it comes back, the socket is connected: that is
  // an open port, not a timeout to retry.
  auto silent = silent_listener("127.0.0.1");
  ASSERT_TRUE(silent);
  auto closed = bind_tcp("127.0.0.1", -1);
  ASSERT_TRUE(closed);
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = sorted({silent->listener.port, closed->port});
  cfg.timing = fast_timing();
  cfg.timing.initial_rtt = 2s;
  cfg.timing.max_rtt = 2s;
  cfg.timing.max_retries = 0;

  std::thread drain([&] {
    std::this_thread::sleep_for(300ms);
    FileDescriptor accepted(::accept(silent->listener.fd.get(), nullptr, nullptr));
  });
  std::atomic<bool> stop{false};
  ProbeSpace space(cfg.targets, cfg.ports);
  EngineCounters counters;
  std::vector<PortResult> results;
  EngineContext ctx{cfg, space, 3, stop, counters, [&](const PortResult& r) {
                      if (results.empty()) std::this_thread::sleep_for(3s);
                      results.push_back(r);
                    }};
  run_connect_scan(ctx);
  drain.join();

  ScanRun out;
  out.results = results;
  auto m = out.by_key();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at({"127.0.0.1", closed->port}).state, PortState::Closed);
  EXPECT_EQ(m.at({"127.0.0.1", silent->listener.port}).state, PortState::Open);
  EXPECT_EQ(counters.retries, 0u);
}

TEST(ConnectEngine, StopReturnsPromptlyWithoutReportingUnfinished) {
  auto silent = silent_listener("127.0.0.1");
  ASSERT_TRUE(silent);
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 2, 3));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  auto ports = lab.all_ports();
  ports.push_back(silent->listener.port);
  cfg.ports.tcp = sorted(ports);
  cfg.timing = fast_timing();
  // Without stop this would run for 11 attempts x 60 s on the silent port.
  cfg.timing.initial_rtt = 60s;
  cfg.timing.max_rtt = 60s;
  cfg.timing.max_retries = 10;

  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop = true;
  });
  auto begin = std::chrono::steady_clock::now();
  auto out = scan(cfg, stop);
  auto elapsed = std::chrono::steady_clock::now() - begin;
  stopper.join();

  EXPECT_TRUE(out.report.interrupted);
  auto m = out.by_key();
  EXPECT_EQ(m.count({"127.0.0.1", silent->listener.port}), 0u)
      << "an unfinished probe was reported";
  for (const auto& [key, r] : m) {  // whatever did finish is right
    bool open =
        std::find(lab.open_ports.begin(), lab.open_ports.end(), key.second) != lab.open_ports.end();
    EXPECT_EQ(r.state, open ? PortState::Open : PortState::Closed) << key.second;
  }
  EXPECT_EQ(out.done, m.size());
  // A liveness bound, not a performance one: the unstopped scan would take 11 minutes.
  EXPECT_LT(elapsed, 30s);
}

TEST(ConnectEngine, HostTimeoutGivesUpOnTheHost) {
  auto silent = silent_listener("127.0.0.1");
  ASSERT_TRUE(silent);
  auto closed = bind_tcp("127.0.0.1", -1);
  ASSERT_TRUE(closed);
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = sorted({silent->listener.port, closed->port});
  cfg.timing = fast_timing(1);  // serial
  cfg.timing.max_retries = 3;
  cfg.timing.host_timeout = 1ms;  // far shorter than one attempt's timeout (>= 100 ms)

  auto out = scan(cfg);
  auto m = out.by_key();
  // The silent port's first attempt outlives the host timeout: no retry, no verdict. The closed
  // port is reported only if it was probed before the host ran out of time.
  EXPECT_EQ(m.count({"127.0.0.1", silent->listener.port}), 0u);
  EXPECT_EQ(out.retries, 0u);
  EXPECT_LE(m.size(), 1u);
  for (const auto& [key, r] : m) {
    EXPECT_EQ(key.second, closed->port);
    EXPECT_EQ(r.state, PortState::Closed);
  }
  EXPECT_EQ(out.done, 2u);  // both indices are finished, one way or the other
  EXPECT_EQ(out.total, 2u);
}

TEST(ConnectEngine, BindsToInterface) {
  LoopbackLab lab;
  ASSERT_TRUE(lab.build("127.0.0.1", 2, 2));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = lab.all_ports();
  cfg.timing = fast_timing();
  cfg.interface = "lo";
  try {
    auto out = scan(cfg);
    ASSERT_EQ(out.results.size(), 4u);
    expect_open_closed(out, "127.0.0.1", lab);
  } catch (const RuntimeError& e) {
    // Kernels before 5.7 let only CAP_NET_RAW bind a socket to a device: that alone is a reason
    // to skip (CI runs as root, where any error is a failure).
    if (can_open_raw_sockets()) FAIL() << "binding to lo failed with CAP_NET_RAW: " << e.what();
    GTEST_SKIP() << "SO_BINDTODEVICE needs CAP_NET_RAW on this kernel: " << e.what();
  }

  cfg.interface = "gh-no-such0";
  EXPECT_THROW(scan(cfg), RuntimeError);
}

// The body of SurvivesRunningOutOfFileDescriptors, in a child process: a hard limit of 1024
// descriptors (lowered for good in that process, whatever this machine allows), then every one
// taken but a handful, so the engine hits EMFILE long before its cap: it must back off and still
// give every port its verdict. Exits 0 when every check held.
[[noreturn]] void scan_without_descriptors() {
  rlimit rl{1024, 1024};
  rlimit now{};
  EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  if (now.rlim_max < rl.rlim_max) rl = {now.rlim_max, now.rlim_max};
  EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0) << std::strerror(errno);

  LoopbackLab lab;
  EXPECT_TRUE(lab.build("127.0.0.1", 3, 60));
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1-4");
  cfg.ports.tcp = lab.all_ports();
  cfg.timing = fast_timing(4);

  for (size_t workers : {1u, 2u}) {
    if (::testing::Test::HasFailure()) break;
    std::vector<FileDescriptor> hog;
    for (;;) {
      int fd = ::dup(0);
      if (fd < 0) {
        EXPECT_EQ(errno, EMFILE);
        break;
      }
      hog.emplace_back(fd);
    }
    for (int i = 0; i < 12 && !hog.empty(); ++i) hog.pop_back();  // room for ~10 sockets

    std::optional<ScanRun> out;
    std::atomic<bool> stop{false};
    try {
      out = scan(cfg, stop, 42, workers);
    } catch (const std::exception& e) {
      hog.clear();
      ADD_FAILURE() << "scan with " << workers << " workers failed: " << e.what();
      break;
    }
    hog.clear();

    auto m = out->by_key();
    EXPECT_EQ(m.size(), 4u * 63u) << workers << " workers";
    for (const auto& [key, r] : m) {
      bool open = key.first == "127.0.0.1" &&
                  std::find(lab.open_ports.begin(), lab.open_ports.end(), key.second) !=
                      lab.open_ports.end();
      EXPECT_EQ(r.state, open ? PortState::Open : PortState::Closed)
          << key.first << " port " << key.second << ", " << workers << " workers";
    }
    EXPECT_EQ(out->sent, 4u * 63u + out->retries);
  }
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "descriptor exhaustion checks failed (see the child's output above)\n");
    std::fflush(nullptr);
    std::_Exit(1);
  }
  std::fflush(nullptr);
  std::_Exit(0);
}

TEST(ConnectEngine, SurvivesRunningOutOfFileDescriptors) {
  // A child process, because the hard limit it lowers cannot be raised again without privilege:
  // the same test on every machine, whatever its own limit (no skip for a large one).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(scan_without_descriptors(), ::testing::ExitedWithCode(0), "");
}

// ---- inside a fresh network namespace ---------------------------------------------------------

// Runs `fn` on a thread that has moved into a new, empty network namespace (only a loopback
// interface, down). Nothing sent there can leave it. Returns false if the namespace could not be
// created (no CAP_SYS_ADMIN).
template <class Fn>
bool in_empty_netns(Fn fn) {
  bool ok = false;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) return;
    ok = true;
    fn();
  });
  t.join();
  return ok;
}

TEST(ConnectEngine, NetworkUnreachableInEmptyNamespace) {
  // With no interface up, no route exists: connect() fails at once with ENETUNREACH.
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.ports.tcp = {22, 80, 443};
  cfg.timing = fast_timing();
  std::optional<ScanRun> out;
  std::string error;
  bool ran = in_empty_netns([&] {
    try {
      out = scan(cfg);
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  if (!ran) GTEST_SKIP() << "cannot create a network namespace";
  ASSERT_TRUE(out) << error;
  auto m = out->by_key();
  ASSERT_EQ(m.size(), 3u);
  for (const auto& [key, r] : m) {
    EXPECT_EQ(r.state, PortState::Filtered);
    EXPECT_EQ(r.reason, Reason::NetUnreach);
  }
  EXPECT_EQ(out->received, 3u);
  EXPECT_EQ(out->retries, 0u);
}

TEST(ConnectEngine, FailsWhenNoSourceAddressExists) {
  // ::1 in an empty namespace: no IPv6 address to connect from (EADDRNOTAVAIL, every time). The
  // engine backs off a few times, then fails instead of waiting forever.
  ScanConfig cfg;
  cfg.targets.add_spec("::1");
  cfg.ports.tcp = {80};
  cfg.timing = fast_timing();
  bool threw = false;
  std::vector<PortResult> results;
  bool ran = in_empty_netns([&] {
    std::atomic<bool> stop{false};
    ProbeSpace space(cfg.targets, cfg.ports);
    EngineCounters counters;
    EngineContext ctx{cfg,  space,    1,
                      stop, counters, [&](const PortResult& r) { results.push_back(r); }};
    try {
      run_connect_scan(ctx);
    } catch (const RuntimeError&) {
      threw = true;
    }
  });
  if (!ran) GTEST_SKIP() << "cannot create a network namespace";
  EXPECT_TRUE(threw);
  EXPECT_TRUE(results.empty());
}

bool bring_loopback_up() {
  FileDescriptor s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (!s || ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags |= IFF_UP;
  return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
}

TEST(ConnectEngine, SelfConnectIsNotAnOpenPort) {
  // In a private namespace, make 40000 the only ephemeral port: every connect() to
  // 127.0.0.1:40000 then connects the socket to itself, which must not read as "open".
  constexpr uint16_t kSelf = 40000;
  ScanConfig cfg;
  cfg.targets.add_spec("127.0.0.1");
  cfg.timing = fast_timing();
  std::optional<ScanRun> out;
  std::string error;
  uint16_t open_port = 0, closed_port = 0;
  bool ran = in_empty_netns([&] {
    if (!bring_loopback_up()) return void(error = "cannot bring lo up");
    {
      std::ofstream range("/proc/sys/net/ipv4/ip_local_port_range");
      range << kSelf << " " << kSelf << "\n";
      range.flush();
      if (!range) return void(error = "cannot set ip_local_port_range");
    }
    auto listener = bind_tcp("127.0.0.1", 16, kSelf + 10);
    auto closed = bind_tcp("127.0.0.1", -1, kSelf + 20);
    if (!listener || !closed) return void(error = "cannot bind in the namespace");
    open_port = listener->port;
    closed_port = closed->port;
    cfg.ports.tcp = {kSelf, open_port, closed_port};
    try {
      out = scan(cfg);
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  if (!ran) GTEST_SKIP() << "cannot create a network namespace";
  ASSERT_TRUE(out) << error;
  auto m = out->by_key();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at({"127.0.0.1", kSelf}).state, PortState::Closed);
  EXPECT_EQ(m.at({"127.0.0.1", open_port}).state, PortState::Open);
  EXPECT_EQ(m.at({"127.0.0.1", closed_port}).state, PortState::Closed);
  EXPECT_EQ(out->open, 1u);
  EXPECT_GT(out->sent, 3u);  // the self-connected probe was tried again
}

}  // namespace
}  // namespace gh
