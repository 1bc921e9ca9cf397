// Service probes and their match rules (-sV), from two databases combined into one ProbeDb:
//   ours, data/service-probes.toml (service/toml_probes.h), shipped in the repository;
//   nmap's nmap-service-probes, read from the user's system at run time when present
//   (service/nmap_probes.h; NPSL, never shipped).
// The model follows nmap's so that its file loads unchanged: a probe is a payload sent on a fresh
// connection (the NULL probe sends nothing and waits for a banner), with the ports it is likely
// for, its rarity (1 common .. 9 rare), how long to wait, fallbacks (other probes whose match
// rules also apply to its replies), and an ordered list of match rules. A rule is a PCRE2 regex
// over the raw reply bytes; the first hard rule that matches names the service and fills product,
// version, extra info, host name, OS, device type and CPEs from templates ($1, $P(1),
// $SUBST(1,"_","."), $I(1,">")). A soft rule names only the service and narrows the probes tried
// next to those that can say more about it.
//
// Combining (ProbeDb::merge): probes of the same name and protocol become one probe whose rules
// are ours first, then nmap's; ours keep their payload and settings. So on a tie, ours wins.
//
// Regexes are compiled on first use (nmap's file has ~12,000 of them; a scan needs a few hundred),
// with PCRE2's match and depth limits set so that no reply can make matching run away. Not
// thread-safe: one ProbeDb per thread (the -sV stage runs in one thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.h"

namespace gh {

enum class DbSource { Ours, Nmap };

// A compiled PCRE2 pattern (opaque; defined in probe_db.cpp).
class Regex;

struct MatchRule {
  std::string service;
  bool soft = false;
  std::string pattern;  // regex source
  bool caseless = false;
  bool dotall = false;
  // Templates (empty = not given).
  std::string product, version, info, hostname, ostype, devicetype;
  std::vector<std::string> cpe;
  DbSource source = DbSource::Ours;
  std::string where;  // "file:line", for error messages

  // Compiles the pattern if it is not yet. Returns false (and sets *error) when PCRE2 refuses it.
  bool compile(std::string* error) const;
  mutable std::shared_ptr<Regex> re;
  mutable bool broken = false;  // failed to compile once: never tried again
  mutable std::string error;    // why, when broken
};

using PortRanges = std::vector<std::pair<uint16_t, uint16_t>>;
// Parses nmap's port lists ("21,23,80-85"); throws UsageError naming `where` when malformed.
PortRanges parse_port_ranges(std::string_view text, const std::string& where);
bool in_ranges(const PortRanges& r, uint16_t port);

struct ServiceProbe {
  std::string name;
  Protocol proto = Protocol::Tcp;
  std::string payload;  // raw bytes; empty for the NULL probe
  PortRanges ports;     // ports it is likely for, in plain text
  PortRanges sslports;  // the same inside TLS
  int rarity = 5;       // 1..9; nmap's default for a probe without one is 5
  uint32_t totalwait_ms = 5000;
  uint32_t tcpwrapped_ms = 3000;
  std::vector<std::string> fallback;
  std::vector<MatchRule> matches;
  DbSource source = DbSource::Ours;

  bool is_null() const { return payload.empty() && name == "NULL"; }
};

// What a match produced, with the templates filled in.
struct ServiceMatch {
  std::string service;
  bool soft = false;
  std::string product, version, info, hostname, ostype, devicetype;
  std::vector<std::string> cpe;
  DbSource source = DbSource::Ours;
  std::string probe;  // name of the probe whose reply matched
};

class ProbeDb {
 public:
  std::vector<ServiceProbe>& probes() { return probes_; }
  const std::vector<ServiceProbe>& probes() const { return probes_; }
  const ServiceProbe* find(std::string_view name, Protocol proto) const;
  size_t rule_count() const;

  // Adds `other` (nmap's) after this database's (ours) content, combining same-named probes:
  // ours keep payload and settings, and their rules come first.
  void merge(ProbeDb other);

  // Matches a reply to `probe` against its rules, then its fallbacks' rules, then (TCP) the
  // NULL probe's. Returns the first hard match, else the first soft match, else nothing.
  // `soft_service` (non-empty) restricts hard matches to that service, as nmap does after a soft
  // match.
  std::optional<ServiceMatch> match(const ServiceProbe& probe, std::string_view reply,
                                    std::string_view soft_service = {}) const;

  // Whether `probe` (or its fallbacks) has a rule for `service`: after a soft match only such
  // probes are worth sending.
  bool can_identify(const ServiceProbe& probe, std::string_view service) const;

 private:
  std::vector<ServiceProbe> probes_;
};

// Fills a version template ("$1", "$P(2)", "$SUBST(1,\"_\",\".\")", "$I(1,\">\")") from the
// captured groups (groups[0] is the whole match). Unknown or malformed $ sequences are copied as
// they are. Exposed for the tests.
std::string expand_template(std::string_view tmpl, const std::vector<std::string_view>& groups);

// Makes bytes safe to print: printable ASCII kept, anything else as \xNN. At most `max` bytes in.
std::string printable(std::string_view bytes, size_t max = 256);

}  // namespace gh
