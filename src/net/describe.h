// One-line, tcpdump-like rendering of a parsed packet, for --dry-run and debugging:
//
//   198.18.0.1:40000 > 198.18.1.2:80 TCP [S] seq=305419896 win=1024 mss=1460 ttl=64
//   [2001:db8::2]:443 > [2001:db8::1]:40000 TCP [S.] seq=1 ack=305419897 win=65535 ttl=64
//   198.18.1.2:53 > 198.18.0.1:40000 UDP len=12 ttl=64
//   192.0.2.1 > 198.18.0.1 ICMP unreachable port [198.18.0.1:40000 > 198.18.1.2:80 TCP
//   seq=305419896] ttl=255 198.18.0.1 > 198.18.1.2 IPv4 proto=6 frag id=7 off=1480 ttl=64
//
// TCP flags use tcpdump's letters: F S R P . (ACK) U E W. IPv6 endpoints are bracketed. It
// allocates the returned string: not for the per-packet path of a full-rate scan.
#pragma once

#include <string>
#include <string_view>

#include "net/packet.h"

namespace gh::net {

std::string describe_packet(const ParsedPacket& p);

// tcpdump's flag letters for a TCP flags byte, e.g. "S." for SYN|ACK, "none" for 0.
std::string tcp_flags_string(uint8_t flags);

// "echo-request", "unreachable port", "time-exceeded ttl", ... or "type=T code=C".
std::string icmp_description(uint8_t ip_version, uint8_t type, uint8_t code);

}  // namespace gh::net
