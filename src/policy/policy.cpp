#include "policy/policy.h"

#include <fmt/format.h>

#include "policy/exclusions.h"

namespace gh {

PolicyPlan apply_policy(ScanConfig& config, const Scope* scope, WallClock::time_point now) {
  PolicyPlan plan;
  PolicySpec& pol = config.policy;

  if (scope != nullptr) {
    const Scope& s = *scope;
    check_window(s, now);
    apply_scope(s, config.targets, config.ports, pol.ports_given, pol.clip_to_scope, plan.notes);

    // The scope's limits are ceilings: lower what the command line (or the -T template) asks.
    Timing& t = config.timing;
    if (s.limits.max_rate > 0 && (t.max_rate <= 0 || t.max_rate > s.limits.max_rate)) {
      plan.notes.push_back(fmt::format(
          "rate lowered from {} to the scope's max_rate: {} packets/s",
          t.max_rate > 0 ? fmt::format("{:g} packets/s", t.max_rate) : std::string("no limit"),
          s.limits.max_rate));
      t.max_rate = s.limits.max_rate;
    }
    if (s.limits.max_rate > 0 && t.min_rate > t.max_rate) {
      plan.notes.push_back(fmt::format("--min-rate lowered to the scope's max_rate: {} packets/s",
                                       s.limits.max_rate));
      t.min_rate = t.max_rate;
    }
    if (s.limits.max_host_rate > 0 &&
        (pol.max_host_rate <= 0 || pol.max_host_rate > s.limits.max_host_rate)) {
      if (pol.max_host_rate > 0)
        plan.notes.push_back(fmt::format(
            "--max-host-rate lowered from {:g} to the scope's max_host_rate: {:g} packets/s",
            pol.max_host_rate, s.limits.max_host_rate));
      pol.max_host_rate = s.limits.max_host_rate;
    }
    plan.gate.authorized = s.authorized;
    plan.gate.ports = s.ports;
    if (s.engagement.not_after) plan.gate.closes_at = steady_deadline(*s.engagement.not_after);
  }

  if (pol.default_excluded != 0 || pol.system_excluded != 0) {
    std::string what;
    if (pol.default_excluded != 0)
      what = fmt::format("{} by the default exclusions ({}; --no-default-excludes to probe them)",
                         count_text(pol.default_excluded), default_exclusions_text());
    if (pol.system_excluded != 0)
      what += fmt::format("{}{} by {}", what.empty() ? "" : "; ", count_text(pol.system_excluded),
                          pol.system_exclude_applied);
    u128 total = pol.default_excluded + pol.system_excluded;
    plan.skipped = total > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(total);
    plan.exclusion_note =
        fmt::format("skipped {} address{}: {}", count_text(total), total == 1 ? "" : "es", what);
  }
  plan.gate.never = pol.excluded;
  plan.gate.max_host_rate = pol.max_host_rate;
  return plan;
}

}  // namespace gh
