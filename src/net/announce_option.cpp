#include "net/announce_option.h"

#include "net/bytes.h"

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

bool find_announce_trailer(const uint8_t* p, size_t len, AnnounceOption& out) {
  if (len < kAnnounceLen) return false;
  const uint8_t* b = p + len - kAnnounceLen;
  if (b[0] != kAnnounceKind || b[1] != kAnnounceLen || load_be16(b + 2) != kAnnounceExId)
    return false;
  return find_announce_option(b, kAnnounceLen, out);
}

}  // namespace gh::net
