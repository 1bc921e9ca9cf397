// The owner's side of announced scans: `glasshouse watch --owner-key KEY --scope SIGNED.toml`
// (docs/AUTHORIZATION.md).
//
// The owner gives watch the scopes it signed (files, or a directory of *.toml) and its public
// key(s). load_watched_scopes() refuses any scope that a given owner key does not verify, or
// that has no [announce] secret: watch trusts only what the owner signed. From each it derives
// the engagement's tag key (auth/announce.h).
//
// AuthMonitor sees every inbound TCP SYN and UDP datagram to a protected address, and the tagged
// host-discovery probes (ACK pings, ICMP echo requests) (PacketEvent, with the tag, a TCP option
// or a payload trailer, decoded by detect/decode.cpp), and judges its source (a UDP probe against
// the scope's UDP ports, a TCP one against its TCP ports; an echo request has no port):
//   authorized  a tag that verifies (its engagement, target, port, minute) for a probe
//               inside the signed scope: targets, ports, window, rate. Never blocked.
//   forged      a tag that does not verify: an unknown engagement handle (another key), or a
//               known handle with a wrong tag.
//   replayed    a tag that verified before for another probe (another source, target or port),
//               or a tag from outside its minute (kEpochSlack).
// The tag binds the target, port, protocol and minute, not the source address (auth/announce.h):
// a scan whose source a NAT rewrote is still authorized, with `translated` counted and said in
// the evidence (a lower confidence); the same tag from a second source is then replayed.
//   violation   a source with valid tags straying outside the signed scope: a target or port
//               it does not include, outside the window, above the signed max_rate. Also
//               untagged SYNs from an authorized source that stray (untagged UDP datagrams are
//               only counted: a datagram does not say who began its flow). The worst verdict.
// Probes without a tag from a source that showed valid ones are counted as "untagged" (a
// middlebox may strip the option): still the engagement, at a lower confidence.
//
// Each source's first verdict of each kind goes to the listener as an AuthRecord, with the
// evidence; detector alerts about the source are annotated through annotate(). A source's
// verdict only gets worse: authorized < replayed < forged < violation.
//
// Memory: at most kMaxSources sources (the table is cleared when full, like a restart) and
// kMaxTags remembered valid tags for the replay check (oldest forgotten first).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/announce.h"
#include "core/address.h"
#include "detect/alert.h"
#include "detect/event.h"
#include "detect/prefix_set.h"
#include "policy/scope.h"

namespace gh::auth {

struct WatchedEngagement {
  Scope scope;
  AnnounceKey key;
  std::string signer;      // the owner key's fingerprint
  std::string signer_key;  // its file
};

// UsageError (one line, exit 2) for an unreadable or unverified scope, a scope without
// [announce], a directory without *.toml, or no owner key.
std::vector<WatchedEngagement> load_watched_scopes(const std::vector<std::string>& scope_paths,
                                                   const std::vector<std::string>& owner_keys);

enum class AuthVerdict : uint8_t { None, Authorized, Replayed, Forged, Violation };
std::string_view to_string(AuthVerdict v);

struct AuthRecord {
  AuthVerdict verdict = AuthVerdict::None;
  int64_t ts_us = 0;
  IpAddress src, dst;
  uint16_t dport = 0;
  const WatchedEngagement* engagement = nullptr;  // null for an unknown handle
  std::string evidence;
  uint8_t proto = detect::kProtoTcp;  // of the probe: TCP or UDP
};
std::string to_json(const AuthRecord& r);
std::string to_text(const AuthRecord& r);

class AuthMonitor {
 public:
  static constexpr size_t kMaxSources = 65536;
  static constexpr size_t kMaxTags = 65536;
  using Listener = std::function<void(const AuthRecord&)>;

  AuthMonitor(std::vector<WatchedEngagement> engagements, detect::PrefixSet local,
              Listener listener);

  // Every decoded packet; only inbound SYNs (no ACK), UDP datagrams, and tagged TCP segments
  // and ICMP echo requests to a protected address are looked at.
  void on_packet(const detect::PacketEvent& ev);

  struct SourceView {
    AuthVerdict verdict = AuthVerdict::None;
    const WatchedEngagement* engagement = nullptr;
    std::string evidence;  // of the worst verdict
    uint64_t valid = 0, invalid = 0, stray = 0, untagged = 0;
    uint64_t translated = 0;  // valid tags made for another source address (NAT)
  };
  const SourceView* source(const IpAddress& src) const;
  // Fills the alert's authorization fields from its source's view (nothing when none).
  void annotate(detect::Alert& a) const;
  const std::vector<WatchedEngagement>& engagements() const { return engagements_; }

 private:
  struct Source {
    SourceView view;
    uint8_t reported = 0;  // bit per verdict already sent to the listener
    int64_t second = 0;    // rate: the current second, and probes in it
    uint64_t in_second = 0;
  };
  struct SeenTag {
    IpAddress src, dst;
    uint16_t dport = 0;
    uint8_t proto = 0;
    int64_t ts_us = 0;
  };
  void judge(Source& s, const detect::PacketEvent& ev, AuthVerdict v, const WatchedEngagement* e,
             std::string evidence);
  // Empty when the probe lies inside the engagement's scope, else why not.
  std::string strays(Source& s, const detect::PacketEvent& ev, const WatchedEngagement& e);
  void remember(uint64_t tag, const detect::PacketEvent& ev);

  std::vector<WatchedEngagement> engagements_;
  detect::PrefixSet local_;
  Listener listener_;
  std::unordered_map<IpAddress, Source, IpAddressHash> sources_;
  std::unordered_map<uint64_t, SeenTag> tags_;
  std::deque<uint64_t> tag_order_;
};

}  // namespace gh::auth
