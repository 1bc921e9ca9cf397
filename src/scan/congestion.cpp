#include "scan/congestion.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace gh {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr size_t kRingSize = size_t{1} << 16;
constexpr double kHostBudgetShare = 0.6;  // of the rate at which a host showed a signal
constexpr double kHostCleanShare = 0.75;  // of the last clean rate, after a slow-start overshoot
constexpr double kHostMinRate = 20;
constexpr uint32_t kHostWindow = 32;  // resolved probes before a host's share is judged
constexpr uint32_t kPathWindow = 64;
constexpr uint32_t kFirstWindow = 64;      // before the path's baseline is learnt
constexpr uint32_t kHostFirstWindow = 16;  // before a host's baseline is learnt
// In slow start a window is judged as soon as it is resolved (clocked by the replies, as TCP's
// slow start is by its ACKs), so a fast host reaches its rate in a few RTTs: smaller windows.
constexpr uint32_t kHostSlowWindow = 32;
constexpr uint32_t kPathSlowWindow = 64;
// A slow-start window whose first probes were all answered is clean without waiting for the
// rest (sequential testing): a rate that overshoots a limit by x2 loses about half of them.
constexpr uint32_t kHostEarlyClean = 16;
constexpr uint32_t kPathEarlyClean = 32;
constexpr int64_t kPathMinStep = 1'000'000;  // ns between two increases of the path's rate
// The noise of a baseline is counted over at most this many probes.
constexpr uint32_t kHostBaseN = 32;
constexpr uint32_t kPathBaseN = 128;
// After a back-off, no second one for the RTT under load plus 5 ms: the signals of that time
// come from probes sent before the first took effect (TCP reduces once per window likewise).
int64_t hold_ns(double rtt_s) {
  return static_cast<int64_t>((std::max(rtt_s, 0.0) + 0.005) * 1e9);
}
constexpr auto kTailLoss = std::chrono::milliseconds(500);
// Slow start's increase per clean window: x4 when the window spanned at least two RTTs (still
// slower than TCP's doubling per RTT), x2 otherwise (a long path, or no RTT sample yet).
double slow_start_growth(int64_t window_ns, double rtt_s) {
  return rtt_s > 0 && static_cast<double>(window_ns) >= 2 * rtt_s * 1e9 ? 4 : 2;
}

}  // namespace

bool CongestionControl::LossWindow::drop(uint32_t max_base_n) {
  double n_d = static_cast<double>(n());
  double r = static_cast<double>(answered) / n_d;
  uint32_t window = n();
  answered = lost = 0;
  if (base < 0) {
    base = r;
    base_n = window;
    return false;
  }
  // A drop clearly beyond the binomial noise of this window and of the baseline (3 sigma), and
  // by at least 3 points (a floor on the variance keeps a baseline of 1 or 0 from being brittle).
  // The variance of the share, with the baseline shrunk towards one half by its sample size
  // (Laplace's rule): a baseline of 1.0 learnt on a few probes is not taken as certain.
  double shrunk = (base * base_n + 1) / (base_n + 2);
  double var = std::max(shrunk * (1 - shrunk), 0.0025);
  bool dropped = r < base - 0.03 - 3 * std::sqrt(var / n_d + var / base_n);
  if (!dropped && base_n < max_base_n) {
    // Still learning: the baseline is the mean of what was seen.
    base = (base * base_n + r * n_d) / (base_n + n_d);
    base_n = std::min(base_n + window, max_base_n);
    return false;
  }
  // The baseline is the best share the path or host showed: it rises quickly and falls slowly,
  // so that a share that worsens step by step is still seen as a drop.
  base = r > base  ? 0.75 * base + 0.25 * r
         : dropped ? 0.95 * base + 0.05 * r
                   : 0.98 * base + 0.02 * r;
  return dropped;
}

void CongestionControl::Rtt::add(double s) {
  if (n == 0) {
    avg = s;
    var = s / 2;
  } else {
    var = 0.75 * var + 0.25 * std::abs(avg - s);
    avg = 0.875 * avg + 0.125 * s;
  }
  ++n;
  ++fresh;
  if (n >= 4) base = base == 0 ? avg : std::min(base, avg);
}

CongestionControl::CongestionControl(Options opts, Clock::time_point now)
    : opts_(opts),
      hosts_(opts.hosts > 0 ? std::min<uint64_t>(opts.hosts, kHostSlots) : kHostSlots),
      ring_(opts.probes > 0 ? std::clamp<size_t>(std::bit_ceil(opts.probes), 1024, kRingSize)
                            : kRingSize),
      period_start_(now) {
  rate_ = clamp(kPathInitialRate);
  loss_.restart(ns(now), 0);
}

double CongestionControl::clamp(double r) const {
  r = std::min(r, kMaxRate);
  if (opts_.max_rate > 0) r = std::min(r, opts_.max_rate);
  if (opts_.min_rate > 0) r = std::max(r, opts_.min_rate);
  return std::max(r, 1.0);
}

double CongestionControl::host_cap(const Host& h) const {
  double cap = h.rate;
  if (h.budget > 0) cap = std::min(cap, h.budget);
  if (opts_.max_host_rate > 0) cap = std::min(cap, opts_.max_host_rate);
  return cap;
}

uint32_t CongestionControl::slot_of(uint64_t host) const {
  if (opts_.hosts > 0 && opts_.hosts <= kHostSlots && host < hosts_.size())
    return static_cast<uint32_t>(host);  // one slot per host
  uint64_t x = host * 0x9e3779b97f4a7c15ull;
  x ^= x >> 29;
  return static_cast<uint32_t>(x % hosts_.size());
}

CongestionControl::Host& CongestionControl::claim(uint64_t host) {
  uint32_t slot = slot_of(host);
  Host& h = hosts_[slot];
  if (h.host != host && (h.host == ~uint64_t{0} || period_ - h.last_period >= 2)) {
    h = Host{};
    h.host = host;
  }
  if (h.last_period != period_) {
    h.last_period = period_;
    active_.push_back(slot);
  }
  return h;
}

CongestionControl::Clock::duration CongestionControl::due_in(uint64_t host,
                                                             Clock::time_point now) const {
  std::lock_guard lock(mu_);
  const Host& h = hosts_[slot_of(host)];
  // A slot another host holds is claimed afresh (or shared) by admit(): no wait to predict.
  if (h.host != host) return Clock::duration::zero();
  auto interval = static_cast<int64_t>(1e9 / host_cap(h));
  int64_t tolerance = std::max<int64_t>(interval, 200'000);
  int64_t t = ns(now);
  return t < h.tat - tolerance ? nanoseconds(h.tat - tolerance - t) : Clock::duration::zero();
}

CongestionControl::Clock::duration CongestionControl::admit(uint64_t host, uint64_t k,
                                                            Clock::time_point now) {
  std::lock_guard lock(mu_);
  Host& h = claim(host);
  double cap = host_cap(h);
  auto interval = static_cast<int64_t>(1e9 / cap);
  // Back to back at most a burst of 200 us worth of probes (2 at low rates): the pacing a small
  // device's SYN limiter sees is the average rate, not bursts of a send batch.
  int64_t tolerance = std::max<int64_t>(interval, 200'000);
  int64_t t = ns(now);
  if (t < h.tat - tolerance) return nanoseconds(h.tat - tolerance - t);
  if (h.admitted == 0) h.loss.restart(t, 0);  // its first window's rate counts from here
  h.tat = std::max(h.tat, t) + interval;
  ++h.sent;
  ++h.admitted;
  if (ring_size_ < ring_.size()) {
    ring_[(ring_head_ + ring_size_) % ring_.size()] =
        Pending{k, static_cast<uint32_t>(&h - hosts_.data()), t};
    ++ring_size_;
  }
  return Clock::duration::zero();
}

void CongestionControl::replied(uint64_t /*host*/, bool icmp) {
  std::lock_guard lock(mu_);
  ++replies_;
  if (icmp) ++icmp_;
}

void CongestionControl::rtt_sample(uint64_t host, double seconds, Clock::time_point read_at) {
  std::lock_guard lock(mu_);
  rtt_.add(seconds);
  latest_answered_ = std::max(latest_answered_, ns(read_at) - static_cast<int64_t>(seconds * 1e9));
  Host& h = hosts_[slot_of(host)];
  if (h.host == host) h.rtt.add(seconds);
}

void CongestionControl::tick(Clock::time_point now, uint64_t sent, uint64_t drops, uint64_t stalls,
                             const IsAnswered& answered) {
  std::lock_guard lock(mu_);
  // Resolve probes in send order: answered; or lost once a probe sent a reordering window
  // later has been answered (RACK, RFC 8985: the replies of the receive queue come in order, so
  // a slow receive thread delays the verdict instead of faking a loss); or lost after kTailLoss
  // when nothing later is answered (a silent host, the tail of a pass).
  double reo_s = std::max(0.001, rtt_.avg / 2 + 2 * rtt_.var);
  auto reo = static_cast<int64_t>(reo_s * 1e9);
  int64_t reordered = latest_answered_ - reo;
  int64_t tail = ns(now) - std::chrono::duration_cast<nanoseconds>(kTailLoss).count();
  while (ring_size_ > 0) {
    const Pending& p = ring_[ring_head_];
    bool a = answered(p.k);
    if (!a && p.at >= reordered && p.at >= tail && !answered_after(p.at + reo, answered, reordered))
      break;
    Host& h = hosts_[p.slot];
    // Each window judges the rate in force: probes sent before its last change are not in it.
    if (p.at >= h.loss.since) (a ? h.loss.answered : h.loss.lost)++;
    if (p.at >= loss_.since) (a ? loss_.answered : loss_.lost)++;
    ring_head_ = (ring_head_ + 1) % ring_.size();
    --ring_size_;
  }
  if (!primed_) {
    primed_ = true;
    period_start_ = now;
    sent0_ = sent, drops0_ = drops, stalls0_ = stalls;
    return;
  }
  // The control loop runs on the path's base RTT, not its inflated one: a growing queue must not
  // slow down the reaction to it.
  double loop_rtt = rtt_.base > 0 ? rtt_.base : rtt_.avg;
  auto period = std::max<Clock::duration>(
      milliseconds(5),
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(2 * loop_rtt)));
  slow_start_step(ns(now), sent);
  // Our own kernel dropping replies or refusing sends ends the period at once: slow start grows
  // faster than the period, and every reply dropped meanwhile is lost to the scan.
  bool kernel = (drops > drops0_ || stalls > stalls0_) && ns(now) >= hold_until_;
  if (now - period_start_ >= period || kernel) end_period(now, sent, drops, stalls);
}

bool CongestionControl::answered_after(int64_t after, const IsAnswered& answered,
                                       int64_t& reordered) const {
  // RTT samples are one reply in 16: their send times may lag behind what is answered. The
  // answered bits of the probes the ring holds are the truth; a bounded look ahead.
  size_t n = std::min<size_t>(ring_size_, kLookAhead);
  for (size_t i = 1; i < n; ++i) {
    const Pending& q = ring_[(ring_head_ + i) % ring_.size()];
    if (q.at < after || !answered(q.k)) continue;
    reordered = std::max(reordered, q.at - (after - ring_[ring_head_].at));
    return true;
  }
  return false;
}

void CongestionControl::new_pass() {
  std::lock_guard lock(mu_);
  retry_pass_ = true;
  loss_ = LossWindow{};
  for (Host& h : hosts_) h.loss = LossWindow{};
}

void CongestionControl::end_host_period(Host& h, double secs, int64_t now) {
  double sent_rate = h.sent / secs;
  ev_.max_host_rate = std::max(ev_.max_host_rate, sent_rate);
  if (h.rtt.n >= 8 && h.rtt.base > 0) {
    ev_.max_rtt_inflation = std::max(ev_.max_rtt_inflation, h.rtt.avg / h.rtt.base);
    ev_.max_rtt_inflation_ms = std::max(ev_.max_rtt_inflation_ms, (h.rtt.avg - h.rtt.base) * 1000);
  }
  double cap = host_cap(h);
  bool judged = h.loss.n() >= (h.loss.base < 0 ? kHostFirstWindow : kHostWindow);
  if (judged && !judge_loss()) {
    judged = false;  // the loss is ours (kernel drops), or a retry pass's
    h.loss.answered = h.loss.lost = 0;
  }
  bool lossy = judged && h.loss.drop(kHostBaseN);
  bool slow_rtt = h.rtt.inflated();
  h.rtt.fresh = 0;
  // A host in slow start grows by its own windows (slow_start_step), not by the period.
  bool used = !h.slow && h.sent >= 2 && sent_rate >= 0.5 * cap;
  host_verdict(h, lossy, slow_rtt, judged, used, sent_rate, now);
  h.sent = 0;
}

void CongestionControl::host_verdict(Host& h, bool lossy, bool slow_rtt, bool judged, bool used,
                                     double sent_rate, int64_t now, bool early) {
  double cap = host_cap(h);
  if ((lossy || slow_rtt) && now < h.hold_until) {
    // Within an RTT of the last back-off: what shows now was sent before it took effect.
    return;
  }
  if (lossy || slow_rtt) {
    double at = std::max({sent_rate, h.rate * 0.5, kHostMinRate});
    at = std::min(at, std::max(cap, kHostMinRate));
    // Loss sets the budget (the host's own limit showed); RTT inflation only halves the
    // rate (a queue on the path, which drains).
    if (lossy) {
      // Slow start doubles the rate, so the loss may show at up to twice the host's limit: the
      // budget stays below the last rate that was clean as well.
      double share = kHostBudgetShare * at;
      if (h.clean > 0) share = std::min(share, kHostCleanShare * h.clean);
      h.budget = h.budget > 0 ? std::min(h.budget, share) : share;
      h.budget = std::max(h.budget, kHostMinRate);
    }
    h.clean = 0;
    h.rate = std::max(kHostMinRate, 0.5 * at);
    h.slow = false;
    if (!h.backed_off) ++ev_.hosts_backed_off;
    h.backed_off = true;
    if (++h.bad_periods >= 3 && !h.impaired) {
      h.impaired = true;
      ++ev_.hosts_impaired;
    }
    (lossy ? ev_.backoffs_loss : ev_.backoffs_rtt)++;
    h.loss.restart(now, h.admitted);  // what resolves next was sent before the back-off
    h.hold_until = now + hold_ns(h.rtt.avg);
    host_signal_ = true;
    why_ = lossy ? Why::BackoffLoss : Why::BackoffRtt;
    why_host_ = h.host;
    return;
  }
  if (judged) h.bad_periods = 0;
  if (used && judged) {
    // A whole window vouches for the rate it was sent at; an early one (which a limiter's burst
    // allowance may have answered) only for the rate before it.
    if (h.slow) {
      h.clean = early ? h.rate / h.grew : h.rate;
      // An early window may owe its answers to a limiter's burst allowance: x2 at most after it.
      h.grew =
          early ? 2 : slow_start_growth(now - h.loss.since, h.rtt.n > 0 ? h.rtt.avg : rtt_.avg);
      h.rate *= h.grew;
    } else {
      h.rate += std::max(20.0, 0.05 * h.rate);
    }
    h.loss.restart(now, h.admitted);
    if (h.budget > 0) h.rate = std::min(h.rate, h.budget);
  }
  if (used && h.budget > 0 && h.rate >= h.budget && !host_signal_) {
    budget_host_ = h.host;
    budget_bound_ = true;
  }
}

void CongestionControl::slow_start_step(int64_t now, uint64_t sent) {
  if (retry_pass_) return;  // a retry pass's windows are not judged (new_pass)
  for (uint32_t slot : active_) {
    Host& h = hosts_[slot];
    if (!h.slow) continue;
    uint32_t n = h.loss.n();
    // Early: judged before the whole window is in (a whole window all answered is not early).
    bool early =
        h.loss.base >= 0 && h.loss.lost == 0 && n >= kHostEarlyClean && n < kHostSlowWindow;
    if (!early && n < (h.loss.base < 0 ? kHostFirstWindow : kHostSlowWindow)) continue;
    if (!judge_loss()) {
      h.loss.answered = h.loss.lost = 0;
      continue;
    }
    double window_rate = h.loss.rate(now, h.admitted);
    // An early verdict is clean by its choice: it does not go into the baseline (which would then
    // see only the windows that happened to be all answered).
    bool lossy = early ? (h.loss.answered = 0, false) : h.loss.drop(kHostBaseN);
    // The window was sent at the host's rate (half of it at least), not held back by the path;
    // or the host is sent that much in the period under way (as the period-clocked verdicts
    // judge it: with many hosts each is sent near its rate only at times).
    double cap = host_cap(h);
    double period_s = static_cast<double>(now - ns(period_start_)) / 1e9;
    bool used = h.admitted - h.loss.sent0 >= 2 &&
                (window_rate >= 0.5 * cap || (h.sent >= 2 && h.sent >= 0.5 * cap * period_s));
    host_verdict(h, lossy, false, true, used, window_rate, now, early);
  }
  bool early = loss_.base >= 0 && loss_.lost == 0 && loss_.n() >= kPathEarlyClean &&
               loss_.n() < kPathSlowWindow;
  if (!slow_ || now < hold_until_ ||
      (!early && loss_.n() < (loss_.base < 0 ? kFirstWindow : kPathSlowWindow)))
    return;
  double window_rate = loss_.rate(now, sent);
  bool lossy = early ? (loss_.answered = 0, false) : loss_.drop(kPathBaseN);
  if (lossy) {
    path_back_off(0.5, Why::BackoffLoss, ev_.backoffs_loss, rate_, now, sent);
  } else if (rtt_.rising()) {
    // HyStart's delay increase, judged per window too: x4 windows outgrow the control period.
    slow_ = false;
    additive_ = std::max(100.0, 0.05 * rate_);
  } else if (window_rate >= 0.5 * rate_ && now - last_growth_ >= kPathMinStep) {
    // At most once per kPathMinStep: our own kernel's drops (the path's first limit on a LAN)
    // show within a tick or two, and replies it drops are lost.
    rate_ = clamp(rate_ * (early ? 2 : slow_start_growth(now - loss_.since, rtt_.avg)));
    loss_.restart(now, sent);
    last_growth_ = now;
  }
}

void CongestionControl::path_back_off(double factor, Why why, uint64_t& counter, double from,
                                      int64_t now, uint64_t sent) {
  rate_ = clamp(from * factor);
  slow_ = false;
  additive_ = std::max(100.0, 0.05 * rate_);
  hold_until_ = now + hold_ns(rtt_.avg);
  loss_.restart(now, sent);
  ++counter;
  why_ = why;
  if (!host_signal_) why_host_ = ~uint64_t{0};
}

void CongestionControl::end_period(Clock::time_point now, uint64_t sent, uint64_t drops,
                                   uint64_t stalls) {
  double secs = std::chrono::duration<double>(now - period_start_).count();
  double achieved = static_cast<double>(sent - sent0_) / secs;
  ev_.max_rate = std::max(ev_.max_rate, achieved);
  host_signal_ = budget_bound_ = false;
  bool kernel = drops > drops0_ || stalls > stalls0_;
  // Replies our kernel dropped in this period and the one before: losses they can explain are
  // ours, not the path's or a host's.
  kernel_lost_ = (drops - drops0_) + last_drops_;
  last_drops_ = drops - drops0_;
  Why before = why_;
  why_ = Why::Ramping;
  for (uint32_t slot : active_) end_host_period(hosts_[slot], secs, ns(now));
  active_.clear();
  ++period_;

  bool judged = loss_.n() >= (loss_.base < 0 ? kFirstWindow : kPathWindow);
  if (judged && !judge_loss()) {
    judged = false;
    loss_.answered = loss_.lost = 0;
  }
  bool lossy = judged && loss_.drop(kPathBaseN);
  bool slow_rtt = rtt_.inflated();
  rtt_.fresh = 0;
  bool icmp = false;
  if (replies_ >= 32) {
    double frac = static_cast<double>(icmp_) / replies_;
    if (icmp_base_ < 0)
      icmp_base_ = frac;
    else if (icmp_ >= 8 && frac > icmp_base_ + 0.1)
      icmp = true;
    else
      icmp_base_ = 0.8 * icmp_base_ + 0.2 * frac;
    icmp_ = replies_ = 0;
  }
  double from = kernel && achieved >= 0.5 * rate_ ? achieved : rate_;
  int64_t t = ns(now);
  if (kernel)
    path_back_off(0.5, Why::BackoffKernel, ev_.backoffs_kernel, from, t, sent);
  else if (t < hold_until_ && (lossy || slow_rtt || icmp))
    why_ = before;  // the signal of the back-off just taken, still draining
  else if (lossy)
    path_back_off(0.5, Why::BackoffLoss, ev_.backoffs_loss, from, t, sent);
  else if (slow_rtt)
    path_back_off(0.5, Why::BackoffRtt, ev_.backoffs_rtt, from, t, sent);
  else if (icmp)
    path_back_off(0.7, Why::BackoffIcmp, ev_.backoffs_icmp, from, t, sent);
  else if (!host_signal_) {
    // Slow start ends when the RTT starts to rise (a queue forms; HyStart's delay increase), before
    // the queue costs a loss or a back-off: from here the rate grows additively.
    if (slow_ && rtt_.rising()) {
      slow_ = false;
      additive_ = std::max(100.0, 0.05 * rate_);
    }
    // In slow start the path grows by its own windows (slow_start_step), not by the period.
    bool used = achieved >= 0.5 * rate_;
    if (used && judged && !slow_) {
      rate_ = clamp(rate_ + additive_);
      loss_.restart(t, sent);
    }
    if (budget_bound_) {
      why_ = Why::HostBudget;
      why_host_ = budget_host_;
    } else if (opts_.max_rate > 0 && rate_ >= opts_.max_rate) {
      why_ = Why::CappedMax;
    } else if (opts_.min_rate > 0 && rate_ <= opts_.min_rate && before != Why::Ramping) {
      why_ = Why::Floor;
    }
  }
  period_start_ = now;
  sent0_ = sent, drops0_ = drops, stalls0_ = stalls;
}

double CongestionControl::host_rate(uint64_t host) const {
  std::lock_guard lock(mu_);
  const Host& h = hosts_[slot_of(host)];
  return h.host == host ? host_cap(h) : kHostInitialRate;
}

double CongestionControl::host_budget(uint64_t host) const {
  std::lock_guard lock(mu_);
  const Host& h = hosts_[slot_of(host)];
  return h.host == host ? h.budget : 0;
}

LoadEvidence CongestionControl::evidence() const {
  std::lock_guard lock(mu_);
  LoadEvidence e = ev_;
  e.measured = true;
  return e;
}

}  // namespace gh
