// The OS hint of -O and -A: a labelled guess at a host's operating system from one SYN-ACK, with
// its evidence. Not nmap's OS detection: no extra probes, no nmap-os-db, one packet's facts
// matched against a small table of our own (os_hint.cpp), written from what the stacks send:
//
//   initial TTL  TCP options of the SYN-ACK (order)              hint
//   64           MSS,SACK,TS,NOP,WS                              Linux 2.6+
//   64           MSS,NOP,NOP,SACK,NOP,WS  (no timestamps)        Linux 2.6+
//   64           MSS,NOP,WS,NOP,NOP,TS,SACK,EOL (or ...,SACK)    macOS or BSD
//   64           MSS,NOP,WS,SACK,TS                              FreeBSD
//   128          MSS,NOP,WS,NOP,NOP,SACK  (or MSS,NOP,WS,SACK,TS) Windows
//   255          any                                             network device or Solaris
//   anything else                                                unknown (the evidence stays)
//
// The initial TTL is guessed as the smallest of 32, 64, 128 and 255 at or above the received TTL
// (hops only lower it). Only the raw SYN scan (-sS) sees SYN-ACKs: -sT's handshake is the
// kernel's.
#pragma once

#include <string>

#include "net/packet.h"
#include "output/result.h"

namespace gh {

// The facts of a parsed SYN-ACK (window, TTL, options in order, MSS, window scale) from `port`.
SynAckFacts syn_ack_facts(const net::ParsedPacket& p, uint16_t port);

// 32, 64, 128 or 255: the initial TTL a received TTL most likely started from.
uint8_t initial_ttl_guess(uint8_t ttl);

// "MSS,SACK,TS,NOP,WS": the option kinds in order (nmap's names; "OPT<kind>" for others).
std::string tcp_option_order(const SynAckFacts& f);

// The hint for a SYN-ACK: the table above, and the evidence as one phrase.
OsHint make_os_hint(const SynAckFacts& f);

// os_hint_text() (output/result.h) is its one-line form.

}  // namespace gh
