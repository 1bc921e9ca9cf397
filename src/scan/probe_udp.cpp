#include "scan/probe_udp.h"

#include <cstring>

#include "net/bytes.h"
#include "net/headers.h"
#include "scan/probe_tcp_syn.h"

namespace gh {

UdpProbe::UdpProbe(const ModuleKeys& keys) : UdpProbe(keys, net::UdpPayloads::instance()) {}

UdpProbe::UdpProbe(const ModuleKeys& keys, const net::UdpPayloads& payloads)
    : cookie_(keys.k0, keys.k1), payloads_(payloads), paths_(keys) {}

bool UdpProbe::prepare(const PathInfo& path) {
  auto params = path_params<net::UdpDatagramParams>(path);
  paths_.emplace_pool(path, params);  // -S: one template per source address
  return true;
}

size_t UdpProbe::source_slot(const Probe& probe) const {
  return paths_.slot_of(probe.addr, probe.port);
}

std::array<uint8_t, 8> UdpProbe::echo_bytes(const IpAddress& src, const IpAddress& dst,
                                            uint16_t sport, uint16_t dport) const {
  std::array<uint8_t, 8> b{};
  net::store_be32(b.data(), cookie_.tcp_seq(src, dst, sport, dport));
  net::store_be32(b.data() + 4, cookie_.tcp_seq(dst, src, dport, sport));
  return b;
}

void UdpProbe::set_announcer(const auth::ProbeAnnouncer* a) {
  announcer_ = a;
  uri_prefix_.clear();
  if (a != nullptr && !a->uri().empty()) {
    uri_prefix_.assign(a->uri().begin(), a->uri().end());
    uri_prefix_.push_back(0);  // RFC 9511: the URI starts the payload and ends with a NUL
  }
}

std::span<const uint8_t> UdpProbe::payload_of(const net::UdpPayload* p, const IpAddress& src,
                                              const IpAddress& dst, uint16_t dport, uint32_t epoch,
                                              uint8_t* buf) const {
  std::span<const uint8_t> base;
  if (p != nullptr) base = p->bytes;
  if (announcer_ == nullptr) return base;
  if (p != nullptr && !p->announce_trailer) return base;  // its service would not answer
  if (p == nullptr) base = uri_prefix_;
  const size_t wrap = p != nullptr ? p->announce_wrap.size() : 0;
  if (base.size() + wrap + net::kAnnounceLen > net::UdpPayloads::kMaxPayload) return base;
  std::memcpy(buf, base.data(), base.size());
  if (wrap != 0) std::memcpy(buf + base.size(), p->announce_wrap.data(), wrap);
  net::AnnounceBlock b = announcer_->block_at(src, dst, net::ipproto::kUdp, dport, epoch);
  std::memcpy(buf + base.size() + wrap, b.data(), b.size());
  return {buf, base.size() + wrap + b.size()};
}

size_t UdpProbe::build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const {
  const auto* e = paths_.pick(probe.addr, probe.port);  // -S: this probe's source address
  if (e == nullptr || probe.proto != Protocol::Udp) return 0;
  const net::UdpDatagramTemplate* t = &e->tmpl;
  const IpAddress& src = e->source;
  uint16_t sport = cookie_.source_port(probe.addr, probe.port, kPortBase, kPortRange, args.attempt);
  const net::UdpPayload* p = payloads_.pick(probe.port, args.attempt);
  std::array<uint8_t, net::UdpPayloads::kMaxPayload> buf;
  const uint32_t epoch = announcer_ != nullptr ? auth::ProbeAnnouncer::now_epoch() : 0;
  std::span<const uint8_t> payload = payload_of(p, src, probe.addr, probe.port, epoch, buf.data());
  net::PayloadPatch patch;
  std::array<uint8_t, 8> echo{};
  if (p != nullptr) {
    if (p->echo_len != 0) {
      echo = echo_bytes(src, probe.addr, sport, probe.port);
      patch = net::PayloadPatch{p->echo_at, {echo.data(), p->echo_len}};
    }
  }
  return t->build(out, probe.addr, sport, probe.port, payload, patch, args.ip_id);
}

bool UdpProbe::classify(const RxFrame& frame, ProbeVerdict& out) const {
  if (frame.ip == nullptr || !frame.ip->l4_parsed) return false;
  const net::ParsedPacket& packet = *frame.ip;
  Family family = packet.ip_version == 4 ? Family::V4 : Family::V6;
  if (template_for(family) == nullptr) return false;

  if (packet.is_udp()) {
    const auto& u = packet.udp;
    // Addressed to the source address the probe to (src, sport) left from (-S: its pool slot).
    const auto* e = paths_.pick(packet.src, u.sport);
    if (e == nullptr || packet.dst != e->source) return false;
    const IpAddress& ours = e->source;
    auto attempt = cookie_.attempt_of(packet.src, u.sport, u.dport, kPortBase, kPortRange);
    if (!attempt) return false;
    if (const net::UdpPayload* p = payloads_.pick(u.sport, *attempt);
        p != nullptr && p->echo_len != 0 && packet.payload_len >= p->reply_at + p->echo_len &&
        packet.payload_offset + packet.payload_len <= frame.bytes.size()) {
      auto echo = echo_bytes(ours, packet.src, u.dport, u.sport);
      if (std::memcmp(frame.bytes.data() + packet.payload_offset + p->reply_at, echo.data(),
                      p->echo_len) != 0)
        return false;
    }
    out.probe = Probe{packet.src, Protocol::Udp, u.sport};
    out.state = PortState::Open;
    out.reason = Reason::UdpResponse;
    out.ttl = packet.ttl;
    out.attempt = *attempt;
    return true;
  }

  if (!packet.is_icmp_error()) return false;
  const uint8_t type = packet.icmp.type;
  if (packet.ip_version == 4
          ? type != net::icmp::kDestUnreach && type != net::icmp::kTimeExceeded
          : type != net::icmp6::kDestUnreach && type != net::icmp6::kTimeExceeded)
    return false;
  const auto& q = packet.quoted;
  if (!q.has_l4 || q.protocol != net::ipproto::kUdp) return false;
  // The quoted probe left from the address its slot picks, and the error came back to it.
  const auto* e = paths_.pick(q.dst, q.dport);
  if (e == nullptr || q.src != e->source || packet.dst != e->source) return false;
  const IpAddress& ours = e->source;
  const net::UdpDatagramTemplate* t = &e->tmpl;
  auto attempt = cookie_.attempt_of(q.dst, q.dport, q.sport, kPortBase, kPortRange);
  if (!attempt) return false;
  // The quoted length and checksum must be those of the datagram we built for this attempt
  // (announced: with the tag of this minute or the one before).
  const net::UdpPayload* p = payloads_.pick(q.dport, *attempt);
  net::PayloadPatch patch;
  std::array<uint8_t, 8> echo{};
  if (p != nullptr && p->echo_len != 0) {
    echo = echo_bytes(ours, q.dst, q.sport, q.dport);
    patch = net::PayloadPatch{p->echo_at, {echo.data(), p->echo_len}};
  }
  const auto quoted_len = static_cast<uint16_t>(q.seq >> 16);
  const auto quoted_sum = static_cast<uint16_t>(q.seq);
  std::array<uint8_t, net::UdpPayloads::kMaxPayload> buf;
  const uint32_t now = announcer_ != nullptr ? auth::ProbeAnnouncer::now_epoch() : 0;
  bool matched = false;
  for (uint32_t epoch : {now, now - 1}) {
    std::span<const uint8_t> payload = payload_of(p, ours, q.dst, q.dport, epoch, buf.data());
    if (quoted_len == sizeof(net::UdpHeader) + payload.size() &&
        quoted_sum == t->checksum(q.dst, q.sport, q.dport, payload, patch)) {
      matched = true;
      break;
    }
    if (announcer_ == nullptr) break;
  }
  if (!matched) return false;

  auto [state, reason] = classify_icmp_error(packet.ip_version, type, packet.icmp.code);
  // A port unreachable from the target itself means closed; from anyone else, filtered.
  if (reason == Reason::PortUnreach && packet.src == q.dst) state = PortState::Closed;
  out.probe = Probe{q.dst, Protocol::Udp, q.dport};
  out.state = state;
  out.reason = reason;
  out.ttl = packet.ttl;
  out.attempt = *attempt;
  return true;
}

}  // namespace gh
