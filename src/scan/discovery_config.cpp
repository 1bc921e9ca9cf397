#include "scan/discovery_config.h"

#include <charconv>

#include "core/error.h"

namespace gh {

DiscoveryPlan plan_discovery(const DiscoverySpec& spec, bool on_link, bool privileged) {
  DiscoveryPlan p;
  if (!privileged) {
    p.raw = false;
    for (auto v : {&spec.syn_ports, &spec.ack_ports})
      p.connect_ports.insert(p.connect_ports.end(), v->begin(), v->end());
    if (p.connect_ports.empty()) p.connect_ports = {80, 443};
    if (spec.arp || spec.echo || spec.timestamp || spec.mask || !spec.udp_ports.empty())
      p.notes.push_back(
          "ARP, ICMP and UDP pings need raw sockets (root or CAP_NET_RAW): using connect() "
          "pings instead");
    return p;
  }
  if (on_link && !spec.send_ip) {
    p.arp = true;  // nmap: ARP/ND is used on a LAN whatever was asked
    return p;
  }
  const bool routed_probes_given = spec.echo || spec.timestamp || spec.mask ||
                                   !spec.syn_ports.empty() || !spec.ack_ports.empty() ||
                                   !spec.udp_ports.empty();
  if (spec.arp && !on_link)
    p.notes.push_back(
        "-PR (ARP ping) works on the local network only: the targets are routed, so " +
        std::string(routed_probes_given ? "the other probes asked for are sent"
                                        : "the default probes (-PE -PS443 -PA80 -PP) are sent"));
  if (spec.arp && on_link && spec.send_ip)
    p.notes.push_back("--send-ip turns -PR off: IP probes are sent instead");
  if (!routed_probes_given) {
    p.echo = p.timestamp = true;
    p.syn_ports = {443};
    p.ack_ports = {80};
    return p;
  }
  p.echo = spec.echo;
  p.timestamp = spec.timestamp;
  p.mask = spec.mask;
  p.syn_ports = spec.syn_ports;
  p.ack_ports = spec.ack_ports;
  p.udp_ports = spec.udp_ports;
  return p;
}

std::vector<uint16_t> parse_ping_ports(const std::string& text, const std::string& option) {
  auto bad = [&](const std::string& why) {
    return UsageError("invalid port list \"" + text + "\" for " + option + ": " + why);
  };
  auto number = [&](std::string_view s) {
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
      throw bad("\"" + std::string(s) + "\" is not a port number");
    if (v == 0 || v > 65535) throw bad(std::to_string(v) + " is not a port (1-65535)");
    return static_cast<uint16_t>(v);
  };
  std::vector<uint16_t> ports;
  std::string_view rest = text;
  if (rest.empty()) throw bad("empty");
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    if (item.empty()) throw bad("an empty item");
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      ports.push_back(number(item));
    } else {
      uint16_t lo = number(item.substr(0, dash)), hi = number(item.substr(dash + 1));
      if (lo > hi) throw bad("reversed range " + std::string(item));
      for (unsigned v = lo; v <= hi; ++v) ports.push_back(static_cast<uint16_t>(v));
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (ports.size() > 100) throw bad("at most 100 ports per ping type");
  return ports;
}

}  // namespace gh
