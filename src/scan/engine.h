// What every scan engine (SYN, connect, and later UDP/ICMP/ARP probe modules) shares: how it is
// driven and how it reports.
//
// An engine walks the ProbeSpace in Permutation order, sends one probe per index, retries indices
// that got no answer, and reports each verdict exactly once through `on_result`, from the thread
// that called run(). It polls `stop` (set from the SIGINT/SIGTERM handler) between batches and
// returns promptly when it is set, after reporting what it already knows.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "core/load_evidence.h"
#include "output/result.h"
#include "scan/completeness.h"
#include "scan/config.h"
#include "scan/mac_table.h"
#include "scan/progress.h"
#include "targets/probe_space.h"

namespace gh {
namespace auth {
class ProbeAnnouncer;
}

// Live counters for the status line; written by the engine, read by the status thread.
struct EngineCounters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};  // replies that passed validation
  std::atomic<uint64_t> retries{0};   // probes sent again
  std::atomic<uint64_t> done{0};      // indices that have a verdict
  std::atomic<uint64_t> total{0};     // indices in the scan
  std::atomic<uint64_t> open{0};
  std::atomic<uint64_t> skipped{0};  // target addresses the exclusions removed (never probed)
  std::atomic<uint64_t> drops{0};    // replies the kernel dropped before we read them (-sS)
  std::atomic<uint64_t> pass{0};     // retry pass under way (0: the first pass)
  // The send rate the engine aims at and why (-sS at -T3/-T4: scan/congestion.h), e.g.
  // "ramping", "backing off for 198.18.0.5"; 0 and empty when the engine does not say.
  std::atomic<double> rate{0};
  void set_rate_note(std::string note) {
    std::lock_guard lock(note_mu_);
    rate_note_ = std::move(note);
  }
  std::string rate_note() const {
    std::lock_guard lock(note_mu_);
    return rate_note_;
  }

 private:
  mutable std::mutex note_mu_;
  std::string rate_note_;
};

// Every probe passes the gate right before it is built, retries included: the scope of
// authorization and the per-host load cap live behind it, so no engine path can send around them.
// Called from the send thread only.
class ProbeGate {
 public:
  enum class Decision {
    Send,    // send it now
    Later,   // not yet (a per-host cap): ask again after *retry_in
    Refuse,  // never (outside the scope): the probe is dropped and counted, not reported
  };
  virtual ~ProbeGate() = default;
  virtual Decision check(const Probe& probe, std::chrono::steady_clock::time_point now,
                         std::chrono::nanoseconds* retry_in) = 0;
};

struct EngineContext {
  const ScanConfig& config;
  const ProbeSpace& space;
  uint64_t seed;
  const std::atomic<bool>& stop;
  EngineCounters& counters;
  std::function<void(const PortResult&)> on_result;
  ProbeGate* gate = nullptr;  // null: every probe may be sent
  // The other records of the result model (output/result.h), from any thread: a host's
  // discovery verdict, a service found on a port (after its port verdict). The run layer passes
  // them to the table and the sinks as on_result's. Null when the run has no use for them.
  std::function<void(const HostResult&)> on_host = nullptr;
  std::function<void(const ServiceInfo&)> on_service = nullptr;
  // Called once, after the engine has opened the sockets it needs and before it starts any
  // thread or sends anything: the scanner drops privileges here (policy/privilege_drop.h) and
  // then starts its status line. May throw (the scan then fails before its first probe).
  std::function<void()> after_sockets_open = nullptr;
  // SYN engine only. Called from the engine's thread about every config.checkpoint.interval, and
  // once more when a stop request ends the scan early (not when it completes): scan/progress.h.
  std::function<void(const EngineProgress&)> checkpoint = nullptr;
  // SYN engine only: continue from a checkpoint instead of starting at pass 0, position 0.
  const EngineResume* resume = nullptr;
  // SYN engine only, with --announce: tags every probe (auth/announce.h); null: no tag.
  const auth::ProbeAnnouncer* announce = nullptr;
  // Raw engine only: the MACs of on-link hosts, learnt from their ARP/NDP replies by host
  // discovery (scan/mac_table.h). When set, frames to on-link targets take their MAC from it
  // (no kernel neighbour-table round trip, no limit on the number of hosts), and a target
  // missing from it is unreachable (reported filtered, host-unreach; never sent to). Null (-Pn,
  // or no discovery): the kernel's neighbour table, at most kMaxNeighbors on-link targets.
  const MacTable* macs = nullptr;
};

// Each engine returns what it measured; the caller fills the rest of ScanSummary.
struct EngineReport {
  uint64_t probes_sent = 0;
  uint64_t replies = 0;
  uint64_t send_errors = 0;  // batches the kernel refused (the retries resend them)
  uint64_t refused = 0;      // probes the gate refused (never sent, never reported)
  bool interrupted = false;
  Completeness completeness;  // SYN engine: loss, estimated share found, passes, retries
  LoadEvidence load;          // SYN engine at -T3/-T4: what the congestion control measured
};

// Adds the report of one more engine run (a group, a stage) to `total`: the counts summed, the
// completeness and load of the run with the most passes (the last one on a tie).
inline void add_report(EngineReport& total, const EngineReport& r) {
  total.probes_sent += r.probes_sent;
  total.replies += r.replies;
  total.send_errors += r.send_errors;
  total.refused += r.refused;
  total.interrupted = total.interrupted || r.interrupted;
  total.completeness.retries += r.completeness.retries;
  if (r.completeness.passes >= total.completeness.passes) {
    total.completeness.passes = r.completeness.passes;
    total.completeness.loss = r.completeness.loss;
    total.completeness.share = r.completeness.share;
    total.load = r.load;
  }
}

}  // namespace gh
