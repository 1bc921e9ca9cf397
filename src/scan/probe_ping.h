// What every host-discovery probe module (scan/probe_ping_*.h) shares: silence means "this probe
// did not find the host up" (Silence::HostDown), the --announce announcer, the on-link framing of
// IP probes, and the verdict they fill.
//
// The modules, their files and what each accepts (scan/discovery.h drives them, through
// scan/discovery_modules.h, which turns the discovery plan into module instances and ports):
//   arp             probe_ping_link.h  ARP reply to our address and MAC: arp-response
//   ndp             probe_ping_link.h  solicited Neighbor Advertisement to our address:
//                                      nd-response
//   icmp_echo       probe_ping_icmp.h  ICMP/ICMPv6 echo reply with our keyed id/seq: echo-reply
//   icmp_timestamp  probe_ping_icmp.h  ICMP timestamp reply, likewise: timestamp-reply
//   icmp_mask       probe_ping_icmp.h  ICMP address mask reply, likewise: mask-reply
//   tcp_syn_ping    probe_ping_tcp.h   SYN-ACK or RST to our keyed SYN: syn-ack / reset
//   tcp_ack_ping    probe_ping_tcp.h   RST to our keyed ACK: reset
//   udp_ping        probe_ping_udp.h   UDP reply to our keyed port: udp-response
// The TCP and UDP pings also accept an ICMP error sent by the target itself that quotes their
// probe (nmap: an unreachable from the host says it is up): port-unreach, host-unreach, ...
// Errors from routers say nothing: the probe stays unanswered.
//
// Source ports of the TCP/UDP pings: [kPortBase, kPortBase + kPortRange), below the SYN scan's
// 40000-59999 so that a ping's reply is never read as a port scan's. An ACK ping's attempt k
// uses the port of attempt k + kAckAttemptOffset, so SYN and ACK pings to one port differ.
#pragma once

#include <cstdint>
#include <optional>

#include "core/address.h"
#include "core/types.h"
#include "net/packet.h"
#include "scan/probe_module.h"

namespace gh {

class HostPingModule : public ProbeModule {
 public:
  static constexpr uint16_t kPortBase = 33000;
  static constexpr uint16_t kPortRange = 7000;
  static constexpr unsigned kAckAttemptOffset = 16;

  // The source ports of every TCP/UDP ping, all attempts: [kPortBase, kPortBase + kPortRange).
  static constexpr PortSpan ping_ports() { return {kPortBase, kPortBase + kPortRange - 1}; }

  Silence silence() const override { return Silence::HostDown; }
  void set_announcer(const auth::ProbeAnnouncer* a) override { announcer_ = a; }

 protected:
  // Remembers whether family f's path is on-link Ethernet (see dst_mac_for()).
  void note_path(const PathInfo& path) {
    onlink_[path.family == Family::V4 ? 0 : 1] =
        path.on_link && path.framing == LinkFraming::Ethernet;
  }
  // The destination MAC of an IP probe to `dst`: null (the template's next hop) on a routed
  // path; on an on-link path, where the target's MAC is not known yet (--send-ip), the Ethernet
  // broadcast (IPv4) or the target's solicited-node group (IPv6), written to `buf`.
  const MacAddress* dst_mac_for(const IpAddress& dst, MacAddress& buf) const;
  // An up verdict for `probe`, for `reason`; the TTL and the sender's MAC from `p` when given.
  static void up(ProbeVerdict& out, const Probe& probe, Reason reason, const net::ParsedPacket* p,
                 std::optional<uint8_t> attempt);

  const auth::ProbeAnnouncer* announcer_ = nullptr;

 private:
  bool onlink_[2] = {false, false};
};

// The probe a port-less host module (ARP, NDP, ICMP) is given for `addr`.
inline Probe host_probe(const IpAddress& addr) {
  return Probe{addr, Protocol::Tcp, 0, true};
}

}  // namespace gh
