#include "net/announce_option.h"

#include <cstring>
#include <span>

#include "core/address.h"
#include "net/bytes.h"
#include "net/checksum.h"
#include "net/headers.h"

namespace gh::net {

AnnounceBlock announce_option_template(uint32_t handle) {
  AnnounceBlock o{};
  o[0] = kAnnounceKind;
  o[1] = kAnnounceLen;
  store_be16(o.data() + 2, kAnnounceExId);
  o[4] = kAnnounceVersion;
  store_be32(o.data() + 6, handle);
  return o;
}

void fill_announce(AnnounceBlock& b, uint8_t epoch_lo, uint64_t tag) {
  b[5] = epoch_lo;
  store_be32(b.data() + 10, static_cast<uint32_t>(tag >> 32));
  store_be32(b.data() + 14, static_cast<uint32_t>(tag));
}

void stamp_announce(uint8_t* tcp, size_t off, uint8_t epoch_lo, uint64_t tag) {
  // The template had zeros here, so the new sum is ~(~old + new words) (RFC 1624, eqn. 3, with
  // m = 0). epoch_lo is the low byte of the 16-bit word at off+4 (off is even).
  tcp[off + 5] = epoch_lo;
  store_be32(tcp + off + 10, static_cast<uint32_t>(tag >> 32));
  store_be32(tcp + off + 14, static_cast<uint32_t>(tag));
  uint32_t sum = static_cast<uint16_t>(~load_be16(tcp + 16));
  sum += epoch_lo;
  sum += static_cast<uint32_t>(tag >> 48) + static_cast<uint32_t>(tag >> 32 & 0xffff) +
         static_cast<uint32_t>(tag >> 16 & 0xffff) + static_cast<uint32_t>(tag & 0xffff);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  store_be16(tcp + 16, static_cast<uint16_t>(~sum));
}

bool find_announce_option(const uint8_t* o, size_t len, AnnounceOption& out) {
  size_t i = 0;
  while (i < len) {
    uint8_t kind = o[i];
    if (kind == 0) return false;  // EOL
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= len) return false;
    uint8_t l = o[i + 1];
    if (l < 2 || i + l > len) return false;
    if (kind == kAnnounceKind && l >= 4 && load_be16(o + i + 2) == kAnnounceExId) {
      if (l != kAnnounceLen) return false;
      out.version = o[i + 4];
      out.epoch_lo = o[i + 5];
      out.handle = load_be32(o + i + 6);
      out.tag = uint64_t{load_be32(o + i + 10)} << 32 | load_be32(o + i + 14);
      return true;
    }
    i += l;
  }
  return false;
}

size_t append_announce(uint8_t* frame, size_t len, size_t cap, size_t ip_off,
                       const AnnounceBlock& block) {
  const size_t n = len + block.size();
  if (n > cap || len <= ip_off) return 0;
  uint8_t* ip = frame + ip_off;
  const bool v4 = ip[0] >> 4 == 4;
  const size_t l4_off = ip_off + (v4 ? (ip[0] & 15u) * 4u : 40u);
  const uint8_t proto = v4 ? ip[9] : ip[6];
  if (l4_off + 8 > len) return 0;
  if (proto != ipproto::kUdp && proto != ipproto::kIcmp && proto != ipproto::kIcmpv6) return 0;
  std::memcpy(frame + len, block.data(), block.size());
  uint8_t* l4 = frame + l4_off;
  const size_t l4_len = n - l4_off;
  IpAddress src, dst;
  if (v4) {
    store_be16(ip + 2, static_cast<uint16_t>(n - ip_off));
    store_be16(ip + 10, 0);
    store_be16(ip + 10, internet_checksum({ip, (ip[0] & 15u) * 4u}));
    src = IpAddress::v4(load_be32(ip + 12));
    dst = IpAddress::v4(load_be32(ip + 16));
  } else {
    store_be16(ip + 4, static_cast<uint16_t>(l4_len));
    src = IpAddress::from_v6_bytes(ip + 8);
    dst = IpAddress::from_v6_bytes(ip + 24);
  }
  const std::span<const uint8_t> seg(l4, l4_len);
  if (proto == ipproto::kUdp) {
    store_be16(l4 + 4, static_cast<uint16_t>(l4_len));
    store_be16(l4 + 6, 0);
    uint16_t c = l4_checksum(src, dst, proto, seg);
    store_be16(l4 + 6, c == 0 ? 0xFFFF : c);
  } else {
    store_be16(l4 + 2, 0);
    store_be16(l4 + 2, proto == ipproto::kIcmp ? internet_checksum(seg)
                                               : l4_checksum(src, dst, proto, seg));
  }
  return n;
}

bool find_announce_trailer(const uint8_t* p, size_t len, AnnounceOption& out) {
  if (len < kAnnounceLen) return false;
  const uint8_t* b = p + len - kAnnounceLen;
  if (b[0] != kAnnounceKind || b[1] != kAnnounceLen || load_be16(b + 2) != kAnnounceExId)
    return false;
  return find_announce_option(b, kAnnounceLen, out);
}

}  // namespace gh::net
