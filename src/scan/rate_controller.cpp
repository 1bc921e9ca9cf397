#include "scan/rate_controller.h"

#include <algorithm>

namespace gh {

RateController::RateController(Options opts, Now now)
    : opts_(opts), now_(std::move(now)), rate_(opts.max_rate > 0 ? opts.max_rate : 0) {
  period_start_ = now_();
}

double RateController::clamp(double r) const {
  if (r <= 0) return opts_.max_rate > 0 ? opts_.max_rate : 0;  // 0 is "unlimited"
  if (opts_.max_rate > 0) r = std::min(r, opts_.max_rate);
  if (opts_.min_rate > 0) r = std::max(r, opts_.min_rate);
  return r;
}

void RateController::observe(uint64_t sent, uint64_t drops, uint64_t stalls) {
  auto now = now_();
  if (!primed_) {
    primed_ = true;
    period_start_ = now;
    sent0_ = sent, drops0_ = drops, stalls0_ = stalls;
    return;
  }
  auto elapsed = now - period_start_;
  if (elapsed < opts_.period) return;
  double secs = std::chrono::duration<double>(elapsed).count();
  double achieved = static_cast<double>(sent - sent0_) / secs;
  achieved_ = achieved;
  bool overload = drops > drops0_ || stalls > stalls0_;
  if (overload && achieved > 0) {
    rate_ = clamp(achieved / 2);
    ++backoffs_;
  } else if (!overload && rate_ > 0) {
    double up = rate_ * 1.25;
    // Unlimited ceiling: once well above what is achieved, the cap no longer binds: lift it.
    if (opts_.max_rate <= 0 && up > 4 * std::max(achieved, 1.0)) up = 0;
    rate_ = up == 0 ? 0 : clamp(up);
  }
  period_start_ = now;
  sent0_ = sent, drops0_ = drops, stalls0_ = stalls;
}

void RateController::end_pass(double loss) {
  switch (test_) {
    case LossTest::None:
      if (loss > opts_.loss_threshold && (rate_ > 0 || achieved_ > 0)) {
        rate_before_test_ = rate_;
        loss_before_test_ = loss;
        // Half of the current rate; from unlimited, half of what was achieved.
        rate_ = clamp((rate_ > 0 ? rate_ : achieved_) / 2);
        test_ = LossTest::Testing;
        ++backoffs_;
      }
      break;
    case LossTest::Testing:
      if (loss <= loss_before_test_ / 2) {
        test_ = LossTest::Congestion;
        if (loss > opts_.loss_threshold && rate_ > 0) rate_ = clamp(rate_ / 2), ++backoffs_;
      } else {
        test_ = LossTest::RandomLoss;
        rate_ = clamp(rate_before_test_);
      }
      break;
    case LossTest::Congestion:
      if (loss > opts_.loss_threshold && rate_ > 0) rate_ = clamp(rate_ / 2), ++backoffs_;
      break;
    case LossTest::RandomLoss:
      break;
  }
}

}  // namespace gh
