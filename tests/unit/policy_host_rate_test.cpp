// The per-host rate cap (token buckets with LRU expiry) and the policy gate in front of engines.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <map>

#include "policy/host_rate.h"
#include "policy/probe_gate.h"

namespace gh {
namespace {

using namespace std::chrono;
using Clock = steady_clock;

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a) ADD_FAILURE() << "bad test address " << text;
  return a.value_or(IpAddress{});
}

TEST(PolicyHostRate, OneHostGetsOnePacketPerInterval) {
  HostRateLimiter lim(500);  // 2 ms apart
  EXPECT_EQ(lim.interval(), milliseconds(2));
  Clock::time_point t0{};
  IpAddress a = ip("198.18.0.2");
  EXPECT_EQ(lim.admit(a, t0), Clock::duration::zero());
  EXPECT_EQ(lim.admit(a, t0), milliseconds(2));
  EXPECT_EQ(lim.admit(a, t0 + milliseconds(1)), milliseconds(1));
  EXPECT_EQ(lim.admit(a, t0 + milliseconds(2)), Clock::duration::zero());
  // Idle time does not bank more than the burst (1).
  EXPECT_EQ(lim.admit(a, t0 + seconds(10)), Clock::duration::zero());
  EXPECT_GT(lim.admit(a, t0 + seconds(10)), Clock::duration::zero());
}

TEST(PolicyHostRate, HostsAreIndependent) {
  HostRateLimiter lim(10);
  Clock::time_point t0{};
  EXPECT_EQ(lim.admit(ip("198.18.0.1"), t0), Clock::duration::zero());
  EXPECT_EQ(lim.admit(ip("198.18.0.2"), t0), Clock::duration::zero());
  EXPECT_EQ(lim.admit(ip("2001:db8::1"), t0), Clock::duration::zero());
  EXPECT_GT(lim.admit(ip("198.18.0.1"), t0), Clock::duration::zero());
}

TEST(PolicyHostRate, BurstAllowsThatManyBackToBack) {
  HostRateLimiter lim(100, 3);
  Clock::time_point t0{};
  IpAddress a = ip("198.18.0.2");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(lim.admit(a, t0), Clock::duration::zero()) << i;
  EXPECT_GT(lim.admit(a, t0), Clock::duration::zero());
}

// Whatever the caller does, no window of one second holds more than rate (+1 for the edge) packets
// to one address, retries included: simulate a greedy sender with a retry for every probe.
TEST(PolicyHostRate, NoSecondHoldsMoreThanTheRate) {
  const double rate = 250;
  HostRateLimiter lim(rate);
  IpAddress a = ip("198.18.0.2");
  Clock::time_point now{};
  std::deque<Clock::time_point> sent;
  size_t max_in_window = 0;
  for (int probe = 0; probe < 3000;) {
    auto wait = lim.admit(a, now);
    if (wait == Clock::duration::zero()) {
      sent.push_back(now);
      while (sent.front() <= now - seconds(1)) sent.pop_front();
      max_in_window = std::max(max_in_window, sent.size());
      ++probe;
    } else {
      now += std::min<Clock::duration>(wait, microseconds(700));  // wake early, ask again
    }
  }
  EXPECT_LE(max_in_window, static_cast<size_t>(rate) + 1);
  EXPECT_GE(max_in_window, static_cast<size_t>(rate) - 1);
}

TEST(PolicyHostRate, IdleHostsAreForgotten) {
  HostRateLimiter lim(1000);  // buckets refill in 1 ms
  Clock::time_point now{};
  // A wide scan: a new host every 10 us; only the last ~100 can have a partly drained bucket.
  for (uint32_t i = 0; i < 100000; ++i) {
    EXPECT_EQ(lim.admit(IpAddress::v4(0xC6120000u + i), now), Clock::duration::zero());
    now += microseconds(10);
  }
  EXPECT_LE(lim.tracked(), 200u);
}

TEST(PolicyHostRate, FullTableMakesNewHostsWaitInsteadOfForgettingLiveBuckets) {
  HostRateLimiter lim(1, 1, 4);  // 1 s refill, room for 4 hosts
  Clock::time_point t0{};
  for (uint32_t i = 0; i < 4; ++i)
    EXPECT_EQ(lim.admit(IpAddress::v4(0xC6120000u + i), t0), Clock::duration::zero());
  EXPECT_EQ(lim.tracked(), 4u);
  auto wait = lim.admit(IpAddress::v4(0xC6120100u), t0 + milliseconds(100));
  EXPECT_EQ(wait, milliseconds(900));
  EXPECT_EQ(lim.tracked(), 4u);
  // A host that is still tracked keeps its cap.
  EXPECT_GT(lim.admit(IpAddress::v4(0xC6120000u), t0 + milliseconds(100)), Clock::duration::zero());
  // Once the oldest bucket is full again, the new host takes its place.
  EXPECT_EQ(lim.admit(IpAddress::v4(0xC6120100u), t0 + seconds(1)), Clock::duration::zero());
  EXPECT_LE(lim.tracked(), 4u);
}

// ---- the gate -----------------------------------------------------------------------------

PolicyGateOptions scope_options() {
  PolicyGateOptions o;
  TargetSet auth;
  auth.add_spec("198.19.0.0/24", nullptr);
  auth.add_spec("2001:db8::/64", nullptr);
  TargetSet out;
  out.add_spec("198.19.0.128/25", nullptr);
  auth.subtract(out);
  o.authorized = auth;
  o.ports = PortList{{22, 80, 443}, {}};
  o.never.add_spec("224.0.0.0/4", nullptr);
  return o;
}

ProbeGate::Decision check(PolicyGate& g, const char* addr, uint16_t port,
                          Clock::time_point now = Clock::now()) {
  nanoseconds retry{0};
  return g.check(Probe{ip(addr), Protocol::Tcp, port}, now, &retry);
}

TEST(PolicyGate, RefusesEverythingOutsideTheScope) {
  PolicyGate g(scope_options());
  using D = ProbeGate::Decision;
  EXPECT_EQ(check(g, "198.19.0.1", 80), D::Send);
  EXPECT_EQ(check(g, "198.19.0.127", 443), D::Send);
  EXPECT_EQ(check(g, "2001:db8::5", 22), D::Send);
  EXPECT_EQ(check(g, "198.19.0.128", 80), D::Refuse);  // carved out
  EXPECT_EQ(check(g, "198.19.1.1", 80), D::Refuse);    // never included
  EXPECT_EQ(check(g, "198.18.0.2", 80), D::Refuse);
  EXPECT_EQ(check(g, "2001:db8:0:1::5", 22), D::Refuse);
  EXPECT_EQ(check(g, "198.19.0.1", 8080), D::Refuse);  // port outside
  EXPECT_EQ(check(g, "224.0.0.1", 80), D::Refuse);     // excluded
  EXPECT_EQ(g.stats().refused_scope, 5u);
  EXPECT_EQ(g.stats().refused_excluded, 1u);
  // UDP ports are checked against the scope's UDP list (empty here).
  nanoseconds retry{0};
  EXPECT_EQ(g.check(Probe{ip("198.19.0.1"), Protocol::Udp, 80}, Clock::now(), &retry), D::Refuse);
}

TEST(PolicyGate, PortlessHostProbesNeedOnlyTheAddress) {
  // ARP/NDP/ICMP discovery probes have no port: a scope with ports still lets its addresses be
  // pinged; the address, the exclusions and the window still apply, and a TCP ping is a probe
  // of its port.
  PolicyGate g(scope_options());
  using D = ProbeGate::Decision;
  nanoseconds retry{0};
  auto host = [&](const char* a) {
    return g.check(Probe{ip(a), Protocol::Tcp, 0, true}, Clock::now(), &retry);
  };
  EXPECT_EQ(host("198.19.0.1"), D::Send);
  EXPECT_EQ(host("2001:db8::5"), D::Send);
  EXPECT_EQ(host("198.19.0.128"), D::Refuse);          // carved out of the scope
  EXPECT_EQ(host("224.0.0.1"), D::Refuse);             // excluded
  EXPECT_EQ(check(g, "198.19.0.1", 0), D::Refuse);     // a TCP probe of port 0 is not port-less
  EXPECT_EQ(check(g, "198.19.0.1", 8080), D::Refuse);  // -PS8080 outside the scope's ports
  EXPECT_EQ(g.stats().refused_scope, 3u);
  EXPECT_EQ(g.stats().refused_excluded, 1u);
}

TEST(PolicyGate, ExclusionsHoldWithoutAScope) {
  PolicyGateOptions o;
  o.never.add_spec("240.0.0.0/4", nullptr);
  PolicyGate g(o);
  EXPECT_EQ(check(g, "255.255.255.255", 80), ProbeGate::Decision::Refuse);
  EXPECT_EQ(check(g, "8.8.8.8", 80), ProbeGate::Decision::Send);  // only asked, never sent
}

TEST(PolicyGate, RefusesAfterTheWindowCloses) {
  PolicyGateOptions o = scope_options();
  Clock::time_point t0 = Clock::now();
  o.closes_at = t0 + seconds(5);
  PolicyGate g(o);
  EXPECT_EQ(check(g, "198.19.0.1", 80, t0), ProbeGate::Decision::Send);
  EXPECT_EQ(check(g, "198.19.0.1", 80, t0 + seconds(6)), ProbeGate::Decision::Refuse);
  EXPECT_EQ(g.stats().refused_window, 1u);
}

TEST(PolicyGate, PerHostCapSaysLaterWithTheWait) {
  PolicyGateOptions o = scope_options();
  o.max_host_rate = 100;  // 10 ms apart
  PolicyGate g(o);
  Clock::time_point t0 = Clock::now();
  nanoseconds retry{0};
  Probe p{ip("198.19.0.1"), Protocol::Tcp, 80};
  EXPECT_EQ(g.check(p, t0, &retry), ProbeGate::Decision::Send);
  p.port = 443;  // same host, other port: still capped
  EXPECT_EQ(g.check(p, t0 + milliseconds(4), &retry), ProbeGate::Decision::Later);
  EXPECT_EQ(retry, milliseconds(6));
  EXPECT_EQ(g.check(p, t0 + milliseconds(10), &retry), ProbeGate::Decision::Send);
  // Another host is not held up.
  EXPECT_EQ(g.check(Probe{ip("198.19.0.2"), Protocol::Tcp, 80}, t0 + milliseconds(10), &retry),
            ProbeGate::Decision::Send);
  EXPECT_EQ(g.stats().delayed, 1u);
  // Refused probes never consume a host's budget.
  EXPECT_EQ(check(g, "198.19.0.200", 80, t0), ProbeGate::Decision::Refuse);
}

}  // namespace
}  // namespace gh
