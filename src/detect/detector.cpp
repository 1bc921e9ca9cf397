#include "detect/detector.h"

#include <fmt/format.h>

#include <algorithm>

namespace gh::detect {

namespace {

constexpr uint8_t kAwaitReply = 0;
constexpr uint8_t kAwaitAck = 1;
constexpr int64_t kTickUs = 1'000'000;
constexpr int64_t kFlowTtlUs = 120'000'000;
// An ACK from the remote proves it saw our SYN-ACK when it acknowledges our ISN + 1 ... + this.
constexpr uint32_t kAckWindow = 1u << 24;
constexpr uint16_t kEphemeralLow = 32768, kEphemeralHigh = 60999;

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

uint64_t addr_hash(const IpAddress& a) {
  uint64_t lo = static_cast<uint64_t>(a.value), hi = static_cast<uint64_t>(a.value >> 64);
  return mix(lo ^ mix(hi + static_cast<uint64_t>(a.family)));
}

// Tags keep the three kinds of keys in one ContactSet apart.
constexpr uint64_t kTagContact = 0x1000000000000000ull;
constexpr uint64_t kTagHost = 0x2000000000000000ull;
constexpr uint64_t kTagPort = 0x3000000000000000ull;

bool is_echo_request(const PacketEvent& ev) {
  return (ev.proto == kProtoIcmp && ev.icmp_type == 8) ||
         (ev.proto == kProtoIcmp6 && ev.icmp_type == 128);
}
bool is_echo_reply(const PacketEvent& ev) {
  return (ev.proto == kProtoIcmp && ev.icmp_type == 0) ||
         (ev.proto == kProtoIcmp6 && ev.icmp_type == 129);
}
bool is_unreachable(const PacketEvent& ev) {
  return (ev.proto == kProtoIcmp && ev.icmp_type == 3) ||
         (ev.proto == kProtoIcmp6 && ev.icmp_type == 1);
}
bool is_port_unreachable(const PacketEvent& ev) {
  return (ev.proto == kProtoIcmp && ev.icmp_type == 3 && ev.icmp_code == 3) ||
         (ev.proto == kProtoIcmp6 && ev.icmp_type == 1 && ev.icmp_code == 4);
}

std::optional<ToolGuess> guess_tool(const SourceState& s) {
  // A guess needs at least two matching probes and 80% of the raw-looking ones.
  auto strong = [&](uint32_t hits) { return hits >= 2 && hits * 10 >= s.fp_probes * 8; };
  if (strong(s.fp_zmap))
    return ToolGuess{"zmap", fmt::format("IP ID 54321 on {}/{} probes", s.fp_zmap, s.fp_probes)};
  if (strong(s.fp_masscan))
    return ToolGuess{"masscan", fmt::format("IP ID = destination ^ port ^ sequence on {}/{} probes",
                                            s.fp_masscan, s.fp_probes)};
  if (strong(s.fp_glasshouse))
    return ToolGuess{"glasshouse",
                     fmt::format("window 1024, a lone MSS 1460 and TTL 60-64 (nmap's is 37-59) on "
                                 "{}/{} probes",
                                 s.fp_glasshouse, s.fp_probes)};
  if (strong(s.fp_nmap))
    return ToolGuess{"nmap",
                     fmt::format("window 1024-4096, nmap's TCP options, TTL 37-59 on {}/{} probes",
                                 s.fp_nmap, s.fp_probes)};
  return std::nullopt;
}

}  // namespace

uint64_t flow_key(const IpAddress& remote, uint16_t rport, const IpAddress& local, uint16_t lport,
                  uint8_t proto) {
  uint64_t h = addr_hash(remote) * 31 + addr_hash(local);
  return mix(h ^ (static_cast<uint64_t>(rport) << 32 | static_cast<uint64_t>(lport) << 16 | proto));
}

// --- ContactSet -----------------------------------------------------------------------------

bool ContactSet::insert(uint64_t key) {
  if (bloom_) return bloom_insert(key);
  for (size_t i = 0; i < n_; ++i)
    if (inline_[i] == key) return false;
  if (n_ < kInline) {
    inline_[n_++] = key;
    return true;
  }
  bloom_ = std::make_unique<uint64_t[]>(kBloomBits / 64);
  for (size_t i = 0; i < n_; ++i) bloom_insert(inline_[i]);
  return bloom_insert(key);
}

bool ContactSet::bloom_insert(uint64_t key) {
  // Three probes by double hashing (Kirsch and Mitzenmacher).
  uint64_t h = mix(key);
  uint32_t a = static_cast<uint32_t>(h), b = static_cast<uint32_t>(h >> 32) | 1u;
  bool fresh = false;
  for (uint32_t i = 0; i < 3; ++i) {
    uint32_t bit = (a + i * b) % kBloomBits;
    uint64_t m = uint64_t{1} << (bit % 64);
    if (!(bloom_[bit / 64] & m)) {
      fresh = true;
      bloom_[bit / 64] |= m;
    }
  }
  return fresh;
}

// --- Detector -------------------------------------------------------------------------------

std::vector<uint16_t> DetectConfig::default_worm_ports() {
  // The ports "people and worms like to scan for" of the project's seed glossary.
  return {21,  23,   25,   67,   80,   111,  113,  119,   137,   445,
          515, 1080, 1214, 1243, 1433, 3128, 8080, 12345, 27374, 31337};
}

Detector::Detector(const DetectConfig& cfg, PrefixSet local, Listener on_alert)
    : cfg_(cfg),
      model_(cfg.trw),
      local_model_(cfg.trw, cfg.local_factor),
      local_(std::move(local)),
      listener_(std::move(on_alert)),
      sources_(cfg.max_sources),
      pending_(cfg.max_pending),
      flows_(cfg.max_flows) {
  for (uint16_t p : cfg_.worm_ports) worm_bits_[p / 64] |= uint64_t{1} << (p % 64);
}

bool Detector::mark_verified(const IpAddress& src, Proof how) {
  SourceState* s = sources_.find(src);
  if (!s) return false;
  if (!s->verified) {
    s->verified = true;
    s->proof = how;
    s->dirty = true;
    evaluate(*s, src, now_us_);
  }
  return true;
}

size_t Detector::memory_bound() const {
  return sources_.max_bytes() + cfg_.max_sources * ContactSet::kBloomBytes + pending_.max_bytes() +
         flows_.max_bytes() + cfg_.max_sources * sizeof(IpAddress);
}

DetectStats Detector::stats() const {
  DetectStats s = stats_;
  s.sources = sources_.size();
  s.pending = pending_.size();
  return s;
}

void Detector::on_packet(const PacketEvent& ev) {
  ++stats_.events;
  if (ev.ts_us > now_us_) now_us_ = ev.ts_us;
  expire(now_us_);
  bool src_local = local_.contains(ev.src), dst_local = local_.contains(ev.dst);
  if (!src_local && dst_local) {
    // From outside in: the remote's probes, or (tracking local sources) answers to a local one's.
    if (!(cfg_.track_local && answer(ev))) inbound(ev, Direction::Inbound);
  } else if (src_local && !dst_local) {
    outbound(ev);
  } else if (src_local && dst_local && cfg_.track_local) {
    if (!answer(ev)) inbound(ev, Direction::Internal);
  } else {
    ++stats_.ignored;
  }
  if (now_us_ >= next_tick_us_) tick(now_us_);
}

void Detector::advance(int64_t now_us) {
  if (now_us > now_us_) now_us_ = now_us;
  expire(now_us_);
  if (now_us_ >= next_tick_us_) tick(now_us_);
}

void Detector::finish(int64_t now_us, bool resolve_pending) {
  if (now_us > now_us_) now_us_ = now_us;
  if (resolve_pending) {
    while (const uint64_t* k = pending_.oldest_key()) {
      Pending p = *pending_.oldest_value();
      pending_.erase(*k);
      if (p.state != kAwaitReply) continue;
      resolve(p, false, now_us_, true);
    }
  }
  // Close every open alert, oldest first.
  std::vector<IpAddress> open;
  open.swap(alerted_);
  for (const IpAddress& src : open) {
    SourceState* s = sources_.find(src);
    if (s && s->alerted) emit(*s, src, AlertEvent::End, now_us_);
  }
}

SourceState& Detector::source(const IpAddress& src, int64_t now) {
  auto [s, inserted] = sources_.find_or_insert(src, [this](const IpAddress& k, SourceState& v) {
    ++stats_.sources_evicted;
    if (v.alerted) {
      emit(v, k, AlertEvent::End, now_us_);
      auto it = std::find(alerted_.begin(), alerted_.end(), k);
      if (it != alerted_.end()) {
        *it = alerted_.back();
        alerted_.pop_back();
      }
    }
  });
  if (inserted) {
    s->first_seen_us = now;
    s->win_start_us = now;
    s->local = local_.contains(src);
  }
  s->last_seen_us = now;
  return *s;
}

Detector::Pending* Detector::add_pending(uint64_t key) {
  return pending_
      .find_or_insert(key,
                      [this](const uint64_t&, Pending& v) {
                        if (v.state == kAwaitReply) ++stats_.pending_dropped;
                      })
      .first;
}

bool Detector::contact(SourceState& s, const PacketEvent& ev, uint8_t proto, uint16_t port,
                       ProbeType type, Direction dir) {
  const IpAddress& dst = ev.dst;
  const int64_t now = ev.ts_us;
  ++stats_.probes;
  ++s.probes;
  if (dir == Direction::Internal) {
    ++s.internal_probes;
    ++stats_.local_probes;
  } else if (dir == Direction::Outbound) {
    ++s.outbound_probes;
    ++stats_.local_probes;
  }
  if (proto == kProtoTcp || proto == kProtoUdp) {
    // The latest probe, reversed: a challenge answers it (challenge.h).
    ProbeTuple& t = s.last_probe;
    t.present = true;
    t.local = dst;
    t.source_port = ev.sport;
    t.local_port = ev.dport;
    t.has_macs = ev.has_macs;
    t.source_mac = ev.src_mac;
    t.local_mac = ev.dst_mac;
  }
  ++s.by_type[static_cast<size_t>(type)];
  s.dirty = true;
  uint64_t dh = addr_hash(dst);
  uint64_t ck = mix(dh ^ kTagContact ^ (static_cast<uint64_t>(proto) << 16 | port));
  if (!s.seen.insert(ck)) return false;
  ++s.attempts;
  if (now - s.win_start_us >= cfg_.window_us) {
    s.win_start_us = now;
    s.win_port_weight = 0;
    s.win_hosts = 0;
  }
  if (proto == kProtoTcp || proto == kProtoUdp) {
    if (s.seen.insert(mix(kTagPort ^ (static_cast<uint64_t>(proto) << 16 | port)))) {
      ++s.ports;
      if (s.n_sample_ports < SourceState::kSamplePorts) s.sample_ports[s.n_sample_ports++] = port;
      s.win_port_weight += port < 1024 ? 3 : 1;
    }
  }
  if (s.seen.insert(mix(dh ^ kTagHost))) {
    ++s.hosts;
    if (s.n_sample_hosts < SourceState::kSampleHosts) s.sample_hosts[s.n_sample_hosts++] = dst;
    ++s.win_hosts;
  }
  return true;
}

void Detector::resolve(const Pending& p, bool success, int64_t now, bool timed_out) {
  SourceState* s = sources_.find(p.src);
  if (!s) return;
  if (p.type == ProbeType::Udp) {
    if (success)
      ++s->udp_answered;
    else if (timed_out)
      ++s->udp_unanswered;
  }
  outcome(*s, p.src, success, now, p.worm);
}

void Detector::outcome(SourceState& s, const IpAddress& src, bool success, int64_t now, bool worm) {
  if (success)
    ++s.successes;
  else
    ++s.failures;
  if (worm && !success) ++s.worm_failures;
  if (s.walk.observe(s.local ? local_model_ : model_, success) == TrwVerdict::Scanner)
    s.detected_by |= rule::kTrw;
  s.dirty = true;
  if (!success && suspect_ && s.failures == suspect_after_ && !s.alerted && !s.verified &&
      s.last_probe.present)
    suspect_(snapshot(s, src, AlertEvent::New));
  evaluate(s, src, now);
}

void Detector::fingerprint(SourceState& s, const PacketEvent& ev) {
  ++s.fp_probes;
  if (ev.src.is_v4()) {
    if (ev.ip_id == 54321) ++s.fp_zmap;
    uint32_t m = (ev.dst.v4_value() ^ ev.dport ^ ev.seq) & 0xFFFF;
    if (ev.ip_id == m) ++s.fp_masscan;
  }
  // nmap's raw probes: window 1024-4096, a lone MSS 1460 on SYNs, and over IPv4 a random TTL of
  // 37-59 (so never above 59 on arrival). glasshouse scan copies the window and the option but
  // sends TTL 64: above 59 on arrival within five hops. (nmap's IPv6 probes leave with the
  // kernel's hop limit, so over IPv6 the layout alone says nmap.)
  bool nmap_window = ev.window != 0 && ev.window % 1024 == 0 && ev.window <= 4096;
  bool nmap_options = ev.has(tcpf::kSyn) ? (ev.options.count == 1 && ev.options.mss == 1460)
                                         : ev.options.count == 0;
  if (nmap_window && nmap_options) {
    if (ev.src.is_v6() || ev.ttl <= 59)
      ++s.fp_nmap;
    else if (ev.ttl <= 64 && ev.window == 1024 && ev.has(tcpf::kSyn))
      ++s.fp_glasshouse;
  }
}

void Detector::inbound(const PacketEvent& ev, Direction dir) {
  const int64_t now = ev.ts_us;
  if (ev.is_tcp()) {
    uint8_t f = ev.tcp_flags;
    if ((f & tcpf::kSyn) && !(f & tcpf::kAck)) {
      SourceState& s = source(ev.src, now);
      fingerprint(s, ev);
      bool os_stack = ev.options.sack_permitted || ev.options.timestamps || ev.options.window_scale;
      bool raw_tool =
          ev.src.is_v4() &&
          (ev.ip_id == 54321 || ev.ip_id == ((ev.dst.v4_value() ^ ev.dport ^ ev.seq) & 0xFFFF));
      ProbeType type = os_stack && !raw_tool ? ProbeType::Connect : ProbeType::Syn;
      if (contact(s, ev, kProtoTcp, ev.dport, type, dir)) {
        Pending* p = add_pending(flow_key(ev.src, ev.sport, ev.dst, ev.dport, kProtoTcp));
        *p = Pending{now, ev.src, 0, kAwaitReply, type, s.local && is_worm_port(ev.dport)};
      }
      evaluate(s, ev.src, now);
      return;
    }
    if ((f & tcpf::kSyn) && (f & tcpf::kAck)) {
      // A SYN-ACK to us: the answer to a local client, or backscatter of a flood spoofing us.
      // Remember it, so the RST our stack answers it with is not taken for an ACK probe's reply.
      *flows_.find_or_insert(flow_key(ev.src, ev.sport, ev.dst, ev.dport, kProtoTcp)).first = now;
      return;
    }
    if (!(f & (tcpf::kSyn | tcpf::kRst | tcpf::kAck))) {
      ProbeType type =
          f == 0 ? ProbeType::Null
          : (f & (tcpf::kFin | tcpf::kPsh | tcpf::kUrg)) == (tcpf::kFin | tcpf::kPsh | tcpf::kUrg)
              ? ProbeType::Xmas
              : ProbeType::Fin;
      SourceState& s = source(ev.src, now);
      fingerprint(s, ev);
      if (contact(s, ev, kProtoTcp, ev.dport, type, dir)) {
        ++s.odd_flags;
        outcome(s, ev.src, false, now, s.local && is_worm_port(ev.dport));
      }
      evaluate(s, ev.src, now);
      return;
    }
    // ACK or RST from the prober: does it close a handshake we answered?
    uint64_t k = flow_key(ev.src, ev.sport, ev.dst, ev.dport, kProtoTcp);
    Pending* p = pending_.find(k);
    if (!p || p->state != kAwaitAck) return;
    if ((f & tcpf::kAck) && ev.ack - (p->isn + 1) < kAckWindow) {
      if (SourceState* s = sources_.find(ev.src)) {
        if (!s->verified) {
          s->verified = true;
          s->proof = Proof::Handshake;
        }
        evaluate(*s, ev.src, now);
      }
      pending_.erase(k);
    } else if (f & tcpf::kRst) {
      pending_.erase(k);  // half-open: the remote reset our SYN-ACK (a SYN scanner's habit)
    }
    return;
  }
  if (ev.is_udp()) {
    uint64_t k = flow_key(ev.src, ev.sport, ev.dst, ev.dport, kProtoUdp);
    if (int64_t* seen = flows_.find(k)) {  // the answer to a flow the other side started
      *seen = now;
      flows_.touch(k);
      return;
    }
    // A datagram from a well-known port to an ephemeral one is an answer whose question we did
    // not see (the capture started after it). Scanners can choose such a source port (nmap -g 53);
    // the walk and the other rules still see the rest of their probes.
    if (ev.sport != 0 && ev.sport < 1024 && ev.dport >= 1024) return;
    // Tracking local sources, the receiver's answers on this flow are not its own probes.
    if (cfg_.track_local && local_.contains(ev.dst))
      *flows_.find_or_insert(flow_key(ev.dst, ev.dport, ev.src, ev.sport, kProtoUdp)).first = now;
    SourceState& s = source(ev.src, now);
    if (contact(s, ev, kProtoUdp, ev.dport, ProbeType::Udp, dir)) {
      *add_pending(k) =
          Pending{now, ev.src, 0, kAwaitReply, ProbeType::Udp, s.local && is_worm_port(ev.dport)};
    }
    evaluate(s, ev.src, now);
    return;
  }
  if (is_echo_request(ev)) {
    SourceState& s = source(ev.src, now);
    if (contact(s, ev, ev.proto, 0, ProbeType::Ping, dir))
      *add_pending(flow_key(ev.src, ev.icmp_id, ev.dst, 0, ev.proto)) =
          Pending{now, ev.src, 0, kAwaitReply, ProbeType::Ping, false};
    evaluate(s, ev.src, now);
  }
}

bool Detector::answer(const PacketEvent& ev) {
  const int64_t now = ev.ts_us;
  const IpAddress& prober = ev.dst;
  if (ev.is_tcp()) {
    uint8_t f = ev.tcp_flags;
    uint64_t k = flow_key(prober, ev.dport, ev.src, ev.sport, kProtoTcp);
    if ((f & tcpf::kSyn) && (f & tcpf::kAck)) {
      Pending* p = pending_.find(k);
      if (!p || p->state != kAwaitReply) return false;
      Pending copy = *p;
      p->state = kAwaitAck;
      p->isn = ev.seq;
      p->ts_us = now;
      pending_.touch(k);
      ++stats_.replies;
      resolve(copy, true, now, false);
      return true;
    }
    if ((f & tcpf::kRst) && (f & tcpf::kAck)) {
      Pending* p = pending_.find(k);
      if (!p || p->state != kAwaitReply) return false;
      Pending copy = *p;
      pending_.erase(k);
      ++stats_.replies;
      resolve(copy, false, now, false);
      return true;
    }
    return false;
  }
  if (ev.is_udp()) {
    uint64_t k = flow_key(prober, ev.dport, ev.src, ev.sport, kProtoUdp);
    Pending* p = pending_.find(k);
    if (!p || p->state != kAwaitReply) return false;
    Pending copy = *p;
    pending_.erase(k);
    ++stats_.replies;
    resolve(copy, true, now, false);
    return true;
  }
  if (is_echo_reply(ev)) {
    uint64_t k = flow_key(prober, ev.icmp_id, ev.src, 0, ev.proto);
    Pending* p = pending_.find(k);
    if (!p || p->state != kAwaitReply) return false;
    Pending copy = *p;
    pending_.erase(k);
    ++stats_.replies;
    resolve(copy, true, now, false);
    return true;
  }
  if (is_unreachable(ev) && ev.quote.present) {
    // The quoted packet is the prober's probe: source = the prober, destination = the probed
    // address (not necessarily the one sending the error: a router answers for its hosts).
    const IcmpQuote& q = ev.quote;
    uint64_t k = flow_key(q.src, q.sport, q.dst, q.dport, q.proto);
    Pending* p = pending_.find(k);
    if (!p || p->state != kAwaitReply) return false;
    Pending copy = *p;
    pending_.erase(k);
    ++stats_.replies;
    if (SourceState* s = sources_.find(copy.src))
      if (q.proto == kProtoUdp && is_port_unreachable(ev)) ++s->udp_refused;
    resolve(copy, false, now, false);
    return true;
  }
  return false;
}

void Detector::outbound(const PacketEvent& ev) {
  const int64_t now = ev.ts_us;
  const IpAddress& remote = ev.dst;
  if (answer(ev)) return;
  if (ev.is_tcp()) {
    uint8_t f = ev.tcp_flags;
    uint64_t k = flow_key(remote, ev.dport, ev.src, ev.sport, kProtoTcp);
    if ((f & tcpf::kRst) && !(f & tcpf::kAck)) {
      // A RST without ACK answers a segment that carried an ACK for no connection: an ACK probe,
      // unless it answers a SYN-ACK the remote sent us (backscatter), a handshake in progress, or
      // a late segment of a connection a local client closed (its port is an ephemeral one:
      // Linux's default range; ACK scans aim at service ports).
      if (pending_.find(k) || flows_.find(k)) return;
      if (ev.sport >= kEphemeralLow && ev.sport <= kEphemeralHigh) return;
      SourceState& s = source(remote, now);
      ++stats_.replies;
      PacketEvent probe = ev;  // the ACK probe it answers, as the remote sent it
      probe.src = ev.dst;
      probe.dst = ev.src;
      probe.sport = ev.dport;
      probe.dport = ev.sport;
      std::swap(probe.src_mac, probe.dst_mac);
      if (contact(s, probe, kProtoTcp, ev.sport, ProbeType::Ack, Direction::Inbound)) {
        ++s.odd_flags;
        outcome(s, remote, false, now);
      }
      evaluate(s, remote, now);
      return;
    }
    // A local source's probes: only segments that open or probe (SYN without ACK, FIN/NULL/
    // Xmas). Its SYN-ACKs, ACKs and RSTs to a remote host answer or carry the remote's own
    // connections (the per-packet cost of the common case stays that of remote tracking).
    bool probe = !(f & (tcpf::kAck | tcpf::kRst));
    if (cfg_.track_local && probe) inbound(ev, Direction::Outbound);
    return;
  }
  if (ev.is_udp()) {
    // A flow a local host started: the remote's answers on it are not probes.
    *flows_.find_or_insert(flow_key(remote, ev.dport, ev.src, ev.sport, kProtoUdp)).first = now;
    if (cfg_.track_local) inbound(ev, Direction::Outbound);
    return;
  }
  if (cfg_.track_local && is_echo_request(ev)) inbound(ev, Direction::Outbound);
}

void Detector::evaluate(SourceState& s, const IpAddress& src, int64_t now) {
  // Local sources need local_factor times the evidence (the walk's share is in local_model_).
  double f = s.local ? cfg_.local_factor : 1.0;
  auto reached = [f](uint32_t count, uint32_t threshold) {
    return static_cast<double>(count) >= static_cast<double>(threshold) * f;
  };
  if (reached(s.win_port_weight, cfg_.vertical_threshold)) s.detected_by |= rule::kVertical;
  if (reached(s.win_hosts, cfg_.horizontal_threshold)) s.detected_by |= rule::kHorizontal;
  if (reached(s.odd_flags, cfg_.flag_threshold)) s.detected_by |= rule::kFlags;
  if (reached(s.udp_refused, cfg_.flag_threshold)) s.detected_by |= rule::kUdpRefused;
  if (s.local && s.worm_failures >= cfg_.worm_threshold) s.detected_by |= rule::kWorm;
  if (!s.detected_by) return;
  if (!s.alerted) {
    s.alerted = true;
    s.detected_us = now;
    alerted_.push_back(src);
    ++stats_.alerts;
    emit(s, src, AlertEvent::New, now);
    return;
  }
  // New evidence that changes what can be done about the source is reported at once.
  if (s.detected_by != s.reported_rules || s.verified != s.reported_verified)
    emit(s, src, AlertEvent::Update, now);
}

Alert Detector::snapshot(const SourceState& s, const IpAddress& src, AlertEvent e) const {
  Alert a;
  a.id = fmt::format("{}@{}.{:06}", src.to_string(), s.first_seen_us / 1000000,
                     s.first_seen_us % 1000000);
  a.event = e;
  a.src = src;
  a.by_type = s.by_type;
  // The dominant type; pings count only when nothing else was sent.
  size_t best = static_cast<size_t>(ProbeType::Ping);
  for (size_t i = 0; i < kProbeTypeCount; ++i) {
    if (i == static_cast<size_t>(ProbeType::Ping)) continue;
    if (s.by_type[i] > 0 &&
        (best == static_cast<size_t>(ProbeType::Ping) || s.by_type[i] > s.by_type[best]))
      best = i;
  }
  a.type = static_cast<ProbeType>(best);
  if (s.hosts <= 1)
    a.shape = Shape::Vertical;
  else if (s.ports <= 1)
    a.shape = Shape::Horizontal;
  else if (s.ports >= 8 * s.hosts)
    a.shape = Shape::Vertical;
  else if (s.hosts >= 8 * s.ports)
    a.shape = Shape::Horizontal;
  else
    a.shape = Shape::Block;
  a.first_seen_us = s.first_seen_us;
  a.last_seen_us = s.last_seen_us;
  a.detected_us = s.detected_us;
  a.probes = s.probes;
  a.attempts = s.attempts;
  a.failures = s.failures;
  a.successes = s.successes;
  a.ports = s.ports;
  a.hosts = s.hosts;
  a.sample_ports.assign(s.sample_ports.begin(), s.sample_ports.begin() + s.n_sample_ports);
  std::sort(a.sample_ports.begin(), a.sample_ports.end());
  a.sample_hosts.assign(s.sample_hosts.begin(), s.sample_hosts.begin() + s.n_sample_hosts);
  a.score = s.walk.ratio();
  a.detected_by = s.detected_by;
  a.tool = guess_tool(s);
  a.verified = s.verified;
  a.proof = s.proof;
  a.last_probe = s.last_probe;
  a.direction = !s.local                                 ? Direction::Inbound
                : s.internal_probes >= s.outbound_probes ? Direction::Internal
                                                         : Direction::Outbound;
  a.udp_answered = s.udp_answered;
  a.udp_refused = s.udp_refused;
  a.udp_unanswered = s.udp_unanswered;
  return a;
}

void Detector::emit(SourceState& s, const IpAddress& src, AlertEvent e, int64_t now) {
  if (e == AlertEvent::Update) ++stats_.updates;
  s.dirty = false;
  s.last_emit_us = now;
  s.reported_rules = s.detected_by;
  s.reported_verified = s.verified;
  if (e == AlertEvent::End) s.alerted = false;
  if (listener_) listener_(snapshot(s, src, e));
}

void Detector::expire(int64_t now) {
  while (const uint64_t* k = pending_.oldest_key()) {
    Pending* p = pending_.oldest_value();
    if (p->ts_us + cfg_.reply_timeout_us > now) break;
    Pending copy = *p;
    pending_.erase(*k);
    if (copy.state != kAwaitReply) continue;  // a handshake the remote never completed
    resolve(copy, false, now, true);
  }
  while (const uint64_t* k = flows_.oldest_key()) {
    if (*flows_.oldest_value() + kFlowTtlUs > now) break;
    flows_.erase(*k);
  }
}

void Detector::tick(int64_t now) {
  next_tick_us_ = now + kTickUs;
  for (size_t i = 0; i < alerted_.size();) {
    IpAddress src = alerted_[i];
    SourceState* s = sources_.find(src);
    if (!s || !s->alerted) {
      alerted_[i] = alerted_.back();
      alerted_.pop_back();
      continue;
    }
    if (now - s->last_seen_us >= cfg_.idle_end_us) {
      emit(*s, src, AlertEvent::End, now);
      sources_.erase(src);
      alerted_[i] = alerted_.back();
      alerted_.pop_back();
      continue;
    }
    if (s->dirty && now - s->last_emit_us >= cfg_.update_interval_us)
      emit(*s, src, AlertEvent::Update, now);
    ++i;
  }
}

}  // namespace gh::detect
