// Host discovery (nmap's ping scan): which targets are up, before any port is scanned.
//
// run_discovery() sweeps the targets once per pass in keyed-permutation order, sends each target
// the probes of its DiscoveryPlan (scan/discovery_config.h: ARP or IPv6 neighbor solicitation on
// on-link targets; ICMP echo / timestamp / address mask, TCP SYN and ACK, UDP pings otherwise;
// connect() pings through the connect engine without privilege), and reports every host that
// answers through `on_host`, at once, from the calling thread: hosts stream out while the sweep
// goes on. Hosts that never answered are down; they are reported (up = false, no-response) only
// when `report_down` is set, at the end.
//
// Per-address state is one "answered" bit (a bitmap over the target indices) plus, per pass, one
// send time per 64 positions of the permutation (for the latency of a reply); per host found up,
// its HostResult goes to the callback and is not kept. Memory is thus about 1.1 bits per address.
//
// Validation is stateless where the protocol leaves room (net/cookie.h): ICMP id/sequence, TCP
// source port and sequence, UDP source port and payload word, all keyed by a per-run secret.
// ARP replies and neighbor advertisements carry no field of ours: they count when they come from
// an address we asked for (a target of the sweep), answer to our address, and are replies.
//
// Every probe passes the policy gate (scan/engine.h ProbeGate) right before it is built, retries
// included; a refused probe is never sent and counted in `refused`. Our own addresses (routes
// through a loopback device) are up without a probe (reason localhost-response).
//
// Timing: each pass is followed by a wait for stragglers: twice the slowest reply seen, at least
// 50 ms, and timing.initial_rtt while nothing has answered yet. Pass 1 retries every silent
// address once (nmap's ping scan retries at least once); it measures the loss (hosts only the
// retry found), and further passes go out only while that loss says live hosts may still be
// silent (scan/completeness.h sweep_again: two passes on a clean LAN, as many as a lossy one
// needs), at most timing.max_retries. The rate: at -T3/-T4 the congestion control of the port
// stages (scan/congestion.h: slow start from 10,000 pps, back-off on RTT inflation, loss against
// its baseline and our own kernel's refusals; one admission per target and pass, a target's
// probes of a pass leave together), under --max-rate; at the other levels timing.max_rate
// (0: none; the socket's back-pressure paces it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/load_evidence.h"
#include "output/result.h"
#include "scan/config.h"
#include "scan/engine.h"
#include "scan/mac_table.h"
#include "targets/target_set.h"

namespace gh {
namespace auth {
class ProbeAnnouncer;
}

struct DiscoveryContext {
  const ScanConfig& config;
  const TargetSet& targets;
  uint64_t seed = 0;
  const std::atomic<bool>& stop;
  bool privileged = true;    // raw sockets may be opened
  bool report_down = false;  // also report down hosts (at the end)
  ProbeGate* gate = nullptr;
  EngineCounters* counters = nullptr;  // sent / received / done, for the status line
  std::function<void(const HostResult&)> on_host = nullptr;
  // Called once the discovery's sockets are open, before the first probe: a -sn run drops its
  // privileges here (the port scan's engine does it otherwise). May be empty.
  std::function<void()> after_sockets_open = nullptr;
  // Each on-link ARP/NDP reply's MAC goes here before its host is reported: the port stage's
  // transport frames that host's probes with it (scan/transport.h). May be null.
  MacTable* macs = nullptr;
  // A resumed scan: one bit per target index (as TargetSet::at), set for the hosts a previous
  // run finished; they are neither probed nor reported. Null: none. Must hold
  // (targets.size() + 63) / 64 words.
  const std::vector<uint64_t>* finished = nullptr;
  // A second stop flag (the plan's: the port stage failed), polled like `stop`. May be null.
  const std::atomic<bool>* abort = nullptr;
  // --announce: the tag the raw discovery probes carry (scan/probe_ping.h). May be null.
  const auth::ProbeAnnouncer* announce = nullptr;
  bool stopping() const { return stop.load() || (abort != nullptr && abort->load()); }
};

struct DiscoveryReport {
  uint64_t targets = 0;
  uint64_t hosts_up = 0;
  uint64_t probes_sent = 0;
  uint64_t replies = 0;
  uint64_t refused = 0;
  uint32_t passes = 0;
  bool interrupted = false;
  std::vector<std::string> notes;  // what plan_discovery said, once
  // Raw discovery at -T3/-T4: what its congestion control measured (the audit log's "load",
  // merged with the port stages': core/load_evidence.h). Not measured otherwise.
  LoadEvidence load;
};

class RawDiscovery;

// Discovery as a stage of a scan plan (run/scanner.cpp) that runs beside the port stage:
//   open()  on the thread that will drop privileges, before it does: route lookups and the
//           sockets (nothing without privilege: connect pings need none). Sends nothing.
//   run()   on any thread, once, after open(): the sweep; on_host is called from that thread.
// ctx.after_sockets_open is not called by the stage (the plan calls it once every stage's
// sockets are open). `ctx` must outlive the stage.
class DiscoveryStage {
 public:
  explicit DiscoveryStage(const DiscoveryContext& ctx);
  ~DiscoveryStage();
  DiscoveryStage(const DiscoveryStage&) = delete;
  DiscoveryStage& operator=(const DiscoveryStage&) = delete;
  void open();
  DiscoveryReport run();

 private:
  const DiscoveryContext& ctx_;
  std::unique_ptr<RawDiscovery> raw_;
};

// open(), ctx.after_sockets_open, run(): discovery on its own. Throws RuntimeError when a socket
// cannot be opened or there is no route; never for a silent address (that is a down host).
DiscoveryReport run_discovery(const DiscoveryContext& ctx);

}  // namespace gh
