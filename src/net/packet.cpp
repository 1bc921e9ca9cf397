#include "net/packet.h"

#include <algorithm>
#include <iterator>

#include "net/bytes.h"
#include "net/checksum.h"

namespace gh::net {
namespace {

// ---- Link layer --------------------------------------------------------------------------------

// Skips up to two VLAN tags after an ethertype; false on a third tag or a truncated one.
bool skip_vlan_tags(Reader& r, uint16_t& ethertype, ParsedPacket& out) {
  while (ethertype == ethertype::kVlan || ethertype == ethertype::kQinQ) {
    if (out.vlan_count == 2) return false;
    VlanTag tag;
    if (!r.read_struct(tag)) return false;
    if (out.vlan_count == 0) out.vlan_id = tag.tci.get() & 0x0FFF;
    ++out.vlan_count;
    ethertype = tag.ethertype.get();
  }
  return true;
}

// Maps an ethertype to the IP version it announces, 0 for anything else.
uint8_t version_of_ethertype(uint16_t ethertype) {
  if (ethertype == ethertype::kIpv4) return 4;
  if (ethertype == ethertype::kIpv6) return 6;
  return 0;
}

// Reads the link header; on success `version` is the IP version the link layer announces, or 0
// when it announces none (RawIp: the IP header's version nibble decides).
bool parse_link(Reader& r, LinkType link, ParsedPacket& out, uint8_t& version) {
  uint16_t type = 0;
  switch (link) {
    case LinkType::RawIp:
      version = 0;
      return true;
    case LinkType::Ethernet: {
      EthernetHeader eth;
      if (!r.read_struct(eth)) return false;
      std::copy(std::begin(eth.dst), std::end(eth.dst), out.dst_mac.begin());
      std::copy(std::begin(eth.src), std::end(eth.src), out.src_mac.begin());
      out.has_dst_mac = out.has_src_mac = true;
      type = eth.ethertype.get();
      break;
    }
    case LinkType::LinuxSll: {
      LinuxSllHeader sll;
      if (!r.read_struct(sll)) return false;
      out.sll_packet_type = static_cast<uint8_t>(sll.packet_type.get());
      if (sll.arphrd_type.get() == kArphrdEther && sll.addr_len.get() == 6) {
        std::copy(sll.addr, sll.addr + 6, out.src_mac.begin());
        out.has_src_mac = true;
      }
      type = sll.protocol.get();
      break;
    }
    case LinkType::LinuxSll2: {
      LinuxSll2Header sll;
      if (!r.read_struct(sll)) return false;
      out.sll_packet_type = sll.packet_type;
      if (sll.arphrd_type.get() == kArphrdEther && sll.addr_len == 6) {
        std::copy(sll.addr, sll.addr + 6, out.src_mac.begin());
        out.has_src_mac = true;
      }
      type = sll.protocol.get();
      break;
    }
    case LinkType::Loopback: {
      uint32_t be = 0;
      if (!r.read_u32(be)) return false;
      // Written in the capturing host's byte order, which we do not know: accept either.
      uint32_t le = __builtin_bswap32(be);
      auto is = [&](uint32_t af) { return be == af || le == af; };
      if (is(kNullAfInet)) {
        version = 4;
        return true;
      }
      for (uint32_t af : kNullAfInet6) {
        if (is(af)) {
          version = 6;
          return true;
        }
      }
      return false;
    }
    default:
      return false;
  }
  if (!skip_vlan_tags(r, type, out)) return false;
  out.ethertype = type;
  version = version_of_ethertype(type);
  return version != 0;
}

// ---- IP layer ----------------------------------------------------------------------------------

// What the IP layer tells the layer above. Filled for the outer packet and for a quoted one.
struct IpLayer {
  uint8_t version = 0;
  uint8_t ttl = 0;
  uint8_t tos = 0;
  uint8_t protocol = 0;
  uint8_t ext_count = 0;
  uint16_t id = 0;
  uint16_t header_len = 0;
  uint32_t total_len = 0;
  uint32_t flow_label = 0;
  uint32_t frag_id = 0;
  uint16_t frag_offset = 0;
  bool df = false;
  bool mf = false;
  bool is_fragment = false;
  IpAddress src, dst;
};

// How the IP length fields bound what follows the header.
enum class Bound {
  Outer,   // the frame must hold the whole packet; bytes past it (padding) are dropped
  Quoted,  // an ICMP quote: the original packet was cut, so take whatever follows
};

// Reads an IPv4 header and its options. On success `l4` covers the bytes after the header.
bool parse_ipv4(Reader& r, Bound bound, IpLayer& ip, Reader& l4) {
  Ipv4Header h;
  if (!r.read_struct(h)) return false;
  if (h.version() != 4 || h.ihl() < 5) return false;
  const size_t hlen = size_t{h.ihl()} * 4;
  const uint16_t frag = h.frag.get();
  ip.version = 4;
  ip.tos = h.tos;
  ip.ttl = h.ttl;
  ip.protocol = h.protocol;
  ip.id = h.id.get();
  ip.header_len = static_cast<uint16_t>(hlen);
  ip.total_len = h.total_len.get();
  ip.df = (frag & kIpv4FlagDf) != 0;
  ip.mf = (frag & kIpv4FlagMf) != 0;
  ip.frag_offset = static_cast<uint16_t>((frag & kIpv4FragOffsetMask) * 8);
  ip.is_fragment = ip.mf || ip.frag_offset != 0;
  ip.src = IpAddress::v4(h.src.get());
  ip.dst = IpAddress::v4(h.dst.get());
  if (!r.skip(hlen - sizeof h)) return false;  // options
  if (bound == Bound::Quoted) {
    l4 = r.sub(r.remaining());
    return true;
  }
  if (ip.total_len < hlen) return false;
  l4 = r.sub(ip.total_len - hlen);
  return l4.ok();
}

bool is_ipv6_ext_header(uint8_t nh) {
  return nh == ipproto::kHopByHop || nh == ipproto::kRouting || nh == ipproto::kDstOpts ||
         nh == ipproto::kFragment || nh == ipproto::kAh;
}

// Walks IPv6 extension headers in `l4` (advancing it past them) and sets ip.protocol to the
// first non-extension next header. False on a truncated header or more than
// kMaxIpv6ExtHeaders (ip.protocol then names the header that could not be read). Stops early at
// a non-first fragment: what follows is not an L4 header.
bool walk_ipv6_ext_headers(Reader& l4, uint8_t next, IpLayer& ip) {
  ip.protocol = next;
  while (is_ipv6_ext_header(next)) {
    if (ip.ext_count == kMaxIpv6ExtHeaders) return false;
    ++ip.ext_count;
    if (next == ipproto::kFragment) {
      Ipv6FragmentHeader f;
      if (!l4.read_struct(f)) return false;
      const uint16_t of = f.offset_flags.get();
      ip.mf = (of & 1) != 0;
      ip.frag_offset = static_cast<uint16_t>(of & 0xFFF8);  // (of >> 3) * 8
      // An "atomic fragment" (offset 0, M clear; RFC 6946) is a whole packet.
      ip.is_fragment = ip.mf || ip.frag_offset != 0;
      ip.frag_id = f.id.get();
      next = f.next_header;
      ip.protocol = next;
      if (ip.frag_offset != 0) break;
      continue;
    }
    Ipv6ExtHeader e;
    if (!l4.read_struct(e)) return false;
    const size_t len =
        next == ipproto::kAh ? (size_t{e.hdr_ext_len} + 2) * 4 : (size_t{e.hdr_ext_len} + 1) * 8;
    if (!l4.skip(len - sizeof e)) return false;
    next = e.next_header;
    ip.protocol = next;
  }
  return true;
}

// Reads an IPv6 header and its extension headers. On success `l4` covers what follows them.
bool parse_ipv6(Reader& r, Bound bound, IpLayer& ip, Reader& l4) {
  Ipv6Header h;
  if (!r.read_struct(h)) return false;
  if (h.version() != 6) return false;
  ip.version = 6;
  ip.tos = h.traffic_class();
  ip.flow_label = h.flow_label();
  ip.ttl = h.hop_limit;
  ip.src = IpAddress::from_v6_bytes(h.src);
  ip.dst = IpAddress::from_v6_bytes(h.dst);
  const uint16_t payload_len = h.payload_len.get();
  ip.total_len = 40u + payload_len;
  if (bound == Bound::Quoted) {
    l4 = r.sub(r.remaining());
  } else {
    l4 = r.sub(payload_len);
    if (!l4.ok()) return false;
  }
  const size_t before = l4.offset();
  if (!walk_ipv6_ext_headers(l4, h.next_header, ip)) return false;
  ip.header_len = static_cast<uint16_t>(40 + (l4.offset() - before));
  return true;
}

bool parse_ip(Reader& r, uint8_t version, Bound bound, IpLayer& ip, Reader& l4) {
  return version == 4 ? parse_ipv4(r, bound, ip, l4) : parse_ipv6(r, bound, ip, l4);
}

// The IP version nibble of the next byte, 0 if there is no next byte.
uint8_t peek_version(const Reader& r) {
  uint8_t b = 0;
  return r.peek_u8(b) ? static_cast<uint8_t>(b >> 4) : 0;
}

// ---- Transport layer ---------------------------------------------------------------------------

void parse_tcp_options(std::span<const uint8_t> opts, ParsedPacket::TcpOptions& o) {
  o.len = static_cast<uint8_t>(opts.size());  // <= 40: data offset is at most 15 words
  std::copy(opts.begin(), opts.end(), o.raw.begin());
  Reader r(opts);
  uint8_t kind = 0;
  while (r.read_u8(kind)) {
    if (kind == tcpopt::kEol) return;
    if (kind == tcpopt::kNop) continue;
    uint8_t len = 0;
    std::span<const uint8_t> body;
    if (!r.read_u8(len) || len < 2 || !r.read_bytes(len - 2u, body)) {
      o.malformed = true;
      return;
    }
    switch (kind) {
      case tcpopt::kMss:
        if (body.size() == 2) {
          o.has_mss = true;
          o.mss = load_be16(body.data());
        }
        break;
      case tcpopt::kWScale:
        if (body.size() == 1) {
          o.has_wscale = true;
          o.wscale = body[0];
        }
        break;
      case tcpopt::kSackPermitted:
        o.sack_permitted = true;
        break;
      case tcpopt::kSack:
        o.has_sack = true;
        break;
      case tcpopt::kTimestamp:
        if (body.size() == 8) {
          o.has_timestamp = true;
          o.ts_val = load_be32(body.data());
          o.ts_ecr = load_be32(body.data() + 4);
        }
        break;
      default:
        break;
    }
  }
}

// Result of reading the L4 header of the outer packet.
enum class L4 { Parsed, Skipped, Bad };

L4 parse_tcp(Reader& l4, bool fragment, ParsedPacket& out) {
  TcpHeader h;
  if (!l4.read_struct(h)) return fragment ? L4::Skipped : L4::Bad;
  const size_t hlen = size_t{h.data_offset_words()} * 4;
  if (hlen < sizeof h) return L4::Bad;
  std::span<const uint8_t> opts;
  if (!l4.read_bytes(hlen - sizeof h, opts)) return fragment ? L4::Skipped : L4::Bad;
  auto& t = out.tcp;
  t.sport = h.sport.get();
  t.dport = h.dport.get();
  t.seq = h.seq.get();
  t.ack = h.ack.get();
  t.flags = h.flags;
  t.data_offset = h.data_offset_words();
  t.window = h.window.get();
  t.checksum = h.checksum.get();
  t.urgent = h.urgent.get();
  parse_tcp_options(opts, t.options);
  return L4::Parsed;
}

L4 parse_udp(Reader& l4, bool fragment, ParsedPacket& out) {
  UdpHeader h;
  if (!l4.read_struct(h)) return fragment ? L4::Skipped : L4::Bad;
  auto& u = out.udp;
  u.sport = h.sport.get();
  u.dport = h.dport.get();
  u.length = h.length.get();
  u.checksum = h.checksum.get();
  if (u.length < sizeof h) return L4::Bad;
  // A first fragment carries only part of the datagram the length field describes.
  if (!fragment && u.length > sizeof h + l4.remaining()) return L4::Bad;
  return L4::Parsed;
}

// Reads the packet an ICMP error quotes. Never fails the outer parse: `q` says how far it got.
void parse_quote(Reader r, uint8_t outer_version, ParsedPacket::Quoted& q) {
  if (peek_version(r) != outer_version) return;
  IpLayer ip;
  Reader l4;
  if (!parse_ip(r, outer_version, Bound::Quoted, ip, l4)) {
    // An IPv6 quote whose extension headers run past the quote still names its addresses.
    if (ip.version != 6) return;
  }
  q.valid = true;
  q.ip_version = ip.version;
  q.protocol = ip.protocol;
  q.ttl = ip.ttl;
  q.ip_id = ip.id;
  q.ip_total_len = ip.total_len;
  q.src = ip.src;
  q.dst = ip.dst;
  if (!l4.ok() || ip.frag_offset != 0) return;
  uint16_t a = 0, b = 0;
  uint32_t c = 0;
  if (l4.read_u16(a) && l4.read_u16(b) && l4.read_u32(c)) {
    q.has_l4 = true;
    q.sport = a;
    q.dport = b;
    q.seq = c;
  }
}

L4 parse_icmp(Reader& l4, uint8_t version, ParsedPacket& out) {
  IcmpHeader h;
  if (!l4.read_struct(h)) return out.is_fragment ? L4::Skipped : L4::Bad;
  auto& i = out.icmp;
  i.type = h.type;
  i.code = h.code;
  i.checksum = h.checksum.get();
  i.rest = h.rest.get();
  const bool error = version == 4 ? icmp::is_error(h.type) : icmp6::is_error(h.type);
  if (error) parse_quote(l4, version, out.quoted);
  return L4::Parsed;
}

L4 parse_l4(Reader& l4, ParsedPacket& out) {
  if (out.frag_offset != 0) return L4::Skipped;
  const bool frag = out.is_fragment;
  switch (out.l4_protocol) {
    case ipproto::kTcp:
      return parse_tcp(l4, frag, out);
    case ipproto::kUdp:
      return parse_udp(l4, frag, out);
    case ipproto::kIcmp:
      return out.ip_version == 4 ? parse_icmp(l4, 4, out) : L4::Skipped;
    case ipproto::kIcmpv6:
      return out.ip_version == 6 ? parse_icmp(l4, 6, out) : L4::Skipped;
    default:
      return L4::Skipped;
  }
}

}  // namespace

bool parse_packet(std::span<const uint8_t> frame, LinkType link, ParsedPacket& out) {
  out = ParsedPacket{};
  out.link = link;
  Reader r(frame);
  uint8_t version = 0;
  if (!parse_link(r, link, out, version)) return false;
  const uint8_t nibble = peek_version(r);
  if (nibble != 4 && nibble != 6) return false;
  if (version != 0 && version != nibble) return false;

  out.ip_offset = static_cast<uint32_t>(r.offset());
  IpLayer ip;
  Reader l4;
  if (!parse_ip(r, nibble, Bound::Outer, ip, l4)) return false;
  out.ip_version = ip.version;
  out.ttl = ip.ttl;
  out.tos = ip.tos;
  out.ext_header_count = ip.ext_count;
  out.ip_id = ip.id;
  out.ip_header_len = ip.header_len;
  out.ip_total_len = ip.total_len;
  out.flow_label = ip.flow_label;
  out.frag_id = ip.frag_id;
  out.src = ip.src;
  out.dst = ip.dst;
  out.dont_fragment = ip.df;
  out.more_fragments = ip.mf;
  out.is_fragment = ip.is_fragment;
  out.frag_offset = ip.frag_offset;
  out.l4_protocol = ip.protocol;
  out.l4_offset = static_cast<uint32_t>(out.ip_offset + ip.header_len);
  out.l4_len = static_cast<uint16_t>(l4.remaining());

  const L4 res = parse_l4(l4, out);
  if (res == L4::Bad) return false;
  out.l4_parsed = res == L4::Parsed;
  if (out.l4_parsed) {
    // For UDP the datagram ends where its length says, unless this is a first fragment.
    const size_t header = out.l4_len - l4.remaining();
    size_t end = out.l4_len;
    if (out.l4_protocol == ipproto::kUdp && !out.is_fragment) end = out.udp.length;
    out.payload_offset = static_cast<uint32_t>(out.l4_offset + header);
    out.payload_len = static_cast<uint16_t>(end - header);
  }
  return true;
}

bool parse_arp(std::span<const uint8_t> frame, LinkType link, ArpPacket& out) {
  out = ArpPacket{};
  ParsedPacket link_info;
  Reader r(frame);
  uint8_t version = 0;
  if (link == LinkType::RawIp || link == LinkType::Loopback) return false;
  // parse_link accepts IP only, but it has read the link header and the ethertype either way.
  if (parse_link(r, link, link_info, version) || link_info.ethertype != ethertype::kArp)
    return false;
  // The reader stopped after the link header (and tags) when the ethertype was not IP.
  ArpHeader a;
  if (!r.read_struct(a)) return false;
  if (a.htype.get() != arp::kHtypeEthernet || a.ptype.get() != ethertype::kIpv4 || a.hlen != 6 ||
      a.plen != 4)
    return false;
  const uint16_t op = a.op.get();
  if (op != arp::kRequest && op != arp::kReply) return false;
  out.src_mac = link_info.src_mac;
  out.dst_mac = link_info.dst_mac;
  out.vlan_id = link_info.vlan_id;
  out.op = op;
  std::copy(std::begin(a.sha), std::end(a.sha), out.sha.begin());
  std::copy(std::begin(a.tha), std::end(a.tha), out.tha.begin());
  out.spa = IpAddress::v4(a.spa.get());
  out.tpa = IpAddress::v4(a.tpa.get());
  return true;
}

bool verify_l4_checksum(std::span<const uint8_t> frame, const ParsedPacket& p) {
  if (!p.l4_parsed || p.is_fragment) return false;
  size_t len = p.l4_len;
  if (p.l4_protocol == ipproto::kUdp) len = p.udp.length;
  if (p.l4_offset > frame.size() || len > frame.size() - p.l4_offset) return false;
  const auto l4 = frame.subspan(p.l4_offset, len);
  // Summing the transmitted checksum along with everything it covers gives 0 when it is right.
  const uint64_t pseudo =
      pseudo_header_sum(p.src, p.dst, p.l4_protocol, static_cast<uint32_t>(len));
  switch (p.l4_protocol) {
    case ipproto::kTcp:
      return csum_finish(csum_add(pseudo, l4)) == 0;
    case ipproto::kUdp:
      if (p.udp.checksum == 0) return p.ip_version == 4;  // "no checksum"; IPv6 requires one
      return csum_finish(csum_add(pseudo, l4)) == 0;
    case ipproto::kIcmp:  // no pseudo-header
      return p.ip_version == 4 && csum_finish(csum_add(0, l4)) == 0;
    case ipproto::kIcmpv6:
      return p.ip_version == 6 && csum_finish(csum_add(pseudo, l4)) == 0;
    default:
      return false;
  }
}

bool verify_ipv4_header_checksum(std::span<const uint8_t> frame, const ParsedPacket& p) {
  if (p.ip_version != 4) return false;
  if (p.ip_offset > frame.size() || p.ip_header_len > frame.size() - p.ip_offset) return false;
  return internet_checksum(frame.subspan(p.ip_offset, p.ip_header_len)) == 0;
}

}  // namespace gh::net
