// Congestion control of the raw engine at -T3/-T4 (the defaults): how fast to send, on the whole
// path and to each host, from what the path and the hosts show. There is no fixed cap: the rate
// starts low, ramps up, and backs off on signals, in the manner of TCP.
//
// The path (all probes together):
//   * slow start: the rate grows (at most once per 1 ms) for every window of 64 resolved
//     probes (the first learns the baseline; or as soon as the first 32 of a window are all
//     answered) that was judged clean and in which the rate was used (half of it actually
//     sent): x4 for a whole window that spanned at least two RTTs (still slower than TCP's
//     doubling per RTT), x2 for an early one or a shorter window. Windows are judged as they
//     resolve, in tick(), clocked by the replies as TCP's slow start is by its ACKs, not by the
//     control period. Slow start ends when the RTT starts to rise (HyStart's delay increase),
//     judged per window as well as per period: x4 windows outgrow the period;
//   * after the first back-off, additive increase: +5% of the rate at that back-off per period
//     (max(5 ms, 2 x the base RTT));
//   * back-off (multiplicative decrease), each cause counted in the evidence:
//       - loss: the share of probes answered within the loss timeout (below) fell clearly below
//         its baseline (the share the path showed so far: random loss, filtered ports and dead
//         hosts are in the baseline, only a drop from it is a signal): rate x 0.5;
//       - RTT inflation (queueing): the smoothed RTT rose above 2 x its baseline + 10 ms: x 0.5
//         (and slow start already ends when it passes 1.25 x the baseline + 2 ms);
//       - ICMP errors (unreachables, the modern source quench) rose above their baseline share
//         by 10 points: x 0.7;
//       - kernel drops: replies the receive ring dropped, sends refused (ENOBUFS): half of what
//         was achieved over the period (ended at once when they show);
//   * the ceiling (--max-rate, --scan-delay, the scope) and the floor (--min-rate) always hold.
//
// Each host (the load budget): its own rate, paced per probe (admit; bursts of at most 200 us
// worth), starting at kHostInitialRate (below the SYN limit of a small device: its first window
// must be answered as the host answers, or the baseline would include the limit's drops); its
// baseline is learnt on its first 16 resolved probes (8 ms at the initial rate), then the rate
// grows per clean window (slow start: x4 after a whole window that spanned two RTTs, x2 after an
// early one) while it is used and the host shows no signal. A window is 32 resolved probes,
// all sent at the current rate (at half of it at least, over the window or in the period under
// way), judged as soon as they are resolved (in tick(), not once per
// period: a LAN host with a 50 us RTT reaches tens of thousands of probes a second within a few
// milliseconds), or earlier, after 16, if those were all answered (a limit overshot x2 has
// dropped several by then, unless a burst allowance hid it); such early windows do not enter
// the baseline, and vouch only for the rate before theirs (the budget after a loss is computed
// from the last clean rate). A host whose answered share drops is backed off (x 0.5) and
// gets a budget: 0.6 x the rate at which it showed the loss, and at most 0.75 x the last rate that
// was clean (slow start may overshoot the host's limit by up to x 4), never exceeded again in this
// scan (it creeps back up to the budget additively, once per control period). A host whose RTT
// inflates is backed off (x 0.5) without a budget (a queue drains). After a back-off, none again
// for an RTT (the signals still arriving were sent before it). A host that shows its signal three
// back-offs in a row is counted impaired in the evidence. --max-host-rate and the scope's
// max_host_rate cap it too (the probe gate enforces them as well).
//
// A window's verdict is a drop when its answered share is below the baseline by 3 points and 3
// sigma of the binomial noise of the window and of the baseline (counted over the probes it was
// learnt on, at most 32 for a host and 128 for the path). The noise is that of the baseline
// shrunk towards one half by its sample size (Laplace's rule of succession): a share of 1.0 seen
// on 16 probes is not a certainty, so a few random losses after it are not a drop. Until it has
// seen that many probes the baseline is the mean of its windows; then it rises quickly and falls
// slowly.
//
// Loss is measured per probe, not per period: admit() records (position, host, time) in a ring;
// tick() resolves them in send order by their answered bit (the driver's truth): answered, or
// lost once a probe sent a reordering window later is known answered (RACK, RFC 8985; the RTT
// samples and the answered bits of the next kLookAhead probes of the ring say which send times
// were answered), or lost after 500 ms with nothing later answered. A receive thread that falls
// behind delays the verdicts instead of faking losses.
//
// Bounded state: hosts live in a fixed table of at most kHostSlots slots. A scan of at most that
// many hosts (Options::hosts) gets one slot per host, its index in the probe space, and no more
// (one host: one slot). A wider scan gets kHostSlots slots keyed by a hash of the index: a slot
// idle for two periods is reused by the next host that hashes to it; two hosts active at once in
// one slot share its budget (conservative: they are paced together). Scans of a /8 therefore
// use the same memory as scans of 8,192 hosts. The ring of probes awaiting their verdict is
// likewise sized to the scan (Options::probes), at most 65,536.
//
// Time comes only from the arguments (no clock is read here): unit tests drive simulated paths.
// Thread safety: admit() from any send thread and every other call from the driver's thread;
// one mutex guards the host table and the ring.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "core/load_evidence.h"

namespace gh {

class CongestionControl {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kHostSlots = 8192;
  static constexpr double kPathInitialRate = 10000;
  static constexpr double kHostInitialRate = 2000;
  static constexpr double kMaxRate = 20e6;  // no real path goes beyond; keeps numbers finite

  struct Options {
    double min_rate = 0;       // pps floor of the path, 0 = none
    double max_rate = 0;       // pps ceiling of the path, 0 = none
    double max_host_rate = 0;  // pps ceiling of each host, 0 = none
    uint64_t hosts = 0;        // target hosts of the scan (sizes the table), 0 = unknown
    uint64_t probes = 0;       // probes of one pass (sizes the ring), 0 = unknown
  };
  // Why the rate is what it is (the status line).
  enum class Why : uint8_t {
    Ramping,        // slow start or additive increase, no signal yet
    BackoffLoss,    // unanswered probes (host(): the host that showed it, when one did)
    BackoffRtt,     // RTT inflation
    BackoffIcmp,    // ICMP errors
    BackoffKernel,  // our own machine dropped replies or refused sends
    HostBudget,     // one host's budget holds the scan back (host())
    CappedMax,      // the ceiling (--max-rate, the scope)
    Floor,          // --min-rate holds it up
  };
  using IsAnswered = std::function<bool(uint64_t position)>;

  explicit CongestionControl(Options opts, Clock::time_point now);

  // Send thread: may a probe (slice position k) go to `host` (its target index) now? Zero: yes,
  // and it is counted; otherwise how long to wait before asking again (nothing is counted).
  Clock::duration admit(uint64_t host, uint64_t k, Clock::time_point now);
  // Send thread: how long until admit() would say yes for `host` (zero: now). Counts and changes
  // nothing: a send thread asks it first and goes on with another host's probe meanwhile.
  Clock::duration due_in(uint64_t host, Clock::time_point now) const;
  // Driver thread: a reply was read for `host`; icmp: it was an ICMP error.
  void replied(uint64_t host, bool icmp);
  // Driver thread: an RTT sample (seconds) of a probe to `host`, whose reply was read at
  // `read_at` (so it was sent at read_at - seconds).
  void rtt_sample(uint64_t host, double seconds, Clock::time_point read_at);
  // Driver thread, as often as it likes: resolves probes older than the loss timeout, and once
  // per control period applies the signals. `sent`, `drops`, `stalls`: cumulative counters.
  void tick(Clock::time_point now, uint64_t sent, uint64_t drops, uint64_t stalls,
            const IsAnswered& answered);
  // A retry pass begins: its probes are the ones that went unanswered, so their answered share
  // is not judged (rates and host budgets stay; RTT, ICMP and kernel signals still count).
  void new_pass();

  double rate() const { return rate_; }  // pps for the whole path (never 0)
  Why why() const { return why_; }
  uint64_t why_host() const { return why_host_; }  // the host named by why(), if any
  double host_rate(uint64_t host) const;           // the host's current rate (tests)
  double host_budget(uint64_t host) const;         // its budget, 0 = none yet (tests)
  LoadEvidence evidence() const;
  size_t slots() const { return hosts_.size(); }  // fixed: min(hosts, kHostSlots)

 private:
  // The answered share of resolved probes, against its baseline.
  struct LossWindow {
    uint32_t answered = 0, lost = 0;
    double base = -1;     // -1: not learnt yet
    uint32_t base_n = 0;  // probes the baseline was learnt on (its noise), at most 128
    int64_t since = 0;    // ns: only probes sent from then on count (the rate changed then)
    uint64_t sent0 = 0;   // the sent counter at `since` (the rate the window was sent at)
    void restart(int64_t now, uint64_t sent) {
      answered = lost = 0;
      since = now;
      sent0 = sent;
    }
    // Adds the window to the baseline or reports a drop from it. Call when n() is large enough;
    // max_base_n: how many probes the baseline's noise may be counted over at most.
    bool drop(uint32_t max_base_n);
    uint32_t n() const { return answered + lost; }
    // Probes per second sent since the window began (`sent`: the cumulative counter now).
    double rate(int64_t now, uint64_t sent) const {
      return now > since
                 ? static_cast<double>(sent - sent0) * 1e9 / static_cast<double>(now - since)
                 : 0;
    }
  };
  struct Rtt {
    double avg = 0, var = 0, base = 0;
    uint32_t n = 0;
    uint32_t fresh = 0;  // samples since the last judgment
    void add(double s);
    // Judged on new samples only: a back-off is not repeated on the samples that caused it.
    bool inflated() const { return n >= 8 && fresh >= 4 && base > 0 && avg > 2 * base + 0.010; }
    // A queue starts to form (HyStart's delay increase): slow start ends.
    bool rising() const { return n >= 8 && base > 0 && avg > 1.25 * base + 0.002; }
  };
  struct Host {
    uint64_t host = ~uint64_t{0};
    uint64_t last_period = 0;
    int64_t tat = 0;  // GCRA theoretical arrival time, ns
    double rate = kHostInitialRate;
    double budget = 0;
    double clean = 0;  // slow start: the rate before the last increase (its window was clean)
    double grew = 2;   // slow start: the factor of the last increase
    bool slow = true;
    uint32_t sent = 0;      // this period
    uint64_t admitted = 0;  // in all (the host's window rate)
    LossWindow loss;
    Rtt rtt;
    uint8_t bad_periods = 0;  // back-offs in a row, without a clean window between them
    int64_t hold_until = 0;   // ns: no second back-off before then
    bool backed_off = false, impaired = false;
  };
  struct Pending {
    uint64_t k;
    uint32_t slot;
    int64_t at;  // ns
  };
  uint32_t slot_of(uint64_t host) const;
  Host& claim(uint64_t host);
  void end_period(Clock::time_point now, uint64_t sent, uint64_t drops, uint64_t stalls);
  void end_host_period(Host& h, double secs, int64_t now);
  // A host's verdict: a back-off for loss or RTT inflation, or (judged: a whole window was
  // resolved, and used: sent at at least half its rate) an increase.
  void host_verdict(Host& h, bool lossy, bool slow_rtt, bool judged, bool used, double sent_rate,
                    int64_t now, bool early = false);
  // Slow start, clocked by the replies: a host's or the path's window is judged as soon as it
  // is resolved, not at the end of the control period.
  void slow_start_step(int64_t now, uint64_t sent);
  // Whether a probe of the ring sent at or after `after` is answered (RACK's "a later probe
  // was delivered"); if so, `reordered` moves to that probe's send time less the reordering
  // window, so the probes before it resolve without looking again.
  static constexpr size_t kLookAhead = 512;
  bool answered_after(int64_t after, const IsAnswered& answered, int64_t& reordered) const;
  void path_back_off(double factor, Why why, uint64_t& counter, double from, int64_t now,
                     uint64_t sent);
  double clamp(double r) const;
  double host_cap(const Host& h) const;
  static int64_t ns(Clock::time_point t) { return t.time_since_epoch().count(); }

  Options opts_;
  mutable std::mutex mu_;  // hosts_, active_, ring_
  std::vector<Host> hosts_;
  std::vector<uint32_t> active_;  // slots used in the period under way
  std::vector<Pending> ring_;     // fixed size: a power of two
  size_t ring_head_ = 0, ring_size_ = 0;
  uint64_t period_ = 1;
  Clock::time_point period_start_;
  uint64_t sent0_ = 0, drops0_ = 0, stalls0_ = 0;
  bool primed_ = false;
  double rate_;
  bool slow_ = true;
  double additive_ = 0;  // pps added per period after the first back-off
  Why why_ = Why::Ramping;
  uint64_t why_host_ = 0;
  LossWindow loss_;
  Rtt rtt_;
  uint32_t icmp_ = 0, replies_ = 0;
  double icmp_base_ = -1;
  bool host_signal_ = false;   // a host backed off in the period under way
  bool budget_bound_ = false;  // a host used its whole budget in the period under way
  uint64_t budget_host_ = 0;
  int64_t hold_until_ = 0;       // ns: the path does not back off again before then
  int64_t last_growth_ = 0;      // ns: the path's last slow-start doubling
  int64_t latest_answered_ = 0;  // send time (ns) of the latest probe known answered
  uint64_t kernel_lost_ = 0;     // replies our kernel dropped in the last two periods
  uint64_t last_drops_ = 0;
  bool retry_pass_ = false;  // new_pass() was called
  // Whether unanswered probes say something about the path and the hosts now: not when our own
  // kernel dropped replies enough to explain half the losses (they are ours), and not in retry
  // passes, whose probes are the ones that went unanswered (the pass-level loss test of
  // scan/completeness.h covers them).
  bool judge_loss() const { return 2 * kernel_lost_ < loss_.lost + 1 && !retry_pass_; }
  LoadEvidence ev_;
};

}  // namespace gh
