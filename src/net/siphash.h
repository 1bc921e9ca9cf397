// SipHash-2-4 with 64-bit output (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012): the keyed hash behind the stateless probe cookies (cookie.h).
//
// Keys: the reference implementation takes a 16-byte key k[0..15]; k0 and k1 here are its two
// little-endian 64-bit halves (k0 = k[0] | k[1] << 8 | ...), so SipHash24::from_key_bytes(k)
// reproduces the reference test vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace gh::net {

class SipHash24 {
 public:
  SipHash24(uint64_t k0, uint64_t k1) : k0_(k0), k1_(k1) {}
  static SipHash24 from_key_bytes(std::span<const uint8_t, 16> key);

  // SipHash-2-4 of any byte string.
  uint64_t operator()(std::span<const uint8_t> data) const;

  // The fast fixed-size variant: equals operator() applied to the 8*n bytes of `words` each
  // written little-endian, without any byte shuffling. Used on the per-packet path.
  uint64_t words(const uint64_t* w, size_t n) const {
    State s(k0_, k1_);
    for (size_t i = 0; i < n; ++i) s.compress(w[i]);
    return s.finish(static_cast<uint64_t>(n * 8) << 56);
  }

 private:
  struct State {
    uint64_t v0, v1, v2, v3;
    State(uint64_t k0, uint64_t k1)
        : v0(k0 ^ 0x736f6d6570736575ull),
          v1(k1 ^ 0x646f72616e646f6dull),
          v2(k0 ^ 0x6c7967656e657261ull),
          v3(k1 ^ 0x7465646279746573ull) {}
    static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }
    void round() {
      v0 += v1;
      v1 = rotl(v1, 13);
      v1 ^= v0;
      v0 = rotl(v0, 32);
      v2 += v3;
      v3 = rotl(v3, 16);
      v3 ^= v2;
      v0 += v3;
      v3 = rotl(v3, 21);
      v3 ^= v0;
      v2 += v1;
      v1 = rotl(v1, 17);
      v1 ^= v2;
      v2 = rotl(v2, 32);
    }
    // c = 2 compression rounds per 8-byte block.
    void compress(uint64_t m) {
      v3 ^= m;
      round();
      round();
      v0 ^= m;
    }
    // `last` is the final block: the message length mod 256 in the top byte, the 0..7 leftover
    // bytes below it. d = 4 finalization rounds.
    uint64_t finish(uint64_t last) {
      compress(last);
      v2 ^= 0xff;
      round();
      round();
      round();
      round();
      return v0 ^ v1 ^ v2 ^ v3;
    }
  };

  uint64_t k0_, k1_;
};

// One-shot convenience.
inline uint64_t siphash24(uint64_t k0, uint64_t k1, std::span<const uint8_t> data) {
  return SipHash24(k0, k1)(data);
}

}  // namespace gh::net
