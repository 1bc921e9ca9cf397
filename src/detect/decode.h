// Frame -> PacketEvent: the shared parser (src/net/packet.h) reads the frame; this adapter keeps
// the few fields the detector uses.
//
// Contract: make_event() never reads outside `frame`, never throws and never allocates (the
// parser's ParsedPacket is a reused thread-local). It returns Decode::Ok only for an IPv4/IPv6
// packet carrying TCP, UDP, ICMP or ICMPv6 whose transport header was read; Rejected for what the
// parser refuses (not IP, truncated, malformed: see packet.h; note that the whole IP packet must
// be in the frame, so live capture uses a full snap length); Unsupported for an unknown link
// type, a non-first fragment or another protocol. The caller counts and drops all but Ok.
//
// Adapter detail: the parser does not count TCP options; count_options() walks the raw option
// bytes it copied, because the nmap and glasshouse fingerprints need "a lone MSS".
#pragma once

#include <cstddef>
#include <cstdint>

#include "detect/event.h"

namespace gh::detect {

// Link-layer header types, as pcap files and pcap_datalink() number them.
namespace link {
inline constexpr int kNull = 0;  // BSD loopback: 4-byte address family, host order
inline constexpr int kEthernet = 1;
inline constexpr int kRawDlt = 12;  // DLT_RAW as libpcap returns it on Linux
inline constexpr int kRawDltBsd = 14;
inline constexpr int kRaw = 101;  // LINKTYPE_RAW in files
inline constexpr int kLoop = 108;
inline constexpr int kLinuxSll = 113;
inline constexpr int kIpv4 = 228;
inline constexpr int kIpv6 = 229;
inline constexpr int kLinuxSll2 = 276;
}  // namespace link

enum class Decode : uint8_t { Ok, Rejected, Unsupported };

// True when make_event() understands this link type.
bool link_type_supported(int link_type);

Decode make_event(const uint8_t* frame, size_t len, int link_type, int64_t ts_us, PacketEvent& out);

}  // namespace gh::detect
