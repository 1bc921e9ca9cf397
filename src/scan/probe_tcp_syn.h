// TCP SYN probes (nmap -sS): a SYN per (address, port); SYN-ACK = open, RST = closed, ICMP
// unreachable = filtered with its reason. Validation is stateless (net/cookie.h): the source port
// and sequence number are keyed hashes of the probe, so any reply can be checked against them.
#pragma once

#include <memory>
#include <optional>

#include "auth/announce.h"
#include "net/cookie.h"
#include "net/tcp_template.h"
#include "scan/path_templates.h"
#include "scan/probe_module.h"

namespace gh {

class TcpSynProbe : public ProbeModule {
 public:
  // Source ports are drawn from [kPortBase, kPortBase + kPortRange): above the usual Linux
  // ephemeral range's start, so kernel sockets rarely collide with them.
  static constexpr uint16_t kPortBase = 40000;
  static constexpr uint16_t kPortRange = 20000;

  explicit TcpSynProbe(const ModuleKeys& keys) : cookie_(keys.k0, keys.k1), paths_(keys) {}
  // --announce (auth/announce.h): every probe carries the tag option after MSS.
  void set_announcer(const auth::ProbeAnnouncer* a) override { announcer_ = a; }
  // -O/-A: MSS, SACK permitted, timestamps, NOP, window scale (Linux's own SYN), not MSS alone.
  void set_offer_options(bool offer) override { offer_options_ = offer; }
  std::string_view name() const override { return "tcp_syn"; }
  Protocol protocol() const override { return Protocol::Tcp; }
  FrameKind frame_kind() const override { return FrameKind::Ip; }
  Silence silence() const override { return Silence::PortFiltered; }
  ReceiveSpec receive() const override { return ReceiveSpec{.tcp = true, .icmp = true}; }
  size_t max_frame() const override { return net::TcpSynTemplate::kMaxSize; }
  bool prepare(const PathInfo& path) override;
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override;
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override;
  size_t source_slot(const Probe& probe) const override;

 private:
  const net::TcpSynTemplate* template_for(Family f) const { return paths_.get(f); }
  net::Cookie cookie_;
  PathTemplates<net::TcpSynTemplate> paths_;
  const auth::ProbeAnnouncer* announcer_ = nullptr;
  size_t announce_offset_ = 0;
  bool offer_options_ = false;  // the tag option's offset in the TCP header
};

// nmap's reading of an ICMP error that answers a TCP probe: (state, reason).
std::pair<PortState, Reason> classify_icmp_error(uint8_t ip_version, uint8_t type, uint8_t code);

}  // namespace gh
