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
// Timing: passes = 1 + retries (2 retries on a LAN, 1 routed, as nmap's ping scan), each
// followed by a wait for stragglers: twice the slowest reply seen, at least 50 ms, and
// timing.initial_rtt while nothing has answered yet. The send rate is capped by
// timing.max_rate (0: none; the socket's back-pressure paces it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "output/result.h"
#include "scan/config.h"
#include "scan/engine.h"
#include "targets/target_set.h"

namespace gh {

struct DiscoveryContext {
  const ScanConfig& config;
  const TargetSet& targets;
  uint64_t seed = 0;
  const std::atomic<bool>& stop;
  bool privileged = true;    // raw sockets may be opened
  bool report_down = false;  // also report down hosts (at the end)
  ProbeGate* gate = nullptr;
  EngineCounters* counters = nullptr;  // sent / received / done, for the status line
  std::function<void(const HostResult&)> on_host;
  // Called once the discovery's sockets are open, before the first probe: a -sn run drops its
  // privileges here (the port scan's engine does it otherwise). May be empty.
  std::function<void()> after_sockets_open;
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
};

// Throws RuntimeError when a socket cannot be opened or there is no route; never for a silent
// address (that is a down host).
DiscoveryReport run_discovery(const DiscoveryContext& ctx);

}  // namespace gh
