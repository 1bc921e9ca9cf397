// Port lists: nmap's -p syntax, -F, --top-ports and named sets.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace gh {

class ServiceTable;

struct PortList {
  std::vector<uint16_t> tcp;  // sorted, unique
  std::vector<uint16_t> udp;  // sorted, unique
  size_t size() const { return tcp.size() + udp.size(); }
  bool empty() const { return tcp.empty() && udp.empty(); }
};

// Parses nmap's -p syntax:
//   22  22,80,443  1-1024  -  (all 1-65535)  1024-  (to 65535)  -100  (1 to 100)
//   http,ssh (service names, via the table; nmap also accepts wildcards like "http*")
//   T:22,80,U:53  (T: and U: switch the protocol for the items after them; default TCP)
//   worms  (the ports people and worms scan for: ../shared/seeds glossary, see ports.cpp)
// Port 0 is accepted only when written explicitly (as nmap does). Throws UsageError naming the bad
// item on anything malformed: empty items, letters in numbers, >65535, reversed ranges, unknown
// service names, unknown prefixes.
PortList parse_port_spec(std::string_view spec, const ServiceTable& services);

// The n most common TCP ports (for -F: n = 100; --top-ports N), from the service table.
PortList top_ports(size_t n, const ServiceTable& services);

// The named set "worms": ports from the glossary of ports people and worms scan for.
const std::vector<uint16_t>& worm_ports();

}  // namespace gh
