// One run's results as the history features see them: what `glasshouse history`, `diff`,
// `report` and `merge` work on, whether it came from the store (store/store.h) or from a result
// file (history/result_files.h: our JSON Lines, nmap XML from us or from nmap).
//
// These are plain values, filled once and then only read. Ports are keyed by (address, protocol,
// port); a RunData holds at most one record per key (the readers and the store guarantee it).
// Only what the run reported is here: a port missing from `ports` was not reported (filtered or
// not written, depending on the run's --show), which the diff says as "absent".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace gh {

// Facts about one run (the `runs` table; a result file's header and summary).
struct RunMeta {
  int64_t id = 0;          // the store's run id; 0 for a result file
  std::string source;      // "db" or the file it was read from
  std::string audit_run;   // the audit log's run id, "" when unknown
  std::string start;       // RFC 3339 UTC, "" when unknown
  std::string end;         // "" while running (or never ended)
  std::string command;     // the command line
  std::string engagement;  // engagement id from --scope, "" when none
  // Every scan type of the run in stage order ({"syn", "udp"} for -sS -sU; nmap's names for
  // nmap's XML), and the first of them (the TCP one beside -sU), as records that name one type
  // (older files and databases) give it. set_scan_types() fills both; every reader uses it.
  std::string scan_type;
  std::vector<std::string> scan_types;
  std::string scanner;      // "glasshouse" or "nmap"
  uint64_t targets = 0;     // addresses in the target set
  uint64_t ports = 0;       // ports per address
  std::string targets_key;  // what was scanned (targets and ports), to find earlier runs of it
  uint32_t shard = 0, shards = 1;
  std::string exit_reason;  // "done", "interrupted", an error text; "" while running
  uint64_t hosts_up = 0;
  uint64_t open_ports = 0;
  uint64_t probes_sent = 0;
};

struct HostRecord {
  std::string addr;    // canonical text form (IpAddress::to_string)
  std::string state;   // "up" or "down"
  std::string reason;  // nmap's reason ("syn-ack", "reset", "user-set"...), "" when unknown
  std::string mac, vendor;
  std::optional<double> latency;  // seconds
  std::string hostname;
};

struct ServiceRecord {
  std::string name;  // "ssh", "http", "" when unknown
  std::string product, version, extra_info;
  std::vector<std::string> cpe;
  std::string method;  // "table" (from the port number), "probed"
  int confidence = 0;  // 0..10, nmap's conf
  std::string tls;     // TLS facts as one line ("TLSv1.3 CN=example.org"), "" when none
  bool operator==(const ServiceRecord&) const = default;
};

struct PortRecord {
  std::string addr;
  std::string proto;  // "tcp" or "udp"
  uint16_t port = 0;
  std::string state;   // nmap's spelling: open, closed, filtered, open|filtered...
  std::string reason;  // syn-ack, reset, no-response...
  int ttl = -1;        // reply TTL, -1 when none
  std::string seen;    // RFC 3339 UTC, "" when unknown
  ServiceRecord service;

  auto key() const { return std::tie(addr, proto, port); }
};

struct RunData {
  RunMeta meta;
  std::vector<HostRecord> hosts;  // sorted by address (numerically: sort_by_address)
  std::vector<PortRecord> ports;  // sorted by address, then protocol (tcp first), then port
};

// Sets meta.scan_types to `types` (empty names dropped) and meta.scan_type to the first.
void set_scan_types(RunMeta& meta, std::vector<std::string> types);
// "syn+udp": a run's scan types joined in stage order, as the store's runs.scan_type, the
// history listing, the report and `audit show` spell them ("syn" for a run of one type).
std::string join_scan_types(const std::vector<std::string>& types);
// The inverse, tolerant of what older writers stored: "syn" is {"syn"}, "" is {}.
std::vector<std::string> split_scan_types(std::string_view text);
// meta.scan_types, or {meta.scan_type} when a writer filled only that (never empty unless both
// are).
std::vector<std::string> scan_types_of(const RunMeta& meta);

// Sorts hosts and ports into the documented order (addresses numerically, IPv4 before IPv6).
void sort_run(RunData& run);

// Numeric order of two address strings (IPv4 before IPv6; unparsable ones last, as text).
bool address_less(const std::string& a, const std::string& b);

}  // namespace gh
