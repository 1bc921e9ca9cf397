#include "scan/probe_tcp_flags.h"

#include "net/headers.h"
#include "net/tcp_flags.h"
#include "scan/probe_tcp_syn.h"

namespace gh {

using net::tcpflag::kAck;
using net::tcpflag::kFin;
using net::tcpflag::kPsh;
using net::tcpflag::kSyn;
using net::tcpflag::kUrg;

TcpFlagProbe::TcpFlagProbe(FlagScanKind kind, const ModuleKeys& keys)
    : kind_(kind), flags_(default_flags(kind)), cookie_(keys.k0, keys.k1), paths_(keys) {}

uint8_t TcpFlagProbe::default_flags(FlagScanKind kind) {
  switch (kind) {
    case FlagScanKind::Fin:
      return kFin;
    case FlagScanKind::Null:
      return 0;
    case FlagScanKind::Xmas:
      return kFin | kPsh | kUrg;
    case FlagScanKind::Maimon:
      return kFin | kAck;
    case FlagScanKind::Ack:
    case FlagScanKind::Window:
      return kAck;
    case FlagScanKind::Custom:
      return kSyn;
  }
  return 0;
}

std::string_view TcpFlagProbe::name() const {
  switch (kind_) {
    case FlagScanKind::Fin:
      return "tcp_fin";
    case FlagScanKind::Null:
      return "tcp_null";
    case FlagScanKind::Xmas:
      return "tcp_xmas";
    case FlagScanKind::Maimon:
      return "tcp_maimon";
    case FlagScanKind::Ack:
      return "tcp_ack";
    case FlagScanKind::Window:
      return "tcp_window";
    case FlagScanKind::Custom:
      return "tcp_custom";
  }
  return "tcp_flags";
}

Silence TcpFlagProbe::silence() const {
  switch (kind_) {
    case FlagScanKind::Fin:
    case FlagScanKind::Null:
    case FlagScanKind::Xmas:
    case FlagScanKind::Maimon:
      return Silence::PortOpenFiltered;
    case FlagScanKind::Ack:
    case FlagScanKind::Window:
    case FlagScanKind::Custom:
      return Silence::PortFiltered;
  }
  return Silence::PortFiltered;
}

bool TcpFlagProbe::prepare(const PathInfo& path) {
  auto params = path_params<net::SynTemplateParams>(path);
  params.window = 1024;  // nmap's window for every raw TCP probe
  params.flags = flags_;
  // nmap sends its MSS option with SYN probes only; the others carry no options.
  if (!(flags_ & kSyn)) params.tcp_options.clear();
  paths_.emplace_pool(path, params);  // -S: one template per source address
  return true;
}

size_t TcpFlagProbe::source_slot(const Probe& probe) const {
  return paths_.slot_of(probe.addr, probe.port);
}

size_t TcpFlagProbe::build(std::span<uint8_t> out, const Probe& probe,
                           const BuildArgs& args) const {
  const auto* e = paths_.pick(probe.addr, probe.port);  // -S: this probe's source address
  if (e == nullptr || probe.proto != Protocol::Tcp || out.size() < e->tmpl.size()) return 0;
  const net::TcpSynTemplate* t = &e->tmpl;
  const IpAddress& src = e->source;
  uint16_t sport = cookie_.source_port(probe.addr, probe.port, kPortBase, kPortRange, args.attempt);
  uint32_t seq = cookie_.tcp_seq(src, probe.addr, sport, probe.port);
  return t->build(out.data(), probe.addr, sport, probe.port, seq, args.ip_id,
                  net::tcp_probe_ack(flags_, seq), nullptr);
}

bool TcpFlagProbe::classify(const RxFrame& frame, ProbeVerdict& out) const {
  if (frame.ip == nullptr || !frame.ip->l4_parsed) return false;
  const net::ParsedPacket& packet = *frame.ip;
  Family family = packet.ip_version == 4 ? Family::V4 : Family::V6;
  if (template_for(family) == nullptr || packet.dst.family != family) return false;
  // As TcpSynProbe::classify: the cookie covers the address it came to, which must be the
  // address the answered probe left from (-S: its pool slot).
  net::FlagReply reply;
  if (!net::validate_tcp_flag_reply(cookie_, packet, packet.dst, kPortBase, kPortRange, flags_,
                                    reply))
    return false;
  const auto* e = paths_.pick(reply.match.target, reply.match.target_port);
  if (e == nullptr || e->source != packet.dst) return false;
  out.probe = Probe{reply.match.target, Protocol::Tcp, reply.match.target_port};
  out.ttl = packet.ttl;
  out.attempt = reply.match.attempt;
  switch (reply.match.kind) {
    case net::ReplyKind::SynAck:
      out.state = PortState::Open;
      out.reason = Reason::SynAck;
      break;
    case net::ReplyKind::Reset:
      out.reason = Reason::Reset;
      if (kind_ == FlagScanKind::Ack)
        out.state = PortState::Unfiltered;
      else if (kind_ == FlagScanKind::Window)
        out.state = reply.window != 0 ? PortState::Open : PortState::Closed;
      else
        out.state = PortState::Closed;
      break;
    case net::ReplyKind::IcmpError: {
      auto [state, reason] =
          classify_icmp_error(packet.ip_version, reply.match.icmp_type, reply.match.icmp_code);
      out.state = state;
      out.reason = reason;
      break;
    }
  }
  return true;
}

namespace {
template <FlagScanKind K>
std::unique_ptr<ProbeModule> make_kind(const ModuleKeys& keys) {
  return std::make_unique<TcpFlagProbe>(K, keys);
}
}  // namespace

std::unique_ptr<ProbeModule> make_tcp_fin(const ModuleKeys& k) {
  return make_kind<FlagScanKind::Fin>(k);
}
std::unique_ptr<ProbeModule> make_tcp_null(const ModuleKeys& k) {
  return make_kind<FlagScanKind::Null>(k);
}
std::unique_ptr<ProbeModule> make_tcp_xmas(const ModuleKeys& k) {
  return make_kind<FlagScanKind::Xmas>(k);
}
std::unique_ptr<ProbeModule> make_tcp_maimon(const ModuleKeys& k) {
  return make_kind<FlagScanKind::Maimon>(k);
}
std::unique_ptr<ProbeModule> make_tcp_ack(const ModuleKeys& k) {
  return make_kind<FlagScanKind::Ack>(k);
}
std::unique_ptr<ProbeModule> make_tcp_window(const ModuleKeys& k) {
  return make_kind<FlagScanKind::Window>(k);
}
std::unique_ptr<ProbeModule> make_tcp_custom(const ModuleKeys& k) {
  return make_kind<FlagScanKind::Custom>(k);
}

}  // namespace gh
