#include "cli/discovery_options.h"

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "scan/config.h"
#include "scan/discovery_config.h"

namespace gh {

std::optional<std::vector<std::string>> normalize_discovery_arg(const std::string& a) {
  using V = std::vector<std::string>;
  if (a == "-sn") return V{"--ping-only"};
  if (a == "-sP") return V{"--ping-only"};  // nmap's old spelling
  if (a.rfind("-P", 0) != 0) return std::nullopt;
  if (a == "-Pn" || a == "-P0" || a == "-PN") return V{"--no-ping"};
  if (a == "-PR") return V{"--ping-arp"};
  if (a == "-PE") return V{"--ping-echo"};
  if (a == "-PP") return V{"--ping-timestamp"};
  if (a == "-PM") return V{"--ping-mask"};
  if (a.size() >= 3 && (a[2] == 'S' || a[2] == 'A' || a[2] == 'U')) {
    const char* name = a[2] == 'S' ? "--ping-syn=" : a[2] == 'A' ? "--ping-ack=" : "--ping-udp=";
    std::string ports = a.substr(3);
    if (ports.empty()) ports = a[2] == 'S' ? "443" : a[2] == 'A' ? "80" : "40125";
    return V{name + ports};
  }
  throw UsageError("unknown host discovery option " + a +
                   ": use -sn, -Pn, -PR, -PE, -PP, -PM, -PS[ports], -PA[ports] or -PU[ports]");
}

void add_discovery_options(CLI::App& app, DiscoveryArgs& d) {
  app.add_flag("--ping-only", d.ping_only, "-sn: discover hosts, scan no ports");
  app.add_flag("--ping-arp", d.arp, "-PR: ARP / IPv6 neighbor discovery ping (local network)");
  app.add_flag("--ping-echo", d.echo, "-PE: ICMP echo ping");
  app.add_flag("--ping-timestamp", d.timestamp, "-PP: ICMP timestamp ping");
  app.add_flag("--ping-mask", d.mask, "-PM: ICMP address mask ping");
  // One value per occurrence (-PS22 -PS80): a following target is not a port list.
  for (auto [name, to, help] :
       {std::tuple{"--ping-syn", &d.syn, "-PS[ports]: TCP SYN ping (default 443)"},
        std::tuple{"--ping-ack", &d.ack, "-PA[ports]: TCP ACK ping (default 80)"},
        std::tuple{"--ping-udp", &d.udp, "-PU[ports]: UDP ping (default 40125)"}})
    app.add_option(name, *to, help)
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--send-ip", d.send_ip, "Send IP probes, not ARP/ND, on the local network");
}

void finish_discovery_options(const DiscoveryArgs& d, bool port_scan_type_given, ScanConfig& c) {
  DiscoverySpec& s = c.discovery;
  s.ping_only = d.ping_only;
  s.arp = d.arp;
  s.echo = d.echo;
  s.timestamp = d.timestamp;
  s.mask = d.mask;
  s.send_ip = d.send_ip;
  auto add = [](std::vector<uint16_t>& to, const std::vector<std::string>& lists,
                const char* option) {
    for (const auto& l : lists)
      for (uint16_t p : parse_ping_ports(l, option)) to.push_back(p);
  };
  add(s.syn_ports, d.syn, "-PS");
  add(s.ack_ports, d.ack, "-PA");
  add(s.udp_ports, d.udp, "-PU");
  s.skip = c.no_ping;
  if (s.ping_only && s.skip)
    throw UsageError("-sn (ping scan only) and -Pn (no ping) contradict each other");
  if (s.ping_only && port_scan_type_given)
    throw UsageError("-sn scans no ports: it cannot be combined with -sS or -sT");
  if (s.skip && s.any_given())
    throw UsageError("-Pn skips host discovery: it cannot be combined with -PR/-PE/-PS/...");
}

}  // namespace gh
