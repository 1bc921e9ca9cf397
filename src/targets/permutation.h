// A keyed pseudo-random permutation of [0, n): the order in which probes are sent.
//
// Probe number i of the scan goes to space index P(i). P is a bijection, so every (target, port)
// pair is probed exactly once per pass and no host or network sees a burst; it is computed, not
// stored, so it costs no memory whatever n is; and it depends only on (n, seed), so two machines
// with the same --seed agree on it (sharding relies on that).
//
// Construction: a Feistel network over a rectangle a x b >= n (a, b ~ sqrt(n)) with modular
// addition ("generalized" Feistel, as in Black and Rogaway's "Ciphers with arbitrary finite
// domains"), keyed by SipHash of the seed, with cycle-walking: an output >= n is fed back in until
// it lands inside [0, n). Because a*b - n < a + b, the expected number of walks is ~1.
#pragma once

#include <cstdint>

namespace gh {

class Permutation {
 public:
  Permutation(uint64_t n, uint64_t seed);
  uint64_t size() const { return n_; }
  // P(i) for i < size().
  uint64_t at(uint64_t i) const;
  // P^-1(x) for x < size(): at(inverse(x)) == x.
  uint64_t inverse(uint64_t x) const;

 private:
  uint64_t encrypt(uint64_t x) const;  // one Feistel pass over [0, a*b)
  uint64_t decrypt(uint64_t x) const;
  uint64_t round(int r, uint64_t value) const;
  uint64_t n_, a_, b_;
  uint64_t k0_, k1_;
  static constexpr int kRounds = 6;  // even, so the last round leaves (L, R) in (a, b) order
};

}  // namespace gh
