#include "net/cookie.h"

#include <algorithm>

#include "net/headers.h"

namespace gh::net {
namespace {

// Domain tags keep the two hashes independent: the same (dst, dport) never feeds both with the
// same words.
constexpr uint64_t kTagSeq = 0x01;
constexpr uint64_t kTagPort = 0x02;
constexpr uint64_t kTagWord = 0x03;

uint64_t hi(const IpAddress& a) {
  return static_cast<uint64_t>(a.value >> 64);
}
uint64_t lo(const IpAddress& a) {
  return static_cast<uint64_t>(a.value);
}
uint64_t fam(const IpAddress& a) {
  return static_cast<uint64_t>(a.family);
}

bool is_probe_error(const ParsedPacket& p) {
  const uint8_t t = p.icmp.type;
  if (p.ip_version == 4) return t == icmp::kDestUnreach || t == icmp::kTimeExceeded;
  return t == icmp6::kDestUnreach || t == icmp6::kTimeExceeded;
}

}  // namespace

uint32_t Cookie::tcp_seq(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                         uint16_t dport) const {
  const uint64_t w[5] = {
      hi(src), lo(src), hi(dst), lo(dst),
      kTagSeq << 56 | fam(src) << 40 | fam(dst) << 32 | uint64_t{sport} << 16 | dport};
  return static_cast<uint32_t>(hash_.words(w, 5));
}

uint32_t Cookie::port_offset(const IpAddress& dst, uint16_t dport, uint16_t range) const {
  const uint64_t w[3] = {hi(dst), lo(dst), kTagPort << 56 | fam(dst) << 32 | dport};
  const uint64_t h = hash_.words(w, 3);
  // Lemire's multiply-shift maps the top 32 bits onto [0, range) without a division.
  return static_cast<uint32_t>(((h >> 32) * range) >> 32);
}

uint16_t Cookie::source_port(const IpAddress& dst, uint16_t dport, uint16_t base, uint16_t range,
                             unsigned attempt) const {
  if (range == 0) range = 1;
  uint64_t a = std::min<unsigned>(attempt, kMaxAttempts - 1);
  uint64_t off = (port_offset(dst, dport, range) + a * kAttemptStride) % range;
  return static_cast<uint16_t>(base + off);
}

std::optional<uint8_t> Cookie::attempt_of(const IpAddress& dst, uint16_t dport, uint16_t sport,
                                          uint16_t base, uint16_t range) const {
  if (range == 0) range = 1;
  if (sport < base || sport - base >= range) return std::nullopt;
  uint32_t delta = (sport - base + range - port_offset(dst, dport, range)) % range;
  uint32_t step = 0;  // a x kAttemptStride mod range
  for (unsigned a = 0; a < kMaxAttempts; ++a, step = (step + kAttemptStride) % range)
    if (step == delta) return static_cast<uint8_t>(a);
  return std::nullopt;
}

uint32_t Cookie::probe_word(const IpAddress& src, const IpAddress& dst, uint16_t tag) const {
  const uint64_t w[5] = {hi(src), lo(src), hi(dst), lo(dst),
                         kTagWord << 56 | fam(src) << 40 | fam(dst) << 32 | tag};
  return static_cast<uint32_t>(hash_.words(w, 5));
}

Cookie::IcmpIdSeq Cookie::icmp_id_seq(const IpAddress& src, const IpAddress& dst, uint8_t type,
                                      unsigned attempt) const {
  const uint32_t w = probe_word(src, dst, 0x100 | type);
  return {static_cast<uint16_t>(w >> 16),
          static_cast<uint16_t>((w & 0xFF00) | std::min<unsigned>(attempt, 255))};
}

std::optional<uint8_t> Cookie::icmp_attempt(const IpAddress& src, const IpAddress& dst,
                                            uint8_t type, uint16_t id, uint16_t seq) const {
  const uint32_t w = probe_word(src, dst, 0x100 | type);
  if (id != static_cast<uint16_t>(w >> 16) || (seq & 0xFF00) != (w & 0xFF00)) return std::nullopt;
  return static_cast<uint8_t>(seq & 0xFF);
}

bool Cookie::validate_tcp_ack_reply(const ParsedPacket& reply, const IpAddress& our_addr,
                                    uint16_t base, uint16_t range, ProbeReply& match) const {
  if (reply.dst != our_addr) return false;
  if (reply.is_tcp()) {
    const auto& t = reply.tcp;
    if (!(t.flags & tcpflag::kRst)) return false;
    auto attempt = attempt_of(reply.src, t.sport, t.dport, base, range);
    if (!attempt) return false;
    if (t.seq != tcp_seq(our_addr, reply.src, t.dport, t.sport)) return false;
    match = ProbeReply{ReplyKind::Reset, reply.src, t.sport, t.dport, *attempt, reply.src, 0, 0};
    return true;
  }
  // An ICMP error quotes our seq, which is the same value: the SYN check applies as it is.
  return reply.is_icmp_error() && validate_tcp_reply(reply, our_addr, base, range, match);
}

bool Cookie::validate_tcp_reply(const ParsedPacket& reply, const IpAddress& our_addr, uint16_t base,
                                uint16_t range, ProbeReply& match) const {
  if (reply.dst != our_addr) return false;
  if (reply.is_tcp()) {
    const auto& t = reply.tcp;
    ReplyKind kind;
    if (t.flags & tcpflag::kRst) {
      kind = ReplyKind::Reset;
    } else if ((t.flags & (tcpflag::kSyn | tcpflag::kAck)) == (tcpflag::kSyn | tcpflag::kAck)) {
      kind = ReplyKind::SynAck;
    } else {
      return false;
    }
    auto attempt = attempt_of(reply.src, t.sport, t.dport, base, range);
    if (!attempt) return false;
    if (t.ack != tcp_seq(our_addr, reply.src, t.dport, t.sport) + 1u) return false;
    match = ProbeReply{kind, reply.src, t.sport, t.dport, *attempt, reply.src, 0, 0};
    return true;
  }
  if (reply.is_icmp_error() && is_probe_error(reply)) {
    const auto& q = reply.quoted;
    if (!q.has_l4 || q.protocol != ipproto::kTcp || q.src != our_addr) return false;
    auto attempt = attempt_of(q.dst, q.dport, q.sport, base, range);
    if (!attempt) return false;
    if (q.seq != tcp_seq(our_addr, q.dst, q.sport, q.dport)) return false;
    match = ProbeReply{ReplyKind::IcmpError, q.dst,          q.dport, q.sport, *attempt, reply.src,
                       reply.icmp.type,      reply.icmp.code};
    return true;
  }
  return false;
}

}  // namespace gh::net
