// TCP flag probes (nmap's -sF, -sN, -sX, -sA, -sW, -sM and --scanflags): parsing nmap's
// --scanflags syntax, and recognising the replies to a probe with any flags statelessly.
//
// The cookie (net/cookie.h) goes where the reply echoes it. A probe from (src, sport) to
// (dst, dport) carries seq = cookie.tcp_seq(src, dst, sport, dport) and, when it has the ACK flag,
// ack = the same value (0 without ACK). RFC 793 ("Reset Generation"), as Linux and the BSDs
// implement it:
//   * a segment with ACK is answered by a RST whose seq is the segment's ack: our cookie;
//   * a segment without ACK by a RST|ACK whose ack is seq + the segment's length, in which SYN and
//     FIN each count one (our probes carry no payload): cookie + syn + fin;
//   * a SYN (without ACK) to a listener is answered by a SYN-ACK with ack = seq + 1.
// ICMP errors quote our header, seq included; they are checked as for a SYN (the source port's
// attempt, the quoted seq).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/address.h"
#include "net/cookie.h"
#include "net/packet.h"

namespace gh::net {

// nmap's --scanflags: a number 0-255 (decimal, or hex with 0x), or flag names in any order,
// optionally separated by ',', '|', '+' or spaces, any case: URG ACK PSH RST SYN FIN ECE CWR (and
// nmap's PUSH, RESET, ALL, NONE), e.g. "URGACKPSHRSTSYNFIN", "SYN,FIN", "9". nullopt for anything
// else (an unknown name, an empty value, a number out of range): unlike nmap, which ignores words
// it does not know, a typo is an error here.
std::optional<uint8_t> parse_tcp_flags(std::string_view text);

// "FIN,PSH,URG": the names of the set bits, in nmap's order (CWR ECE URG ACK PSH RST SYN FIN);
// "none" for 0.
std::string tcp_flags_text(uint8_t flags);

// The acknowledgment number a probe with `flags` carries, given its seq (see the file comment).
inline uint32_t tcp_probe_ack(uint8_t flags, uint32_t seq) {
  return (flags & tcpflag::kAck) ? seq : 0;
}

// What the reply to a flag probe was, beyond ProbeReply's kind.
struct FlagReply {
  ProbeReply match;
  uint16_t window = 0;  // the RST's (or SYN-ACK's) TCP window; 0 for ICMP errors
  uint8_t tcp_flags = 0;
};

// True iff `reply` answers a probe with `probe_flags` that this cookie generated from our_addr
// with a source port from [base, base + range): a RST as RFC 793 makes it for those flags, a
// SYN-ACK (only for probes with SYN and without ACK), or an ICMP error quoting the probe. Never
// throws; any packet is a valid input.
bool validate_tcp_flag_reply(const Cookie& cookie, const ParsedPacket& reply,
                             const IpAddress& our_addr, uint16_t base, uint16_t range,
                             uint8_t probe_flags, FlagReply& out);

}  // namespace gh::net
