#include "scan/syn_engine.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "io/bpf.h"
#include "io/neighbors.h"
#include "io/packet_socket.h"
#include "io/raw_ip_socket.h"
#include "io/route.h"
#include "net/describe.h"
#include "scan/answered_set.h"
#include "scan/probe_tcp_syn.h"
#include "scan/rate_controller.h"
#include "scan/rate_limiter.h"
#include "scan/retry_tracking.h"
#include "targets/permutation.h"
#include "targets/slice.h"

namespace gh {
namespace {

using std::chrono::milliseconds;

constexpr size_t kBatch = 64;

// A verdict, the slice position k of the probe it settles, and when its reply was read; handed
// from the receive thread to the send thread.
struct Settled {
  uint64_t k;
  ProbeVerdict verdict;
  SteadyClock::time_point at;
};

// Replies found by the receive thread, waiting for the send thread. A mutex is plenty: a batch of
// verdicts is swapped out at once.
class VerdictQueue {
 public:
  void push(const Settled& s) {
    std::lock_guard lock(mu_);
    items_.push_back(s);
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

// The first address of a family in the target set (ranges are sorted, IPv4 first).
std::optional<IpAddress> first_of_family(const TargetSet& targets, Family f) {
  for (const auto& r : targets.ranges())
    if (r.first.family == f) return r.first;
  return std::nullopt;
}

// Where probes of one family leave: the route and the socket on its interface.
// IPv4 loopback probes go out through a raw IP socket instead (io/raw_ip_socket.h says why);
// replies are read from the AF_PACKET socket on the same interface either way. On-link targets of
// an Ethernet route each have their own MAC (`per_host`, from the kernel's neighbour table); a
// gateway or loopback route has one next hop for all, already in the template.
struct Path {
  Route route;
  PacketSocket* socket = nullptr;  // receives; sends unless `raw` is set
  RawIpv4Socket* raw = nullptr;
  std::optional<NeighborMap> per_host;
};

class SynScan {
 public:
  explicit SynScan(EngineContext& ctx)
      : ctx_(ctx),
        cfg_(ctx.config),
        space_(ctx.space),
        perm_(space_.size(), ctx.seed),
        slice_(Slice::shard(space_.size(), cfg_.shards.count, cfg_.shards.index)),
        // A dry run plans the whole scan without the retry bitmap (-sS --dry-run of 0.0.0.0/0).
        answered_(ctx.resume != nullptr ? AnsweredSet(slice_.size(), ctx.resume->answered)
                  : ctx.config.dry_run  ? AnsweredSet(0)
                                        : AnsweredSet(slice_.size())),
        probe_(random_key(), random_key()) {}

  EngineReport run();

 private:
  static uint64_t random_key() {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  uint64_t index_at(uint64_t k) const { return perm_.at(slice_.position(k)); }
  uint64_t host_of(uint64_t index) const { return index % space_.targets(); }
  void plan_paths();
  void dry_run();
  void receive_loop();
  // Pass 0: the slice in order from cursor_. Retry passes: the positions in `todo`.
  void send_first_pass();
  void send_list(const std::vector<uint64_t>& todo);
  bool send_one(uint64_t k);
  void flush_batch();
  // Moves verdicts from the receive thread into results. Returns how many were new.
  uint64_t settle();
  // Records a verdict reached without a reply (e.g. an unresolvable on-link host).
  void settle_now(uint64_t k, const Probe& probe, PortState state, Reason reason);
  // Waits for the replies to the pass just sent: until the measured RTT says they are in and
  // none has come for a while, or `cap`.
  void wait_for_stragglers(milliseconds cap, milliseconds at_least = milliseconds(0));
  bool host_timed_out(uint64_t index);
  // Asks ctx.gate; waits out "later" (settling replies meanwhile). False if refused, and then the
  // position is closed without a verdict: never retried, never reported.
  bool admit(uint64_t k, const Probe& probe);
  // Between batches: feeds the rate controller, publishes counters, writes a checkpoint when due.
  void tick();
  void checkpoint_now();
  // Expected responsive ports missed so far, and whether silent hosts still need retries.
  double expected_missed_now() const;
  void finish_report();
  void report_unanswered();
  bool stopping() const { return ctx_.stop.load(std::memory_order_relaxed); }

  EngineContext& ctx_;
  const ScanConfig& cfg_;
  const ProbeSpace& space_;
  Permutation perm_;
  Slice slice_;
  AnsweredSet answered_;  // one bit per position of slice_
  TcpSynProbe probe_;
  std::array<std::optional<Path>, 2> paths_;  // [0] IPv4, [1] IPv6
  std::vector<std::unique_ptr<PacketSocket>> sockets_;
  std::optional<RawIpv4Socket> raw_v4_;
  VerdictQueue queue_;
  std::atomic<bool> receiving_{true};
  std::unique_ptr<RateLimiter> rate_;
  std::unique_ptr<RateController> control_;
  std::mt19937_64 rng_{0};
  // The batch being filled: frames for one socket at a time.
  std::array<std::array<uint8_t, ProbeModule::kMaxFrame>, kBatch> frames_{};
  std::array<size_t, kBatch> lengths_{};
  std::array<IpAddress, kBatch> batch_dst_{};
  size_t batch_n_ = 0;
  const Path* batch_path_ = nullptr;
  std::vector<Settled> drained_;
  // --host-timeout: when each host got its first probe. Only filled when the option is set.
  std::unordered_map<uint64_t, SteadyClock::time_point> host_first_;
  std::vector<bool> host_expired_;
  // Progress, retries and what they measured.
  uint32_t pass_ = 0;
  uint64_t cursor_ = 0;  // pass 0: positions [0, cursor_) of the slice sent
  std::vector<PassCounts> passes_{1};
  RttSampler rtt_;
  std::optional<HostAnswers> hosts_;  // with more than one port per host
  uint64_t responsive_ = 0;           // open and closed verdicts from replies
  bool prune_silent_ = false;         // silent hosts are no longer retried
  uint32_t silent_passes_ = 0;        // passes silent hosts got before that
  uint64_t drops_ = 0, stalls_ = 0;
  SteadyClock::time_point last_checkpoint_;
  EngineReport report_;
};

// The route for a dry run: the kernel's answer when there is one (asking resolves no MAC), or an
// unspecified source, so that --dry-run works without privilege and without a route.
Route dry_run_route(const IpAddress& dst, const std::string& iface) {
  try {
    return lookup_route(dst, iface, milliseconds(0));
  } catch (const RuntimeError&) {
    Route r;
    r.source = dst.is_v4() ? IpAddress::v4(0) : IpAddress::v6(0);
    r.next_hop_mac = MacAddress{};
    return r;
  }
}

// The addresses of one family in the target set, or nullopt when there are more than `limit`.
std::optional<std::vector<IpAddress>> addresses_of_family(const TargetSet& targets, Family f,
                                                          size_t limit) {
  std::vector<IpAddress> out;
  for (const auto& r : targets.ranges()) {
    if (r.first.family != f) continue;
    // last - first (not size(), which wraps to 0 for ::/0) bounds the range before it is walked.
    if (r.last.value - r.first.value >= limit - out.size()) return std::nullopt;
    for (u128 v = r.first.value;; ++v) {
      out.push_back(IpAddress{f, v});
      if (v == r.last.value) break;
    }
  }
  return out;
}

void SynScan::plan_paths() {
  for (Family f : {Family::V4, Family::V6}) {
    auto first = first_of_family(cfg_.targets, f);
    if (!first) continue;
    Route route =
        cfg_.dry_run ? dry_run_route(*first, cfg_.interface) : lookup_route(*first, cfg_.interface);
    if (!route.next_hop_mac)
      throw RuntimeError(fmt::format(
          "-sS sends Ethernet frames, and interface {} has no Ethernet framing: use -sT",
          route.ifname));
    // On-link targets each have their own MAC: ask the kernel's neighbour table for all of them.
    std::optional<NeighborMap> per_host;
    if (!cfg_.dry_run && !route.gateway && !route.loopback) {
      auto on_link = addresses_of_family(cfg_.targets, f, kMaxNeighbors);
      if (!on_link)
        throw RuntimeError(fmt::format(
            "-sS of more than {} on-link hosts ({} is directly on {}) is not supported yet: "
            "scan the network in parts, route through a gateway, or use -sT",
            kMaxNeighbors, first->to_string(), route.ifname));
      if (on_link->size() > 1)
        per_host = resolve_neighbors(route.ifindex, *on_link,
                                     std::max(cfg_.timing.initial_rtt, milliseconds(1000)));
    }
    bool raw_ip = f == Family::V4 && route.loopback && !cfg_.dry_run;
    Route templ = route;
    if (raw_ip) templ.next_hop_mac.reset();  // the raw socket takes packets from the IP header
    probe_.prepare(templ);
    paths_[f == Family::V4 ? 0 : 1] = Path{route, nullptr, nullptr, std::move(per_host)};
    if (raw_ip) {
      raw_v4_.emplace(RawIpv4Socket::open());
      paths_[0]->raw = &*raw_v4_;
    }
  }
  if (cfg_.dry_run) return;
  // One socket per interface, shared by the families that leave through it. Its BPF filter
  // passes only packets to our own addresses, before the kernel queues them for us.
  for (auto& p : paths_) {
    if (!p) continue;
    for (auto& s : sockets_)
      if (s->ifindex() == p->route.ifindex) p->socket = s.get();
    if (p->socket != nullptr) continue;
    std::vector<IpAddress> ours;
    for (auto& q : paths_)
      if (q && q->route.ifindex == p->route.ifindex) ours.push_back(q->route.source);
    PacketSocketOptions opts;
    opts.ignore_outgoing = true;  // on loopback every packet is seen twice otherwise
    opts.receive_buffer = 32 << 20;
    opts.filter = destination_filter(LinkFraming::Ethernet, ours);
    sockets_.push_back(std::make_unique<PacketSocket>(PacketSocket::open(p->route.ifindex, opts)));
    p->socket = sockets_.back().get();
  }
}

void SynScan::dry_run() {
  std::string out;
  uint8_t frame[ProbeModule::kMaxFrame];
  for (uint64_t k = 0; k < slice_.size() && !stopping(); ++k) {
    Probe probe = space_.at(index_at(k));
    size_t len = probe_.build(frame, probe, static_cast<uint16_t>(k));
    net::ParsedPacket parsed;
    if (len == 0 || !net::parse_packet({frame, len}, net::LinkType::Ethernet, parsed)) continue;
    out += net::describe_packet(parsed);
    out += '\n';
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
    ++report_.probes_sent;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  report_.interrupted = stopping();
}

void SynScan::receive_loop() {
  std::array<uint8_t, 65536> buf;
  size_t next = 0;
  while (receiving_.load(std::memory_order_relaxed)) {
    if (sockets_.empty()) return;
    PacketSocket& s = *sockets_[next++ % sockets_.size()];
    auto frame = s.receive(buf, milliseconds(sockets_.size() > 1 ? 5 : 20));
    if (!frame || frame->length == 0) continue;
    auto at = SteadyClock::now();
    net::ParsedPacket parsed;
    if (!net::parse_packet({buf.data(), frame->length}, net::LinkType::Ethernet, parsed)) continue;
    ProbeVerdict v;
    if (!probe_.classify(parsed, v)) continue;
    auto index = space_.index_of(v.probe.addr, v.probe.proto, v.probe.port);
    if (!index) continue;  // a valid cookie for a probe outside this scan: not ours to report
    auto k = slice_.local(perm_.inverse(*index));
    if (!k) continue;  // another shard's probe (same seed, same cookie key is not shared)
    queue_.push(Settled{*k, v, at});
  }
}

uint64_t SynScan::settle() {
  queue_.drain(drained_);
  uint64_t fresh = 0;
  for (const Settled& s : drained_) {
    if (!answered_.set(s.k)) continue;  // duplicate: a retransmitted or retried reply
    ++fresh;
    if (RttSampler::sampled(s.k)) rtt_.replied(s.k, s.at);
    const ProbeVerdict& v = s.verdict;
    if (v.state == PortState::Open || v.state == PortState::Closed) {
      ++responsive_;
      if (hosts_) hosts_->add(host_of(index_at(s.k)));
    }
    PortResult r{v.probe.addr, v.probe.proto, v.probe.port,    v.state,
                 v.reason,     v.ttl,         WallClock::now()};
    ctx_.counters.received.fetch_add(1, std::memory_order_relaxed);
    ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
    if (r.state == PortState::Open) ctx_.counters.open.fetch_add(1, std::memory_order_relaxed);
    ++report_.replies;
    ctx_.on_result(r);
  }
  passes_.back().settled += fresh;
  return fresh;
}

void SynScan::settle_now(uint64_t k, const Probe& probe, PortState state, Reason reason) {
  if (!answered_.set(k)) return;
  ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
  ctx_.on_result(
      PortResult{probe.addr, probe.proto, probe.port, state, reason, 0, WallClock::now()});
}

void SynScan::flush_batch() {
  if (batch_n_ == 0) return;
  std::array<std::span<const uint8_t>, kBatch> spans;
  for (size_t i = 0; i < batch_n_; ++i) spans[i] = {frames_[i].data(), lengths_[i]};
  size_t done = 0;
  int stalls = 0;
  while (done < batch_n_) {
    PacketSocket::BatchResult r;
    if (batch_path_->raw != nullptr)
      r.sent = batch_path_->raw->send_batch({spans.data() + done, batch_n_ - done},
                                            {batch_dst_.data() + done, batch_n_ - done}, &r.error);
    else
      r = batch_path_->socket->send_batch({spans.data() + done, batch_n_ - done});
    done += r.sent;
    if (r.error == 0) continue;
    // ENOBUFS/EAGAIN: the device queue (on a veth, the peer's backlog) is full; give the softirq
    // that drains it a moment (and tell the rate controller). A short sleep: with 200 us, a
    // scan over veth spent most of its time asleep. Anything else, or a queue that stays full
    // (~1,000 tries), loses the rest of the batch, which the retry passes then resend.
    if ((r.error != ENOBUFS && r.error != EAGAIN) || ++stalls > 1000) {
      ++report_.send_errors;
      break;
    }
    ++stalls_;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  ctx_.counters.sent.fetch_add(done, std::memory_order_relaxed);
  report_.probes_sent += done;
  passes_.back().sent += done;
  batch_n_ = 0;
}

bool SynScan::host_timed_out(uint64_t index) {
  uint64_t host = host_of(index);
  if (host_expired_[host]) return true;
  auto now = SteadyClock::now();
  auto [it, inserted] = host_first_.try_emplace(host, now);
  if (!inserted && now - it->second > *cfg_.timing.host_timeout) {
    host_expired_[host] = true;
    return true;
  }
  return false;
}

bool SynScan::send_one(uint64_t k) {
  if (answered_.test(k)) return false;
  uint64_t index = index_at(k);
  if (cfg_.timing.host_timeout && host_timed_out(index)) return false;
  Probe probe = space_.at(index);
  const auto& path = paths_[probe.addr.is_v4() ? 0 : 1];
  if (!path || probe.proto != Protocol::Tcp) return false;
  if (ctx_.gate != nullptr && !admit(k, probe)) return false;
  if (batch_path_ != &*path) {
    flush_batch();
    batch_path_ = &*path;
  }
  const MacAddress* mac = nullptr;
  if (path->per_host) {
    auto it = path->per_host->find(probe.addr);
    if (it == path->per_host->end()) {
      // No ARP/NDP answer: nothing can be sent to it, as connect() would say EHOSTUNREACH.
      settle_now(k, probe, PortState::Filtered, Reason::HostUnreach);
      return false;
    }
    mac = &it->second;
  }
  size_t len = probe_.build(frames_[batch_n_].data(), probe, static_cast<uint16_t>(rng_()));
  if (len == 0) return false;
  if (mac != nullptr) std::copy(mac->begin(), mac->end(), frames_[batch_n_].begin());
  if (RttSampler::sampled(k)) rtt_.sent(k, SteadyClock::now());
  batch_dst_[batch_n_] = probe.addr;
  lengths_[batch_n_++] = len;
  if (pass_ > 0) {
    ctx_.counters.retries.fetch_add(1, std::memory_order_relaxed);
    ++report_.completeness.retries;
  }
  if (batch_n_ == kBatch) flush_batch();
  return true;
}

bool SynScan::admit(uint64_t k, const Probe& probe) {
  for (;;) {
    std::chrono::nanoseconds retry_in{0};
    switch (ctx_.gate->check(probe, SteadyClock::now(), &retry_in)) {
      case ProbeGate::Decision::Send:
        return true;
      case ProbeGate::Decision::Refuse:
        ++report_.refused;
        if (answered_.set(k)) ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
        return false;
      case ProbeGate::Decision::Later:
        break;
    }
    if (stopping()) return false;
    flush_batch();
    settle();
    tick();
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(retry_in, milliseconds(50)));
  }
}

void SynScan::tick() {
  auto now = SteadyClock::now();
  for (auto& s : sockets_) drops_ += s->take_drops();
  control_->observe(report_.probes_sent, drops_, stalls_);
  if (control_->rate() != rate_->rate()) rate_->set_rate(control_->rate());
  ctx_.counters.drops.store(drops_, std::memory_order_relaxed);
  ctx_.counters.rate.store(static_cast<uint64_t>(control_->rate()), std::memory_order_relaxed);
  if (ctx_.checkpoint && now - last_checkpoint_ >= cfg_.checkpoint.interval) checkpoint_now();
}

void SynScan::checkpoint_now() {
  flush_batch();
  settle();  // every set bit's verdict has gone to on_result before the checkpoint names it
  EngineProgress p;
  p.slice_size = slice_.size();
  p.pass = pass_;
  p.cursor = cursor_;
  p.answered = answered_.words();
  p.passes = passes_;
  ctx_.checkpoint(p);
  last_checkpoint_ = SteadyClock::now();
}

void SynScan::send_first_pass() {
  uint64_t total = slice_.size();
  while (cursor_ < total && !stopping()) {
    uint64_t want = std::min<uint64_t>(kBatch, total - cursor_);
    uint64_t granted = rate_->grant(want);
    if (granted == 0) {
      flush_batch();
      settle();
      tick();
      rate_->wait();
      continue;
    }
    for (uint64_t n = 0; n < granted; ++n) send_one(cursor_++);
    settle();
    if ((cursor_ & 1023) < kBatch) tick();
  }
  flush_batch();
}

void SynScan::send_list(const std::vector<uint64_t>& todo) {
  uint64_t i = 0;
  while (i < todo.size() && !stopping()) {
    uint64_t want = std::min<uint64_t>(kBatch, todo.size() - i);
    uint64_t granted = rate_->grant(want);
    if (granted == 0) {
      flush_batch();
      settle();
      tick();
      rate_->wait();
      continue;
    }
    for (uint64_t n = 0; n < granted; ++n) send_one(todo[i++]);
    settle();
    if ((i & 1023) < kBatch) tick();
  }
  flush_batch();
}

void SynScan::wait_for_stragglers(milliseconds cap, milliseconds at_least) {
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
    std::this_thread::sleep_for(milliseconds(2));
  }
  settle();
}

double SynScan::expected_missed_now() const {
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

void SynScan::finish_report() {
  Completeness& c = report_.completeness;
  c.passes = pass_ + 1;
  c.loss = LossModel::loss(passes_);
  if (c.loss) {
    double missed = expected_missed_now();
    double found = static_cast<double>(responsive_);
    c.share = found + missed > 0 ? found / (found + missed) : 1.0;
  }
}

void SynScan::report_unanswered() {
  answered_.for_each_clear([&](uint64_t k) {
    uint64_t index = index_at(k);
    if (!host_expired_.empty() && host_expired_[host_of(index)]) return;
    Probe p = space_.at(index);
    if (p.proto != Protocol::Tcp) return;
    ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
    ctx_.on_result(PortResult{p.addr, p.proto, p.port, PortState::Filtered, Reason::NoResponse, 0,
                              WallClock::now()});
  });
}

EngineReport SynScan::run() {
  plan_paths();
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
  rate_ = std::make_unique<RateLimiter>(control_->rate());
  if (space_.ports() > 1) hosts_.emplace(space_.targets());
  if (ctx_.resume != nullptr) {
    // A retry pass that was under way is done again from its start (its counts are dropped, so
    // that the loss is measured on whole passes); pass 0 goes on from its cursor.
    const EngineResume& r = *ctx_.resume;
    pass_ = r.pass > 0 ? r.pass - 1 : 0;
    cursor_ = r.pass > 0 ? slice_.size() : std::min(r.cursor, slice_.size());
    passes_.assign(r.passes.begin(),
                   r.passes.begin() + std::min<size_t>(r.passes.size(), pass_ + 1));
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
  ctx_.counters.total = slice_.size();
  ctx_.counters.done = answered_.count();
  // The sockets are open: nothing below needs privilege.
  if (ctx_.after_sockets_open) ctx_.after_sockets_open();
  rng_.seed(ctx_.seed ^ 0x5bd1e995u ^ (cfg_.shards.index * 0x9e3779b97f4a7c15ull));
  if (cfg_.timing.host_timeout) host_expired_.assign(space_.targets(), false);
  last_checkpoint_ = SteadyClock::now();

  std::thread receiver([this] { receive_loop(); });
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
  if (pass_ == 0) {
    send_first_pass();
    wait_for_stragglers(cfg_.timing.initial_rtt);
  }
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
    ++pass_;
    passes_.emplace_back();
    ctx_.counters.pass.store(pass_, std::memory_order_relaxed);
    rtt_.new_pass();
    std::vector<uint64_t> todo;
    answered_.for_each_clear([&](uint64_t k) {
      if (prune_silent_ && hosts_->get(host_of(index_at(k))) == 0) return;
      todo.push_back(k);
    });
    if (todo.empty()) break;
    std::shuffle(todo.begin(), todo.end(), rng_);
    send_list(todo);
    wait_for_stragglers(cfg_.timing.initial_rtt);
    if (auto q = LossModel::loss(passes_)) control_->end_pass(*q);
  }
  // Probes still unanswered are about to be reported filtered: give late replies (a loaded
  // machine, a slow receive thread) a last, longer chance.
  if (!stopping() && answered_.count() < slice_.size() && rtt_.samples() > 0) {
    auto cap = cfg_.timing.initial_rtt;
    wait_for_stragglers(cap, std::max(milliseconds(50), 2 * rtt_.straggler_wait(cap)));
  }
  receiving_ = false;
  receiver.join();
  settle();
  report_.interrupted = stopping();
  if (report_.interrupted && ctx_.checkpoint) checkpoint_now();
  finish_report();
  if (!report_.interrupted) report_unanswered();
  return report_;
}

}  // namespace

EngineReport run_syn_scan(EngineContext& ctx) {
  SynScan scan(ctx);
  return scan.run();
}

}  // namespace gh
