#include "detect/trw.h"

#include <algorithm>
#include <cmath>

namespace gh::detect {

namespace {
constexpr double kMaxLog = 690.0;  // e^690 ~ 1e299: far past any threshold, far from overflow
}

const char* TrwParams::validate() const {
  auto in01 = [](double x) { return x > 0.0 && x < 1.0; };
  if (!in01(theta0)) return "theta0 must be strictly between 0 and 1";
  if (!in01(theta1)) return "theta1 must be strictly between 0 and 1";
  if (!(theta1 < theta0)) return "theta1 must be smaller than theta0";
  if (!in01(p_detect)) return "the detection probability must be strictly between 0 and 1";
  if (!in01(p_false)) return "the false-positive probability must be strictly between 0 and 1";
  if (!(p_false < p_detect))
    return "the false-positive probability must be below the detection one";
  return nullptr;
}

TrwModel::TrwModel(const TrwParams& p, double threshold_scale)
    : log_success_(std::log(p.theta1 / p.theta0)),
      log_failure_(std::log((1.0 - p.theta1) / (1.0 - p.theta0))),
      log_eta0_(std::log((1.0 - p.p_detect) / (1.0 - p.p_false))),
      log_eta1_(std::log(p.p_detect / p.p_false) * threshold_scale) {}

TrwVerdict TrwWalk::observe(const TrwModel& m, bool success) {
  double l = static_cast<double>(log_lr_) + (success ? m.log_success() : m.log_failure());
  l = std::clamp(l, -kMaxLog, kMaxLog);
  // Compare in double with a small tolerance: float storage must not move a step across a
  // threshold it reaches exactly (e.g. theta ratios that multiply to eta1).
  constexpr double kEps = 1e-6;
  if (!flagged_ && l >= m.log_eta1() - kEps) {
    flagged_ = true;
    log_lr_ = static_cast<float>(l);
    return TrwVerdict::Scanner;
  }
  if (!flagged_ && l <= m.log_eta0() + kEps) {
    log_lr_ = 0;
    return TrwVerdict::Benign;
  }
  log_lr_ = static_cast<float>(l);
  return TrwVerdict::Pending;
}

double TrwWalk::ratio() const {
  return std::exp(std::clamp(static_cast<double>(log_lr_), -kMaxLog, kMaxLog));
}

}  // namespace gh::detect
