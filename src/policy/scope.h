// The scope of authorization: what the owner of a network allowed an engagement to scan, when,
// and how hard. Read from a TOML file given with `glasshouse scan --scope FILE`:
//
//   [engagement]
//   id = "ACME-2026-11"
//   authorized_by = "Jane Roe, CISO, ACME Corp"
//   contact = "secops@acme.example"           # optional
//   not_before = 2026-11-01T00:00:00Z          # optional; an offset date-time or a date
//   not_after  = 2026-12-31T23:59:59Z          # optional; a bare date means its last second
//   [targets]
//   include = ["198.19.0.0/24", "2001:db8::/64"]
//   exclude = ["198.19.0.128/25"]              # optional
//   ports = "1-1024,8080"                      # optional; all ports when absent
//   [limits]                                   # optional
//   max_rate = 10000                           # packets per second, whole scan
//   max_host_rate = 500                        # packets per second to any one address
//   [announce]                                 # optional (scan --announce, docs/AUTHORIZATION.md)
//   secret = "<64 hex digits>"                 # per-engagement secret; `scope sign` adds one
//   uri = "https://acme.example/scan.txt"      # optional RFC 9511 probe description URI
//
// The file is strict: unknown tables or keys, host names (a scope names addresses, it does not
// depend on DNS), empty lists and non-positive limits are refused, each with the file and line.
// Enforcement happens twice: fit_to_scope() refuses (or clips) the parsed target set before
// anything is sent, and the probe gate (policy/probe_gate.h) refuses any probe outside it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/error.h"
#include "output/result.h"
#include "targets/ports.h"
#include "targets/target_set.h"

namespace gh {

// A scan that policy refuses (outside the scope, outside the window, a malformed scope file).
// A UsageError: one line on stderr, exit 2, and always a "refused" record in the audit log.
class ScopeRefused : public UsageError {
 public:
  using UsageError::UsageError;
};

struct Engagement {
  std::string id;
  std::string authorized_by;
  std::string contact;
  std::optional<WallClock::time_point> not_before;  // inclusive
  std::optional<WallClock::time_point> not_after;   // inclusive
};

struct ScopeLimits {
  double max_rate = 0;       // packets/s for the whole scan, 0 = no ceiling
  double max_host_rate = 0;  // packets/s to any one address, 0 = no ceiling
};

// [announce]: what `scan --announce` keys its probe tags with (auth/announce.h).
struct ScopeAnnounce {
  std::vector<uint8_t> secret;  // 32 bytes
  std::string uri;              // RFC 9511 probe description URI, optional
};

struct Scope {
  std::string source;  // file name, for messages
  std::string text;    // the file's bytes (load_scope), for the signature check (auth/)
  std::string sha256;  // of the file's bytes, for the audit log (empty when parsed from text)
  Engagement engagement;
  TargetSet authorized;           // include minus exclude: the addresses that may be probed
  std::optional<PortList> ports;  // nullopt: every port
  std::string ports_text;         // as written, for messages
  ScopeLimits limits;
  std::optional<ScopeAnnounce> announce;
};

// Parses a scope file's text. `source` names it in errors. Throws ScopeRefused naming
// "source:line" (and the column for TOML syntax errors) on anything malformed.
Scope parse_scope(std::string_view text, std::string_view source);
// Reads and parses FILE (ScopeRefused when it cannot be read). Fills Scope::sha256.
Scope load_scope(const std::string& path);

// Throws ScopeRefused naming the window when `now` is outside [not_before, not_after].
void check_window(const Scope& scope, WallClock::time_point now);

// "2026-11-01T00:00:00Z" (UTC, seconds).
std::string format_utc(WallClock::time_point t);
// The window as text: "2026-11-01T00:00:00Z to 2026-12-31T23:59:59Z" ("any time" when open).
std::string format_window(const Engagement& e);

// What of a requested scan lies outside a scope.
struct ScopeFit {
  TargetSet targets_out;       // requested addresses outside scope.authorized
  u128 targets_out_count = 0;  // exact (IPv6 counts do not fit in 64 bits)
  PortList ports_out;          // requested ports outside scope.ports
  bool inside() const { return targets_out_count == 0 && ports_out.empty(); }
};
ScopeFit fit_to_scope(const TargetSet& targets, const PortList& ports, const Scope& scope);

// The number of addresses in a set, exact. Saturates at 2^128 - 1.
u128 exact_size(const TargetSet& set);
// Decimal text of a 128-bit count, with thousands separators: "65,280".
std::string count_text(u128 n);
// The first `max_items` ranges of a set as text ("198.19.0.128", "198.19.1.0/24",
// "198.19.0.3-198.19.0.9"), comma separated, with ", ..." when there are more.
std::string first_ranges_text(const TargetSet& set, size_t max_items = 3);
// A port list as compact text: "22,80,8000-8100", UDP ports after "U:".
std::string ports_text(const PortList& ports);

// The effect of a scope on a scan's targets and ports:
//   - everything inside: nothing changes;
//   - something outside and !clip: throws ScopeRefused naming how many targets (and which
//     ports) are outside, and the first few;
//   - something outside and clip: targets and ports become the intersection, and `notes` say what
//     was left out (ScopeRefused when nothing is left).
// `ports_given`: the ports were named on the command line. When they were not (the default
// top-ports list), the default is clipped to the scope's ports without refusing.
void apply_scope(const Scope& scope, TargetSet& targets, PortList& ports, bool ports_given,
                 bool clip, std::vector<std::string>& notes);

}  // namespace gh
