// What changed between two runs (`glasshouse diff A B`, and the report's "changes since the
// previous run").
//
// Hosts are keyed by address, ports by (address, protocol, port). For each key in either run:
//   host  appeared     up in B, absent or down in A      disappeared  the other way round
//   port  appeared     reported in B only (e.g. a port that opened: absent -> open)
//         disappeared  reported in A only (open -> absent: closed, filtered or not written)
//         state        reported in both, with another state (open -> closed)
//         service      same state, another service (name, product, version, extra info, CPE
//                      or TLS facts; not how it was found: method and confidence)
// A port that changed both state and service is a "state" change (its service is shown too).
// Changes are listed in address, protocol, port order. Identical runs give an empty diff.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/run_data.h"

namespace gh {

struct HostChange {
  enum class Kind { Appeared, Disappeared };
  Kind kind;
  HostRecord host;  // from the run it is in
};

struct PortChange {
  enum class Kind { Appeared, Disappeared, State, Service };
  Kind kind;
  std::optional<PortRecord> before;  // A's record, nullopt when Appeared
  std::optional<PortRecord> after;   // B's record, nullopt when Disappeared
};

struct RunDiff {
  RunMeta a, b;
  std::vector<HostChange> hosts;
  std::vector<PortChange> ports;
  bool empty() const { return hosts.empty() && ports.empty(); }
};

RunDiff diff_runs(const RunData& a, const RunData& b);

// "run 3" / "file scan.xml": how a side is named in the output.
std::string run_label(const RunMeta& m);
// One service in a line: "ssh OpenSSH 9.2p1 (protocol 2.0)", "" when nothing is known.
std::string service_text(const ServiceRecord& s);

// nmap ndiff-like text: a header line naming both sides, then "+"/"-"/"~" lines; "no changes"
// when empty.
std::string format_diff_text(const RunDiff& d);
// One JSON object: {"a":{...},"b":{...},"hosts":[{"change":"appeared","ip":...}],"ports":[{
// "change":"state","ip":...,"proto":"tcp","port":22,"before":{...},"after":{...}}],"summary":{
// "hosts_appeared":N,...}}.
std::string format_diff_json(const RunDiff& d);

const char* to_string(PortChange::Kind k);
const char* to_string(HostChange::Kind k);

}  // namespace gh
