#include "scan/probe_ping.h"

#include "net/icmp_template.h"

namespace gh {

const MacAddress* HostPingModule::dst_mac_for(const IpAddress& dst, MacAddress& buf) const {
  if (!onlink_[dst.is_v4() ? 0 : 1]) return nullptr;
  buf = dst.is_v4() ? MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} : net::solicited_node_mac(dst);
  return &buf;
}

void HostPingModule::up(ProbeVerdict& out, const Probe& probe, Reason reason,
                        const net::ParsedPacket* p, std::optional<uint8_t> attempt) {
  out = ProbeVerdict{};
  out.probe = probe;
  out.host = true;
  out.host_state = HostState::Up;
  out.reason = reason;
  out.attempt = attempt.value_or(0);
  out.attempt_unknown = !attempt.has_value();
  if (p != nullptr) {
    out.ttl = p->ttl;
    if (p->has_src_mac) {
      out.has_mac = true;
      out.mac = p->src_mac;
    }
  }
}

}  // namespace gh
