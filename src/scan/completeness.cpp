#include "scan/completeness.h"

#include <algorithm>
#include <cmath>

namespace gh {

std::optional<double> LossModel::loss(std::span<const PassCounts> passes) {
  if (passes.size() < 2) return std::nullopt;
  double a0 = static_cast<double>(passes[0].settled);
  double a1 = static_cast<double>(passes[1].settled);
  return std::clamp((a1 + 0.5) / (a0 + 1.0), 0.0, 0.999);
}

namespace {
// x / (1 - x) for x = q^tries, the odds of a responsive thing staying silent through every try.
double odds_silent(double q, double tries) {
  double x = std::pow(q, tries);
  return x >= 1 ? 1e18 : x / (1 - x);
}
}  // namespace

double expected_missed(const MissedInput& in) {
  double q = std::clamp(in.loss, 0.0, 0.999);
  if (in.single_port) return static_cast<double>(in.found) * odds_silent(q, in.answered_passes);
  double missed = static_cast<double>(in.found) * odds_silent(q, in.answered_passes);
  for (int r = 1; r <= 3; ++r)
    missed += static_cast<double>(in.hosts_by_answers[r - 1]) * r *
              odds_silent(q, static_cast<double>(in.silent_passes) * r);
  return missed;
}

bool sweep_again(std::span<const PassCounts> passes, uint64_t found) {
  if (passes.size() < 2) return true;
  MissedInput in;
  in.loss = *LossModel::loss(passes);
  in.found = found;
  in.answered_passes = static_cast<uint32_t>(passes.size());
  in.single_port = true;
  return expected_missed(in) > 0.01;
}

}  // namespace gh
