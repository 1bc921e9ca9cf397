#include "scan/probe_tcp_syn.h"

#include "core/error.h"
#include "net/headers.h"
#include "scan/os_hint.h"

namespace gh {

std::pair<PortState, Reason> classify_icmp_error(uint8_t ip_version, uint8_t type, uint8_t code) {
  if (ip_version == 4) {
    if (type == net::icmp::kTimeExceeded) return {PortState::Filtered, Reason::TimeExceeded};
    if (type != net::icmp::kDestUnreach) return {PortState::Filtered, Reason::HostUnreach};
    switch (code) {
      case net::icmp::kNetUnreach:
      case net::icmp::kNetUnknown:
      case net::icmp::kNetTos:
        return {PortState::Filtered, Reason::NetUnreach};
      case net::icmp::kProtoUnreach:
        return {PortState::Filtered, Reason::ProtoUnreach};
      case net::icmp::kPortUnreach:
        return {PortState::Filtered, Reason::PortUnreach};
      case net::icmp::kNetProhibited:
      case net::icmp::kHostProhibited:
      case net::icmp::kCommProhibited:
        return {PortState::Filtered, Reason::AdminProhibited};
      default:
        return {PortState::Filtered, Reason::HostUnreach};
    }
  }
  if (type == net::icmp6::kTimeExceeded) return {PortState::Filtered, Reason::TimeExceeded};
  switch (code) {
    case net::icmp6::kNoRoute:
      return {PortState::Filtered, Reason::NetUnreach};
    case net::icmp6::kAdminProhibited:
    case net::icmp6::kSrcPolicyFailed:
    case net::icmp6::kRejectRoute:
      return {PortState::Filtered, Reason::AdminProhibited};
    case net::icmp6::kPortUnreach:
      return {PortState::Filtered, Reason::PortUnreach};
    default:
      return {PortState::Filtered, Reason::HostUnreach};
  }
}

bool TcpSynProbe::prepare(const PathInfo& path) {
  auto params = path_params<net::SynTemplateParams>(path);
  params.window = 1024;  // nmap's SYN window; small, as a probe never carries data
  if (offer_options_) {
    // A stack answers only the options a SYN offers: offer them all, as an OS's own SYN does
    // (MSS 1460, SACK permitted, timestamp 1/0, NOP, window scale 7: 20 bytes).
    params.tcp_options = {net::tcpopt::kMss,
                          4,
                          0x05,
                          0xB4,
                          net::tcpopt::kSackPermitted,
                          2,
                          net::tcpopt::kTimestamp,
                          10,
                          0,
                          0,
                          0,
                          1,
                          0,
                          0,
                          0,
                          0,
                          net::tcpopt::kNop,
                          net::tcpopt::kWScale,
                          3,
                          7};
  }
  if (announcer_ != nullptr) {
    // MSS (4 bytes), then the tag option (18): it starts at an even offset, 24.
    announce_offset_ = sizeof(net::TcpHeader) + params.tcp_options.size();
    std::vector<uint8_t> tag = announcer_->option_bytes();
    params.tcp_options.insert(params.tcp_options.end(), tag.begin(), tag.end());
  }
  paths_.emplace_pool(path, params);  // -S: one template per source address
  return true;
}

size_t TcpSynProbe::source_slot(const Probe& probe) const {
  return paths_.slot_of(probe.addr, probe.port);
}

size_t TcpSynProbe::build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const {
  const auto* e = paths_.pick(probe.addr, probe.port);  // -S: this probe's source address
  if (e == nullptr || probe.proto != Protocol::Tcp) return 0;
  const net::TcpSynTemplate* t = &e->tmpl;
  const IpAddress& src = e->source;
  uint16_t sport = cookie_.source_port(probe.addr, probe.port, kPortBase, kPortRange, args.attempt);
  uint32_t seq = cookie_.tcp_seq(src, probe.addr, sport, probe.port);
  size_t len = t->build(out, probe.addr, sport, probe.port, seq, args.ip_id);
  if (len != 0 && announcer_ != nullptr)
    announcer_->stamp(out.data() + t->tcp_offset(), announce_offset_, src, probe.addr, probe.port);
  return len;
}

bool TcpSynProbe::classify(const RxFrame& frame, ProbeVerdict& out) const {
  if (frame.ip == nullptr || !frame.ip->l4_parsed) return false;
  const net::ParsedPacket& packet = *frame.ip;
  Family family = packet.ip_version == 4 ? Family::V4 : Family::V6;
  if (template_for(family) == nullptr || packet.dst.family != family) return false;
  // Validated as sent to the address it came to (the cookie covers our address), then that
  // must be the address the probe it answers left from (-S: its pool slot).
  net::ProbeReply reply;
  if (!cookie_.validate_tcp_reply(packet, packet.dst, kPortBase, kPortRange, reply)) return false;
  const auto* e = paths_.pick(reply.target, reply.target_port);
  if (e == nullptr || e->source != packet.dst) return false;
  out.probe = Probe{reply.target, Protocol::Tcp, reply.target_port};
  out.ttl = packet.ttl;
  out.attempt = reply.attempt;
  out.syn_ack.reset();
  switch (reply.kind) {
    case net::ReplyKind::SynAck:
      out.state = PortState::Open;
      out.reason = Reason::SynAck;
      out.syn_ack = syn_ack_facts(packet, reply.target_port);
      break;
    case net::ReplyKind::Reset:
      out.state = PortState::Closed;
      out.reason = Reason::Reset;
      break;
    case net::ReplyKind::IcmpError: {
      auto [state, reason] =
          classify_icmp_error(packet.ip_version, reply.icmp_type, reply.icmp_code);
      out.state = state;
      out.reason = reason;
      break;
    }
  }
  return true;
}

}  // namespace gh
