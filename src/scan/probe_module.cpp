#include "scan/probe_module.h"

#include "net/describe.h"

namespace gh {

std::string ProbeModule::describe(std::span<const uint8_t> frame, LinkFraming framing) const {
  net::ParsedPacket parsed;
  auto link = framing == LinkFraming::Ethernet ? net::LinkType::Ethernet : net::LinkType::RawIp;
  if (!net::parse_packet(frame, link, parsed)) return std::string(name()) + " (unparsable frame)";
  return net::describe_packet(parsed);
}

}  // namespace gh
