// The port-scan detector: PacketEvents in, Alerts out.
//
// Model. Addresses in `local` are protected; everything else is remote. Only packets that cross
// the boundary matter: inbound (remote -> local) packets are the remote's attempts, outbound
// (local -> remote) packets are the local side's replies, which tell whether an attempt failed.
//
//   inbound SYN (no ACK)          attempt, type syn or connect (connect: the options of an OS
//                                 stack, SACK/timestamps/window scale; raw scanners send MSS only)
//   inbound FIN, NULL, Xmas       attempt that fails at once: no connection starts that way
//   outbound RST without ACK      the local stack answering a lone ACK: an ACK probe, failed
//   inbound UDP (not a reply)     attempt, type udp
//   inbound ICMP echo request     attempt, type ping
//   outbound SYN-ACK, UDP, echo reply             -> the attempt succeeded
//   outbound RST+ACK, ICMP unreachable (quoted)   -> it failed
//   no reply within reply_timeout                 -> it failed
//
// Only a remote's first contact with a (local host, protocol, port) is fed to the random walk
// (src/detect/trw.h); repeats are counted as probes but not re-scored, so a busy legitimate
// client adds one success per service it uses. (The paper counts first contacts per host; per
// service is what makes a slow vertical scan of one host visible to the walk.)
//
// Beside the walk, fast heuristics fire on: weighted new ports within `window` (vertical, as
// scanlogd: 3 per privileged port, 1 per other, threshold 21), new hosts within `window`
// (horizontal), and `flag_threshold` distinct contacts probed with impossible flags or UDP
// probes refused with ICMP port unreachable.
//
// Time is the packets' own (capture timestamps), so a pcap replays exactly as it was captured;
// a live caller also calls advance() with the wall clock when no packet comes.
//
// Memory: two BoundedTables (sources, attempts awaiting replies) and a third of recent flows that
// are not probes: UDP flows a local host started (their answers are not probes) and SYN-ACKs sent
// to us (the RST our stack answers one with is not an ACK probe's reply). memory_bound() is the
// most they can hold.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "detect/alert.h"
#include "detect/bounded_table.h"
#include "detect/event.h"
#include "detect/prefix_set.h"
#include "detect/source_state.h"
#include "detect/trw.h"

namespace gh::detect {

struct DetectConfig {
  TrwParams trw;
  size_t max_sources = 32768;
  size_t max_pending = 131072;
  size_t max_flows = 65536;
  int64_t reply_timeout_us = 3'000'000;
  int64_t window_us = 3'000'000;
  uint32_t vertical_threshold = 21;
  uint32_t horizontal_threshold = 20;
  uint32_t flag_threshold = 3;
  int64_t update_interval_us = 10'000'000;  // at most one "update" record per source per interval
  int64_t idle_end_us = 600'000'000;        // an alerted source silent this long: "end" record
  // Sources inside the protected networks (scanning their neighbours or out): tracked with every
  // threshold (and the walk's log eta1) multiplied by local_factor, as Zeek's scan detection asks
  // ten times the evidence of local hosts. The worm rule fires for a local source after
  // worm_threshold failed first contacts on worm_ports (one port swept across neighbours).
  bool track_local = true;
  double local_factor = 10;
  uint32_t worm_threshold = 20;
  std::vector<uint16_t> worm_ports = default_worm_ports();
  static std::vector<uint16_t> default_worm_ports();
};

struct DetectStats {
  uint64_t events = 0;   // events given to on_packet()
  uint64_t ignored = 0;  // not crossing the local/remote boundary
  uint64_t probes = 0;
  uint64_t replies = 0;          // outbound packets that resolved an attempt
  uint64_t sources_evicted = 0;  // pushed out of a full source table
  uint64_t pending_dropped = 0;  // attempts pushed out of a full pending table before a verdict
  uint64_t local_probes = 0;     // probes from sources inside the protected networks
  uint64_t alerts = 0;           // "new" records
  uint64_t updates = 0;
  size_t sources = 0;  // tracked now
  size_t pending = 0;
};

class Detector {
 public:
  using Listener = std::function<void(const Alert&)>;

  Detector(const DetectConfig& cfg, PrefixSet local, Listener on_alert);

  void on_packet(const PacketEvent& ev);
  // Lets time pass without a packet: attempts time out, updates and "end" records go out.
  void advance(int64_t now_us);
  // End of input. resolve_pending: count attempts still awaiting a reply as failed (end of a pcap
  // file, whose capture ended after the replies would have come); then close every open alert.
  void finish(int64_t now_us, bool resolve_pending);

  // Suspects: `listener` gets a snapshot (event New, never written) of each source at its
  // `after`-th failed first contact while it is neither detected nor verified and has a TCP or
  // UDP probe to answer: where an early challenge goes (challenge.h). 0: never.
  void set_suspect_listener(Listener listener, uint32_t after) {
    suspect_ = std::move(listener);
    suspect_after_ = after;
  }

  // The source proved it receives our packets another way (an answered challenge: challenge.h).
  // Its next record says so at once. False if the source is not tracked (any more).
  bool mark_verified(const IpAddress& src, Proof how);

  DetectStats stats() const;
  // The most memory the tables can hold, in bytes (values' Bloom filters included).
  size_t memory_bound() const;
  const DetectConfig& config() const { return cfg_; }
  const PrefixSet& local() const { return local_; }

 private:
  struct Pending {
    int64_t ts_us = 0;
    IpAddress src;
    uint32_t isn = 0;   // our SYN-ACK's sequence number, in AwaitAck
    uint8_t state = 0;  // kAwaitReply, kAwaitAck
    ProbeType type = ProbeType::Syn;
    bool worm = false;  // a local source's contact on a worm-list port
  };
  struct U64Hash {
    size_t operator()(uint64_t k) const noexcept { return static_cast<size_t>(k); }
  };
  using SourceTable = BoundedTable<IpAddress, SourceState, IpAddressHash>;
  using PendingTable = BoundedTable<uint64_t, Pending, U64Hash>;
  using FlowTable = BoundedTable<uint64_t, int64_t, U64Hash>;

  // A packet from a tracked prober (remote, or local when track_local): its probes, the end of
  // its handshakes. `dir` is where the packet goes.
  void inbound(const PacketEvent& ev, Direction dir);
  // A packet from a local host to a remote one: answers to the remote's probes, lone RSTs.
  void outbound(const PacketEvent& ev);
  // A packet answering a probe of ev.dst (any direction). True when it resolved one.
  bool answer(const PacketEvent& ev);
  // The verdict on a pending attempt; timed_out: no answer came at all.
  void resolve(const Pending& p, bool success, int64_t now, bool timed_out);
  bool is_worm_port(uint16_t port) const { return (worm_bits_[port / 64] >> (port % 64)) & 1; }
  SourceState& source(const IpAddress& src, int64_t now);
  // A probe from `src` to (dst, proto, port). Returns true when it is a first contact.
  bool contact(SourceState& s, const PacketEvent& ev, uint8_t proto, uint16_t port, ProbeType type,
               Direction dir);
  Pending* add_pending(uint64_t key);
  void outcome(SourceState& s, const IpAddress& src, bool success, int64_t now, bool worm = false);
  void fingerprint(SourceState& s, const PacketEvent& ev);
  void evaluate(SourceState& s, const IpAddress& src, int64_t now);
  void emit(SourceState& s, const IpAddress& src, AlertEvent e, int64_t now);
  Alert snapshot(const SourceState& s, const IpAddress& src, AlertEvent e) const;
  void expire(int64_t now);
  void tick(int64_t now);

  DetectConfig cfg_;
  TrwModel model_, local_model_;
  PrefixSet local_;
  std::array<uint64_t, 1024> worm_bits_{};  // the worm ports, as a bitmap
  Listener listener_;
  Listener suspect_;
  uint32_t suspect_after_ = 0;
  SourceTable sources_;
  PendingTable pending_;
  FlowTable flows_;
  std::vector<IpAddress> alerted_;  // sources with an open alert
  int64_t now_us_ = 0;
  int64_t next_tick_us_ = 0;
  DetectStats stats_;
};

// The 64-bit keys of the tables, exposed for the tests.
uint64_t flow_key(const IpAddress& remote, uint16_t rport, const IpAddress& local, uint16_t lport,
                  uint8_t proto);

}  // namespace gh::detect
