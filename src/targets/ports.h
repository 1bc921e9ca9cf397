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
//
// Which protocols ports without a prefix (before any T:/U:) belong to: TCP (the default), UDP
// (-sU alone), or both (-sS -sU), as nmap applies -p to every scan type requested.
enum class PortProtocols : uint8_t { Tcp, Udp, Both };
PortList parse_port_spec(std::string_view spec, const ServiceTable& services,
                         PortProtocols unprefixed = PortProtocols::Tcp);

// The n most common TCP ports (for -F: n = 100; --top-ports N), from the service table.
// With PortProtocols::Udp or Both, the n most common UDP ports too (the table's UDP ranking).
PortList top_ports(size_t n, const ServiceTable& services,
                   PortProtocols protocols = PortProtocols::Tcp);

// The named set "worms": ports from the glossary of ports people and worms scan for.
const std::vector<uint16_t>& worm_ports();

}  // namespace gh
