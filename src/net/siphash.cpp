#include "net/siphash.h"

namespace gh::net {
namespace {

uint64_t load_le64(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

SipHash24 SipHash24::from_key_bytes(std::span<const uint8_t, 16> key) {
  return SipHash24(load_le64(key.data(), 8), load_le64(key.data() + 8, 8));
}

uint64_t SipHash24::operator()(std::span<const uint8_t> data) const {
  State s(k0_, k1_);
  const uint8_t* p = data.data();
  const size_t n = data.size();
  const size_t full = n / 8 * 8;
  for (size_t i = 0; i < full; i += 8) s.compress(load_le64(p + i, 8));
  const uint64_t last = (static_cast<uint64_t>(n) << 56) | load_le64(p + full, n - full);
  return s.finish(last);
}

}  // namespace gh::net
