// The policy behind ProbeGate (scan/engine.h): every probe an engine sends, retries included, is
// checked here right before it is built.
//
//   excluded address (default exclusions, system exclude file)  -> Refuse
//   the engagement window has closed (scope not_after)           -> Refuse
//   address outside the scope's authorized set                   -> Refuse
//   port outside the scope's ports                               -> Refuse
//     (a port-less host-discovery probe, Probe::portless: ARP, NDP, ICMP, has no port to
//     check: a scope that authorizes an address for some ports authorizes finding out whether
//     it is up. TCP and UDP pings are probes of their port and must be in the scope's ports.)
//   the address's per-host bucket is empty (--max-host-rate)     -> Later, with the wait
//   otherwise                                                    -> Send
//
// The command line was already refused or clipped to the scope (policy/scope.h), so in a correct
// program the gate refuses nothing; it is the second line of defence that a bug in target
// parsing, the probe space, the permutation or the retry logic cannot get around. It holds its
// own copies of the sets, so nothing the engine can reach changes what it allows.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "core/types.h"
#include "policy/host_rate.h"
#include "scan/engine.h"
#include "targets/ports.h"
#include "targets/target_set.h"

namespace gh {

struct PolicyGateOptions {
  std::optional<TargetSet> authorized;  // nullopt: no scope
  std::optional<PortList> ports;        // nullopt: every port
  TargetSet never;                      // always refused
  double max_host_rate = 0;             // packets/s per address, 0 = no cap
  // When the authorization ends, as a steady-clock time (nullopt: it does not).
  std::optional<std::chrono::steady_clock::time_point> closes_at;
};

class PolicyGate : public ProbeGate {
 public:
  explicit PolicyGate(PolicyGateOptions opts);
  Decision check(const Probe& probe, std::chrono::steady_clock::time_point now,
                 std::chrono::nanoseconds* retry_in) override;

  // What the gate did (read after the engine returned; written by the send thread).
  struct Stats {
    uint64_t refused_excluded = 0;
    uint64_t refused_window = 0;
    uint64_t refused_scope = 0;  // address or port outside the scope
    uint64_t delayed = 0;        // "later" answers (per-host cap)
    uint64_t refused() const { return refused_excluded + refused_window + refused_scope; }
  };
  const Stats& stats() const { return stats_; }

 private:
  bool port_allowed(const Probe& probe) const;
  PolicyGateOptions opts_;
  std::optional<HostRateLimiter> host_rate_;
  Stats stats_;
};

// Converts a wall-clock deadline to the steady clock the engines pass to the gate.
std::chrono::steady_clock::time_point steady_deadline(
    std::chrono::system_clock::time_point wall_deadline);

}  // namespace gh
