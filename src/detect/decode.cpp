#include "detect/decode.h"

namespace gh::detect {
namespace {

// A read-only window on the frame. Every read checks the bounds; a failed read leaves the cursor
// where it was and reports false.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t size() const { return n_; }
  const uint8_t* data() const { return p_; }
  bool has(size_t k) const { return k <= n_; }
  uint8_t u8(size_t at) const { return p_[at]; }
  uint16_t be16(size_t at) const { return static_cast<uint16_t>(p_[at] << 8 | p_[at + 1]); }
  uint32_t be32(size_t at) const {
    return static_cast<uint32_t>(p_[at]) << 24 | static_cast<uint32_t>(p_[at + 1]) << 16 |
           static_cast<uint32_t>(p_[at + 2]) << 8 | p_[at + 3];
  }
  bool skip(size_t k) {
    if (k > n_) return false;
    p_ += k;
    n_ -= k;
    return true;
  }
  Cursor sub(size_t from, size_t count) const {
    if (from > n_) return Cursor(p_ + n_, 0);
    size_t rest = n_ - from;
    return Cursor(p_ + from, count < rest ? count : rest);
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86DD;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88A8;

TcpOptionSummary read_tcp_options(Cursor opt) {
  TcpOptionSummary s;
  size_t i = 0;
  while (i < opt.size()) {
    uint8_t kind = opt.u8(i);
    if (kind == 0) break;  // end of options
    if (kind == 1) {       // NOP
      ++i;
      continue;
    }
    if (i + 1 >= opt.size()) {
      s.malformed = true;
      break;
    }
    uint8_t len = opt.u8(i + 1);
    if (len < 2 || i + len > opt.size()) {
      s.malformed = true;
      break;
    }
    ++s.count;
    if (kind == 2 && len == 4) s.mss = opt.be16(i + 2);
    if (kind == 3) s.window_scale = true;
    if (kind == 4) s.sack_permitted = true;
    if (kind == 8) s.timestamps = true;
    i += len;
  }
  return s;
}

// Reads the IP header at `c`: fills addresses, ttl, id and returns the transport protocol and the
// transport bytes (bounded by the IP length field). ok=false on anything unusable.
struct IpView {
  bool ok = false;
  bool first_fragment = true;
  uint8_t proto = 0;
  Cursor transport{nullptr, 0};
};

IpView read_ip(Cursor c, IpAddress& src, IpAddress& dst, uint8_t& ttl, uint16_t& ip_id) {
  IpView v;
  if (!c.has(1)) return v;
  uint8_t version = c.u8(0) >> 4;
  if (version == 4) {
    if (!c.has(20)) return v;
    size_t ihl = (c.u8(0) & 0x0F) * 4u;
    if (ihl < 20 || !c.has(ihl)) return v;
    size_t total = c.be16(2);
    if (total < ihl) return v;
    ip_id = c.be16(4);
    uint16_t frag = c.be16(6);
    v.first_fragment = (frag & 0x1FFF) == 0;
    ttl = c.u8(8);
    v.proto = c.u8(9);
    src = IpAddress::v4(c.be32(12));
    dst = IpAddress::v4(c.be32(16));
    v.transport = c.sub(ihl, total - ihl);
    v.ok = true;
    return v;
  }
  if (version == 6) {
    if (!c.has(40)) return v;
    size_t payload = c.be16(4);
    uint8_t next = c.u8(6);
    ttl = c.u8(7);
    ip_id = 0;
    src = IpAddress::from_v6_bytes(c.data() + 8);
    dst = IpAddress::from_v6_bytes(c.data() + 24);
    Cursor rest = c.sub(40, payload);
    // Walk the extension headers we can skip; stop at the first transport header.
    for (int hops = 0; hops < 8; ++hops) {
      if (next == 0 || next == 43 || next == 60) {  // hop-by-hop, routing, destination options
        if (!rest.has(2)) return v;
        size_t len = (rest.u8(1) + 1u) * 8u;
        next = rest.u8(0);
        if (!rest.skip(len)) return v;
        continue;
      }
      if (next == 44) {  // fragment
        if (!rest.has(8)) return v;
        v.first_fragment = (rest.be16(2) & 0xFFF8) == 0;
        next = rest.u8(0);
        rest.skip(8);
        continue;
      }
      if (next == 51) {  // authentication header: length in 4-byte units, minus 2
        if (!rest.has(2)) return v;
        size_t len = (rest.u8(1) + 2u) * 4u;
        next = rest.u8(0);
        if (!rest.skip(len)) return v;
        continue;
      }
      break;
    }
    v.proto = next;
    v.transport = rest;
    v.ok = true;
    return v;
  }
  return v;
}

// The IP header + first 8 transport bytes quoted inside an ICMP error.
void read_quote(Cursor c, IcmpQuote& q) {
  uint8_t ttl = 0;
  uint16_t id = 0;
  IpView v = read_ip(c, q.src, q.dst, ttl, id);
  if (!v.ok || !v.first_fragment) return;
  q.proto = v.proto;
  if ((v.proto == kProtoTcp || v.proto == kProtoUdp) && v.transport.has(4)) {
    q.sport = v.transport.be16(0);
    q.dport = v.transport.be16(2);
    q.present = true;
  } else if (v.proto == kProtoIcmp || v.proto == kProtoIcmp6) {
    q.present = true;
  }
}

}  // namespace

bool link_type_supported(int lt) {
  switch (lt) {
    case link::kNull:
    case link::kEthernet:
    case link::kRawDlt:
    case link::kRawDltBsd:
    case link::kRaw:
    case link::kLoop:
    case link::kLinuxSll:
    case link::kIpv4:
    case link::kIpv6:
    case link::kLinuxSll2:
      return true;
    default:
      return false;
  }
}

Decode make_event(const uint8_t* frame, size_t len, int link_type, int64_t ts_us,
                  PacketEvent& out) {
  Cursor c(frame, len);
  // 1. Link layer: find where the IP header starts.
  switch (link_type) {
    case link::kEthernet: {
      if (!c.has(14)) return Decode::Truncated;
      uint16_t type = c.be16(12);
      size_t off = 14;
      for (int tags = 0; tags < 2 && (type == kEtherVlan || type == kEtherQinQ); ++tags) {
        if (!c.has(off + 4)) return Decode::Truncated;
        type = c.be16(off + 2);
        off += 4;
      }
      if (type != kEtherIpv4 && type != kEtherIpv6) return Decode::NotIp;
      c.skip(off);
      break;
    }
    case link::kLinuxSll: {
      if (!c.has(16)) return Decode::Truncated;
      uint16_t type = c.be16(14);
      if (type != kEtherIpv4 && type != kEtherIpv6) return Decode::NotIp;
      c.skip(16);
      break;
    }
    case link::kLinuxSll2: {
      if (!c.has(20)) return Decode::Truncated;
      uint16_t type = c.be16(0);
      if (type != kEtherIpv4 && type != kEtherIpv6) return Decode::NotIp;
      c.skip(20);
      break;
    }
    case link::kNull:
    case link::kLoop: {
      if (!c.skip(4)) return Decode::Truncated;
      break;
    }
    case link::kRawDlt:
    case link::kRawDltBsd:
    case link::kRaw:
    case link::kIpv4:
    case link::kIpv6:
      break;
    default:
      return Decode::Unsupported;
  }

  // 2. Network layer.
  out = PacketEvent{};
  out.ts_us = ts_us;
  IpView ip = read_ip(c, out.src, out.dst, out.ttl, out.ip_id);
  if (!ip.ok)
    return c.has(1) && (c.u8(0) >> 4 == 4 || c.u8(0) >> 4 == 6) ? Decode::Truncated : Decode::NotIp;
  if (!ip.first_fragment) return Decode::Unsupported;
  out.proto = ip.proto;
  Cursor t = ip.transport;

  // 3. Transport layer.
  switch (ip.proto) {
    case kProtoTcp: {
      if (!t.has(20)) return Decode::Truncated;
      out.sport = t.be16(0);
      out.dport = t.be16(2);
      out.seq = t.be32(4);
      out.ack = t.be32(8);
      size_t doff = (t.u8(12) >> 4) * 4u;
      out.tcp_flags = t.u8(13);
      out.window = t.be16(14);
      if (doff < 20) return Decode::Truncated;
      if (t.has(doff)) {
        out.options = read_tcp_options(t.sub(20, doff - 20));
        out.payload_len = static_cast<uint32_t>(t.size() - doff);
      } else {
        out.options.malformed = true;  // options cut off by the snap length
      }
      return Decode::Ok;
    }
    case kProtoUdp: {
      if (!t.has(8)) return Decode::Truncated;
      out.sport = t.be16(0);
      out.dport = t.be16(2);
      uint16_t ulen = t.be16(4);
      out.payload_len = ulen >= 8 ? ulen - 8u : 0u;
      return Decode::Ok;
    }
    case kProtoIcmp:
    case kProtoIcmp6: {
      if (!t.has(8)) return Decode::Truncated;
      out.icmp_type = t.u8(0);
      out.icmp_code = t.u8(1);
      out.icmp_id = t.be16(4);
      bool error = ip.proto == kProtoIcmp
                       ? (out.icmp_type == 3 || out.icmp_type == 11 || out.icmp_type == 12)
                       : (out.icmp_type < 128);
      if (error) read_quote(t.sub(8, t.size() - 8), out.quote);
      return Decode::Ok;
    }
    default:
      return Decode::Unsupported;
  }
}

}  // namespace gh::detect
