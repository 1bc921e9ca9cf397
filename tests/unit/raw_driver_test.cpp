// The raw engine's pass/retry driver (scan/driver.h) through the fake transport and module
// (fake_transport.h): first pass, retries of what is unanswered only, the completeness stop,
// gate refusals and per-host "later", several send threads, the stop flag, checkpoint/resume.
#include "scan/driver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "fake_transport.h"
#include "targets/ports.h"
#include "targets/target_set.h"

namespace gh {
namespace {

using fake::FakeModule;
using fake::FakeReply;
using fake::FakeTransport;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

// One scan's fixture: config, space, results (thread-safe: on_result may come from the driver's
// thread only, but the test reads them afterwards).
struct ScanRun {
  ScanConfig config;
  std::unique_ptr<ProbeSpace> space;
  std::atomic<bool> stop{false};
  EngineCounters counters;
  std::mutex mu;
  std::vector<PortResult> results;
  FakeTransport transport;
  FakeModule module;
  ProbeGate* gate = nullptr;
  std::function<void(const PortResult&)> also;  // called after each result is recorded
  std::function<void(const EngineProgress&)> checkpoint;
  const EngineResume* resume = nullptr;

  ScanRun(const char* targets, std::vector<uint16_t> ports, int max_retries = 3,
          Silence silence = Silence::PortFiltered)
      : module(42, silence) {
    config.type = ScanType::Syn;
    config.targets.add_spec(targets);
    config.ports.tcp = std::move(ports);
    config.timing.max_retries = max_retries;
    config.timing.initial_rtt = std::chrono::milliseconds(60);
    config.seed = 7;
    config.checkpoint.interval = std::chrono::milliseconds(1);
    space = std::make_unique<ProbeSpace>(config.targets, config.ports);
  }

  EngineReport go() {
    EngineContext ctx{config, *space, config.seed, stop, counters, [this](const PortResult& r) {
                        {
                          std::lock_guard lock(mu);
                          results.push_back(r);
                        }
                        if (also) also(r);
                      }};
    ctx.gate = gate;
    ctx.checkpoint = checkpoint;
    ctx.resume = resume;
    return run_raw_driver(ctx, transport, module);
  }

  // (address, port) -> (state, reason); fails the test on a duplicate.
  std::map<std::pair<std::string, uint16_t>, std::pair<PortState, Reason>> verdicts() {
    std::map<std::pair<std::string, uint16_t>, std::pair<PortState, Reason>> out;
    for (const auto& r : results) {
      bool fresh =
          out.emplace(std::pair{r.addr.to_string(), r.port}, std::pair{r.state, r.reason}).second;
      EXPECT_TRUE(fresh) << "reported twice: " << r.addr.to_string() << ":" << r.port;
    }
    return out;
  }
};

// Host x.x.x.N: port 80 open on even N, closed on odd N; port 22 silent everywhere.
std::optional<FakeReply> parity(const Probe& p, uint8_t) {
  if (p.port == 22) return std::nullopt;
  return (p.addr.value & 1) == 0 ? FakeReply::Open : FakeReply::Closed;
}

TEST(RawDriver, FirstPassReportsEveryProbeOnce) {
  ScanRun run("198.18.0.0/28", {80, 443});
  run.transport.responder = parity;
  EngineReport rep = run.go();
  EXPECT_TRUE(run.transport.opened());
  EXPECT_EQ(run.module.prepared, 1);
  auto v = run.verdicts();
  ASSERT_EQ(v.size(), 32u);
  for (int n = 0; n < 16; ++n) {
    std::string a = "198.18.0." + std::to_string(n);
    auto want = n % 2 == 0 ? std::pair{PortState::Open, Reason::SynAck}
                           : std::pair{PortState::Closed, Reason::Reset};
    EXPECT_EQ((v[{a, 80}]), want) << a;
  }
  EXPECT_EQ(rep.probes_sent, 32u) << "everything answered: no retry";
  EXPECT_EQ(run.transport.sent().size(), 32u);
  EXPECT_EQ(rep.replies, 32u);
  EXPECT_EQ(rep.completeness.passes, 1u);
  EXPECT_FALSE(rep.interrupted);
  EXPECT_EQ(run.counters.done.load(), 32u);
  EXPECT_EQ(run.counters.sent.load(), 32u);
}

// One attempt in 16 is timed; its verdict carries the round trip (the host line's latency when
// discovery measured none), the others carry none, and silence carries none.
TEST(RawDriver, TimedRepliesCarryTheirRoundTrip) {
  ScanRun run("198.18.0.0/28", {22, 80, 443});
  run.transport.responder = parity;
  run.go();
  size_t timed = 0;
  for (const auto& r : run.results) {
    if (r.reason == Reason::NoResponse) {
      EXPECT_FALSE(r.rtt) << r.port;
      continue;
    }
    if (!r.rtt) continue;
    ++timed;
    EXPECT_GE(r.rtt->count(), 1);
    EXPECT_LT(r.rtt->count(), 10'000'000) << "a fake transport answers within the scan";
  }
  EXPECT_GE(timed, 1u) << "32 answered probes, one in 16 timed";
  EXPECT_LE(timed, 32u / 16 + 1);
}

TEST(RawDriver, RetriesResendOnlyUnansweredWithTheirAttempt) {
  ScanRun run("198.18.0.0/27", {80}, 5);
  // Every fourth host loses its first probe; the retry (attempt 1) is answered.
  run.transport.responder = [](const Probe& p, uint8_t attempt) -> std::optional<FakeReply> {
    if (p.addr.value % 4 == 0 && attempt == 0) return std::nullopt;
    return FakeReply::Open;
  };
  EngineReport rep = run.go();
  auto v = run.verdicts();
  ASSERT_EQ(v.size(), 32u);
  for (const auto& [k, s] : v) EXPECT_EQ(s.first, PortState::Open) << k.first;
  for (const auto& s : run.transport.sent()) {
    if (s.attempt > 0) {
      EXPECT_EQ(s.probe.addr.value % 4, 0u) << "only lost probes are retried";
    }
  }
  for (uint32_t n = 0; n < 32; n += 4)
    EXPECT_EQ(run.transport.sent_to(IpAddress::v4(0xc6120000u + n), 80), 2u);
  EXPECT_EQ(rep.probes_sent, 40u);
  EXPECT_EQ(rep.completeness.retries, 8u);
  EXPECT_GE(rep.completeness.passes, 2u);
}

TEST(RawDriver, SilenceIsWhatTheModuleSays) {
  for (Silence silence : {Silence::PortFiltered, Silence::PortOpenFiltered}) {
    ScanRun run("198.18.0.0/29", {22, 80}, 2, silence);
    run.transport.responder = parity;
    EngineReport rep = run.go();
    auto v = run.verdicts();
    ASSERT_EQ(v.size(), 16u);
    PortState want =
        silence == Silence::PortFiltered ? PortState::Filtered : PortState::OpenFiltered;
    for (int n = 0; n < 8; ++n) {
      auto s = v[std::pair{"198.18.0." + std::to_string(n), uint16_t{22}}];
      EXPECT_EQ(s.first, want);
      EXPECT_EQ(s.second, Reason::NoResponse);
    }
    EXPECT_LE(rep.completeness.passes, 3u) << "--max-retries 2";
  }
}

TEST(RawDriver, RetriesStopOnceLittleCanBeMissing) {
  // A sweep where one host in eight answers, with no loss: the model stops well before
  // --max-retries 10 (the silent hosts are not retried forever).
  ScanRun run("198.18.0.0/25", {80}, 10);
  run.transport.responder = [](const Probe& p, uint8_t) -> std::optional<FakeReply> {
    if (p.addr.value % 8 == 0) return FakeReply::Open;
    return std::nullopt;
  };
  EngineReport rep = run.go();
  auto v = run.verdicts();
  EXPECT_EQ(v.size(), 128u);
  EXPECT_LT(rep.completeness.passes, 11u);
  EXPECT_LE(rep.completeness.passes, 4u);
  ASSERT_TRUE(rep.completeness.loss.has_value());
  EXPECT_LT(*rep.completeness.loss, 0.1) << "no probe was lost";
}

// Refuses odd hosts; asks even ones to come back later once (per host) before sending.
class TestGate : public ProbeGate {
 public:
  Decision check(const Probe& p, std::chrono::steady_clock::time_point,
                 std::chrono::nanoseconds* retry_in) override {
    ++checks;
    if (p.addr.value % 2 == 1) return Decision::Refuse;
    if (later_done.insert(p.addr.value).second) {
      *retry_in = std::chrono::milliseconds(1);
      ++laters;
      return Decision::Later;
    }
    return Decision::Send;
  }
  int checks = 0, laters = 0;
  std::set<u128> later_done;
};

TEST(RawDriver, GateRefusalsAreNeverSentNorReportedAndLaterWaits) {
  ScanRun run("198.18.0.0/28", {80}, 3);
  run.transport.responder = [](const Probe& p, uint8_t attempt) -> std::optional<FakeReply> {
    if (p.addr.value % 4 == 2 && attempt == 0) return std::nullopt;  // a retry is needed
    return FakeReply::Open;
  };
  TestGate gate;
  run.gate = &gate;
  EngineReport rep = run.go();
  auto v = run.verdicts();
  EXPECT_EQ(v.size(), 8u) << "only the even hosts are reported";
  for (const auto& s : run.transport.sent())
    EXPECT_EQ(s.probe.addr.value % 2, 0u) << "a refused probe went out";
  EXPECT_EQ(rep.refused, 8u);
  EXPECT_EQ(gate.laters, 8);
  // Every probe sent asked the gate first, retries included: 8 refusals + 8 "later" + the sends.
  EXPECT_EQ(static_cast<uint64_t>(gate.checks), 16 + rep.probes_sent);
  EXPECT_EQ(rep.probes_sent, 12u);  // 8 + 4 retries
}

TEST(RawDriver, SeveralSendThreadsSendEachProbeOnce) {
  ScanRun run("198.18.0.0/24", {80, 443}, 2);
  run.config.send_threads = 3;
  run.transport.batch = 7;
  run.transport.responder = parity;
  EngineReport rep = run.go();
  EXPECT_EQ(run.transport.senders_made(), 3);
  EXPECT_EQ(run.verdicts().size(), 512u);
  EXPECT_EQ(rep.probes_sent, 512u);
  std::set<std::pair<u128, uint16_t>> seen;
  for (const auto& s : run.transport.sent())
    EXPECT_TRUE(seen.insert({s.probe.addr.value, s.probe.port}).second);
}

TEST(RawDriver, UnknownNeighborIsUnreachableAndNotRetried) {
  ScanRun run("198.18.0.0/29", {80}, 4);
  run.transport.responder = parity;
  run.transport.no_mac = [](const IpAddress& a) { return a.value % 8 == 3; };
  EngineReport rep = run.go();
  auto v = run.verdicts();
  ASSERT_EQ(v.size(), 8u);
  EXPECT_EQ((v[{"198.18.0.3", 80}]), (std::pair{PortState::Filtered, Reason::HostUnreach}));
  EXPECT_EQ(run.transport.sent_to(ip("198.18.0.3"), 80), 0u);
  EXPECT_EQ(rep.probes_sent, 7u);
}

TEST(RawDriver, IgnoresRepliesWithAnotherKeyOrOutsideTheScan) {
  ScanRun run("198.18.0.0/30", {80}, 1);
  std::vector<uint8_t> forged(fake::kFakeFrame), outside(fake::kFakeFrame);
  fake::fake_encode(forged.data(), Probe{ip("198.18.0.1"), Protocol::Tcp, 80}, 0, 1, 99);
  fake::fake_encode(outside.data(), Probe{ip("198.18.9.9"), Protocol::Tcp, 80}, 0, 1, 42);
  run.transport.inject(forged);
  run.transport.inject(outside);
  EngineReport rep = run.go();
  auto v = run.verdicts();
  ASSERT_EQ(v.size(), 4u);
  for (const auto& [k, s] : v) EXPECT_EQ(s.first, PortState::Filtered) << k.first;
  EXPECT_EQ(rep.replies, 0u);
}

TEST(RawDriver, StopFlagEndsPromptlyWithoutReportingTheUnanswered) {
  ScanRun run("198.18.0.0/20", {80}, 3);
  run.config.timing.max_rate = 20000;  // long enough to be stopped in pass 0
  run.transport.responder = parity;
  run.also = [&](const PortResult&) {
    if (run.results.size() >= 100) run.stop = true;
  };
  EngineReport rep = run.go();
  EXPECT_TRUE(rep.interrupted);
  auto v = run.verdicts();
  EXPECT_GE(v.size(), 100u);
  EXPECT_LT(v.size(), 4096u);
  for (const auto& [k, s] : v) EXPECT_NE(s.second, Reason::NoResponse) << "silence reported";
}

TEST(RawDriver, CheckpointThenResumeReportsEverythingExactlyOnce) {
  // First run: stopped during pass 0; its last checkpoint is the resume point.
  EngineResume resume;
  std::set<std::pair<std::string, uint16_t>> first;
  {
    ScanRun run("198.18.0.0/21", {22, 80}, 3);
    run.config.timing.max_rate = 20000;
    run.transport.responder = parity;
    run.checkpoint = [&](const EngineProgress& p) {
      resume.pass = p.pass;
      resume.cursor = p.cursor;
      resume.answered.assign(p.answered.begin(), p.answered.end());
      resume.passes.assign(p.passes.begin(), p.passes.end());
    };
    run.also = [&](const PortResult&) {
      if (run.results.size() >= 500) run.stop = true;
    };
    EngineReport rep = run.go();
    ASSERT_TRUE(rep.interrupted);
    ASSERT_GT(resume.cursor, 0u);
    // Resume from the checkpoint: what its bitmap says was reported, and nothing after.
    for (const auto& r : run.results) first.insert({r.addr.to_string(), r.port});
    uint64_t bits = 0;
    for (uint64_t w : resume.answered) bits += static_cast<uint64_t>(__builtin_popcountll(w));
    EXPECT_EQ(bits, first.size()) << "the last checkpoint names exactly what was reported";
  }
  ScanRun again("198.18.0.0/21", {22, 80}, 3);
  again.transport.responder = parity;
  again.resume = &resume;
  EngineReport rep = again.go();
  EXPECT_FALSE(rep.interrupted);
  auto v = again.verdicts();
  for (const auto& [k, s] : v) EXPECT_FALSE(first.count(k)) << "reported twice: " << k.first;
  EXPECT_EQ(first.size() + v.size(), 4096u);
  // Pass 0 of the resumed run starts at the cursor: nothing below it is sent again on port 80.
  size_t resent80 = 0;
  for (const auto& s : again.transport.sent())
    if (s.probe.port == 80 && first.count({s.probe.addr.to_string(), uint16_t{80}})) ++resent80;
  EXPECT_EQ(resent80, 0u);
}

}  // namespace
}  // namespace gh
