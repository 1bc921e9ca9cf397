#include "scan/probe_ping_icmp.h"

#include "auth/announce.h"
#include "net/announce_option.h"
#include "net/headers.h"

namespace gh {

std::string_view IcmpPing::name() const {
  switch (kind_) {
    case net::IcmpProbeKind::Echo:
      return "icmp_echo";
    case net::IcmpProbeKind::Timestamp:
      return "icmp_timestamp";
    case net::IcmpProbeKind::AddressMask:
      return "icmp_mask";
  }
  return "icmp";
}

size_t IcmpPing::max_frame() const {
  return net::IcmpProbeTemplate::kMaxSize +
         (kind_ == net::IcmpProbeKind::Echo ? net::kAnnounceLen : 0);
}

bool IcmpPing::prepare(const PathInfo& path) {
  if (path.source.family != path.family) return false;
  if (path.family == Family::V6 && kind_ != net::IcmpProbeKind::Echo) return false;
  auto params = path_params<net::IcmpTemplateParams>(path);
  params.kind = kind_;
  paths_.emplace(path.source, params);
  note_path(path);
  return true;
}

size_t IcmpPing::build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const {
  const net::IcmpProbeTemplate* t = paths_.get(probe.addr.family);
  if (t == nullptr || out.size() < t->size()) return 0;
  const IpAddress& src = paths_.source(probe.addr.family);
  MacAddress buf;
  const MacAddress* mac = dst_mac_for(probe.addr, buf);
  auto v = cookie_.icmp_id_seq(src, probe.addr, t->request_type(), args.attempt);
  size_t len = t->build(out.data(), probe.addr, v.id, v.seq, args.ip_id, mac);
  if (len != 0 && announcer_ != nullptr && kind_ == net::IcmpProbeKind::Echo) {
    const uint8_t proto = probe.addr.is_v4() ? net::ipproto::kIcmp : net::ipproto::kIcmpv6;
    len = net::append_announce(
        out.data(), len, out.size(), t->ip_offset(),
        announcer_->block_at(src, probe.addr, proto, 0, auth::ProbeAnnouncer::now_epoch()));
  }
  return len;
}

bool IcmpPing::classify(const RxFrame& frame, ProbeVerdict& out) const {
  if (frame.ip == nullptr) return false;
  const net::ParsedPacket& p = *frame.ip;
  if (!p.l4_parsed || !p.is_icmp() || p.is_icmp_error()) return false;
  const Family family = p.ip_version == 4 ? Family::V4 : Family::V6;
  const net::IcmpProbeTemplate* t = paths_.get(family);
  if (t == nullptr || p.icmp.type != t->reply_type() || p.dst != paths_.source(family))
    return false;
  auto attempt = cookie_.icmp_attempt(paths_.source(family), p.src, t->request_type(), p.icmp.id(),
                                      p.icmp.seq());
  if (!attempt) return false;
  Reason reason = Reason::EchoReply;
  if (kind_ == net::IcmpProbeKind::Timestamp) reason = Reason::TimestampReply;
  if (kind_ == net::IcmpProbeKind::AddressMask) reason = Reason::AddressMaskReply;
  up(out, host_probe(p.src), reason, &p, attempt);
  return true;
}

std::unique_ptr<ProbeModule> make_icmp_echo(const ModuleKeys& keys) {
  return std::make_unique<IcmpPing>(keys, net::IcmpProbeKind::Echo);
}
std::unique_ptr<ProbeModule> make_icmp_timestamp(const ModuleKeys& keys) {
  return std::make_unique<IcmpPing>(keys, net::IcmpProbeKind::Timestamp);
}
std::unique_ptr<ProbeModule> make_icmp_mask(const ModuleKeys& keys) {
  return std::make_unique<IcmpPing>(keys, net::IcmpProbeKind::AddressMask);
}

}  // namespace gh
