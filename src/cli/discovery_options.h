// The host-discovery part of `glasshouse scan`'s command line (nmap's -sn, -Pn, -P*,
// --send-ip), kept apart from scan_options.cpp so that its rules live in one place.
//   normalize_discovery_arg()   called by normalize_nmap_args for each single-dash argument:
//                               the long form(s) to use instead, or nothing when it is not a
//                               discovery option; UsageError for an unknown -P flag.
//   add_discovery_options()     registers the long forms with CLI11.
//   finish_discovery_options()  fills ScanConfig::discovery (and no_ping) once parsing is done,
//                               and refuses contradictions (-sn with -Pn, -sn with -sS/-sT).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace gh {

struct ScanConfig;

struct DiscoveryArgs {
  bool ping_only = false, arp = false, echo = false, timestamp = false, mask = false;
  bool send_ip = false;
  std::vector<std::string> syn, ack, udp;  // one port list per -PS/-PA/-PU given
};

std::optional<std::vector<std::string>> normalize_discovery_arg(const std::string& arg);
void add_discovery_options(CLI::App& app, DiscoveryArgs& args);
// `port_scan_type_given`: -sS or -sT was on the command line.
void finish_discovery_options(const DiscoveryArgs& args, bool port_scan_type_given,
                              ScanConfig& config);

}  // namespace gh
