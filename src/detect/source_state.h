// What the detector remembers about one remote source, in bounded memory.
//
// The largest part is the set of the source's first contacts (local host, protocol, port): up to
// kInline of them are kept exactly inline; past that, a 16 Kibit Bloom filter (2 KiB) allocated
// once. A Bloom false positive makes a new contact look already seen, so distinct counts become
// slight under-estimates past about a thousand contacts (3% at 2,000 keys); detection happens long
// before. The bound per source is sizeof(SourceState) + ContactSet::kBloomBytes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "core/address.h"
#include "detect/alert.h"
#include "detect/trw.h"

namespace gh::detect {

class ContactSet {
 public:
  static constexpr size_t kInline = 12;
  static constexpr size_t kBloomBits = 16384;
  static constexpr size_t kBloomBytes = kBloomBits / 8;

  // Adds a key (a 64-bit fingerprint); true when it was not there before.
  bool insert(uint64_t key);
  bool spilled() const { return bloom_ != nullptr; }

 private:
  bool bloom_insert(uint64_t key);
  std::array<uint64_t, kInline> inline_{};
  uint8_t n_ = 0;
  std::unique_ptr<uint64_t[]> bloom_;
};

struct SourceState {
  int64_t first_seen_us = 0, last_seen_us = 0;
  ContactSet seen;  // contact, host and port keys
  TrwWalk walk;
  uint32_t probes = 0, attempts = 0, successes = 0, failures = 0;
  uint32_t ports = 0, hosts = 0;
  std::array<uint32_t, kProbeTypeCount> by_type{};
  static constexpr size_t kSamplePorts = 12, kSampleHosts = 6;
  std::array<uint16_t, kSamplePorts> sample_ports{};
  std::array<IpAddress, kSampleHosts> sample_hosts{};
  uint8_t n_sample_ports = 0, n_sample_hosts = 0;

  // Fast heuristics over a fixed window that restarts when it runs out.
  int64_t win_start_us = 0;
  uint32_t win_port_weight = 0;  // scanlogd's weights: 3 per new privileged port, 1 per other
  uint32_t win_hosts = 0;        // new hosts in the window
  uint32_t odd_flags = 0;        // distinct contacts probed with FIN/NULL/Xmas or a lone ACK
  uint32_t udp_refused = 0;      // distinct UDP contacts answered by ICMP port unreachable

  // Tool fingerprints over the source's raw-looking TCP probes (no ACK flag).
  uint32_t fp_probes = 0, fp_zmap = 0, fp_masscan = 0, fp_nmap = 0, fp_glasshouse = 0;

  bool local = false;  // inside the protected networks: its own thresholds
  uint32_t internal_probes = 0, outbound_probes = 0;
  uint32_t worm_failures = 0;  // failed first contacts on worm-list ports (local sources)
  uint32_t udp_answered = 0, udp_unanswered = 0;  // UDP first contacts by outcome
  ProbeTuple last_probe;  // the latest TCP/UDP probe, reversed: where a challenge goes

  uint8_t detected_by = 0;     // rule:: bits that have fired
  uint8_t reported_rules = 0;  // bits already reported in a record
  bool alerted = false;
  bool dirty = false;     // changed since the last record
  bool verified = false;  // completed a handshake or answered a challenge: it receives what we send
  Proof proof = Proof::None;
  bool reported_verified = false;
  int64_t detected_us = 0, last_emit_us = 0;
};

}  // namespace gh::detect
