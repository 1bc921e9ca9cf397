// The alert model: what the detector reports about one scanning source, and its two renderings
// (a JSON Lines record for --alerts, a one-line human summary for stderr and syslog).
//
// Lifecycle: a source's scan raises one alert (event "new"), which later records update (event
// "update", same id: more probes, another detection rule, a tool guess, a block) and one record
// closes (event "end": the source went quiet, was evicted from the table, or the run ended).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"

namespace gh::detect {

// The kind of probe, from the packets' flags and the replies they drew.
enum class ProbeType : uint8_t { Syn, Connect, Fin, Null, Xmas, Ack, Udp, Ping };
inline constexpr size_t kProbeTypeCount = 8;
std::string_view to_string(ProbeType t);

// vertical: many ports on one host; horizontal: one port on many hosts; block: both.
enum class Shape : uint8_t { Vertical, Horizontal, Block };
std::string_view to_string(Shape s);

// The rules that fired, as bits of Alert::detected_by.
namespace rule {
inline constexpr uint8_t kTrw = 1;          // the random walk crossed eta1
inline constexpr uint8_t kVertical = 2;     // many new ports within --window
inline constexpr uint8_t kHorizontal = 4;   // many new hosts within --window
inline constexpr uint8_t kFlags = 8;        // FIN/NULL/Xmas probes, or lone ACKs that drew RSTs
inline constexpr uint8_t kUdpRefused = 16;  // UDP probes answered by ICMP port unreachable
inline constexpr uint8_t kWorm = 32;        // a local source: failed contacts on worm-list ports
}  // namespace rule
std::string rules_to_string(uint8_t bits, char sep);

enum class AlertEvent : uint8_t { New, Update, End };

// Where the source is: outside the protected networks scanning in (inbound), inside scanning its
// neighbours (internal), inside scanning out (outbound).
enum class Direction : uint8_t { Inbound, Internal, Outbound };
std::string_view to_string(Direction d);

// What proved that the source receives our packets (see README: "Blocking").
enum class Proof : uint8_t { None, Handshake, Challenge };
std::string_view to_string(Proof p);

// One probe of the source, reversed: where a challenge goes (challenge.h). Not serialised.
struct ProbeTuple {
  bool present = false;
  IpAddress local;  // the address it probed
  uint16_t source_port = 0, local_port = 0;
  bool has_macs = false;
  std::array<uint8_t, 6> source_mac{}, local_mac{};
};
std::string_view to_string(AlertEvent e);

struct ToolGuess {
  std::string name;      // "nmap", "masscan", "zmap"
  std::string evidence;  // what in the packets says so
};

struct Alert {
  std::string id;  // stable across the alert's records: "<src>@<first_seen seconds.micros>"
  AlertEvent event = AlertEvent::New;
  IpAddress src;
  ProbeType type = ProbeType::Syn;                  // the dominant probe type
  std::array<uint32_t, kProbeTypeCount> by_type{};  // probes of each type
  Shape shape = Shape::Vertical;
  int64_t first_seen_us = 0, last_seen_us = 0, detected_us = 0;
  uint32_t probes = 0;    // probe packets seen from the source
  uint32_t attempts = 0;  // first contacts (distinct host, protocol and port)
  uint32_t failures = 0, successes = 0;
  uint32_t ports = 0, hosts = 0;  // distinct counts (approximate beyond a few thousand)
  std::vector<uint16_t> sample_ports;
  std::vector<IpAddress> sample_hosts;
  double score = 1;         // the walk's likelihood ratio
  uint8_t detected_by = 0;  // rule:: bits
  std::optional<ToolGuess> tool;
  Direction direction = Direction::Inbound;
  // UDP probes by outcome: answered (open services), refused (ICMP port unreachable), unanswered.
  uint32_t udp_answered = 0, udp_refused = 0, udp_unanswered = 0;
  // The source showed it receives what we send (see README: blocking evidence), and how.
  bool verified = false;
  Proof proof = Proof::None;
  ProbeTuple last_probe;  // for a challenge
  // Filled by the responder (response.h) when --block is on: the last challenge's fate.
  std::string challenge;
  // Filled by whoever blocks, not by the detector.
  bool blocked = false;
  std::string block_note;  // why it was or was not blocked, when --block is on
  // Set (by watch.cpp, live) on the record that blocked the source: where the time from the
  // detecting probe to the block in effect went, in microseconds (-1: not measured, e.g. no
  // challenge for a handshake-proven source). JSON "block_latency_us".
  struct Latency {
    int64_t probe_wait = -1;     // detecting probe: kernel timestamp to handled in user space
    int64_t challenge_rtt = -1;  // challenge handed to the kernel to its answer's timestamp
    int64_t answer_wait = -1;    // the answer (or handshake proof): timestamp to handled
    int64_t nft = -1;            // the set-element add, to its acknowledgement
    int64_t total = -1;          // detecting probe's timestamp to the block in effect
  };
  std::optional<Latency> block_latency;
  // Filled by the authorization monitor (watch --owner-key: auth/watch_auth.h), not the
  // detector: "authorized", "replayed", "forged" or "violation"; empty when no tag was seen.
  std::string authorization;
  std::string engagement, authorized_by, contact, signer, auth_evidence, auth_counts;
};

// One JSON object, no trailing newline.
std::string to_json(const Alert& a);
// "ALERT 198.18.0.2: syn scan, vertical, 1000 probes to 1000 ports on 1 host (...)".
std::string to_text(const Alert& a);
// RFC 3339 UTC with microseconds.
std::string format_time(int64_t ts_us);

}  // namespace gh::detect
