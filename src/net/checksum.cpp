#include "net/checksum.h"

#include "net/bytes.h"

namespace gh::net {

uint64_t csum_add(uint64_t sum, std::span<const uint8_t> data) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  // Eight bytes at a time: four big-endian words per step, summed into 64 bits. With at most
  // 4 * 0xFFFF added per step, 2^48 bytes cannot overflow.
  while (n >= 8) {
    sum += load_be16(p) + load_be16(p + 2) + load_be16(p + 4) + load_be16(p + 6);
    p += 8;
    n -= 8;
  }
  while (n >= 2) {
    sum += load_be16(p);
    p += 2;
    n -= 2;
  }
  if (n == 1) sum += static_cast<uint64_t>(p[0]) << 8;
  return sum;
}

uint16_t internet_checksum(std::span<const uint8_t> data) {
  return csum_finish(csum_add(0, data));
}

uint64_t csum_add_address(uint64_t sum, const IpAddress& a) {
  if (a.is_v4()) return csum_add32(sum, a.v4_value());
  for (int shift = 0; shift < 128; shift += 32)
    sum = csum_add32(sum, static_cast<uint32_t>(a.value >> shift));
  return sum;
}

uint64_t pseudo_header_sum(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                           uint32_t l4_len) {
  uint64_t sum = csum_add_address(csum_add_address(0, src), dst);
  // IPv4: zero byte + protocol byte, then a 16-bit length. IPv6: a 32-bit length, then three zero
  // bytes and the next-header byte. Both sum to the same words when the length fits 16 bits.
  sum = csum_add16(sum, proto);
  if (src.is_v4()) return csum_add16(sum, static_cast<uint16_t>(l4_len));
  return csum_add32(sum, l4_len);
}

uint16_t l4_checksum(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                     std::span<const uint8_t> l4) {
  return csum_finish(
      csum_add(pseudo_header_sum(src, dst, proto, static_cast<uint32_t>(l4.size())), l4));
}

}  // namespace gh::net
