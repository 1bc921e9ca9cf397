#include "detect/decode.h"

#include <span>

#include "net/announce_option.h"
#include "net/packet.h"

namespace gh::detect {

namespace {

// The shared parser reports what options a segment carries but not how many: the nmap and
// glasshouse fingerprints need "a lone MSS". Counts every option but NOP and EOL in the raw
// option bytes the parser copied (bounded by their length).
uint8_t count_options(const net::ParsedPacket::TcpOptions& o) {
  uint8_t count = 0;
  size_t i = 0, n = o.len;
  while (i < n) {
    uint8_t kind = o.raw[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= n || o.raw[i + 1] < 2) break;
    ++count;
    i += o.raw[i + 1];
  }
  return count;
}

bool to_net_link(int lt, net::LinkType& out) {
  switch (lt) {
    case link::kEthernet:
      out = net::LinkType::Ethernet;
      return true;
    case link::kRawDlt:
    case link::kRawDltBsd:
    case link::kRaw:
    case link::kIpv4:
    case link::kIpv6:
      out = net::LinkType::RawIp;
      return true;
    case link::kLinuxSll:
      out = net::LinkType::LinuxSll;
      return true;
    case link::kLinuxSll2:
      out = net::LinkType::LinuxSll2;
      return true;
    case link::kNull:
    case link::kLoop:
      out = net::LinkType::Loopback;
      return true;
    default:
      return false;
  }
}

}  // namespace

bool link_type_supported(int lt) {
  net::LinkType unused;
  return to_net_link(lt, unused);
}

Decode make_event(const uint8_t* frame, size_t len, int link_type, int64_t ts_us,
                  PacketEvent& out) {
  net::LinkType lt;
  if (!to_net_link(link_type, lt)) return Decode::Unsupported;
  // One parse buffer per thread, reused: ParsedPacket is large and parse_packet overwrites it.
  thread_local net::ParsedPacket p;
  if (!net::parse_packet(std::span<const uint8_t>(frame, len), lt, p)) return Decode::Rejected;
  if (!p.l4_parsed) return Decode::Unsupported;  // a later fragment, or another protocol

  out = PacketEvent{};
  out.ts_us = ts_us;
  out.src = p.src;
  out.dst = p.dst;
  out.proto = p.l4_protocol;
  out.ttl = p.ttl;
  out.ip_id = p.ip_version == 4 ? p.ip_id : 0;
  if (p.has_src_mac && p.has_dst_mac) {
    out.has_macs = true;
    out.src_mac = p.src_mac;
    out.dst_mac = p.dst_mac;
  }
  if (p.is_tcp()) {
    out.sport = p.tcp.sport;
    out.dport = p.tcp.dport;
    out.seq = p.tcp.seq;
    out.ack = p.tcp.ack;
    out.tcp_flags = p.tcp.flags;
    out.window = p.tcp.window;
    const auto& o = p.tcp.options;
    out.options.mss = o.has_mss ? o.mss : 0;
    out.options.sack_permitted = o.sack_permitted;
    out.options.timestamps = o.has_timestamp;
    out.options.window_scale = o.has_wscale;
    out.options.malformed = o.malformed;
    out.options.count = count_options(o);
    out.has_announce = net::find_announce_option(o.raw.data(), o.len, out.announce);
    out.payload_len = p.payload_len;
    return Decode::Ok;
  }
  if (p.is_udp()) {
    out.sport = p.udp.sport;
    out.dport = p.udp.dport;
    out.payload_len = p.payload_len;
    // An announced UDP probe's tag ends its payload (net/announce_option.h, "UDP").
    if (p.payload_offset + p.payload_len <= len)
      out.has_announce =
          net::find_announce_trailer(frame + p.payload_offset, p.payload_len, out.announce);
    return Decode::Ok;
  }
  if (p.is_icmp()) {
    out.icmp_type = p.icmp.type;
    out.icmp_code = p.icmp.code;
    out.icmp_id = p.icmp.id();
    // An announced discovery scan's echo request ends in the tag (net/announce_option.h).
    const bool echo = p.ip_version == 4 ? p.icmp.type == net::icmp::kEchoRequest
                                        : p.icmp.type == net::icmp6::kEchoRequest;
    if (echo && p.payload_offset + p.payload_len <= len)
      out.has_announce =
          net::find_announce_trailer(frame + p.payload_offset, p.payload_len, out.announce);
    if (p.is_icmp_error()) {
      const auto& q = p.quoted;
      bool icmp_quote = q.protocol == kProtoIcmp || q.protocol == kProtoIcmp6;
      if (q.has_l4 || icmp_quote) {
        out.quote.present = true;
        out.quote.proto = q.protocol;
        out.quote.src = q.src;
        out.quote.dst = q.dst;
        if (q.has_l4 && !icmp_quote) {
          out.quote.sport = q.sport;
          out.quote.dport = q.dport;
        }
      }
    }
    return Decode::Ok;
  }
  return Decode::Unsupported;
}

}  // namespace gh::detect
