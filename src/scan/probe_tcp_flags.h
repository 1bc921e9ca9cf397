// nmap's other TCP scans as probe modules: FIN (-sF), NULL (-sN), Xmas (-sX), ACK (-sA), Window
// (-sW), Maimon (-sM), and --scanflags (any flags, read as the base scan type reads them; alone,
// as a SYN scan). One class; the kind decides the default flags and how a reply is read, with
// nmap's rules (nmap(1), "Port Scanning Techniques"):
//
//   kind     flags         RST                      silence          ICMP unreachable
//   fin      FIN           closed                   open|filtered    filtered
//   null     none          closed                   open|filtered    filtered
//   xmas     FIN PSH URG   closed                   open|filtered    filtered
//   maimon   FIN ACK       closed                   open|filtered    filtered
//   ack      ACK           unfiltered               filtered         filtered
//   window   ACK           open if window > 0,      filtered         filtered
//                          else closed
//   custom   --scanflags   closed                   filtered         filtered      (SYN's rules)
//
// A SYN-ACK (possible when --scanflags sets SYN) is `open`, reason syn-ack, for every kind, as
// nmap reads it. A RST's reason is `reset`; ICMP errors take classify_icmp_error's reasons
// (admin-prohibited, host-unreach, port-unreach...). Validation is stateless (net/tcp_flags.h):
// the cookie is in the source port and in the seq (and ack) a RST echoes.
#pragma once

#include <optional>

#include "net/cookie.h"
#include "net/tcp_template.h"
#include "scan/path_templates.h"
#include "scan/probe_module.h"

namespace gh {

enum class FlagScanKind : uint8_t { Fin, Null, Xmas, Maimon, Ack, Window, Custom };

class TcpFlagProbe : public ProbeModule {
 public:
  // The SYN module's source port range (scan/probe_tcp_syn.h).
  static constexpr uint16_t kPortBase = 40000;
  static constexpr uint16_t kPortRange = 20000;

  TcpFlagProbe(FlagScanKind kind, const ModuleKeys& keys);
  // The flags each kind sends unless --scanflags says otherwise.
  static uint8_t default_flags(FlagScanKind kind);

  std::string_view name() const override;
  Protocol protocol() const override { return Protocol::Tcp; }
  FrameKind frame_kind() const override { return FrameKind::Ip; }
  Silence silence() const override;
  ReceiveSpec receive() const override { return ReceiveSpec{.tcp = true, .icmp = true}; }
  size_t max_frame() const override { return net::TcpSynTemplate::kMaxSize; }
  // --scanflags: the flags of every probe (before prepare()).
  void set_tcp_flags(uint8_t flags) override { flags_ = flags; }
  bool prepare(const PathInfo& path) override;
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override;
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override;
  size_t source_slot(const Probe& probe) const override;

  FlagScanKind kind() const { return kind_; }
  uint8_t tcp_flags() const { return flags_; }

 private:
  const net::TcpSynTemplate* template_for(Family f) const { return paths_.get(f); }
  FlagScanKind kind_;
  uint8_t flags_;
  net::Cookie cookie_;
  PathTemplates<net::TcpSynTemplate> paths_;
};

// The registry's factories (scan/probe_registry.cpp).
std::unique_ptr<ProbeModule> make_tcp_fin(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_tcp_null(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_tcp_xmas(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_tcp_maimon(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_tcp_ack(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_tcp_window(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_tcp_custom(const ModuleKeys& keys);

}  // namespace gh
