// The ICMP host pings (nmap -PE, -PP, -PM), one module per request type:
//   icmp_echo       ICMP echo request (IPv4) or ICMPv6 echo request (IPv6), no data: echo-reply
//   icmp_timestamp  ICMP timestamp request (RFC 792; IPv4 only): timestamp-reply
//   icmp_mask       ICMP address mask request (RFC 950; IPv4 only): mask-reply
// (net/icmp_template.h builds them.) The identifier and sequence number are the keyed cookie of
// net/cookie.h (Cookie::icmp_id_seq: per source, target, request type and attempt), which a
// reply copies back: a reply is accepted when they match, and says which attempt it answers.
// prepare() returns false for a family the request does not exist in (timestamp and mask on
// IPv6).
//
// --announce: the echo request carries the 18-byte tag block as its data (tagged for protocol
// ICMP or ICMPv6 and port 0; net/announce_option.h append_announce); timestamp and address-mask
// requests have a fixed size (RFC 792, RFC 950) and go untagged.
#pragma once

#include "net/cookie.h"
#include "net/icmp_template.h"
#include "scan/path_templates.h"
#include "scan/probe_ping.h"

namespace gh {

class IcmpPing : public HostPingModule {
 public:
  IcmpPing(const ModuleKeys& keys, net::IcmpProbeKind kind)
      : cookie_(keys.k0, keys.k1), kind_(kind) {}
  std::string_view name() const override;
  Protocol protocol() const override { return Protocol::Tcp; }
  FrameKind frame_kind() const override { return FrameKind::Ip; }
  ReceiveSpec receive() const override { return ReceiveSpec{.icmp = true}; }
  size_t max_frame() const override;
  bool prepare(const PathInfo& path) override;
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override;
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override;

 private:
  net::Cookie cookie_;
  net::IcmpProbeKind kind_;
  PathTemplates<net::IcmpProbeTemplate> paths_;
};

std::unique_ptr<ProbeModule> make_icmp_echo(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_icmp_timestamp(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_icmp_mask(const ModuleKeys& keys);

}  // namespace gh
