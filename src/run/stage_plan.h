// A scan is a plan of stages (docs/ARCHITECTURE.md, "A scan is a plan of stages"): host
// discovery, then one port stage per scan type, with hosts streaming from the first to the
// others. This header is the hand-over between them.
//
// HostStream: discovery's thread push()es each host it finds up (after its MAC went into the
// MacTable); the plan's thread take()s them in groups and runs the port stages on each group
// while discovery goes on: nothing waits for the whole sweep. close() ends the stream (discovery
// finished, failed or was stopped). Memory: the hosts found up and not yet taken.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "output/result.h"

namespace gh {

class HostStream {
 public:
  void push(const HostResult& h) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(h);
    }
    cv_.notify_one();
  }
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  // Waits until a host is there or the stream is closed, polling `stop` every 50 ms, then moves
  // up to `max` hosts (in the order found) into `out` (cleared first). False when the stream is
  // closed and empty, or `stop` is set.
  bool take(std::vector<HostResult>& out, size_t max, const std::atomic<bool>& stop) {
    out.clear();
    std::unique_lock lock(mu_);
    while (queue_.empty() && !closed_) {
      if (stop.load()) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
    if (stop.load()) return false;
    while (!queue_.empty() && out.size() < max) {
      out.push_back(queue_.front());
      queue_.pop_front();
    }
    return !out.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<HostResult> queue_;
  bool closed_ = false;
};

}  // namespace gh

#include <functional>
#include <optional>
#include <span>

#include "scan/config.h"
#include "scan/discovery.h"
#include "scan/engine.h"
#include "scan/port_stage.h"
#include "targets/probe_space.h"

namespace gh {

// One run's plan with host discovery (a -Pn run has no discovery stage and does not come here).
struct PlanContext {
  const ScanConfig& config;  // config.targets: every target of the sweep
  // The discovery stage's context; the plan sets its on_host, macs and abort.
  DiscoveryContext& discovery;
  MacTable& macs;
  // The port stages, in order, each run on every group (empty: -sn; -sS -sU: the TCP stage,
  // then the UDP one). A host is finished once every stage scanned it.
  std::vector<PortStage*> port_stages = {};
  const auth::ProbeAnnouncer* announce = nullptr;  // --announce: discovery and port probes
  // Called once every stage's sockets are open, before any thread starts: the privilege drop.
  std::function<void()> ready = nullptr;
  // A host record to the table and the sinks (any thread; the callee locks).
  std::function<void(const HostResult&)> record_host = nullptr;
  // Runs one port stage on one group: `group` is the config with targets = the group and the
  // stage's type and ports (PortStage::type(), ports()), `space` the group x those ports. The
  // callee builds the EngineContext (its result callbacks, the gate).
  std::function<EngineReport(PortStage&, const ScanConfig& group, const ProbeSpace& space)>
      scan_group = nullptr;
  // Progress for checkpoints: one bit per target index, set once the host's records (host and
  // every port) went to the sinks. `force`: write it now (a group boundary with ports, or the
  // stop). Called from the plan's thread only, between groups. Null: no checkpoints.
  std::function<void(std::span<const uint64_t> finished, bool force)> checkpoint = nullptr;
  // A resumed scan: the bits of the checkpoint (hosts finished by earlier runs). Null: none.
  const std::vector<uint64_t>* finished = nullptr;
  size_t max_group = 4096;  // hosts per port-stage group, at most
};

struct PlanReport {
  DiscoveryReport discovery;
  EngineReport ports;  // summed over the groups (completeness: the largest group's)
  uint64_t groups = 0;
  bool interrupted = false;
};

// With --shards N --shard I, every shard sweeps every target and keeps (reports, port-scans)
// only the hosts whose target index mod N is I, each group scanned whole: the shards' results
// are disjoint and their union is the whole scan, whatever each machine's timing.
// Opens every stage (discovery's sockets, each port stage's transport), calls ready(), then runs
// discovery on a thread of its own while this thread scans the ports of each group of hosts it
// streams. Throws what a stage threw (after stopping and joining the other).
PlanReport run_stage_plan(PlanContext& plan);

}  // namespace gh
