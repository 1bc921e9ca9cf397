// The small vocabulary shared by every module: protocols, port states and nmap's reasons.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gh {

enum class Protocol : uint8_t { Tcp = 6, Udp = 17 };

// nmap's port states, with nmap's spelling from to_string().
enum class PortState : uint8_t { Open, Closed, Filtered, Unfiltered, OpenFiltered, ClosedFiltered };

// Why a port got its state, with nmap's spelling from to_string() ("syn-ack", "reset", ...).
enum class Reason : uint8_t {
  SynAck,           // open: SYN-ACK to our SYN
  Reset,            // closed: RST to our SYN
  ConnRefused,      // closed: connect() got ECONNREFUSED
  ConnAccepted,     // open: connect() succeeded ("syn-ack" in nmap's -sT output; see to_string)
  NoResponse,       // filtered: nothing after all retries
  HostUnreach,      // filtered: ICMP host unreachable
  NetUnreach,       // filtered: ICMP net unreachable
  ProtoUnreach,     // filtered: ICMP protocol unreachable
  PortUnreach,      // closed (UDP) / filtered (TCP): ICMP port unreachable
  AdminProhibited,  // filtered: ICMP communication administratively prohibited
  TimeExceeded,     // filtered: ICMP time exceeded
  UdpResponse,      // open: UDP reply
  // Host reasons (host discovery; nmap's spelling):
  ArpResponse,        // up: ARP reply
  NdResponse,         // up: IPv6 Neighbor Advertisement
  EchoReply,          // up: ICMP/ICMPv6 echo reply
  TimestampReply,     // up: ICMP timestamp reply
  AddressMaskReply,   // up: ICMP address mask reply
  LocalhostResponse,  // up: one of our own addresses
  UserSet,            // up: -Pn (no discovery)
};

// A host's verdict (host discovery; output/result.h HostResult), nmap's spelling from to_string().
enum class HostState : uint8_t { Down, Up };

std::string_view to_string(Protocol p);
std::string_view to_string(HostState s);
std::string_view to_string(PortState s);
std::string_view to_string(Reason r);
std::optional<Protocol> parse_protocol(std::string_view s);

}  // namespace gh
