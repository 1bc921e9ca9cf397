// Challenge before block: asking a detected source to show that it receives what we send to it.
//
// The mechanism (why it holds, what it cannot prove: src/detect/README.md, "Blocking"):
//   We send the source ONE TCP SYN-ACK, from the protected address and port it probed to the
//   port it probed from, whose acknowledgement number is a cookie: 32 bits of SipHash-2-4 under a
//   key drawn at start, over the four-tuple and a per-challenge counter. A TCP stack that did not
//   expect that SYN-ACK answers with a RST whose sequence number is that acknowledgement number
//   (RFC 9293, 3.10.7.1 / "reset generation"; Linux tcp_v4_send_reset and tcp_v6_send_reset).
//   The cookie travels only to the claimed address: a sender forging that address never sees it
//   and must guess 32 bits. A RST from the source's address and port to ours carrying the cookie
//   within `timeout`, seen once, coming (on Ethernet) from the same link address as the probes,
//   proves the source receives our packets at the place its probes come from.
//
// Who calls what:
//   - Responder (response.h) calls challenge() for a detected, unproven source it would block,
//     and (`early`) for a suspect: a source at its `early_after`-th failed first contact, before
//     any detection, so that the proof is usually in hand when the detector decides (README,
//     "Latency"). challenge() applies the budgets (per source: one per `interval`,
//     `max_per_source` in all, early or not; overall: a token bucket of `rate` per second, of
//     which an early challenge may only take tokens above `burst * early_reserve`, so that
//     suspects never spend what detected sources need) and hands the packet to the Sender, or
//     only counts it when `simulate` (reading a capture: nothing is ever sent from a pcap replay).
//   - The watch loop gives every decoded packet to on_packet() before the detector: an inbound RST
//     that answers a challenge yields the proven source (the caller then marks it verified in the
//     detector); our own challenge, seen leaving by the capture, is reported as Own so that the
//     detector never takes it for a reply of the local stack.
// Memory: one entry per challenged source in a BoundedTable of `max_sources` (LRU eviction).
// Threads: one thread; never throws on the packet path.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "core/address.h"
#include "detect/bounded_table.h"
#include "detect/event.h"
#include "net/siphash.h"

namespace gh::detect {

struct ChallengeConfig {
  int64_t timeout_us = 2'000'000;   // an answer later than this is late (not a proof)
  int64_t interval_us = 5'000'000;  // per source: at most one challenge per interval
  uint32_t max_per_source = 3;      // challenges per source in all, while its entry lives
  double rate = 100;                // challenges per second overall (token bucket)...
  double burst = 20;                // ...holding at most this many
  uint32_t max_wrong = 8;           // wrong answers after which a challenge is void
  uint32_t early_after = 0;         // challenge a suspect at this failed first contact (0: never)
  uint32_t prepare_after = 0;  // prepare a suspect's challenge at this failure (0: never; live)
  double early_reserve = 0.5;  // share of the bucket an early challenge must leave
  // Live, with the kernel's fast path (kernel_fastpath.h): recognise its challenges leaving.
  bool kernel_challenges = false;
  size_t max_sources = 32768;
  bool simulate = false;  // count, never send (-r)
};

// Where a challenge goes: the reverse of one probe the source sent.
struct ChallengeTarget {
  IpAddress source;  // the suspected scanner
  IpAddress local;   // the protected address it probed
  uint16_t source_port = 0, local_port = 0;
  bool has_macs = false;         // the probe came in an Ethernet frame:
  net::MacAddress source_mac{};  //   its source MAC (the scanner, or the last router)
  net::MacAddress local_mac{};   //   its destination MAC (ours, or the protected host's)
};

struct ChallengePacket {
  ChallengeTarget to;
  uint32_t seq = 0;  // our SYN-ACK's sequence number (random; not part of the proof)
  uint32_t ack = 0;  // the cookie
  // A prepared challenge (prepare()): the kernel already holds its answer's elements, so the
  // sender sends it without a transaction first.
  bool prepared = false;
};

enum class Issue : uint8_t {
  Sent,          // handed to the sender
  Simulated,     // counted only (simulate)
  TooSoon,       // the source was challenged less than `interval` ago
  SourceBudget,  // max_per_source reached
  GlobalBudget,  // the token bucket is empty
  NoTarget,      // no probe to answer (the source sent only ICMP)
  SendFailed,
};
std::string_view to_string(Issue i);

enum class Answer : uint8_t {
  None,       // not a packet about a challenge
  Own,        // our own challenge, seen by the capture
  Proven,     // the right cookie, in time, on the probes' path: the source is proven
  WrongSeq,   // the challenge's four-tuple with another sequence number
  Late,       // the right cookie after `timeout`
  Replayed,   // the right cookie again after it proved the source once
  WrongPath,  // the right cookie from another link address than the probes
  // The kernel's fast path challenging (kernel_fastpath.h): our refusal of the source's probe,
  // rewritten into a challenge whose cookie checks; now outstanding here too. The probe was
  // refused: the caller tells the detector so (kernel_refusal()).
  Kernel,
};
std::string_view to_string(Answer a);

struct ChallengeStats {
  uint64_t sent = 0, simulated = 0, proven = 0;
  uint64_t early = 0;                        // of sent + simulated: early challenges (to suspects)
  uint64_t kernel = 0;                       // of sent: the kernel's (kernel_fastpath.h)
  uint64_t prepared = 0, prepared_sent = 0;  // preparations, and challenges that used one
  uint64_t wrong = 0, late = 0, replayed = 0, wrong_path = 0;
  uint64_t limited_source = 0, limited_global = 0, send_errors = 0;
  size_t tracked = 0;
};

class Challenger {
 public:
  // Sends one challenge; returns 0 or an errno value. Not called when simulating.
  using Sender = std::function<int(const ChallengePacket&)>;

  Challenger(const ChallengeConfig& cfg, uint64_t k0, uint64_t k1, Sender send);

  Issue challenge(const ChallengeTarget& to, int64_t now_us, bool early = false);
  // A prepared challenge (README "Prepared challenges"): the cookie of the challenge a suspect
  // will get if it is detected, drawn now and sent nowhere, so that the kernel can hold its
  // answer's elements before the detection (blocker.h, prepare()). Nothing is sent, no budget
  // of challenges is spent and the source has no challenge out; preparations have their own
  // token bucket (`rate`, `burst`). None for a source with a challenge out or one sent within
  // `interval`, a spent per-source budget, no probe to answer, or when simulating. The next
  // challenge() within `timeout` of the preparation, not early, sends this packet (its target,
  // not the latest probe's; `prepared` set), within the usual budgets.
  std::optional<ChallengePacket> prepare(const ChallengeTarget& to, int64_t now_us);
  // Whether the source's next challenge() would send a prepared packet; forget() drops it (the
  // kernel refused its elements).
  bool prepared(const IpAddress& source, int64_t now_us);
  void forget_prepared(const IpAddress& source);
  // Whether the source has a challenge out, unanswered and not yet late.
  bool outstanding(const IpAddress& source, int64_t now_us);
  // ...and it is the kernel's (Answer::Kernel).
  bool kernel_outstanding(const IpAddress& source, int64_t now_us);
  // Whether the source's last challenge, answered or not, was the kernel's.
  bool kernel_challenged(const IpAddress& source);
  // `proven` is set to the source for Answer::Proven.
  Answer on_packet(const PacketEvent& ev, IpAddress& proven);

  ChallengeStats stats() const;
  void set_kernel_challenges(bool on) { cfg_.kernel_challenges = on; }
  size_t memory_bound() const { return table_.max_bytes(); }
  const ChallengeConfig& config() const { return cfg_; }
  // The cookie of the source's outstanding challenge (tests).
  std::optional<uint32_t> cookie_of(const IpAddress& source);
  // The 64-bit hash behind a kernel challenge's cookie (its low 32 bits) for the challenge
  // `to` with sequence number `seq`: the words of every challenge, the counter word
  // kKernelCounterBit | seq.
  uint64_t kernel_hash(const ChallengeTarget& to, uint32_t seq) const;

 private:
  struct Entry {
    ChallengeTarget to;
    int64_t sent_us = 0;
    uint32_t cookie = 0;
    uint32_t count = 0;  // challenges sent (or simulated)
    uint32_t wrong = 0;
    bool outstanding = false;   // a cookie is out and not yet answered
    bool answered = false;      // proved once with this cookie
    bool has_prepared = false;  // a prepared challenge waits (prepare())
    bool kernel = false;        // the last challenge was the kernel's (Answer::Kernel)
    int64_t prepared_us = 0;
    ChallengePacket prepared;
  };
  using Table = BoundedTable<IpAddress, Entry, IpAddressHash>;

  ChallengeConfig cfg_;
  net::SipHash24 hash_;
  Sender send_;
  Table table_;
  uint64_t counter_ = 0;
  double tokens_;
  int64_t refill_us_ = 0;
  double prep_tokens_;
  int64_t prep_refill_us_ = 0;
  uint64_t next_cookie(const ChallengeTarget& to);
  uint64_t hash_of(const ChallengeTarget& to, uint64_t counter) const;
  Answer on_kernel_challenge(const PacketEvent& ev);
  ChallengeStats stats_;
};

// The challenge as a frame: Ethernet (when `to.has_macs`) + IPv4/IPv6 + TCP SYN-ACK with an MSS
// option, from `to.local:local_port` to `to.source:source_port`. Returns the bytes written to
// `out` (at most kChallengeFrameMax), 0 if the addresses' families differ.
inline constexpr size_t kChallengeFrameMax = 14 + 40 + 24;
size_t build_challenge_frame(const ChallengePacket& p, uint8_t* out);

// The kernel's challenges (kernel_fastpath.h): the counter word of their cookie is this bit | the
// SYN-ACK's seq, and the seq's lowest bit says what the challenge replaced: 1 an ICMP port
// unreachable refusing a UDP probe, 0 a TCP RST+ACK.
inline constexpr uint64_t kKernelCounterBit = 1ull << 63;
// The refusal a kernel challenge (`challenge`, an outbound SYN-ACK that Challenger::on_packet
// answered Kernel for) replaced, for the detector.
PacketEvent kernel_refusal(const PacketEvent& challenge);

}  // namespace gh::detect
