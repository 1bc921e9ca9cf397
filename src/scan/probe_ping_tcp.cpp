#include "scan/probe_ping_tcp.h"

#include "auth/announce.h"
#include "net/headers.h"
#include "scan/probe_tcp_syn.h"

namespace gh {

bool TcpPing::prepare(const PathInfo& path) {
  if (path.source.family != path.family) return false;
  auto params = path_params<net::SynTemplateParams>(path);
  std::vector<uint8_t> tag;
  if (announcer_ != nullptr) tag = announcer_->option_bytes();
  if (ack_) {
    params.flags = net::tcpflag::kAck;
    params.tcp_options = tag;
    tag_at_ = sizeof(net::TcpHeader);
  } else {
    tag_at_ = sizeof(net::TcpHeader) + params.tcp_options.size();  // after MSS: 24
    params.tcp_options.insert(params.tcp_options.end(), tag.begin(), tag.end());
  }
  paths_.emplace(path.source, params);
  note_path(path);
  return true;
}

size_t TcpPing::build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const {
  const net::TcpSynTemplate* t = paths_.get(probe.addr.family);
  if (t == nullptr || probe.proto != Protocol::Tcp || out.size() < t->size()) return 0;
  const IpAddress& src = paths_.source(probe.addr.family);
  MacAddress buf;
  const MacAddress* mac = dst_mac_for(probe.addr, buf);
  const unsigned attempt = args.attempt + (ack_ ? kAckAttemptOffset : 0);
  const uint16_t sport =
      cookie_.source_port(probe.addr, probe.port, kPortBase, kPortRange, attempt);
  const uint32_t seq = cookie_.tcp_seq(src, probe.addr, sport, probe.port);
  size_t len =
      t->build(out.data(), probe.addr, sport, probe.port, seq, args.ip_id, ack_ ? seq : 0, mac);
  if (len != 0 && announcer_ != nullptr)
    announcer_->stamp(out.data() + t->tcp_offset(), tag_at_, src, probe.addr, probe.port);
  return len;
}

bool TcpPing::classify(const RxFrame& frame, ProbeVerdict& out) const {
  if (frame.ip == nullptr) return false;
  const net::ParsedPacket& p = *frame.ip;
  if (!p.l4_parsed) return false;
  const Family family = p.ip_version == 4 ? Family::V4 : Family::V6;
  if (paths_.get(family) == nullptr) return false;
  const IpAddress& src = paths_.source(family);
  if (p.dst != src) return false;
  // Which of our attempts a cookie attempt is, if it is one of this module's.
  auto ours = [&](uint8_t a) -> std::optional<uint8_t> {
    if (!ack_) return a < kAckAttemptOffset ? std::optional<uint8_t>(a) : std::nullopt;
    if (a < kAckAttemptOffset) return std::nullopt;
    return static_cast<uint8_t>(a - kAckAttemptOffset);
  };
  net::ProbeReply r;
  if (p.is_tcp()) {
    const bool valid = ack_ ? cookie_.validate_tcp_ack_reply(p, src, kPortBase, kPortRange, r)
                            : cookie_.validate_tcp_reply(p, src, kPortBase, kPortRange, r);
    if (!valid) return false;
    auto attempt = ours(r.attempt);
    if (!attempt) return false;
    const Reason reason =
        !ack_ && r.kind == net::ReplyKind::SynAck ? Reason::SynAck : Reason::Reset;
    up(out, Probe{r.target, Protocol::Tcp, r.target_port}, reason, &p, attempt);
    return true;
  }
  if (!p.is_icmp_error()) return false;
  // Only an error from the target itself says it is up.
  const auto& q = p.quoted;
  if (!q.has_l4 || q.src != src || q.dst != p.src || q.protocol != net::ipproto::kTcp) return false;
  if (!cookie_.validate_tcp_reply(p, src, kPortBase, kPortRange, r)) return false;
  auto attempt = ours(r.attempt);
  if (!attempt) return false;
  auto [state, reason] = classify_icmp_error(p.ip_version, p.icmp.type, p.icmp.code);
  (void)state;
  up(out, Probe{q.dst, Protocol::Tcp, r.target_port}, reason, &p, attempt);
  return true;
}

std::unique_ptr<ProbeModule> make_tcp_syn_ping(const ModuleKeys& keys) {
  return std::make_unique<TcpPing>(keys, false);
}
std::unique_ptr<ProbeModule> make_tcp_ack_ping(const ModuleKeys& keys) {
  return std::make_unique<TcpPing>(keys, true);
}

}  // namespace gh
