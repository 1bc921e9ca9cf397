// One bit per probe index: has this probe got its verdict? The engine's only per-probe state.
//
// 1 bit per probe: 8 KiB for one host x 65535 ports, 8 MiB for a /16 x 1000 ports. set() returns
// whether the bit was newly set, which is how a duplicate reply (a retransmitted SYN-ACK, a reply
// to a retry) is recognised and dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace gh {

class AnsweredSet {
 public:
  explicit AnsweredSet(uint64_t n) : n_(n), words_((n + 63) / 64, 0) {}
  // A set restored from words() of an earlier one of the same size (a resumed scan). Throws
  // std::invalid_argument if the word count does not match or a bit beyond n is set.
  AnsweredSet(uint64_t n, std::vector<uint64_t> words);
  uint64_t size() const { return n_; }
  uint64_t count() const { return count_; }
  // test() may run on other threads (the send threads) while one thread calls set(): the words
  // are accessed atomically (relaxed: a probe sent just after its answer arrived is harmless).
  bool test(uint64_t i) const {
    // atomic_ref<const T> is C++26; load() does not write.
    auto& w = const_cast<uint64_t&>(words_[i >> 6]);
    return (std::atomic_ref<uint64_t>(w).load(std::memory_order_relaxed) >> (i & 63)) & 1u;
  }
  // Sets bit i; true if it was clear. One thread at a time.
  bool set(uint64_t i) {
    std::atomic_ref<uint64_t> w(words_[i >> 6]);
    uint64_t m = uint64_t{1} << (i & 63);
    if (w.fetch_or(m, std::memory_order_relaxed) & m) return false;
    ++count_;
    return true;
  }
  const std::vector<uint64_t>& words() const { return words_; }
  // Calls fn(i) for every clear bit in index order, skipping full words quickly.
  template <class Fn>
  void for_each_clear(Fn&& fn) const {
    for (uint64_t w = 0; w < words_.size(); ++w) {
      uint64_t clear = ~words_[w];
      while (clear != 0) {
        uint64_t i = (w << 6) + static_cast<uint64_t>(__builtin_ctzll(clear));
        if (i >= n_) return;
        fn(i);
        clear &= clear - 1;
      }
    }
  }

 private:
  uint64_t n_;
  uint64_t count_ = 0;
  std::vector<uint64_t> words_;
};

inline AnsweredSet::AnsweredSet(uint64_t n, std::vector<uint64_t> words)
    : n_(n), words_(std::move(words)) {
  if (words_.size() != (n + 63) / 64)
    throw std::invalid_argument("answered bitmap has the wrong number of words");
  if (n % 64 != 0 && !words_.empty() && (words_.back() >> (n % 64)) != 0)
    throw std::invalid_argument("answered bitmap has bits set beyond its size");
  for (uint64_t w : words_) count_ += static_cast<uint64_t>(__builtin_popcountll(w));
}

}  // namespace gh
