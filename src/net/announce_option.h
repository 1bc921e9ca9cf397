// The TCP option that carries an announced scan's authentication tag (docs/AUTHORIZATION.md):
// an experimental option with an Experiment Identifier (RFC 6994), 18 bytes:
//
//   0      1      2..3        4        5          6..9        10..17
//   kind   len    ExID        version  epoch_lo   handle      tag
//   253    18     0x4748 "GH" 1        low byte   engagement  64-bit keyed tag (auth/announce.h)
//                                      of epoch   handle
//
// UDP (scan -sU --announce): the same 18 bytes are the last 18 bytes of the datagram's payload,
// a trailer: after the protocol payload where the protocol ignores trailing bytes
// (net/udp_payloads.h, UdpPayload::announce), or after the RFC 9511 probe-description URI and
// its NUL (or alone) in a datagram with no protocol payload. find_announce_trailer() reads it.
//
// The option codec only: who computes the tag is auth/announce.h. stamp_announce() patches the
// per-probe bytes (epoch_lo and tag) into a built SYN whose template already holds the constant
// ones, and updates the TCP checksum incrementally (RFC 1624), so a probe costs one more keyed
// hash and a few additions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace gh::net {

inline constexpr uint8_t kAnnounceKind = 253;      // RFC 4727 experimental (RFC 6994 ExID format)
inline constexpr uint16_t kAnnounceExId = 0x4748;  // "GH"; not registered with IANA (yet)
inline constexpr uint8_t kAnnounceLen = 18;
inline constexpr uint8_t kAnnounceVersion = 1;

struct AnnounceOption {
  uint8_t version = 0;
  uint8_t epoch_lo = 0;
  uint32_t handle = 0;
  uint64_t tag = 0;
};

using AnnounceBlock = std::array<uint8_t, kAnnounceLen>;

// The option bytes with epoch_lo and tag zero (for a packet template).
AnnounceBlock announce_option_template(uint32_t handle);
// Writes epoch_lo and tag into a block (a UDP trailer; no checksum involved).
void fill_announce(AnnounceBlock& b, uint8_t epoch_lo, uint64_t tag);

// Writes epoch_lo and tag into the option that starts at tcp[option_offset] (counted from the
// TCP header's first byte; the option's constant bytes are there already, its per-probe bytes
// are zero), and fixes the TCP checksum at tcp[16..17]. option_offset must be even.
void stamp_announce(uint8_t* tcp, size_t option_offset, uint8_t epoch_lo, uint64_t tag);

// Finds our option in raw TCP option bytes (as ParsedPacket::TcpOptions::raw). False when there
// is none, or it is malformed (wrong length, another ExID, truncated).
bool find_announce_option(const uint8_t* options, size_t len, AnnounceOption& out);

// Host-discovery probes (scan/probe_ping_icmp.h, scan/probe_ping_udp.h) carry the block as the
// trailer of an ICMP echo request's or a UDP ping's payload. append_announce() appends it to a
// built IP packet (no extension headers) at frame[ip_off..len): it fixes the IPv4 total length and
// header checksum or the IPv6 payload length, and the UDP length and checksum or the ICMP/ICMPv6
// checksum. Returns the new frame length; 0 when the packet is another protocol or `cap` is too
// small.
size_t append_announce(uint8_t* frame, size_t len, size_t cap, size_t ip_off,
                       const AnnounceBlock& block);

// Reads the block that ends a UDP payload of `len` bytes. False when the payload is shorter, or
// its last 18 bytes are not our block (kind, length, ExID).
bool find_announce_trailer(const uint8_t* payload, size_t len, AnnounceOption& out);

}  // namespace gh::net
