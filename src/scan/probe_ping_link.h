// The link-layer host pings (nmap -PR; nmap's default on an on-link range, IPv4 and IPv6):
//   arp  an ARP request (RFC 826) for each IPv4 target, to the Ethernet broadcast
//        (net/arp_template.h). FrameKind::Arp.
//   ndp  an IPv6 Neighbor Solicitation (RFC 4861) for each IPv6 target, to its solicited-node
//        group (net/icmp_template.h). FrameKind::Ndp.
// Both need an on-link Ethernet path: prepare() returns false for a routed path, another link
// type, or the other family. Neither has a field a reply copies back, so neither carries a
// cookie: a reply is accepted when it is one (ARP op reply; a Neighbor Advertisement with the
// Solicited flag and hop limit 255) to our address (ARP: and to our MAC), and the verdict names
// the address it comes from (ARP's sender, the advertisement's target): the driver drops it
// unless that address is one it probes. Which attempt a reply answers is unknown
// (ProbeVerdict::attempt_unknown). Neither has room for an --announce tag: they go untagged.
#pragma once

#include <optional>

#include "net/arp_template.h"
#include "net/icmp_template.h"
#include "scan/probe_ping.h"

namespace gh {

class ArpPing : public HostPingModule {
 public:
  explicit ArpPing(const ModuleKeys& /*keys*/) {}
  std::string_view name() const override { return "arp"; }
  Protocol protocol() const override { return Protocol::Tcp; }
  FrameKind frame_kind() const override { return FrameKind::Arp; }
  ReceiveSpec receive() const override { return ReceiveSpec{.arp = true}; }
  size_t max_frame() const override { return net::ArpRequestTemplate::kSize; }
  bool prepare(const PathInfo& path) override;
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override;
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override;
  std::string describe(std::span<const uint8_t> frame, LinkFraming framing) const override;

 private:
  std::optional<net::ArpRequestTemplate> template_;
  IpAddress source_;
  MacAddress src_mac_{};
};

class NdpPing : public HostPingModule {
 public:
  explicit NdpPing(const ModuleKeys& /*keys*/) {}
  std::string_view name() const override { return "ndp"; }
  Protocol protocol() const override { return Protocol::Tcp; }
  FrameKind frame_kind() const override { return FrameKind::Ndp; }
  ReceiveSpec receive() const override { return ReceiveSpec{.icmp = true}; }
  size_t max_frame() const override { return net::NeighborSolicitTemplate::kSize; }
  bool prepare(const PathInfo& path) override;
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override;
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override;

 private:
  std::optional<net::NeighborSolicitTemplate> template_;
  IpAddress source_;
};

}  // namespace gh
