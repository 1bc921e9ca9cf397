// Applies the scan policy to a parsed command line, before anything is opened or sent:
// given the loaded --scope (load_scope), refuses outside its window, refuses or clips targets and
// ports outside it, lowers rates to its limits, and prepares the probe gate that enforces all of it
// again per probe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "output/result.h"
#include "policy/probe_gate.h"
#include "policy/scope.h"
#include "scan/config.h"

namespace gh {

struct PolicyPlan {
  std::vector<std::string> notes;  // what was changed, one line each (printed on stderr)
  std::string exclusion_note;      // how many addresses the exclusions skipped; empty when none
  uint64_t skipped = 0;            // that count (saturated), for the status line
  PolicyGateOptions gate;
};

// Changes `config` (targets, ports, timing rates, max_host_rate) to what `scope` (null: none)
// allows. Throws ScopeRefused (outside the window, outside the scope without --clip-to-scope,
// nothing left after clipping).
PolicyPlan apply_policy(ScanConfig& config, const Scope* scope, WallClock::time_point now);

}  // namespace gh
