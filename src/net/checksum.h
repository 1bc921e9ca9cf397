// The internet checksum (RFC 1071), its incremental update (RFC 1624), and the pseudo-header sums
// TCP, UDP and ICMPv6 checksums cover.
//
// Working with partial sums: csum_add() accumulates big-endian 16-bit words into a 64-bit sum
// that is only folded at the end, so sums of separate pieces can simply be added together
// (one's-complement addition is associative and commutative). Every piece except the last must
// start at an even offset of the checksummed data and have an even length; an odd trailing byte
// is padded with a zero byte, as RFC 1071 says.
//
// Computing a checksum: set the checksum field to zero, sum everything, csum_finish().
// Verifying: sum everything including the transmitted checksum; the data is intact iff
// csum_finish() of that sum is 0.
//
// All values here are host-order integers of big-endian 16-bit words: store a result with
// store_be16() or be16::set().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/address.h"

namespace gh::net {

// Adds the bytes as big-endian 16-bit words to `sum`. Safe for any length up to 2^48 bytes.
uint64_t csum_add(uint64_t sum, std::span<const uint8_t> data);

// Adds one 16-bit or 32-bit value (as the words it occupies on the wire).
constexpr uint64_t csum_add16(uint64_t sum, uint16_t v) {
  return sum + v;
}
constexpr uint64_t csum_add32(uint64_t sum, uint32_t v) {
  return sum + (v >> 16) + (v & 0xFFFF);
}

// Folds a partial sum to 16 bits with end-around carry (not complemented).
constexpr uint16_t csum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The value of the checksum field: the complement of the folded sum.
constexpr uint16_t csum_finish(uint64_t sum) {
  return static_cast<uint16_t>(~csum_fold(sum));
}

// RFC 1071 checksum of `data` (the checksum field inside it must be zero when computing).
uint16_t internet_checksum(std::span<const uint8_t> data);

// RFC 1624 eqn. 3: the new checksum field after one 16-bit word changed from old_word to
// new_word, without re-summing the data: HC' = ~(~HC + ~m + m').
constexpr uint16_t csum_update16(uint16_t old_csum, uint16_t old_word, uint16_t new_word) {
  uint64_t sum = static_cast<uint16_t>(~old_csum);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  return csum_finish(sum);
}
constexpr uint16_t csum_update32(uint16_t old_csum, uint32_t old_value, uint32_t new_value) {
  return csum_update16(csum_update16(old_csum, static_cast<uint16_t>(old_value >> 16),
                                     static_cast<uint16_t>(new_value >> 16)),
                       static_cast<uint16_t>(old_value), static_cast<uint16_t>(new_value));
}

// Sum of one address's wire bytes: 4 for IPv4, 16 for IPv6.
uint64_t csum_add_address(uint64_t sum, const IpAddress& a);

// Sum of the pseudo-header for an upper-layer packet of l4_len bytes carrying `proto`.
// IPv4 (RFC 793): src, dst, zero, protocol, 16-bit length. IPv6 (RFC 8200 section 8.1): src, dst,
// 32-bit length, three zero bytes, next header. The family comes from `src`; `dst` must match.
uint64_t pseudo_header_sum(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                           uint32_t l4_len);

// The TCP/UDP/ICMPv6 checksum field value for `l4` (whose checksum field must be zero).
// For UDP the caller maps a result of 0 to 0xFFFF (RFC 768).
uint16_t l4_checksum(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                     std::span<const uint8_t> l4);

}  // namespace gh::net
