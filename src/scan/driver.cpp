#include "scan/driver.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "scan/answered_set.h"
#include "scan/congestion.h"
#include "scan/host_pacer.h"
#include "scan/rate_controller.h"
#include "scan/rate_limiter.h"
#include "scan/retry_tracking.h"
#include "targets/permutation.h"
#include "targets/slice.h"

namespace gh {
namespace {

using std::chrono::milliseconds;

constexpr size_t kBatch = 64;

// What the receive and send threads hand to the thread that settles (the one that called run()):
// a reply's verdict, or a verdict reached without one, for slice position k.
struct Settled {
  enum class Kind : uint8_t {
    Reply,        // from the receive thread: `verdict` and the time it was read
    Unreachable,  // from a send thread: no ARP/NDP answer, nothing could be sent
    Refused,      // from a send thread: the gate refused the probe (closed without a verdict)
  };
  uint64_t k;
  ProbeVerdict verdict;
  SteadyClock::time_point at;
  Kind kind = Kind::Reply;
  SteadyClock::time_point arrived{};  // the kernel's receive time, when known (RxFrame::arrived)
};

// A mutex is plenty: a batch of verdicts is swapped out at once.
class VerdictQueue {
 public:
  void push(const Settled& s) {
    std::lock_guard lock(mu_);
    items_.push_back(s);
  }
  // Moves every item of `batch` in (one lock for a receive call's worth of replies).
  void push_all(std::vector<Settled>& batch) {
    if (batch.empty()) return;
    std::lock_guard lock(mu_);
    items_.insert(items_.end(), batch.begin(), batch.end());
    batch.clear();
  }
  void drain(std::vector<Settled>& out) {
    out.clear();
    std::lock_guard lock(mu_);
    out.swap(items_);
  }

 private:
  std::mutex mu_;
  std::vector<Settled> items_;
};

// One send thread's own state: its transport sender, its share of the rate, its counters. The
// thread that called run() reads the atomics (rate controller, status line, checkpoints).
struct Sender {
  std::unique_ptr<TransportSender> tx;
  std::mt19937_64 rng{0};
  std::unique_ptr<RateLimiter> limiter;
  std::atomic<double> target_rate{0};  // set by the controller, applied by the sender
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> pass0_done{0};  // pass 0: this sender's first positions sent (flushed)
  std::atomic<bool> finished{false};
};

class Driver {
 public:
  Driver(EngineContext& ctx, Transport& transport, ProbeModule& module, bool opened)
      : opened_(opened),
        ctx_(ctx),
        cfg_(ctx.config),
        space_(ctx.space),
        transport_(transport),
        module_(module),
        perm_(space_.size(), ctx.seed),
        slice_(Slice::shard(space_.size(), cfg_.shards.count, cfg_.shards.index)),
        // A dry run plans the whole scan without the retry bitmap (-sS --dry-run of 0.0.0.0/0).
        answered_(ctx.resume != nullptr ? AnsweredSet(slice_.size(), ctx.resume->answered)
                  : ctx.config.dry_run  ? AnsweredSet(0)
                                        : AnsweredSet(slice_.size())) {}

  EngineReport run();

 private:
  uint64_t index_at(uint64_t k) const { return perm_.at(slice_.position(k)); }
  uint64_t host_of(uint64_t index) const { return index % space_.targets(); }
  void dry_run();
  void receive_loop();
  // One pass: the send threads send (pass 0: the slice from the cursor, each thread its part;
  // a retry pass: `todo`, dealt out), while this thread settles replies, drives the rate and
  // writes checkpoints, until they are done.
  void run_pass(const std::vector<uint64_t>* todo);
  void send_work(Sender& s, size_t part, const std::vector<uint64_t>* todo);
  // attempt < 0: the pass's own (pass_); the paced retries give each probe its own.
  // hold: when given (-T3/-T4), a probe whose host is not due yet is not sent; *hold is set to
  // when it will be (the caller sends another host's probe meanwhile). Otherwise such a probe
  // waits here for its host.
  bool send_one(Sender& s, uint64_t k, int attempt = -1, SteadyClock::time_point* hold = nullptr);
  // icmp_paced() modules: retries of the hosts that answered in pass 0, each paced to the rate
  // at which it answers (scan/host_pacer.h). Returns the hosts it took care of.
  void paced_retries();
  void flush(Sender& s) { s.tx->flush(); }
  // Moves verdicts from the other threads into results. Returns how many were new.
  uint64_t settle();
  // Waits for the replies to the pass just sent: until the measured RTT says they are in and
  // none has come for a while, or `cap`.
  void wait_for_stragglers(milliseconds cap, milliseconds at_least = milliseconds(0));
  bool host_timed_out(uint64_t index);
  // Asks ctx.gate (one send thread at a time); waits out "later". False if refused: then the
  // position is closed without a verdict, never retried, never reported.
  bool admit(Sender& s, uint64_t k, const Probe& probe);
  // The congestion control's per-host pacing (-T3/-T4); waits like admit. False when stopping.
  bool pace_host(Sender& s, uint64_t k, uint64_t host);
  // The rate the senders aim at now, and the status line's account of it.
  double current_rate() const { return cc_ ? cc_->rate() : control_->rate(); }
  void publish_rate();
  // Feeds the rate controller, publishes counters, writes a checkpoint when due.
  void tick();
  void checkpoint_now();
  uint64_t pass0_cursor() const;
  // Expected responsive ports missed so far (scan/completeness.h).
  double expected_missed_now() const;
  void finish_report();
  void report_unanswered();
  bool stopping() const {
    return ctx_.stop.load(std::memory_order_relaxed) || failed_.load(std::memory_order_relaxed);
  }
  // An error in a send or receive thread (the interface gone: ENETDOWN) must not terminate the
  // process: the thread records it and the scan stops; run() saves a checkpoint and throws it
  // from the calling thread once every thread has ended, so the run layer reports it (one line,
  // exit 1) and closes the outputs (lab test_faults, part 2).
  template <class Fn>
  void guarded(Fn fn) noexcept {
    try {
      fn();
    } catch (...) {
      std::lock_guard lock(error_mu_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  std::mutex error_mu_;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
  uint64_t total_sent() const {
    uint64_t n = 0;
    for (const auto& s : senders_) n += s->tx->counters().sent.load(std::memory_order_relaxed);
    return n;
  }

  bool opened_ = false;
  EngineContext& ctx_;
  const ScanConfig& cfg_;
  const ProbeSpace& space_;
  Transport& transport_;
  ProbeModule& module_;
  Permutation perm_;
  Slice slice_;
  AnsweredSet answered_;  // one bit per position of slice_
  VerdictQueue queue_;
  std::atomic<bool> receiving_{true};
  std::unique_ptr<RateController> control_;  // -T0..-T2, -T5: fixed rate, own drops only
  std::unique_ptr<CongestionControl> cc_;    // -T3/-T4: per path and per host
  CongestionControl::IsAnswered is_answered_;
  CongestionControl::Why shown_why_{};
  uint64_t shown_host_ = ~uint64_t{0};
  std::vector<std::unique_ptr<Sender>> senders_;
  std::mutex gate_mu_;  // the gate and --host-timeout's table are shared by the send threads
  std::vector<Settled> drained_;
  // --host-timeout: when each host got its first probe. Only filled when the option is set.
  std::unordered_map<uint64_t, SteadyClock::time_point> host_first_;
  std::vector<bool> host_expired_;
  // Progress, retries and what they measured. pass_ is written by this thread only while no
  // send thread runs (between passes), and read by them during a pass.
  uint32_t pass_ = 0;
  uint64_t cursor_ = 0;  // pass 0: where it starts (a resumed scan: the checkpoint's cursor)
  std::vector<PassCounts> passes_{1};
  uint64_t pass_sent_base_ = 0;  // senders' total sent when the current pass began
  RttSampler rtt_;
  std::optional<HostAnswers> hosts_;  // with more than one port per host
  uint64_t responsive_ = 0;           // open and closed verdicts from replies
  bool prune_silent_ = false;         // silent hosts are no longer retried
  uint32_t silent_passes_ = 0;        // passes silent hosts got before that
  SteadyClock::time_point last_checkpoint_;
  EngineReport report_;
  // Paced retries (icmp_paced modules): the pacer while it runs, the hosts it handled (not
  // retried again by the passes), and the open answers that measure the network's loss.
  std::unique_ptr<HostPacer> pacer_;
  std::vector<bool> paced_host_;
  // -S: a host that sent ICMP errors is paced per (host, source address) pair, since it keeps
  // one ICMP limiter per address it answers to (scan/source_pool.h): the pacer's key is
  // host * kPairSlots + the probe's source slot. A host without ICMP errors stays one key.
  static constexpr uint64_t kPairSlots = 256;  // > kMaxSources, kMaxSources6
  std::vector<bool> paced_split_;
  uint64_t pacer_key(uint64_t host, const Probe& probe) const {
    return host * kPairSlots + (paced_split_[host] ? module_.source_slot(probe) : 0);
  }
  std::vector<uint32_t> host_icmp_;  // pass 0: ICMP answers per host (icmp_paced modules)
  uint64_t open_first_ = 0, open_retry_ = 0;
  uint32_t paced_cycles_ = 0;
};

// A reader that went away (`--dry-run | head`) ends the dry run (SIGPIPE is ignored).
void write_out(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size())
    throw RuntimeError("cannot write the dry run to standard output (closed?)");
}

void Driver::dry_run() {
  std::string out;
  std::vector<uint8_t> frame(module_.max_frame());
  for (uint64_t k = 0; k < slice_.size() && !stopping(); ++k) {
    Probe probe = space_.at(index_at(k));
    auto framing = transport_.framing(probe.addr.family);
    if (!framing) continue;
    size_t len = module_.build(frame, probe, BuildArgs{static_cast<uint16_t>(k), 0});
    if (len == 0) continue;
    out += module_.describe({frame.data(), len}, *framing);
    out += '\n';
    if (out.size() > (1 << 16)) {
      write_out(out);
      out.clear();
    }
    ++report_.probes_sent;
  }
  write_out(out);
  if (std::fflush(stdout) != 0) throw RuntimeError("cannot write the dry run to standard output");
  report_.interrupted = stopping();
}

void Driver::receive_loop() {
  std::vector<Settled> batch;
  Transport::FrameFn on_frame = [&](const RxFrame& frame) {
    ProbeVerdict v;
    if (!module_.classify(frame, v)) return;  // the cookie first: not ours, not looked at
    auto index = space_.index_of(v.probe.addr, v.probe.proto, v.probe.port);
    if (!index) return;  // a valid cookie for a probe outside this scan: not ours to report
    auto k = slice_.local(perm_.inverse(*index));
    if (!k) return;  // another shard's probe
    batch.push_back(Settled{*k, v, frame.at, Settled::Kind::Reply, frame.arrived});
  };
  while (receiving_.load(std::memory_order_relaxed)) {
    // A short poll: the scan waits for this thread to notice the end (receiving_) at exit.
    transport_.receive(milliseconds(1), on_frame);
    queue_.push_all(batch);
  }
}

uint64_t Driver::settle() {
  queue_.drain(drained_);
  uint64_t fresh = 0;
  for (const Settled& s : drained_) {
    if (!answered_.set(s.k)) continue;  // duplicate: a retransmitted or retried reply
    ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
    if (s.kind == Settled::Kind::Refused) {  // closed without a verdict
      ++report_.refused;
      continue;
    }
    const ProbeVerdict& v = s.verdict;
    std::optional<std::chrono::microseconds> rtt;  // a timed attempt's, for PortResult::rtt
    if (s.kind == Settled::Kind::Reply) {
      ++fresh;
      // The reply names the attempt it answers (its own source port): a late answer to an
      // earlier pass counts for that pass, and times only the attempt that was timed.
      ++passes_[std::min<size_t>(v.attempt, passes_.size() - 1)].settled;
      if (RttSampler::sampled(s.k) && v.attempt == pass_) {
        double r = rtt_.replied(s.k, s.at);
        if (r >= 0) {
          // The congestion control judges the path and the host, so its RTT ends when the
          // kernel received the reply: the ring's block timeout and our receive thread waiting
          // for a CPU are not the target's load (nor its evidence). The retry waits keep `r`.
          const bool known = s.arrived != SteadyClock::time_point{} && s.arrived <= s.at;
          const double ours = known ? std::chrono::duration<double>(s.at - s.arrived).count() : 0;
          const double target = std::max(r - ours, 0.0);
          if (cc_) cc_->rtt_sample(host_of(index_at(s.k)), target, known ? s.arrived : s.at);
          rtt = std::chrono::microseconds(std::max<int64_t>(1, std::llround(target * 1e6)));
        }
      }
      if (cc_) {
        // Unreachables from routers and firewalls (a UDP port's own "port unreachable" is an
        // answer, not a signal).
        bool icmp = v.reason == Reason::HostUnreach || v.reason == Reason::NetUnreach ||
                    v.reason == Reason::AdminProhibited;
        cc_->replied(host_of(index_at(s.k)), icmp);
      }
      if (v.state == PortState::Open || v.state == PortState::Closed) {
        ++responsive_;
        if (hosts_) hosts_->add(host_of(index_at(s.k)));
      }
      if (!host_icmp_.empty()) {
        const uint64_t host = host_of(index_at(s.k));
        const bool icmp = v.state != PortState::Open;
        if (icmp && host_icmp_[host] < UINT32_MAX) ++host_icmp_[host];
        if (v.state == PortState::Open) (v.attempt == 0 ? open_first_ : open_retry_) += 1;
        if (pacer_) pacer_->answered(pacer_key(host, v.probe), icmp, s.at);
      }
      ctx_.counters.received.fetch_add(1, std::memory_order_relaxed);
      if (v.state == PortState::Open) ctx_.counters.open.fetch_add(1, std::memory_order_relaxed);
      ++report_.replies;
    }
    PortResult r{v.probe.addr, v.probe.proto, v.probe.port,    v.state,
                 v.reason,     v.ttl,         WallClock::now()};
    r.syn_ack = v.syn_ack;  // the OS hint's evidence (scan/os_hint.h)
    r.rtt = rtt;
    ctx_.on_result(r);
  }
  return fresh;
}

bool Driver::host_timed_out(uint64_t index) {
  uint64_t host = host_of(index);
  std::lock_guard lock(gate_mu_);
  if (host_expired_[host]) return true;
  auto now = SteadyClock::now();
  auto [it, inserted] = host_first_.try_emplace(host, now);
  if (!inserted && now - it->second > *cfg_.timing.host_timeout) {
    host_expired_[host] = true;
    return true;
  }
  return false;
}

bool Driver::send_one(Sender& s, uint64_t k, int attempt_override, SteadyClock::time_point* hold) {
  if (answered_.test(k)) return false;
  uint64_t index = index_at(k);
  if (cfg_.timing.host_timeout && host_timed_out(index)) return false;
  Probe probe = space_.at(index);
  if (probe.proto != module_.protocol() || !transport_.framing(probe.addr.family)) return false;
  if (cc_ && hold != nullptr) {
    // Asked before the gate, which counts what it lets through (--max-host-rate).
    auto now = SteadyClock::now();
    auto wait = cc_->due_in(host_of(index), now);
    if (wait > SteadyClock::duration::zero()) {
      *hold = now + wait;
      return false;
    }
  }
  if (ctx_.gate != nullptr && !admit(s, k, probe)) return false;
  if (cc_ && !pace_host(s, k, host_of(index))) return false;
  std::span<uint8_t> slot = s.tx->slot();
  uint8_t attempt = static_cast<uint8_t>(attempt_override >= 0 ? std::min(attempt_override, 255)
                                                               : std::min<uint32_t>(pass_, 255));
  size_t len = module_.build(slot, probe, BuildArgs{static_cast<uint16_t>(s.rng()), attempt});
  if (len == 0) return false;
  // The send time of a timed probe is taken before commit(), which may send the batch (and wait
  // out a full device queue): a time taken after it would shorten the measured RTT.
  const bool timed = RttSampler::sampled(k);
  const auto built_at = timed ? SteadyClock::now() : SteadyClock::time_point{};
  switch (s.tx->commit(len, probe.addr, module_.frame_kind())) {
    case TransportSender::Commit::Queued:
      break;
    case TransportSender::Commit::NoPath:
      return false;
    case TransportSender::Commit::NoNeighbor: {
      // No ARP/NDP answer: nothing can be sent to it, as connect() would say EHOSTUNREACH.
      ProbeVerdict v;
      v.probe = probe;
      v.reason = Reason::HostUnreach;
      queue_.push(Settled{k, v, SteadyClock::now(), Settled::Kind::Unreachable});
      return false;
    }
  }
  if (timed) rtt_.sent(k, built_at);
  if (pass_ > 0 || attempt > 0) {
    ctx_.counters.retries.fetch_add(1, std::memory_order_relaxed);
    s.retries.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

bool Driver::admit(Sender& s, uint64_t k, const Probe& probe) {
  for (;;) {
    std::chrono::nanoseconds retry_in{0};
    ProbeGate::Decision d;
    {
      std::lock_guard lock(gate_mu_);
      d = ctx_.gate->check(probe, SteadyClock::now(), &retry_in);
    }
    switch (d) {
      case ProbeGate::Decision::Send:
        return true;
      case ProbeGate::Decision::Refuse: {
        ProbeVerdict v;
        v.probe = probe;
        queue_.push(Settled{k, v, SteadyClock::now(), Settled::Kind::Refused});
        return false;
      }
      case ProbeGate::Decision::Later:
        break;
    }
    if (stopping()) return false;
    flush(s);  // the wire spacing follows the gate's
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(retry_in, milliseconds(50)));
  }
}

bool Driver::pace_host(Sender& s, uint64_t k, uint64_t host) {
  for (;;) {
    auto wait = cc_->admit(host, k, SteadyClock::now());
    if (wait == SteadyClock::duration::zero()) return true;
    if (stopping()) return false;
    flush(s);  // what the host may have goes now; the wire spacing follows the pacing
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(wait, milliseconds(50)));
  }
}

void Driver::publish_rate() {
  double rate = current_rate();
  ctx_.counters.rate.store(rate, std::memory_order_relaxed);
  if (!cc_) return;
  auto why = cc_->why();
  uint64_t host = cc_->why_host();
  if (why == shown_why_ && host == shown_host_) return;
  shown_why_ = why;
  shown_host_ = host;
  std::string who = host < space_.targets() ? " for " + space_.at(host).addr.to_string() : "";
  using W = CongestionControl::Why;
  std::string note;
  switch (why) {
    case W::Ramping:
      note = "ramping";
      break;
    case W::BackoffLoss:
      note = "backing off" + who + ": unanswered probes";
      break;
    case W::BackoffRtt:
      note = "backing off" + who + ": RTT inflation";
      break;
    case W::BackoffIcmp:
      note = "backing off: ICMP errors";
      break;
    case W::BackoffKernel:
      note = "backing off: kernel drops";
      break;
    case W::HostBudget:
      note = "host budget" + who;
      break;
    case W::CappedMax:
      note = "capped by --max-rate/scope";
      break;
    case W::Floor:
      note = "held at --min-rate";
      break;
  }
  ctx_.counters.set_rate_note(std::move(note));
}

void Driver::send_work(Sender& s, size_t part, const std::vector<uint64_t>* todo) {
  const uint64_t parts = senders_.size();
  auto next_rate = [&] {
    double want = s.target_rate.load(std::memory_order_relaxed);
    if (want != s.limiter->rate()) s.limiter->set_rate(want);
  };
  // This sender's positions: in pass 0, k = part + parts * j of the slice, j from where this
  // sender is; in a retry pass, todo[part + parts * j].
  const Slice mine{todo ? todo->size() : slice_.size(), parts, part};
  auto position = [&](uint64_t j) { return todo ? (*todo)[mine.position(j)] : mine.position(j); };
  uint64_t j = todo ? 0 : s.pass0_done.load(std::memory_order_relaxed);
  // Probes whose host's pacing holds them back (-T3/-T4) wait here, at most kHeld of them, while
  // the thread goes on with other hosts' probes: one busy host must not stall the scan.
  struct Held {
    SteadyClock::time_point due;
    uint64_t j;
  };
  constexpr size_t kHeld = 64;
  std::vector<Held> held;
  auto later = [](const Held& a, const Held& b) { return a.due > b.due; };
  // Pass 0's cursor for checkpoints: positions below it are sent (held ones are not).
  auto publish = [&] {
    if (todo != nullptr) return;
    uint64_t least = j;
    for (const Held& h : held) least = std::min(least, h.j);
    s.pass0_done.store(least, std::memory_order_release);
  };
  // A full batch leaves by itself (TransportSender::commit).
  while ((j < mine.size() || !held.empty()) && !stopping()) {
    next_rate();
    uint64_t want = std::min<uint64_t>(kBatch, mine.size() - j + held.size());
    uint64_t granted = s.limiter->grant(want);
    if (granted == 0) {
      flush(s);
      publish();
      s.limiter->wait();
      continue;
    }
    for (uint64_t n = 0; n < granted && !stopping();) {
      auto now = SteadyClock::now();
      uint64_t next = 0;
      bool was_held = !held.empty() && held.front().due <= now;
      if (was_held) {
        std::pop_heap(held.begin(), held.end(), later);
        next = held.back().j;
        held.pop_back();
      } else if (j < mine.size() && held.size() < kHeld) {
        next = j++;
      } else if (!held.empty()) {
        flush(s);  // the wire spacing follows the pacing
        publish();
        std::this_thread::sleep_for(
            std::min<SteadyClock::duration>(held.front().due - now, milliseconds(50)));
        continue;
      } else {
        break;
      }
      SteadyClock::time_point due{};
      send_one(s, position(next), -1, cc_ ? &due : nullptr);
      if (due == SteadyClock::time_point{}) {
        ++n;  // sent (or closed without a probe)
        continue;
      }
      held.push_back(Held{due, next});
      std::push_heap(held.begin(), held.end(), later);
      if (was_held) {
        // Held for a time that another probe to its host has taken meanwhile: the host is
        // busy; wait for it rather than cycle through the held probes.
        flush(s);
        publish();
        std::this_thread::sleep_for(std::min<SteadyClock::duration>(due - now, milliseconds(50)));
      }
    }
    // Positions below j are sent once the batch they are in has left.
    if (s.tx->pending() == 0) publish();
  }
  flush(s);
  publish();
  s.finished.store(true, std::memory_order_release);
}

uint64_t Driver::pass0_cursor() const {
  // Every position below parts x (the least any sender has sent) is sent: parts x min_t j_t.
  uint64_t least = std::numeric_limits<uint64_t>::max();
  for (const auto& s : senders_)
    least = std::min(least, s->pass0_done.load(std::memory_order_acquire));
  return std::min(slice_.size(), least * senders_.size());
}

void Driver::run_pass(const std::vector<uint64_t>* todo) {
  std::vector<std::thread> threads;
  for (size_t t = 0; t < senders_.size(); ++t) {
    senders_[t]->finished = false;
    threads.emplace_back([this, t, todo] {
      guarded([&] { send_work(*senders_[t], t, todo); });
      senders_[t]->finished.store(true, std::memory_order_release);  // also after an error
    });
  }
  struct Joiner {
    std::vector<std::thread>& ts;
    ~Joiner() {
      for (auto& t : ts)
        if (t.joinable()) t.join();
    }
  } joiner{threads};
  for (;;) {
    bool all = std::all_of(senders_.begin(), senders_.end(),
                           [](const auto& s) { return s->finished.load(); });
    settle();
    tick();
    if (all) break;
    std::this_thread::sleep_for(std::chrono::microseconds(250));
  }
}

void Driver::tick() {
  auto now = SteadyClock::now();
  uint64_t drops = transport_.drops();
  uint64_t sent = 0, stalls = 0;
  for (const auto& s : senders_) {
    sent += s->tx->counters().sent.load(std::memory_order_relaxed);
    stalls += s->tx->counters().stalls.load(std::memory_order_relaxed);
  }
  ctx_.counters.sent.store(sent, std::memory_order_relaxed);
  passes_.back().sent = sent - pass_sent_base_;
  if (cc_)
    cc_->tick(now, sent, drops, stalls, is_answered_);
  else
    control_->observe(sent, drops, stalls);
  publish_rate();
  double per_thread = current_rate() / static_cast<double>(senders_.size());
  for (auto& s : senders_) s->target_rate.store(per_thread, std::memory_order_relaxed);
  ctx_.counters.drops.store(drops, std::memory_order_relaxed);
  if (ctx_.checkpoint && now - last_checkpoint_ >= cfg_.checkpoint.interval) checkpoint_now();
}

void Driver::checkpoint_now() {
  settle();  // every set bit's verdict has gone to on_result before the checkpoint names it
  EngineProgress p;
  p.slice_size = slice_.size();
  p.pass = pass_;
  p.cursor = pass_ == 0 ? pass0_cursor() : slice_.size();
  p.answered = answered_.words();
  p.passes = passes_;
  ctx_.checkpoint(p);
  last_checkpoint_ = SteadyClock::now();
}

void Driver::wait_for_stragglers(milliseconds cap, milliseconds at_least) {
  auto start = SteadyClock::now();
  // Without a single RTT sample (nothing answered yet), wait the configured initial timeout.
  auto wait =
      rtt_.samples() == 0 ? cap : std::max(rtt_.straggler_wait(cap), std::min(at_least, cap));
  auto last_new = start;
  for (;;) {
    auto now = SteadyClock::now();
    if (stopping() || now - start >= cap) break;
    // Done once the wait has passed and nothing new came for a quarter of it.
    if (now - start >= wait && now - last_new >= wait / 4) break;
    if (settle() > 0) last_new = SteadyClock::now();
    if (answered_.count() == slice_.size()) return;
    tick();
    // Short naps: the scan ends as soon as the last reply is read, and a top-1000 scan of a LAN
    // host lasts a few milliseconds in all.
    std::this_thread::sleep_for(std::chrono::microseconds(250));
  }
  settle();
}

double Driver::expected_missed_now() const {
  auto q = LossModel::loss(passes_);
  if (!q) return std::numeric_limits<double>::infinity();
  MissedInput in;
  in.loss = *q;
  in.found = responsive_;
  in.answered_passes = pass_ + 1;
  in.silent_passes = prune_silent_ ? silent_passes_ : pass_ + 1;
  in.single_port = !hosts_;
  if (hosts_) in.hosts_by_answers = hosts_->by_count();
  return expected_missed(in);
}

void Driver::paced_retries() {
  // The hosts that answered anything in pass 0 (a down or fully filtered host is retried in
  // passes as usual): their unanswered positions, grouped by limiter: the host, or with -S the
  // (host, source address) pair of a host that sent ICMP errors (pacer_key()).
  paced_split_.assign(space_.targets(), false);
  for (uint64_t h = 0; h < host_icmp_.size(); ++h) paced_split_[h] = host_icmp_[h] > 0;
  std::unordered_map<uint64_t, std::vector<uint64_t>> by_key;
  answered_.for_each_clear([&](uint64_t k) {
    const uint64_t index = index_at(k);
    const Probe probe = space_.at(index);
    if (probe.proto != module_.protocol()) return;
    const uint64_t host = host_of(index);
    if (!hosts_ || hosts_->get(host) == 0) {
      if (host_icmp_[host] == 0) return;
    }
    by_key[pacer_key(host, probe)].push_back(k);
  });
  if (by_key.empty()) return;
  pacer_ = std::make_unique<HostPacer>();
  paced_host_.assign(space_.targets(), false);
  const auto start = SteadyClock::now();
  for (auto& [key, ks] : by_key) {
    const uint64_t host = key / kPairSlots;
    paced_host_[host] = true;
    pacer_->add_host(key, std::move(ks), host_icmp_[host] > 0, start);
  }
  by_key.clear();
  Sender& s = *senders_[0];
  auto is_answered = [this](uint64_t k) { return answered_.test(k); };
  while (!stopping()) {
    settle();
    tick();
    auto now = SteadyClock::now();
    auto send = pacer_->next(now, is_answered);
    if (!send) {
      auto due = pacer_->due();
      if (!due) break;
      flush(s);
      auto wait = std::min<SteadyClock::duration>(*due - now, milliseconds(5));
      if (wait > SteadyClock::duration::zero()) std::this_thread::sleep_for(wait);
      continue;
    }
    // The global rate (--max-rate, the controller) still applies.
    double want = s.target_rate.load(std::memory_order_relaxed);
    if (want != s.limiter->rate()) s.limiter->set_rate(want);
    while (s.limiter->grant(1) == 0 && !stopping()) {
      flush(s);
      s.limiter->wait();
    }
    send_one(s, send->position, static_cast<int>(std::min<uint32_t>(send->attempt, 63)));
    if (s.tx->pending() >= kBatch) flush(s);
  }
  flush(s);
  paced_cycles_ = pacer_->max_cycle();
  wait_for_stragglers(cfg_.timing.initial_rtt);
  pacer_.reset();
}

void Driver::finish_report() {
  Completeness& c = report_.completeness;
  c.passes = pass_ + 1;
  c.loss = LossModel::loss(passes_);
  if (!paced_host_.empty()) {
    // Paced hosts: a closed port's silence is the limiter's, not loss. The network's loss is
    // measured on open ports (UDP replies are not rate-limited): the share of them that needed
    // a retry. Every port given up on had two tries while its host's limiter was idle.
    const double q =
        (static_cast<double>(open_retry_) + 0.5) / (static_cast<double>(open_first_) + 1.0);
    c.loss = std::min(q, 1.0);
    c.passes = std::max(c.passes, paced_cycles_ + 1);
    MissedInput in;
    in.loss = *c.loss;
    in.found = responsive_;
    in.answered_passes = 3;
    in.silent_passes = prune_silent_ ? silent_passes_ : pass_ + 1;
    in.single_port = !hosts_;
    if (hosts_) in.hosts_by_answers = hosts_->by_count();
    double missed = expected_missed(in);
    double found = static_cast<double>(responsive_);
    c.share = found + missed > 0 ? found / (found + missed) : 1.0;
    for (const auto& s : senders_) {
      report_.probes_sent += s->tx->counters().sent.load();
      report_.send_errors += s->tx->counters().errors.load();
      c.retries += s->retries.load();
    }
    ctx_.counters.sent.store(report_.probes_sent, std::memory_order_relaxed);
    return;
  }
  if (c.loss) {
    double missed = expected_missed_now();
    double found = static_cast<double>(responsive_);
    c.share = found + missed > 0 ? found / (found + missed) : 1.0;
  }
  for (const auto& s : senders_) {
    report_.probes_sent += s->tx->counters().sent.load();
    report_.send_errors += s->tx->counters().errors.load();
    c.retries += s->retries.load();
  }
  ctx_.counters.sent.store(report_.probes_sent, std::memory_order_relaxed);
  if (cc_) report_.load = cc_->evidence();
}

void Driver::report_unanswered() {
  const PortState silent = module_.silence() == Silence::PortOpenFiltered ? PortState::OpenFiltered
                                                                          : PortState::Filtered;
  answered_.for_each_clear([&](uint64_t k) {
    uint64_t index = index_at(k);
    if (!host_expired_.empty() && host_expired_[host_of(index)]) return;
    Probe p = space_.at(index);
    if (p.proto != module_.protocol()) return;
    ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
    ctx_.on_result(
        PortResult{p.addr, p.proto, p.port, silent, Reason::NoResponse, 0, WallClock::now()});
  });
}

EngineReport Driver::run() {
  ProbeModule* modules[] = {&module_};
  if (!opened_) transport_.open(cfg_.targets, modules, cfg_.dry_run);
  if (cfg_.dry_run) {
    dry_run();
    return report_;
  }
  double rate = cfg_.timing.max_rate;
  if (cfg_.timing.scan_delay.count() > 0) {
    double delay_rate = 1000.0 / static_cast<double>(cfg_.timing.scan_delay.count());
    rate = rate > 0 ? std::min(rate, delay_rate) : delay_rate;
  }
  RateController::Options ro;
  ro.max_rate = rate;
  ro.min_rate = cfg_.timing.min_rate;
  control_ = std::make_unique<RateController>(ro);
  if (cfg_.timing.adaptive) {
    CongestionControl::Options co;
    co.min_rate = cfg_.timing.min_rate;
    co.max_rate = rate;
    co.max_host_rate = cfg_.policy.max_host_rate;
    co.hosts = space_.targets();
    co.probes = slice_.size();
    cc_ = std::make_unique<CongestionControl>(co, SteadyClock::now());
    is_answered_ = [this](uint64_t k) { return answered_.test(k); };
  }
  size_t threads = static_cast<size_t>(std::max(1, cfg_.send_threads));
  for (size_t t = 0; t < threads; ++t) {
    auto s = std::make_unique<Sender>();
    s->tx = transport_.sender(module_.max_frame());
    double share = current_rate() / static_cast<double>(threads);
    s->limiter = std::make_unique<RateLimiter>(share);
    s->target_rate = share;
    s->rng.seed(ctx_.seed ^ 0x5bd1e995u ^ (cfg_.shards.index * 0x9e3779b97f4a7c15ull) ^ (t << 48));
    senders_.push_back(std::move(s));
  }
  if (space_.ports() > 1) hosts_.emplace(space_.targets());
  if (ctx_.resume != nullptr) {
    // A retry pass that was under way is done again from its start (its counts are dropped, so
    // that the loss is measured on whole passes); pass 0 goes on from its cursor.
    const EngineResume& r = *ctx_.resume;
    pass_ = r.pass > 0 ? r.pass - 1 : 0;
    cursor_ = r.pass > 0 ? slice_.size() : std::min(r.cursor, slice_.size());
    passes_.assign(r.passes.begin(),
                   r.passes.begin() +
                       static_cast<std::ptrdiff_t>(std::min<size_t>(r.passes.size(), pass_ + 1)));
    passes_.resize(pass_ + 1);
    // Which hosts answered, from the verdicts already reported (refusals and unreachable hosts
    // count too: their probes are never retried anyway).
    const auto& words = answered_.words();
    for (uint64_t w = 0; w < words.size(); ++w)
      for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
        uint64_t k = (w << 6) + static_cast<uint64_t>(__builtin_ctzll(bits));
        ++responsive_;
        if (hosts_) hosts_->add(host_of(index_at(k)));
      }
  }
  // Each sender's part of pass 0 starts where the cursor says: its positions below it are sent.
  for (size_t t = 0; t < threads; ++t)
    senders_[t]->pass0_done = cursor_ > t ? (cursor_ - t + threads - 1) / threads : 0;
  ctx_.counters.total = slice_.size();
  ctx_.counters.done = answered_.count();
  // The sockets are open: nothing below needs privilege (and every thread starts after this).
  if (ctx_.after_sockets_open) ctx_.after_sockets_open();
  if (cfg_.timing.host_timeout) host_expired_.assign(space_.targets(), false);
  last_checkpoint_ = SteadyClock::now();

  std::thread receiver([this] { guarded([this] { receive_loop(); }); });
  struct Joiner {
    std::atomic<bool>& flag;
    std::thread& t;
    ~Joiner() {
      flag = false;
      if (t.joinable()) t.join();
    }
  } joiner{receiving_, receiver};

  // Pass 0 in permutation order (from where a resumed scan stopped), then retries of what is
  // still unanswered, until the completeness model says little can be missing (or --max-retries).
  if (module_.icmp_paced()) host_icmp_.assign(space_.targets(), 0);
  if (pass_ == 0) {
    run_pass(nullptr);
    wait_for_stragglers(cfg_.timing.initial_rtt);
  }
  if (module_.icmp_paced() && !stopping()) paced_retries();
  const uint32_t max_passes = static_cast<uint32_t>(cfg_.timing.max_retries) + 1;
  while (!stopping() && pass_ + 1 < max_passes) {
    if (answered_.count() == slice_.size()) break;
    if (pass_ >= 1) {
      double missed = expected_missed_now();
      // The goal: at most one responsive port in 10,000 expected missed (or 0.01 of a port).
      double goal = std::max(1e-4 * static_cast<double>(responsive_), 0.01);
      if (missed <= goal) break;
      // Stop retrying hosts silent on every port once missing a whole live host is unlikely.
      if (hosts_ && !prune_silent_) {
        MissedInput in;
        in.loss = *LossModel::loss(passes_);
        in.answered_passes = in.silent_passes = pass_ + 1;
        in.hosts_by_answers = hosts_->by_count();
        if (expected_missed(in) <= goal / 2) {
          prune_silent_ = true;
          silent_passes_ = pass_ + 1;
        }
      }
    }
    std::vector<uint64_t> todo;
    answered_.for_each_clear([&](uint64_t k) {
      const uint64_t host = host_of(index_at(k));
      if (!paced_host_.empty() && paced_host_[host]) return;  // paced_retries() settled it
      if (prune_silent_ && hosts_->get(host) == 0) return;
      todo.push_back(k);
    });
    if (todo.empty()) break;
    ++pass_;
    pass_sent_base_ = total_sent();
    passes_.emplace_back();
    ctx_.counters.pass.store(pass_, std::memory_order_relaxed);
    rtt_.new_pass();
    if (cc_) cc_->new_pass();
    std::shuffle(todo.begin(), todo.end(), senders_[0]->rng);
    run_pass(&todo);
    wait_for_stragglers(cfg_.timing.initial_rtt);
    if (auto q = LossModel::loss(passes_); q && !cc_) control_->end_pass(*q);
  }
  // Probes still unanswered are about to be reported filtered: give late replies (a loaded
  // machine, a slow receive thread) a last, longer chance.
  if (!stopping() && answered_.count() < slice_.size() && rtt_.samples() > 0) {
    auto cap = cfg_.timing.initial_rtt;
    wait_for_stragglers(cap, std::max(milliseconds(25), 2 * rtt_.straggler_wait(cap)));
  }
  receiving_ = false;
  transport_.wake();  // the receive thread's wait ends now, not at its timeout
  receiver.join();
  settle();
  if (failed_.load()) {
    if (ctx_.checkpoint) checkpoint_now();  // what was answered so far can be resumed
    std::rethrow_exception(error_);
  }
  report_.interrupted = stopping();
  if (report_.interrupted && ctx_.checkpoint) checkpoint_now();
  finish_report();
  if (!report_.interrupted) report_unanswered();
  return report_;
}

}  // namespace

EngineReport run_raw_driver(EngineContext& ctx, Transport& transport, ProbeModule& module,
                            bool opened) {
  Driver driver(ctx, transport, module, opened);
  return driver.run();
}

}  // namespace gh
