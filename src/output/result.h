// What a scan found, independent of how it is printed. Probes produce these; sinks format them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/types.h"

namespace gh {

using WallClock = std::chrono::system_clock;

// One port's verdict. Produced once per (address, proto, port): the engine never repeats one.
struct PortResult {
  IpAddress addr;
  Protocol proto = Protocol::Tcp;
  uint16_t port = 0;
  PortState state = PortState::Filtered;
  Reason reason = Reason::NoResponse;
  uint8_t reply_ttl = 0;       // TTL / hop limit of the reply, 0 when none
  WallClock::time_point seen;  // when the verdict was reached
};

// One host's discovery verdict (nmap's "Host is up (0.00042s latency)." and "MAC Address:").
// Produced once per address by the discovery stage (scan/discovery.h) for every host found up,
// and for down hosts only when the user asked to see them (-v). Added by the discovery branch
// for issue 9 as the minimum the host lines need; the results branch owns the model.
struct HostResult {
  IpAddress addr;
  bool up = false;
  Reason reason = Reason::NoResponse;         // arp-response, echo-reply, syn-ack, ... no-response
  std::optional<std::array<uint8_t, 6>> mac;  // on a LAN: the host's MAC
  std::string vendor;                         // the MAC's vendor (IEEE registry), "" if unknown
  std::optional<double> latency;              // seconds from probe to reply
  uint8_t reply_ttl = 0;
  WallClock::time_point seen;
};

// Facts about the run that every output header or trailer may print.
struct ScanInfo {
  std::string command_line;  // the full argv, space separated
  std::string scan_type;     // "syn", "connect", "list"
  WallClock::time_point start;
  uint64_t targets = 0;       // addresses in the target set
  uint64_t ports = 0;         // ports per address (TCP + UDP)
  std::string engagement_id;  // from --scope, empty when none
};

struct ScanSummary {
  WallClock::time_point end;
  uint64_t hosts_up = 0;  // addresses that answered at least once
  uint64_t probes_sent = 0;
  uint64_t replies = 0;
  uint64_t open_ports = 0;
  bool interrupted = false;  // stopped by SIGINT/SIGTERM before the end
  std::string exit_reason;   // "done", "interrupted", or an error text
  // What the engine measured (-sS; scan/completeness.h): nullopt when it could not tell.
  uint64_t retries = 0;                // probes sent again
  uint32_t passes = 0;                 // 1 + retry passes
  std::optional<double> loss;          // share of round trips lost
  std::optional<double> completeness;  // estimated share of responsive ports found
};

}  // namespace gh
