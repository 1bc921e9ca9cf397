// What a scan found, independent of how it is printed. Probes produce these; sinks format them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

// ---- hosts -------------------------------------------------------------------------------------
// (The results branch's HostResult, taken as it is on that branch while it has not landed, so
// that there is one host record: the discovery stage fills it.)

// HostState (Down, Up) is in core/types.h (the probe modules' verdicts use it too).
std::string_view to_string(HostState s);  // "up", "down"

using MacBytes = std::array<uint8_t, 6>;  // the same type as net/headers.h's MacAddress
// "00:1A:2B:3C:4D:5E", upper case as nmap writes it.
std::string format_mac(const MacBytes& mac);

// A name of a host, with nmap's type: "user" (the target was given by this name), "PTR" (reverse
// DNS).
struct Hostname {
  std::string name;
  std::string type;
  friend bool operator==(const Hostname&, const Hostname&) = default;
};

// A host's verdict. `reason` uses nmap's host reasons: arp-response, nd-response, echo-reply,
// timestamp-reply, addressmask-reply, syn-ack, reset, conn-refused, port-unreach, udp-response,
// user-set (-Pn: assumed up), localhost-response; no-response for a host that is down.
struct HostResult {
  IpAddress addr;
  HostState state = HostState::Up;
  Reason reason = Reason::NoResponse;
  uint8_t reason_ttl = 0;       // TTL / hop limit of the reply that decided, 0 when none
  std::optional<MacBytes> mac;  // on-link hosts: the source MAC of their reply
  std::string vendor;           // the MAC's vendor (ieee-data), "" when unknown
  // Round trip of the reply that showed the host up (nmap's "Host is up (0.00042s latency)").
  std::optional<std::chrono::microseconds> latency;
  // nmap's <times>: smoothed round trip, its variation, the timeout they imply. Optional.
  std::optional<std::chrono::microseconds> srtt;
  std::optional<std::chrono::microseconds> rttvar;
  std::optional<std::chrono::microseconds> timeout;
  std::vector<Hostname> hostnames;
  WallClock::time_point seen;  // when the verdict was reached
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
