// nmap-style "normal" output, for stdout or an -oN file.
//
// stdout                                          -oN file
//   Starting Glasshouse 0.1.0 at 2026-11-22 23:04 UTC   # Glasshouse 0.1.0 scan initiated
//                                                        #   Sun Nov 22 23:04:01 2026 as: <argv>
//   Glasshouse scan report for 192.0.2.7            (same host blocks)
//   Host is up.
//   Not shown: 997 closed tcp ports (reset)
//   PORT   STATE SERVICE
//   22/tcp open  ssh
//   80/tcp open  http
//
//   Glasshouse done: 1 IP address (1 host up)       # Glasshouse done at Sun Nov 22 23:04:13 2026
//     scanned in 12.35 seconds                       #   -- 1 IP address (1 host up) scanned in ...
//
// Hosts are listed in address order: those that answered, or every host of the table when the
// scan had at most 256 targets. "Host is up." is printed only for hosts that answered.
//
// Hidden states follow nmap's PortList::isIgnoredState: a state other than open is summarized in
// the "Not shown" line, instead of listed, when more than 25 ports are in it (25 x (v + 1) with
// -v), except open|filtered with -vvv; with --open every state but open, open|filtered and
// unfiltered is hidden, and hosts with nothing left to list are left out. The Not shown line has
// one "N <state> <proto> port(s) (<reason>)" item per (state, protocol, reason), largest state
// first. When every port is hidden: "All N scanned ports on X are in ignored states." and the Not
// shown line. Ports without a stored verdict count as "filtered tcp (no-response)": the table
// derives them (ports per host - stored verdicts); the sink remembers which ports they were from
// port() (up to the hiding limit per host) so that a short list can still be printed.
//
// The REASON column ("syn-ack ttl 64") is shown with `reason` or verbosity >= 2, as nmap's
// --reason and -vv. With verbosity >= 1 on stdout, port() prints "Discovered open port 22/tcp on
// 192.0.2.7" as the open ports come in (nmap -v); everything else is printed by end().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/address.h"
#include "output/sink.h"

namespace gh {

struct TextOptions {
  bool file = false;           // -oN: "# ..." header and footer; false: stdout wording
  bool open_only = false;      // --open
  bool reason = false;         // --reason
  int verbosity = 0;           // -v count
  bool utc = false;            // dates in UTC instead of local time
  ServiceNameFn service_name;  // empty: default_service_names()
  // Receives the live "Discovered open port ..." lines (no newline), e.g. to print them above
  // the status line (StatusLine::print_above). Empty: written to the stream and flushed.
  std::function<void(std::string_view)> live_line;
  std::string name = "normal output";  // for error messages, e.g. the -oN path
  // The host's name from reverse DNS, "" when none (then only the address is printed), asked at
  // the end of the scan. Empty function: no names (-n).
  std::function<std::string(const IpAddress&)> host_name;
};

class TextSink : public Sink {
 public:
  // Writes to `out`, which must outlive the sink.
  explicit TextSink(std::ostream& out, TextOptions opts = {});
  // Writes to a stream the sink owns (an opened std::ofstream for -oN).
  explicit TextSink(std::unique_ptr<std::ostream> out, TextOptions opts = {});

  void begin(const ScanInfo& info) override;
  void port(const PortResult& r) override;
  // -sV: the table gains a VERSION column, and detail lines (TLS, HTTP, SSH) under the port.
  void service(const ServiceInfo& s) override;
  void end(const ResultTable& table, const ScanSummary& summary) override;
  void flush() override;
  // Discovery verdicts: kept for the up hosts ("Host is up (0.00042s latency).", "MAC Address:"
  // lines at the end); a down host (reported with -v only) is printed at once, as nmap -v does.
  void host(const HostResult& h) override;

  // One host's block as end() prints it, ending with its blank line; empty when the host is not
  // printed (--open and nothing to list).
  std::string host_report(const IpAddress& addr, const ResultTable::Host& host,
                          const ResultTable& table) const;

 private:
  struct NoResponse {
    std::vector<uint32_t> keys;  // proto << 16 | port
    bool overflow = false;       // more than the hiding limit: the state is hidden anyway
  };
  int max_per_state() const;
  bool list_all_hosts() const;
  std::string format_time(WallClock::time_point t, const char* fmt) const;
  void write(std::string_view text);
  [[noreturn]] void throw_write_error() const;

  std::unique_ptr<std::ostream> owned_;
  std::ostream& out_;
  TextOptions opts_;
  ScanInfo info_;
  // "Host is up, received arp-response (0.00042s latency)." for a host discovery found.
  // "Host is up (0.00042s latency)." with discovery's latency, else the host's first port
  // verdict's round trip (`port_rtt`), else "Host is up.".
  std::string up_line(const IpAddress& addr,
                      std::optional<std::chrono::microseconds> port_rtt = std::nullopt) const;
  std::string mac_line(const IpAddress& addr) const;  // "" when no MAC is known
  std::unordered_set<IpAddress, IpAddressHash> answered_;
  std::unordered_map<IpAddress, HostResult, IpAddressHash> discovered_;
  std::unordered_map<IpAddress, NoResponse, IpAddressHash> no_response_;
  std::map<std::pair<IpAddress, uint32_t>, ServiceInfo> services_;  // (addr, proto << 16 | port)
};

}  // namespace gh
