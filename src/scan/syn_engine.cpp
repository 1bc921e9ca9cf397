#include "scan/syn_engine.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
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
#include "scan/rate_limiter.h"
#include "targets/permutation.h"

namespace gh {
namespace {

using std::chrono::milliseconds;

constexpr size_t kBatch = 64;

// A verdict and the probe index it settles, handed from the receive thread to the send thread.
struct Settled {
  uint64_t index;
  ProbeVerdict verdict;
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
        answered_(space_.size()),
        probe_(random_key(), random_key()) {}

  EngineReport run();

 private:
  static uint64_t random_key() {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  void plan_paths();
  void dry_run();
  void receive_loop();
  // Sends the probes at `indices` (or the whole permutation when null); returns probes sent.
  uint64_t send_pass(const std::vector<uint64_t>* indices, bool retry);
  bool send_one(uint64_t index, bool retry);
  void flush_batch();
  // Moves verdicts from the receive thread into results. Returns how many were new.
  uint64_t settle();
  // Records a verdict reached without a reply (e.g. an unresolvable on-link host).
  void settle_now(uint64_t index, const Probe& probe, PortState state, Reason reason);
  void wait_for_stragglers(milliseconds wait);
  bool host_timed_out(uint64_t index);
  // Asks ctx.gate; waits out "later" (settling replies meanwhile). False if refused, and then the
  // index is closed without a verdict: never retried, never reported.
  bool admit(uint64_t index, const Probe& probe);
  void report_unanswered();
  bool stopping() const { return ctx_.stop.load(std::memory_order_relaxed); }

  EngineContext& ctx_;
  const ScanConfig& cfg_;
  const ProbeSpace& space_;
  Permutation perm_;
  AnsweredSet answered_;
  TcpSynProbe probe_;
  std::array<std::optional<Path>, 2> paths_;  // [0] IPv4, [1] IPv6
  std::vector<std::unique_ptr<PacketSocket>> sockets_;
  std::optional<RawIpv4Socket> raw_v4_;
  VerdictQueue queue_;
  std::atomic<bool> receiving_{true};
  std::unique_ptr<RateLimiter> rate_;
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
  for (uint64_t i = 0; i < space_.size() && !stopping(); ++i) {
    Probe probe = space_.at(perm_.at(i));
    size_t len = probe_.build(frame, probe, static_cast<uint16_t>(i));
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
    net::ParsedPacket parsed;
    if (!net::parse_packet({buf.data(), frame->length}, net::LinkType::Ethernet, parsed)) continue;
    ProbeVerdict v;
    if (!probe_.classify(parsed, v)) continue;
    auto index = space_.index_of(v.probe.addr, v.probe.proto, v.probe.port);
    if (!index) continue;  // a valid cookie for a probe outside this scan: not ours to report
    queue_.push(Settled{*index, v});
  }
}

uint64_t SynScan::settle() {
  queue_.drain(drained_);
  uint64_t fresh = 0;
  for (const Settled& s : drained_) {
    if (!answered_.set(s.index)) continue;  // duplicate: a retransmitted or retried reply
    ++fresh;
    PortResult r{s.verdict.probe.addr, s.verdict.probe.proto, s.verdict.probe.port, s.verdict.state,
                 s.verdict.reason,     s.verdict.ttl,         WallClock::now()};
    ctx_.counters.received.fetch_add(1, std::memory_order_relaxed);
    ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
    if (r.state == PortState::Open) ctx_.counters.open.fetch_add(1, std::memory_order_relaxed);
    ++report_.replies;
    ctx_.on_result(r);
  }
  return fresh;
}

void SynScan::settle_now(uint64_t index, const Probe& probe, PortState state, Reason reason) {
  if (!answered_.set(index)) return;
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
    // ENOBUFS/EAGAIN: the device queue is full; give it a moment. Anything else, or a queue that
    // stays full, loses the rest of the batch, which the retry passes then resend.
    if ((r.error != ENOBUFS && r.error != EAGAIN) || ++stalls > 100) {
      ++report_.send_errors;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ctx_.counters.sent.fetch_add(done, std::memory_order_relaxed);
  report_.probes_sent += done;
  batch_n_ = 0;
}

bool SynScan::host_timed_out(uint64_t index) {
  uint64_t host = index % space_.targets();
  if (host_expired_[host]) return true;
  auto now = SteadyClock::now();
  auto [it, inserted] = host_first_.try_emplace(host, now);
  if (!inserted && now - it->second > *cfg_.timing.host_timeout) {
    host_expired_[host] = true;
    return true;
  }
  return false;
}

bool SynScan::send_one(uint64_t index, bool retry) {
  if (answered_.test(index)) return false;
  if (cfg_.timing.host_timeout && host_timed_out(index)) return false;
  Probe probe = space_.at(index);
  const auto& path = paths_[probe.addr.is_v4() ? 0 : 1];
  if (!path || probe.proto != Protocol::Tcp) return false;
  if (ctx_.gate != nullptr && !admit(index, probe)) return false;
  if (batch_path_ != &*path) {
    flush_batch();
    batch_path_ = &*path;
  }
  const MacAddress* mac = nullptr;
  if (path->per_host) {
    auto it = path->per_host->find(probe.addr);
    if (it == path->per_host->end()) {
      // No ARP/NDP answer: nothing can be sent to it, as connect() would say EHOSTUNREACH.
      settle_now(index, probe, PortState::Filtered, Reason::HostUnreach);
      return false;
    }
    mac = &it->second;
  }
  size_t len = probe_.build(frames_[batch_n_].data(), probe, static_cast<uint16_t>(rng_()));
  if (len == 0) return false;
  if (mac != nullptr) std::copy(mac->begin(), mac->end(), frames_[batch_n_].begin());
  batch_dst_[batch_n_] = probe.addr;
  lengths_[batch_n_++] = len;
  if (retry) ctx_.counters.retries.fetch_add(1, std::memory_order_relaxed);
  if (batch_n_ == kBatch) flush_batch();
  return true;
}

bool SynScan::admit(uint64_t index, const Probe& probe) {
  for (;;) {
    std::chrono::nanoseconds retry_in{0};
    switch (ctx_.gate->check(probe, SteadyClock::now(), &retry_in)) {
      case ProbeGate::Decision::Send:
        return true;
      case ProbeGate::Decision::Refuse:
        ++report_.refused;
        if (answered_.set(index)) ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
        return false;
      case ProbeGate::Decision::Later:
        break;
    }
    if (stopping()) return false;
    flush_batch();
    settle();
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(retry_in, milliseconds(50)));
  }
}

uint64_t SynScan::send_pass(const std::vector<uint64_t>* indices, bool retry) {
  uint64_t total = indices ? indices->size() : space_.size();
  uint64_t sent = 0;
  uint64_t i = 0;
  while (i < total && !stopping()) {
    uint64_t want = std::min<uint64_t>(kBatch, total - i);
    uint64_t granted = rate_->grant(want);
    if (granted == 0) {
      flush_batch();
      settle();
      rate_->wait();
      continue;
    }
    for (uint64_t k = 0; k < granted; ++k, ++i)
      sent += send_one(indices ? (*indices)[i] : perm_.at(i), retry);
    settle();
  }
  flush_batch();
  return sent;
}

void SynScan::wait_for_stragglers(milliseconds wait) {
  auto deadline = SteadyClock::now() + wait;
  while (SteadyClock::now() < deadline && !stopping()) {
    settle();
    if (answered_.count() == space_.size()) return;
    std::this_thread::sleep_for(milliseconds(5));
  }
  settle();
}

void SynScan::report_unanswered() {
  answered_.for_each_clear([&](uint64_t index) {
    if (!host_expired_.empty() && host_expired_[index % space_.targets()]) return;
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
  rate_ = std::make_unique<RateLimiter>(rate);
  // The sockets are open: nothing below needs privilege.
  if (ctx_.after_sockets_open) ctx_.after_sockets_open();
  rng_.seed(ctx_.seed ^ 0x5bd1e995u);
  if (cfg_.timing.host_timeout) host_expired_.assign(space_.targets(), false);

  std::thread receiver([this] { receive_loop(); });
  struct Joiner {
    std::atomic<bool>& flag;
    std::thread& t;
    ~Joiner() {
      flag = false;
      if (t.joinable()) t.join();
    }
  } joiner{receiving_, receiver};

  // Pass 0 in permutation order, then retries of what is still unanswered.
  send_pass(nullptr, false);
  wait_for_stragglers(cfg_.timing.initial_rtt);
  int empty_passes = 0;
  for (int pass = 1; pass <= cfg_.timing.max_retries && !stopping(); ++pass) {
    uint64_t missing = space_.size() - answered_.count();
    if (missing == 0) break;
    uint64_t before = answered_.count();
    if (missing <= (uint64_t{1} << 24)) {
      std::vector<uint64_t> todo;
      todo.reserve(missing);
      answered_.for_each_clear([&](uint64_t i) { todo.push_back(i); });
      std::shuffle(todo.begin(), todo.end(), rng_);
      send_pass(&todo, true);
    } else {
      send_pass(nullptr, true);  // too many to list: walk the permutation again, skipping answers
    }
    wait_for_stragglers(cfg_.timing.initial_rtt);
    empty_passes = answered_.count() == before ? empty_passes + 1 : 0;
    if (empty_passes >= 2) break;  // two passes in a row with nothing new: the rest is filtered
  }
  receiving_ = false;
  receiver.join();
  settle();
  report_.interrupted = stopping();
  if (!report_.interrupted) report_unanswered();
  return report_;
}

}  // namespace

EngineReport run_syn_scan(EngineContext& ctx) {
  SynScan scan(ctx);
  return scan.run();
}

}  // namespace gh
