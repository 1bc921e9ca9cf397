// The UDP host ping (nmap -PU[ports], default 40125): a datagram with a 4-byte keyed payload to
// a port that is most likely closed, so that a live host answers with ICMP port unreachable
// (port-unreach); a UDP reply from the pinged port (udp-response) says it is up too.
// (net/udp_template.h builds it.) Validation: the source port is Cookie::source_port() of
// (target, port, attempt) in HostPingModule's ping range, the payload Cookie::probe_word(). An
// ICMP error must come from the target itself and quote a datagram from our address and cookie
// port whose UDP checksum is exactly the one we built (it covers the payload word); errors
// from routers say nothing.
//
// --announce: the 18-byte tag block follows the payload word (tagged for protocol UDP and the
// pinged port; net/announce_option.h append_announce). The checksum an ICMP error quotes then
// covers the tag of the minute the ping was sent in: it is checked against this minute's tag
// and the one before.
#pragma once

#include "net/cookie.h"
#include "net/udp_template.h"
#include "scan/path_templates.h"
#include "scan/probe_ping.h"

namespace gh {

class UdpPing : public HostPingModule {
 public:
  static constexpr uint16_t kWordTag = 0x200;  // Cookie::probe_word's domain for the payload

  explicit UdpPing(const ModuleKeys& keys) : cookie_(keys.k0, keys.k1) {}
  std::string_view name() const override { return "udp_ping"; }
  Protocol protocol() const override { return Protocol::Udp; }
  FrameKind frame_kind() const override { return FrameKind::Ip; }
  // UDP replies come back to our source port (kPortBase's range); port unreachables and other
  // ICMP errors quoting the probe.
  ReceiveSpec receive() const override {
    return ReceiveSpec{.udp = true, .icmp = true, .udp_ports = ping_ports()};
  }
  size_t max_frame() const override;
  bool prepare(const PathInfo& path) override;
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override;
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override;

 private:
  // The ping from our address to (dst, dport) from `sport`, tagged in `epoch` when announcing,
  // into out (room for max_frame()); its length.
  size_t build_at(uint8_t* out, size_t cap, const IpAddress& dst, uint16_t sport, uint16_t dport,
                  uint16_t ip_id, const MacAddress* mac, uint32_t epoch) const;
  // True when `checksum` is the UDP checksum of our ping to (dst, dport) from sport.
  bool our_checksum(const IpAddress& dst, uint16_t sport, uint16_t dport, uint16_t checksum) const;

  net::Cookie cookie_;
  PathTemplates<net::UdpProbeTemplate> paths_;
};

}  // namespace gh
