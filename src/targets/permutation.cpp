#include "targets/permutation.h"

#include <cmath>

namespace gh {
namespace {

// splitmix64: turns the seed into independent round keys, and mixes round inputs.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  return x ^ (x >> 33);
}

uint64_t isqrt_ceil(uint64_t n) {
  auto r = static_cast<uint64_t>(std::sqrt(static_cast<long double>(n)));
  while (r > 0 && static_cast<unsigned __int128>(r) * r > n) --r;
  while (static_cast<unsigned __int128>(r) * r < n) ++r;
  return r;
}

}  // namespace

Permutation::Permutation(uint64_t n, uint64_t seed) : n_(n) {
  // a*b >= n with a, b close to sqrt(n), so a*b - n < a and cycle-walking rarely repeats.
  a_ = n <= 1 ? 1 : isqrt_ceil(n);
  b_ = n <= 1 ? 1 : (n + a_ - 1) / a_;
  uint64_t s = seed;
  k0_ = splitmix64(s);
  k1_ = splitmix64(s);
}

uint64_t Permutation::round(int r, uint64_t value) const {
  return mix(value ^ (k0_ + static_cast<uint64_t>(r) * k1_));
}

// Generalized Feistel (Black & Rogaway's FE2): x = L + a*R with L in [0,a), R in [0,b).
// Odd rounds work modulo a, even rounds modulo b; each round (L, R) -> (R, (L + F(R)) mod m) is
// invertible, so the whole pass is a bijection of [0, a*b).
uint64_t Permutation::encrypt(uint64_t x) const {
  uint64_t left = x % a_, right = x / a_;
  for (int r = 1; r <= kRounds; ++r) {
    uint64_t m = (r & 1) ? a_ : b_;
    uint64_t next = (left + round(r, right) % m) % m;
    left = right;
    right = next;
  }
  return left + a_ * right;
}

uint64_t Permutation::decrypt(uint64_t y) const {
  uint64_t left = y % a_, right = y / a_;
  for (int r = kRounds; r >= 1; --r) {
    uint64_t m = (r & 1) ? a_ : b_;
    uint64_t prev_right = left;
    uint64_t f = round(r, prev_right) % m;
    uint64_t prev_left = (right + m - f) % m;
    left = prev_left;
    right = prev_right;
  }
  return left + a_ * right;
}

uint64_t Permutation::at(uint64_t i) const {
  uint64_t x = encrypt(i);
  while (x >= n_) x = encrypt(x);  // cycle-walk back into [0, n)
  return x;
}

uint64_t Permutation::inverse(uint64_t x) const {
  uint64_t i = decrypt(x);
  while (i >= n_) i = decrypt(i);
  return i;
}

}  // namespace gh
