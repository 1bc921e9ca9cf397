// UDP port probes (nmap -sU): one datagram per (address, port), carrying the port's protocol
// payload when one is known (net/udp_payloads.h, docs/UDP_PAYLOADS.md), else nothing.
//
// Verdicts, as nmap gives them:
//   a UDP reply from the probed port         open, udp-response
//   ICMP port unreachable from the target    closed, port-unreach
//   any other ICMP unreachable / time exceeded  filtered, with its reason (admin-prohibited,
//                                            host-unreach, ...); a port unreachable sent by a
//                                            router rather than the target is filtered too
//   nothing after every attempt              open|filtered, no-response (silence())
//
// Stateless validation (net/cookie.h): the source port is Cookie::source_port() of (target,
// port, attempt), in [kPortBase, kPortBase + kPortRange). Where the payload has an echo field,
// it carries a keyed 16/32/64-bit value of the probe's addresses and ports, and a reply long
// enough to hold the echo must carry it back. An ICMP error must quote a UDP datagram from our
// address and cookie port whose UDP length and checksum are exactly those of the datagram we
// built for that attempt (the checksum covers the payload and its cookie).
//
// --announce (auth/announce.h, docs/AUTHORIZATION.md "UDP"): the 18-byte tag block ends the
// payload. A datagram with no protocol payload carries the scope's RFC 9511 probe-description
// URI and a NUL (when the scope has one), then the block; a protocol payload whose servers
// ignore trailing bytes (UdpPayload::announce_trailer) is followed by the block (after
// UdpPayload::announce_wrap, NTP's extension-field header, where there is one); any other
// protocol payload is sent as it is, untagged, so that its service still answers. The quoted
// checksum of an ICMP error is checked against the tag of this minute and the one before.
#pragma once

#include <optional>
#include <string>

#include "auth/announce.h"

#include "net/cookie.h"
#include "net/udp_datagram.h"
#include "net/udp_payloads.h"
#include "scan/path_templates.h"
#include "scan/probe_module.h"

namespace gh {

class UdpProbe : public ProbeModule {
 public:
  static constexpr uint16_t kPortBase = 40000;
  static constexpr uint16_t kPortRange = 20000;

  // Uses the scan's payload table (UdpPayloads::instance()).
  explicit UdpProbe(const ModuleKeys& keys);
  // Tests: a given table (outliving the module).
  UdpProbe(const ModuleKeys& keys, const net::UdpPayloads& payloads);
  std::string_view name() const override { return "udp"; }
  Protocol protocol() const override { return Protocol::Udp; }
  FrameKind frame_kind() const override { return FrameKind::Ip; }
  Silence silence() const override { return Silence::PortOpenFiltered; }
  ReceiveSpec receive() const override { return ReceiveSpec{.udp = true, .icmp = true}; }
  size_t max_frame() const override {
    return net::UdpDatagramTemplate::kHeaders + net::UdpPayloads::kMaxPayload;
  }
  bool prepare(const PathInfo& path) override;
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override;
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override;
  bool icmp_paced() const override { return true; }
  size_t source_slot(const Probe& probe) const override;
  void set_announcer(const auth::ProbeAnnouncer* a) override;

 private:
  // The payload of a probe to (dst, dport) carrying `p` (null: none), tagged in `epoch` when
  // announced: a span over p's bytes, or over `buf` (kMaxPayload bytes) when tagged.
  std::span<const uint8_t> payload_of(const net::UdpPayload* p, const IpAddress& src,
                                      const IpAddress& dst, uint16_t dport, uint32_t epoch,
                                      uint8_t* buf) const;
  // The echo cookie of a probe from (src, sport) to (dst, dport): 8 keyed bytes, of which a
  // payload uses the first echo_len.
  std::array<uint8_t, 8> echo_bytes(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                                    uint16_t dport) const;
  const net::UdpDatagramTemplate* template_for(Family f) const { return paths_.get(f); }
  net::Cookie cookie_;
  const net::UdpPayloads& payloads_;
  PathTemplates<net::UdpDatagramTemplate> paths_;
  const auth::ProbeAnnouncer* announcer_ = nullptr;
  std::vector<uint8_t> uri_prefix_;  // the RFC 9511 URI and its NUL, or nothing
};

}  // namespace gh
