#include "scan/discovery.h"

#include <linux/if_arp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "io/packet_socket.h"
#include "io/route.h"
#include "net/packet.h"
#include "output/mac_vendor.h"
#include "scan/completeness.h"
#include "scan/congestion.h"
#include "scan/connect_engine.h"
#include "scan/discovery_modules.h"
#include "scan/rate_limiter.h"
#include "targets/permutation.h"

namespace gh {
// Not anonymous: RawDiscovery (declared in the header) has members of these types.
namespace discovery_detail {

using Clock = std::chrono::steady_clock;

enum class Where : uint8_t { OnLink, Routed, Local };

// A host found up: from a module's verdict, or our own address.
struct DiscoveryHit {
  IpAddress addr;
  Reason reason = Reason::NoResponse;
  std::optional<MacAddress> mac;
  uint8_t ttl = 0;
  std::optional<uint8_t> attempt;  // when the reply says which attempt it answers
};

// How each target range is reached (one route lookup per range, never per address).
struct RangePlan {
  uint64_t first_index = 0;  // index of the range's first address in the target set
  Where where = Where::Routed;
};

class Bitmap {
 public:
  explicit Bitmap(uint64_t n) : words_((n + 63) / 64, 0) {}
  bool test(uint64_t i) const { return words_[i >> 6] >> (i & 63) & 1; }
  bool set(uint64_t i) {  // true if it was clear
    uint64_t& w = words_[i >> 6];
    const uint64_t bit = uint64_t{1} << (i & 63);
    if (w & bit) return false;
    w |= bit;
    return true;
  }

 private:
  std::vector<uint64_t> words_;
};

// Exact send times of the latest probes, direct-mapped by permutation position: the RTT samples
// of the congestion control and a host's latency. A slot is overwritten kSlots positions later
// (replies on a LAN come back long before); a reply whose slot is gone falls back to the send
// time of its block of 64 positions.
class SendTimes {
 public:
  void sent(uint64_t pos, unsigned pass, Clock::time_point t) {
    slots_[pos & (kSlots - 1)] = Slot{pos, pass, t};
  }
  // When `pos` was last sent, if that was in `pass`.
  std::optional<Clock::time_point> at(uint64_t pos, unsigned pass) const {
    const Slot& s = slots_[pos & (kSlots - 1)];
    if (s.pos != pos || s.pass != pass) return std::nullopt;
    return s.at;
  }

 private:
  static constexpr size_t kSlots = 4096;
  struct Slot {
    uint64_t pos = ~uint64_t{0};
    unsigned pass = 0;
    Clock::time_point at{};
  };
  std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
};

HostResult host_result(const IpAddress& addr, Reason reason) {
  HostResult h;
  h.addr = addr;
  h.state = reason != Reason::NoResponse ? HostState::Up : HostState::Down;
  h.reason = reason;
  h.seen = WallClock::now();
  return h;
}

bool finished(const DiscoveryContext& ctx, uint64_t i) {
  return ctx.finished != nullptr && ((*ctx.finished)[i >> 6] >> (i & 63) & 1) != 0;
}

// -- Unprivileged: connect() pings through the connect engine -----------------------------------

DiscoveryReport connect_discovery(const DiscoveryContext& ctx, const DiscoveryPlan& plan) {
  DiscoveryReport report;
  report.targets = ctx.targets.size();
  report.notes = plan.notes;
  report.passes = 1;
  ScanConfig cfg = ctx.config;
  cfg.type = ScanType::Connect;
  cfg.ports = PortList{};
  cfg.ports.tcp = plan.connect_ports;
  std::sort(cfg.ports.tcp.begin(), cfg.ports.tcp.end());
  cfg.ports.tcp.erase(std::unique(cfg.ports.tcp.begin(), cfg.ports.tcp.end()), cfg.ports.tcp.end());
  cfg.timing.max_retries = std::min(cfg.timing.max_retries, 1);
  cfg.shards = ShardSpec{};
  ProbeSpace space(ctx.targets, cfg.ports);
  Bitmap up(ctx.targets.size());
  EngineCounters local;
  EngineCounters& counters = ctx.counters != nullptr ? *ctx.counters : local;
  counters.total = space.size();
  EngineContext ec{cfg, space, ctx.seed, ctx.stop, counters, [&](const PortResult& r) {
                     // Open (connected) or closed (refused): either way something answered.
                     if (r.state != PortState::Open && r.reason != Reason::ConnRefused) return;
                     uint64_t i = ctx.targets.index_of(r.addr);
                     if (i == UINT64_MAX || finished(ctx, i) || !up.set(i)) return;
                     ++report.hosts_up;
                     ++report.replies;
                     HostResult h = host_result(
                         r.addr, r.state == PortState::Open ? Reason::SynAck : Reason::ConnRefused);
                     if (ctx.on_host) ctx.on_host(h);
                   }};
  ec.gate = ctx.gate;
  ec.after_sockets_open = ctx.after_sockets_open;
  EngineReport er = run_connect_scan(ec);
  report.probes_sent = er.probes_sent;
  report.refused = er.refused;
  report.interrupted = er.interrupted;
  if (ctx.report_down && !report.interrupted && ctx.on_host)
    for (uint64_t i = 0; i < ctx.targets.size(); ++i)
      if (!up.test(i) && !finished(ctx, i))
        ctx.on_host(host_result(ctx.targets.at(i), Reason::NoResponse));
  return report;
}

}  // namespace discovery_detail

using namespace discovery_detail;

// -- Privileged: raw frames -----------------------------------------------------------------------

class RawDiscovery {
 public:
  explicit RawDiscovery(const DiscoveryContext& ctx)
      : ctx_(ctx),
        n_(ctx.targets.size()),
        answered_(n_),
        perm_(n_, ctx.seed ^ 0xd15c0be7d15c0be7ull) {
    // A resumed scan: the hosts a previous run finished count as answered (never probed again,
    // never reported again).
    if (ctx.finished != nullptr)
      for (uint64_t w = 0; w < ctx.finished->size(); ++w)
        for (uint64_t bits = (*ctx.finished)[w]; bits != 0; bits &= bits - 1) {
          uint64_t i = (w << 6) + static_cast<uint64_t>(__builtin_ctzll(bits));
          if (i < n_ && answered_.set(i)) ++finished_;
        }
  }

  void open();
  DiscoveryReport run();

 private:
  void plan_routes();
  Where where_of(uint64_t index) const;
  void send_pass(unsigned pass);
  void flush();
  void drain(Clock::duration wait);
  void tick();
  bool admit(uint64_t index, uint64_t pos);
  // After a pass: wait for stragglers until `since` + twice the slowest reply (at least 50 ms;
  // the initial timeout while nothing has answered, and never more), or until every target has
  // answered.
  void settle(Clock::time_point since, Clock::duration initial);
  void on_frame(std::span<const uint8_t> frame, LinkFraming framing);
  void report_host(uint64_t index, const IpAddress& addr, const DiscoveryHit& hit);

  const DiscoveryContext& ctx_;
  uint64_t n_;
  Bitmap answered_;
  Permutation perm_;
  DiscoveryReport report_;
  std::vector<RangePlan> ranges_;
  std::vector<IpAddress> local_;                            // our own addresses: up without a probe
  std::optional<Route> onlink_route_[2], routed_route_[2];  // [0] IPv4, [1] IPv6
  std::unique_ptr<DiscoveryModules> modules_;
  std::map<int, PacketSocket> sockets_;      // by ifindex
  std::map<int, LinkFraming> framing_;       // by ifindex: how its frames begin
  int ifindex_of_[2][2] = {{0, 0}, {0, 0}};  // [family][on_link]
  // Frames waiting to be sent, per socket.
  static constexpr size_t kMaxFrame = 128;  // at least every module's max_frame() (open())
  struct Pending {
    std::vector<std::array<uint8_t, kMaxFrame>> frames;
    std::vector<size_t> lengths;
    std::vector<uint64_t> positions;  // each frame's permutation position
  };
  std::map<int, Pending> pending_;
  // Send time per pass and per 64 positions of the permutation; how far each pass got.
  std::vector<std::vector<Clock::time_point>> sent_at_;
  std::vector<uint64_t> sent_upto_;
  Clock::duration slowest_ = Clock::duration::zero();
  std::optional<RateLimiter> rate_;
  // -T3/-T4: the port stages' congestion control sets the rate (scan/congestion.h); otherwise
  // the fixed rate_ (or none).
  std::unique_ptr<CongestionControl> cc_;
  std::function<bool(uint64_t)> is_answered_;  // by permutation position
  uint64_t stalls_ = 0;                        // sends refused with ENOBUFS
  Clock::time_point last_tick_{};
  // Per pass: the hosts its probes found (the loss model, scan/completeness.h).
  std::vector<PassCounts> passes_;
  uint64_t found_ = 0;  // hosts found by a probe (not our own addresses)
  SendTimes send_times_;
  uint16_t ip_id_ = 0;
  std::vector<uint8_t> refused_;  // per probe of the current target: the gate refused it
  uint64_t finished_ = 0;         // hosts a previous run finished (resume)
  bool any_onlink_ = false;
};

void RawDiscovery::plan_routes() {
  const std::string& iface = ctx_.config.interface;
  for (const InterfaceAddress& ia : local_networks()) local_.push_back(ia.address);
  std::sort(local_.begin(), local_.end());
  uint64_t first = 0;
  for (const AddressRange& r : ctx_.targets.ranges()) {
    RangePlan rp;
    rp.first_index = first;
    const IpAddress a = r.first;
    const int f = a.is_v4() ? 0 : 1;
    Route route = lookup_path(a, iface);
    if (route.loopback) {
      rp.where = Where::Local;
    } else if (!route.gateway && route.arp_type == ARPHRD_ETHER) {
      rp.where = Where::OnLink;
      if (!onlink_route_[f]) onlink_route_[f] = route;
      ifindex_of_[f][1] = onlink_route_[f]->ifindex;
    } else {
      rp.where = Where::Routed;
      if (!routed_route_[f]) routed_route_[f] = route;
      ifindex_of_[f][0] = routed_route_[f]->ifindex;
    }
    ranges_.push_back(rp);
    first += static_cast<uint64_t>(r.size());
  }
}

Where RawDiscovery::where_of(uint64_t index) const {
  if (!local_.empty() && std::binary_search(local_.begin(), local_.end(), ctx_.targets.at(index)))
    return Where::Local;
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), index,
                             [](uint64_t i, const RangePlan& r) { return i < r.first_index; });
  return std::prev(it)->where;
}

void RawDiscovery::open() {
  report_.targets = n_;
  plan_routes();
  const DiscoverySpec& spec = ctx_.config.discovery;
  const bool any_onlink = onlink_route_[0] || onlink_route_[1];
  const bool any_routed = routed_route_[0] || routed_route_[1];
  DiscoveryPlan onlink = plan_discovery(spec, true, true);
  DiscoveryPlan routed = plan_discovery(spec, false, true);
  DiscoveryPlan merged = any_routed ? routed : onlink;
  merged.arp = any_onlink && onlink.arp;
  if (any_onlink) report_.notes = onlink.notes;
  if (any_routed)
    report_.notes.insert(report_.notes.end(), routed.notes.begin(), routed.notes.end());

  std::random_device rd;
  const uint64_t k0 = (uint64_t{rd()} << 32) ^ rd(), k1 = (uint64_t{rd()} << 32) ^ rd();
  modules_ = std::make_unique<DiscoveryModules>(merged, ModuleKeys{k0, k1}, ctx_.announce);
  if (modules_->max_frame() > kMaxFrame)
    throw std::logic_error("a discovery probe module's frames exceed the send queue's slots");
  std::map<int, std::vector<PathInfo>> paths;  // by ifindex: the paths leaving through it
  for (int f = 0; f < 2; ++f) {
    for (bool on_link : {false, true}) {
      const std::optional<Route>& r = on_link ? onlink_route_[f] : routed_route_[f];
      if (!r) continue;
      const PathInfo path = discovery_path(*r, on_link);
      modules_->prepare(path);
      paths[r->ifindex].push_back(path);
    }
  }
  // One socket per interface. Its kernel filter passes only what the modules prepared on its
  // paths can accept (DiscoveryModules::receive_filter): ARP replies and IP packets to our
  // addresses of the protocols (and our ping source ports) the sweep's probes draw, attached
  // before the socket is bound. Everything else on the link, the port stages' replies included,
  // never reaches the sweep's receive buffer.
  for (const auto& [ifindex, its_paths] : paths) {
    const LinkFraming framing =
        std::any_of(its_paths.begin(), its_paths.end(),
                    [](const PathInfo& p) { return p.framing == LinkFraming::Ethernet; })
            ? LinkFraming::Ethernet
            : LinkFraming::RawIp;
    PacketSocketOptions o;
    o.receive_buffer = 8 << 20;
    o.filter = modules_->receive_filter(framing, its_paths);
    sockets_.emplace(ifindex, PacketSocket::open(ifindex, o));
    framing_[ifindex] = framing;
  }
  any_onlink_ = any_onlink;
}

DiscoveryReport RawDiscovery::run() {
  const Timing& timing = ctx_.config.timing;
  if (timing.adaptive) {
    CongestionControl::Options co;
    co.min_rate = timing.min_rate;
    co.max_rate = timing.max_rate;
    co.max_host_rate = ctx_.config.policy.max_host_rate;
    co.hosts = n_;
    co.probes = n_;  // one admission per target and pass
    cc_ = std::make_unique<CongestionControl>(co, Clock::now());
    is_answered_ = [this](uint64_t k) { return answered_.test(perm_.at(k)); };
    rate_.emplace(cc_->rate());
  } else if (timing.discovery_rate() > 0) {
    rate_.emplace(timing.discovery_rate());
  }

  // Retries: the silent addresses get one more pass (which measures the loss: hosts that only
  // the retry found), then more only while the loss model says live hosts may still be silent
  // (scan/completeness.h sweep_again; a clean LAN: two passes, a lossy one: as many as it
  // takes), at most --max-retries.
  const int retries = timing.max_retries;
  const auto initial =
      std::max<Clock::duration>(timing.initial_rtt, std::chrono::milliseconds(100));
  for (int pass = 0; pass <= retries && !ctx_.stopping(); ++pass) {
    if (pass > 0 && !sweep_again(passes_, found_)) break;
    passes_.emplace_back();
    if (cc_ && pass > 0) cc_->new_pass();
    send_pass(static_cast<unsigned>(pass));
    report_.passes = static_cast<uint32_t>(pass + 1);
    settle(Clock::now(), initial);
    if (report_.hosts_up + finished_ == n_) break;
  }
  report_.interrupted = ctx_.stopping();
  if (cc_) report_.load = cc_->evidence();
  if (ctx_.counters != nullptr) ctx_.counters->done = n_;
  if (ctx_.report_down && !report_.interrupted && ctx_.on_host)
    for (uint64_t i = 0; i < n_; ++i)
      if (!answered_.test(i)) ctx_.on_host(host_result(ctx_.targets.at(i), Reason::NoResponse));
  return report_;
}

void RawDiscovery::send_pass(unsigned pass) {
  sent_at_.emplace_back((n_ + 63) / 64, Clock::time_point{});
  sent_upto_.push_back(0);
  for (uint64_t pos = 0; pos < n_; ++pos) {
    if ((pos & 63) == 0) {
      if (ctx_.stopping()) break;
      sent_at_[pass][pos >> 6] = Clock::now();
      drain(Clock::duration::zero());
    }
    sent_upto_[pass] = pos + 1;
    const uint64_t index = perm_.at(pos);
    if (answered_.test(index)) continue;
    const IpAddress addr = ctx_.targets.at(index);
    const Where where = where_of(index);
    if (where == Where::Local) {
      if (pass == 0) {
        DiscoveryHit hit{addr, Reason::LocalhostResponse, std::nullopt, 0, std::nullopt};
        report_host(index, addr, hit);
      }
      continue;
    }
    const bool on_link = where == Where::OnLink;
    // The target's probes: one per module of its kind of path and family (and per ping port).
    const std::vector<DiscoveryModules::Entry>& probes = modules_->probes(addr.family, on_link);
    // The policy gate sees every probe, retries included, right before it is built; a refused
    // probe is dropped alone (a ping port outside the scope), the target's others still go.
    refused_.assign(probes.size(), 0);
    if (ctx_.gate != nullptr) {
      for (size_t i = 0; i < probes.size(); ++i) {
        std::chrono::nanoseconds later{0};
        ProbeGate::Decision d;
        const Probe gp = probes[i].probe(addr);
        while ((d = ctx_.gate->check(gp, Clock::now(), &later)) == ProbeGate::Decision::Later) {
          if (ctx_.stopping()) break;
          flush();
          std::this_thread::sleep_for(
              std::min<std::chrono::nanoseconds>(later, std::chrono::milliseconds(10)));
          drain(Clock::duration::zero());
        }
        if (d != ProbeGate::Decision::Send) refused_[i] = 1;
        if (d == ProbeGate::Decision::Refuse) ++report_.refused;
      }
    }
    if (cc_ && !admit(index, pos)) break;
    // Each probe's module writes its frame straight into the send queue.
    const BuildArgs args{++ip_id_, static_cast<uint8_t>(pass)};
    const int ifindex = ifindex_of_[addr.is_v4() ? 0 : 1][on_link ? 1 : 0];
    Pending& q = pending_[ifindex];
    for (size_t i = 0; i < probes.size(); ++i) {
      if (refused_[i] != 0) continue;
      auto& frame = q.frames.emplace_back();
      const size_t len = probes[i].module->build(frame, probes[i].probe(addr), args);
      if (len == 0) {
        q.frames.pop_back();
        continue;
      }
      q.lengths.push_back(len);
      q.positions.push_back(pos);
    }
    if (q.frames.size() >= 64) flush();
  }
  flush();
}

bool RawDiscovery::admit(uint64_t index, uint64_t pos) {
  // A target's probes of one pass are one admission: the host's own pacing, and the probe's
  // place in the loss ring.
  for (;;) {
    const auto wait = cc_->admit(index, pos, Clock::now());
    if (wait == Clock::duration::zero()) return true;
    if (ctx_.stopping()) return false;
    flush();
    std::this_thread::sleep_for(std::min<Clock::duration>(wait, std::chrono::milliseconds(10)));
    drain(Clock::duration::zero());
  }
}

void RawDiscovery::tick() {
  if (!cc_) return;
  const auto now = Clock::now();
  if (now - last_tick_ < std::chrono::microseconds(500)) return;
  last_tick_ = now;
  cc_->tick(now, report_.probes_sent, 0, stalls_, is_answered_);
  if (rate_ && rate_->rate() != cc_->rate()) rate_->set_rate(cc_->rate());
  if (ctx_.counters != nullptr) ctx_.counters->rate.store(cc_->rate(), std::memory_order_relaxed);
}

void RawDiscovery::flush() {
  for (auto& [ifindex, q] : pending_) {
    if (q.frames.empty()) continue;
    PacketSocket& sock = sockets_.at(ifindex);
    size_t done = 0;
    while (done < q.frames.size()) {
      size_t want = q.frames.size() - done;
      if (rate_) {
        uint64_t got;
        while ((got = rate_->grant(want)) == 0) {
          rate_->wait();
          tick();
        }
        want = got;
      }
      std::vector<std::span<const uint8_t>> spans;
      spans.reserve(want);
      for (size_t i = done; i < done + want; ++i)
        spans.emplace_back(q.frames[i].data(), q.lengths[i]);
      auto r = sock.send_batch(spans);
      const auto now = Clock::now();
      const unsigned pass = static_cast<unsigned>(sent_at_.size() - 1);
      for (size_t i = done; i < done + r.sent; ++i) send_times_.sent(q.positions[i], pass, now);
      done += r.sent;
      report_.probes_sent += r.sent;
      if (ctx_.counters != nullptr) ctx_.counters->sent += r.sent;
      if (r.error != 0 && r.sent == 0) {
        // A full device queue (ENOBUFS): let it drain, reading replies meanwhile.
        if (r.error != ENOBUFS && r.error != EAGAIN) {
          ++done;  // drop that frame; the retry pass will resend its probe
          continue;
        }
        ++stalls_;
        drain(std::chrono::microseconds(200));
      }
    }
    q.frames.clear();
    q.lengths.clear();
    q.positions.clear();
  }
}

void RawDiscovery::settle(Clock::time_point since, Clock::duration initial) {
  // Re-evaluated as replies come: the first reply replaces the initial timeout (one lab host
  // answering ARP in 0.1 ms no longer holds the whole scan for a second), and a sweep whose
  // every target has answered has nobody left to wait for.
  while (!ctx_.stopping() && report_.hosts_up + finished_ < n_) {
    Clock::duration wait = report_.replies == 0 ? initial
                                                : std::max<Clock::duration>(
                                                      2 * slowest_, std::chrono::milliseconds(50));
    const auto deadline = since + std::min<Clock::duration>(wait, initial);
    const auto now = Clock::now();
    if (now >= deadline) return;
    drain(std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(5)));
  }
}

void RawDiscovery::drain(Clock::duration wait) {
  const auto deadline = Clock::now() + wait;
  std::array<uint8_t, 2048> buf;
  std::vector<pollfd> fds;
  for (auto& [ifindex, s] : sockets_) fds.push_back({s.fd(), POLLIN, 0});
  while (true) {
    tick();
    bool any = false;
    for (auto& [ifindex, s] : sockets_) {
      for (int i = 0; i < 256; ++i) {
        auto f = s.receive(buf, std::chrono::milliseconds(0));
        if (!f) break;
        any = true;
        on_frame({buf.data(), f->length}, framing_.at(ifindex));
      }
    }
    const auto now = Clock::now();
    // Frames keep coming while the port stages scan (the filter passes the ICMP among their
    // replies when a ping module asks for ICMP, and ARP replies to our address): the deadline
    // still holds. Late ARP/NDP replies, whose MACs the port stages need, keep passing.
    if (now >= deadline || ctx_.stopping()) return;
    if (any) continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    for (auto& p : fds) p.revents = 0;
    ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<int64_t>(left, 1, 50)));
  }
}

void RawDiscovery::on_frame(std::span<const uint8_t> frame, LinkFraming framing) {
  // Parsed once for every module (ARP frames are not IP: ip stays null for them).
  net::ParsedPacket parsed;
  const bool ip = net::parse_packet(
      frame, framing == LinkFraming::Ethernet ? net::LinkType::Ethernet : net::LinkType::RawIp,
      parsed);
  const RxFrame rx{frame, framing, ip ? &parsed : nullptr, Clock::now()};
  ProbeVerdict v;
  if (!modules_->classify(rx, v) || !v.host || v.host_state != HostState::Up) return;
  // ARP and NDP replies name their sender only: it must be an address we probe.
  const uint64_t index = ctx_.targets.index_of(v.probe.addr);
  if (index == UINT64_MAX) return;
  ++report_.replies;
  if (ctx_.counters != nullptr) ++ctx_.counters->received;
  DiscoveryHit hit{v.probe.addr, v.reason, std::nullopt, v.ttl, std::nullopt};
  if (v.has_mac) hit.mac = v.mac;
  if (!v.attempt_unknown) hit.attempt = v.attempt;
  report_host(index, hit.addr, hit);
}

void RawDiscovery::report_host(uint64_t index, const IpAddress& addr, const DiscoveryHit& hit) {
  if (!answered_.set(index)) return;
  ++report_.hosts_up;
  HostResult h = host_result(addr, hit.reason);
  h.reason_ttl = hit.ttl;
  if (hit.reason != Reason::LocalhostResponse) {
    // Latency: from the send time of the pass the reply answers (the last pass that had sent
    // this position, when the reply does not say).
    const uint64_t pos = perm_.inverse(index);
    int pass = static_cast<int>(sent_upto_.size()) - 1;
    if (hit.attempt && *hit.attempt < sent_upto_.size()) pass = *hit.attempt;
    while (pass > 0 && sent_upto_[pass] <= pos) --pass;
    if (pass >= 0 && sent_upto_[pass] > pos) {
      const auto now = Clock::now();
      const auto exact = send_times_.at(pos, static_cast<unsigned>(pass));
      const auto rtt = now - exact.value_or(sent_at_[pass][pos >> 6]);
      slowest_ = std::max(slowest_, rtt);
      h.latency = std::chrono::duration_cast<std::chrono::microseconds>(rtt);
      // Only exact send times are RTT samples: a block's time would look like queueing.
      if (cc_ && exact) cc_->rtt_sample(index, std::chrono::duration<double>(rtt).count(), now);
    }
    // The loss model counts the host for the pass its reply answers.
    ++found_;
    ++passes_[static_cast<size_t>(std::clamp<int>(pass, 0, static_cast<int>(passes_.size()) - 1))]
          .settled;
    if (cc_) cc_->replied(index, false);
    if (where_of(index) == Where::OnLink && hit.mac) {
      if (ctx_.macs != nullptr) ctx_.macs->put(addr, *hit.mac);
      h.mac = *hit.mac;
      h.vendor = MacVendors::instance().vendor(*hit.mac);
    }
  }
  if (ctx_.counters != nullptr) ++ctx_.counters->open;
  if (ctx_.on_host) ctx_.on_host(h);
}

DiscoveryStage::DiscoveryStage(const DiscoveryContext& ctx) : ctx_(ctx) {}
DiscoveryStage::~DiscoveryStage() = default;

void DiscoveryStage::open() {
  if (!ctx_.privileged) return;  // connect() pings need no socket opened in advance
  raw_ = std::make_unique<RawDiscovery>(ctx_);
  raw_->open();
}

DiscoveryReport DiscoveryStage::run() {
  if (!ctx_.privileged) {
    DiscoveryPlan plan = plan_discovery(ctx_.config.discovery, false, false);
    return connect_discovery(ctx_, plan);
  }
  return raw_->run();
}

DiscoveryReport run_discovery(const DiscoveryContext& ctx) {
  DiscoveryStage stage(ctx);
  stage.open();
  if (ctx.privileged && ctx.after_sockets_open) ctx.after_sockets_open();
  return stage.run();
}

}  // namespace gh
