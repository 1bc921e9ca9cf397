// Host discovery options (nmap's -sn, -Pn, -PR, -PE, -PP, -PM, -PS, -PA, -PU, --send-ip), as the
// CLI fills them (src/cli/discovery_options.cpp) and the discovery stage reads them
// (scan/discovery.h). Which probes actually go out also depends on privilege and on whether a
// target is on-link: plan_discovery() decides that, in one place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/address.h"

namespace gh {

struct DiscoverySpec {
  bool ping_only = false;  // -sn: discover hosts, scan no ports
  bool skip = false;       // -Pn: no discovery, every host is up
  bool send_ip = false;    // --send-ip: no ARP/NDP on on-link targets
  // The probe types the user asked for; all false and empty: nmap's default set.
  bool arp = false;                 // -PR
  bool echo = false;                // -PE
  bool timestamp = false;           // -PP
  bool mask = false;                // -PM
  std::vector<uint16_t> syn_ports;  // -PS[ports] (default 443)
  std::vector<uint16_t> ack_ports;  // -PA[ports] (default 80)
  std::vector<uint16_t> udp_ports;  // -PU[ports] (default 40125)
  bool any_given() const {
    return arp || echo || timestamp || mask || !syn_ports.empty() || !ack_ports.empty() ||
           !udp_ports.empty();
  }
};

// The probes one discovery run sends to a target, after the defaults, privilege and the on-link
// test were applied.
struct DiscoveryPlan {
  bool raw = true;    // raw packets (false: connect() pings through the kernel)
  bool arp = false;   // ARP (IPv4) / neighbor solicitation (IPv6): on-link targets only
  bool echo = false;  // ICMP / ICMPv6 echo
  bool timestamp = false;
  bool mask = false;
  std::vector<uint16_t> syn_ports, ack_ports, udp_ports;
  std::vector<uint16_t> connect_ports;  // unprivileged: connect() to these (80, 443 by default)
  std::vector<std::string> notes;       // said once on stderr ("-PR toward a routed target...")
};

// nmap's rules (man nmap, "Host Discovery"):
//  * on-link targets, privileged, no --send-ip: ARP/NDP only, whatever else was asked (nmap
//    prefers ARP on a LAN even with -PE/-PS...), unless only non-ARP probes were asked with
//    --send-ip;
//  * otherwise privileged: the probes asked for, or -PE -PS443 -PA80 -PP; -PR alone toward a
//    routed target gets a note and the default routed probes;
//  * unprivileged: connect() to the -PS/-PA ports if any were given, else to 80 and 443; the
//    ICMP/ARP/UDP probes cannot be sent and get a note.
DiscoveryPlan plan_discovery(const DiscoverySpec& spec, bool on_link, bool privileged);

// Parses the port list of -PS/-PA/-PU ("22,80,443", "1-1024", "80,8000-8010"). Throws UsageError
// naming the option on anything else (names, 0, > 65535, reversed ranges, empty items).
std::vector<uint16_t> parse_ping_ports(const std::string& text, const std::string& option);

}  // namespace gh
