// Frame -> PacketEvent: the detector's own bounds-checked decoding of captured frames.
//
// Contract: make_event() reads at most `len` bytes of `frame`, never throws and never allocates;
// it fills `out` and returns Decode::Ok only for an IPv4/IPv6 packet carrying TCP, UDP, ICMP or
// ICMPv6 whose transport header is complete. Everything else is counted by the caller and
// dropped. Non-first IP fragments, unknown link types and truncated headers are rejected.
//
// Why not the shared parser (src/net/packet.h)? The detector reads a handful of fields at line
// rate (window, IP ID, option layout, the ports quoted in ICMP errors) and nothing of the payload;
// this keeps that path small, allocation-free and testable on its own.
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

enum class Decode : uint8_t { Ok, NotIp, Truncated, Unsupported };

// True when make_event() understands this link type.
bool link_type_supported(int link_type);

Decode make_event(const uint8_t* frame, size_t len, int link_type, int64_t ts_us, PacketEvent& out);

}  // namespace gh::detect
