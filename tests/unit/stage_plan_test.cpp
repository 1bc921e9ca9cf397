// The scan plan's stages (run/stage_plan.h): host discovery streaming up hosts into a port stage
// that scans them a group at a time through one transport opened before any thread starts.
// Discovery here is the unprivileged one (connect() pings to 127.0.0.x: refused, so every
// address is up); the port stage runs the raw driver through the fake transport
// (tests/unit/fake_transport.h), so nothing leaves the loopback.
#include "run/stage_plan.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "fake_transport.h"

namespace gh {
namespace {

using fake::FakeModule;
using fake::FakeReply;
using fake::FakeTransport;

struct PlanRun {
  ScanConfig config;
  std::atomic<bool> stop{false};
  MacTable macs;
  FakeTransport* transport = nullptr;  // owned by the stage
  FakeModule* module = nullptr;
  std::unique_ptr<PortStage> stage;
  std::mutex mu;
  std::vector<HostResult> hosts;
  std::map<std::pair<std::string, uint16_t>, int> ports;  // (address, port) -> times reported
  std::vector<uint64_t> last_checkpoint;
  int ready_calls = 0;
  int groups_seen = 0;

  explicit PlanRun(const char* targets) {
    config.type = ScanType::Syn;
    config.targets.add_spec(targets);
    config.ports.tcp = {22, 8080};
    config.timing.max_retries = 1;
    config.timing.initial_rtt = std::chrono::milliseconds(50);
    config.seed = 11;
    auto t = std::make_unique<FakeTransport>();
    t->responder = [](const Probe& p, uint8_t) {
      return std::optional(p.port == 22 ? FakeReply::Open : FakeReply::Closed);
    };
    auto m = std::make_unique<FakeModule>();
    transport = t.get();
    module = m.get();
    stage = std::make_unique<PortStage>(config, std::move(t), std::move(m));
  }

  PlanReport go(const std::vector<uint64_t>* finished = nullptr) {
    DiscoveryContext d{config, config.targets, config.seed, stop};
    d.privileged = false;
    PlanContext pc{config, d, macs};
    pc.port_stages = {stage.get()};
    pc.ready = [&] { ++ready_calls; };
    pc.record_host = [&](const HostResult& h) {
      std::lock_guard lock(mu);
      hosts.push_back(h);
    };
    pc.scan_group = [&](PortStage& s, const ScanConfig& group, const ProbeSpace& space) {
      ++groups_seen;
      EngineCounters counters;
      EngineContext ctx{group, space, group.seed, stop, counters, [&](const PortResult& r) {
                          std::lock_guard lock(mu);
                          ++ports[{r.addr.to_string(), r.port}];
                        }};
      return s.scan(ctx);
    };
    pc.checkpoint = [&](std::span<const uint64_t> bits, bool) {
      last_checkpoint.assign(bits.begin(), bits.end());
    };
    pc.finished = finished;
    return run_stage_plan(pc);
  }
};

TEST(StagePlan, EveryHostFoundUpGetsItsPortsScannedExactlyOnce) {
  PlanRun run("127.0.0.1-8");
  PlanReport r = run.go();
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(run.ready_calls, 1);
  EXPECT_EQ(run.module->prepared, 1);  // the transport was opened once, for every group
  EXPECT_GE(r.groups, 1u);
  EXPECT_EQ(static_cast<int>(r.groups), run.groups_seen);
  std::set<std::string> up;
  for (const HostResult& h : run.hosts) {
    EXPECT_EQ(h.state, HostState::Up);
    EXPECT_TRUE(up.insert(h.addr.to_string()).second) << "host twice: " << h.addr.to_string();
  }
  EXPECT_EQ(up.size(), 8u);
  EXPECT_EQ(run.ports.size(), 16u);
  for (const auto& [key, n] : run.ports) {
    EXPECT_EQ(n, 1) << key.first << ":" << key.second;
    EXPECT_TRUE(up.count(key.first)) << "a port of a host not found up: " << key.first;
  }
  // Each probe went once (every probe was answered), and only to hosts found up.
  for (const auto& s : run.transport->sent()) EXPECT_TRUE(up.count(s.probe.addr.to_string()));
  EXPECT_EQ(run.transport->sent().size(), 16u);
  // The last checkpoint says every target is finished.
  ASSERT_EQ(run.last_checkpoint.size(), 1u);
  EXPECT_EQ(run.last_checkpoint[0], 0xffu);
}

TEST(StagePlan, HostsAResumedRunFinishedAreNeitherProbedNorReported) {
  PlanRun run("127.0.0.1-8");
  std::vector<uint64_t> finished{0x0fu};  // 127.0.0.1-4 were done by an earlier run
  run.go(&finished);
  std::set<std::string> up;
  for (const HostResult& h : run.hosts) up.insert(h.addr.to_string());
  EXPECT_EQ(up, (std::set<std::string>{"127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"}));
  EXPECT_EQ(run.ports.size(), 8u);
  for (const auto& s : run.transport->sent()) EXPECT_TRUE(up.count(s.probe.addr.to_string()));
  ASSERT_EQ(run.last_checkpoint.size(), 1u);
  EXPECT_EQ(run.last_checkpoint[0], 0xffu);
}

TEST(StagePlan, ShardsKeepDisjointHostsWhoseUnionIsTheScan) {
  // Groups form by timing, so a shard cannot slice each group's probes: it keeps the hosts of
  // its shard (target index mod N) and scans them whole.
  std::set<std::pair<std::string, uint16_t>> all;
  std::set<std::string> hosts;
  for (uint64_t shard = 0; shard < 3; ++shard) {
    PlanRun run("127.0.0.1-8");
    run.config.shards.count = 3;
    run.config.shards.index = shard;
    run.go();
    for (const HostResult& h : run.hosts) {
      uint64_t i = run.config.targets.index_of(h.addr);
      EXPECT_EQ(i % 3, shard) << h.addr.to_string();
      EXPECT_TRUE(hosts.insert(h.addr.to_string()).second) << "in two shards";
    }
    for (const auto& [key, n] : run.ports) {
      EXPECT_EQ(n, 1);
      EXPECT_TRUE(all.insert(key).second) << "in two shards: " << key.first << ":" << key.second;
    }
  }
  EXPECT_EQ(hosts.size(), 8u);
  EXPECT_EQ(all.size(), 16u);
}

TEST(StagePlan, TwoStagesEachScanTheirOwnPortsOnEveryHostBeforeItIsFinished) {
  // -sS -sU: one port stage per scan type, each with its own ports (PortStage::ports()); a host
  // is finished (its checkpoint bit set) once both scanned it. Here two fake TCP stages stand
  // for the two (the fake module builds TCP only): 22 and 8080 in the first, 7 in the second.
  PlanRun run("127.0.0.1-4");
  ScanConfig second = run.config;
  second.ports.tcp = {7};
  auto t = std::make_unique<FakeTransport>();
  t->responder = [](const Probe&, uint8_t) { return std::optional(FakeReply::Closed); };
  t->reply_key = 43;
  FakeTransport* t2 = t.get();
  auto m = std::make_unique<FakeModule>(43);
  FakeModule* m2 = m.get();
  PortStage stage2(second, std::move(t), std::move(m));
  EXPECT_EQ(stage2.ports().tcp, (std::vector<uint16_t>{7}));

  DiscoveryContext d{run.config, run.config.targets, run.config.seed, run.stop};
  d.privileged = false;
  PlanContext pc{run.config, d, run.macs};
  pc.port_stages = {run.stage.get(), &stage2};
  pc.ready = [&] { ++run.ready_calls; };
  pc.record_host = [&](const HostResult&) {};
  std::vector<std::vector<uint16_t>> stage_ports;
  pc.scan_group = [&](PortStage& s, const ScanConfig& group, const ProbeSpace& space) {
    stage_ports.push_back(group.ports.tcp);
    EXPECT_EQ(space.ports(), group.ports.size());
    EngineCounters counters;
    EngineContext ctx{group, space, group.seed, run.stop, counters, [&](const PortResult& r) {
                        std::lock_guard lock(run.mu);
                        ++run.ports[{r.addr.to_string(), r.port}];
                      }};
    return s.scan(ctx);
  };
  pc.checkpoint = [&](std::span<const uint64_t> bits, bool) {
    run.last_checkpoint.assign(bits.begin(), bits.end());
  };
  PlanReport r = run_stage_plan(pc);
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(run.ready_calls, 1);  // both stages opened before it
  EXPECT_EQ(run.module->prepared, 1);
  EXPECT_EQ(m2->prepared, 1);
  ASSERT_EQ(stage_ports.size(), 2 * r.groups);
  for (size_t i = 0; i < stage_ports.size(); i += 2) {
    EXPECT_EQ(stage_ports[i], (std::vector<uint16_t>{22, 8080}));
    EXPECT_EQ(stage_ports[i + 1], (std::vector<uint16_t>{7}));
  }
  EXPECT_EQ(run.ports.size(), 12u);  // 4 hosts x (2 + 1) ports, each once
  for (const auto& [key, n] : run.ports) EXPECT_EQ(n, 1) << key.first << ":" << key.second;
  EXPECT_EQ(run.transport->sent().size(), 8u);
  EXPECT_EQ(t2->sent().size(), 4u);
  for (const auto& s : t2->sent()) EXPECT_EQ(s.probe.port, 7);
  ASSERT_EQ(run.last_checkpoint.size(), 1u);
  EXPECT_EQ(run.last_checkpoint[0], 0xfu);
}

TEST(HostStream, GroupsComeWhileHostsArePushedAndEndAtClose) {
  HostStream s;
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (uint32_t i = 1; i <= 100; ++i) {
      HostResult h;
      h.addr = IpAddress::v4((198u << 24) | (18u << 16) | i);
      h.state = HostState::Up;
      s.push(h);
      if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    s.close();
  });
  std::vector<HostResult> group;
  size_t total = 0, groups = 0;
  while (s.take(group, 16, stop)) {
    EXPECT_LE(group.size(), 16u);
    EXPECT_FALSE(group.empty());
    total += group.size();
    ++groups;
  }
  producer.join();
  EXPECT_EQ(total, 100u);
  EXPECT_GE(groups, 7u);  // at most 16 a group
}

TEST(HostStream, StopEndsTheWait) {
  HostStream s;
  std::atomic<bool> stop{true};
  std::vector<HostResult> group;
  EXPECT_FALSE(s.take(group, 16, stop));  // no host, not closed: the stop flag ends the wait
}

}  // namespace
}  // namespace gh
