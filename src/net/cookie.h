// Stateless probe validation (zmap's validate.c, masscan's syn-cookie.c): the sender keeps no
// table of probes in flight; it derives the probe's source port and TCP sequence number from a
// keyed hash of the probe's addresses and ports, and the receiver recomputes the hash from the
// reply to decide whether the reply answers one of our probes, and which one.
//
// Who computes what:
//  * The sender, for a probe to (dst, dport) from our address `src`:
//      sport = cookie.source_port(dst, dport, base, range, attempt);  // in [base, base + range)
//      seq   = cookie.tcp_seq(src, dst, sport, dport);
//    and sends a SYN with those fields (TcpSynTemplate::build).
//  * The receiver passes every parsed packet to cookie.validate_tcp_reply(reply, src, base,
//    range, match). It recomputes both values from the reply's own fields and accepts:
//      - a SYN-ACK from (dst, dport) to (src, sport) with ack == seq + 1;
//      - a RST (with or without ACK) likewise with ack == seq + 1: RFC 793 answers a SYN to a
//        closed port with RST|ACK, ack = seq + 1;
//      - an ICMP/ICMPv6 destination-unreachable or time-exceeded sent to `src` whose quoted
//        packet is a TCP packet from (src, sport) to (dst, dport) carrying seq itself.
//    In every case the port must also be one source_port() picks for (dst, dport) for some
//    attempt below kMaxAttempts, so a reply to a different port of the same host fails, and the
//    match says which attempt it answers.
//  * Each attempt (a retry) comes from a different source port (nmap does the same), so that a
//    retry is a new connection to the target: a SYN that reuses the 4-tuple of one whose
//    SYN-ACK was lost meets the target's half-open entry, and Linux answers such duplicates at
//    most once per tcp_invalid_ratelimit (500 ms). Fast retries would go unanswered.
// Both sides must use the same key, `base` and `range` for the whole scan.
//
// The key must be secret and random per scan: anyone who knows it can forge replies.
#pragma once

#include <cstdint>
#include <optional>

#include "core/address.h"
#include "net/packet.h"
#include "net/siphash.h"

namespace gh::net {

enum class ReplyKind : uint8_t {
  SynAck,     // open
  Reset,      // closed
  IcmpError,  // see icmp_type/icmp_code: unreachable (filtered) or time exceeded
};

// What a validated reply says about the probe it answers.
struct ProbeReply {
  ReplyKind kind = ReplyKind::SynAck;
  IpAddress target;          // the address we probed
  uint16_t target_port = 0;  // the port we probed
  uint16_t our_port = 0;     // the source port we probed it from
  uint8_t attempt = 0;       // which try of the probe it answers (0: the first)
  IpAddress responder;       // who sent the reply: the target, or a router for ICMP errors
  uint8_t icmp_type = 0;     // IcmpError only
  uint8_t icmp_code = 0;
};

class Cookie {
 public:
  explicit Cookie(uint64_t k0, uint64_t k1) : hash_(k0, k1) {}
  static constexpr unsigned kMaxAttempts = 64;  // attempts beyond use the last one's port

  // The sequence number of our SYN from (src, sport) to (dst, dport): the low 32 bits of
  // SipHash-2-4 over the two addresses (family-tagged) and the two ports.
  uint32_t tcp_seq(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                   uint16_t dport) const;

  // The source port of attempt `attempt` of our probe to (dst, dport), uniform in
  // [base, base + range): a keyed offset (a separate hash from tcp_seq(), domain-separated),
  // plus attempt x kAttemptStride, modulo range. Requires range >= 1 and base + range <= 65536;
  // range 0 is treated as 1. Attempts 0..kMaxAttempts-1 get distinct ports when range is not a
  // multiple of the stride (a prime) and is at least kMaxAttempts.
  uint16_t source_port(const IpAddress& dst, uint16_t dport, uint16_t base, uint16_t range,
                       unsigned attempt = 0) const;
  // The attempt whose source port `sport` is, if any below kMaxAttempts.
  std::optional<uint8_t> attempt_of(const IpAddress& dst, uint16_t dport, uint16_t sport,
                                    uint16_t base, uint16_t range) const;

  // ---- Host discovery (scan/discovery_*) --------------------------------------------------
  // A keyed 32-bit word for a probe of kind `tag` from src to dst (domain-separated from the
  // other hashes): the payload of a UDP ping, the base of ICMP identifiers.
  uint32_t probe_word(const IpAddress& src, const IpAddress& dst, uint16_t tag) const;
  // The ICMP identifier and sequence of attempt `attempt` (< 256) of an ICMP request of `type`
  // from src to dst: id = 16 keyed bits, seq = 8 more keyed bits << 8 | attempt. A reply copies
  // both back (echo, timestamp, address mask; RFC 792 and 950, RFC 4443).
  struct IcmpIdSeq {
    uint16_t id;
    uint16_t seq;
  };
  IcmpIdSeq icmp_id_seq(const IpAddress& src, const IpAddress& dst, uint8_t type,
                        unsigned attempt) const;
  // The attempt an (id, seq) pair answers, or nullopt when it is not one icmp_id_seq() makes.
  std::optional<uint8_t> icmp_attempt(const IpAddress& src, const IpAddress& dst, uint8_t type,
                                      uint16_t id, uint16_t seq) const;
  // An ACK ping (nmap -PA) is sent with seq = ack = tcp_seq(src, dst, sport, dport) from a
  // source_port() port; a host answers an unexpected ACK with a RST whose sequence number is our
  // acknowledgment number (RFC 793, "Reset Generation"). True iff `reply` is that RST, or an ICMP
  // error quoting that ACK (as validate_tcp_reply checks them); `match` as there.
  bool validate_tcp_ack_reply(const ParsedPacket& reply, const IpAddress& our_addr, uint16_t base,
                              uint16_t range, ProbeReply& match) const;

  // True iff `reply` answers a SYN this cookie generated from our_addr (see the file comment);
  // then `match` says which probe and how. Never throws; any packet is a valid input.
  bool validate_tcp_reply(const ParsedPacket& reply, const IpAddress& our_addr, uint16_t base,
                          uint16_t range, ProbeReply& match) const;

 private:
  static constexpr uint32_t kAttemptStride = 7919;
  uint32_t port_offset(const IpAddress& dst, uint16_t dport, uint16_t range) const;
  SipHash24 hash_;
};

}  // namespace gh::net
