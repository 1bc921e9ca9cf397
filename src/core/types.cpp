#include "core/types.h"

namespace gh {

std::string_view to_string(Protocol p) {
  return p == Protocol::Tcp ? "tcp" : "udp";
}

std::string_view to_string(HostState s) {
  return s == HostState::Up ? "up" : "down";
}

std::string_view to_string(PortState s) {
  switch (s) {
    case PortState::Open:
      return "open";
    case PortState::Closed:
      return "closed";
    case PortState::Filtered:
      return "filtered";
    case PortState::Unfiltered:
      return "unfiltered";
    case PortState::OpenFiltered:
      return "open|filtered";
    case PortState::ClosedFiltered:
      return "closed|filtered";
  }
  return "unknown";
}

std::string_view to_string(Reason r) {
  switch (r) {
    case Reason::SynAck:
      return "syn-ack";
    case Reason::Reset:
      return "reset";
    case Reason::ConnRefused:
      return "conn-refused";
    case Reason::ConnAccepted:
      return "syn-ack";
    case Reason::NoResponse:
      return "no-response";
    case Reason::HostUnreach:
      return "host-unreach";
    case Reason::NetUnreach:
      return "net-unreach";
    case Reason::ProtoUnreach:
      return "proto-unreach";
    case Reason::PortUnreach:
      return "port-unreach";
    case Reason::AdminProhibited:
      return "admin-prohibited";
    case Reason::TimeExceeded:
      return "time-exceeded";
    case Reason::UdpResponse:
      return "udp-response";
    case Reason::ArpResponse:
      return "arp-response";
    case Reason::NdResponse:
      return "nd-response";
    case Reason::EchoReply:
      return "echo-reply";
    case Reason::TimestampReply:
      return "timestamp-reply";
    case Reason::AddressMaskReply:
      return "addressmask-reply";
    case Reason::LocalhostResponse:
      return "localhost-response";
    case Reason::UserSet:
      return "user-set";
  }
  return "unknown";
}

std::optional<Protocol> parse_protocol(std::string_view s) {
  if (s == "tcp") return Protocol::Tcp;
  if (s == "udp") return Protocol::Udp;
  return std::nullopt;
}

}  // namespace gh
