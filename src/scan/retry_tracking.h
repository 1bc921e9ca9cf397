// What the SYN engine tracks to decide what to retry and how long to wait, besides the answered
// bitmap (scan/answered_set.h): round-trip times from a sample of probes (send times written by
// the send threads, replies read by the thread that settles them), and how many ports of each
// host have answered (that thread only).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

namespace gh {

// Round-trip times from a sample of probes (one slice position in 16): send times in a small
// direct-mapped table, looked up when the reply is settled. RFC 6298's smoothed RTT and variance,
// and the largest sample of the current pass. Send thread only.
class RttSampler {
 public:
  static bool sampled(uint64_t k) { return (k & 15) == 0; }
  // From any send thread. A slot written by two threads at once may pair one's position with
  // the other's time: a wrong sample at worst, never a crash (each field is atomic).
  void sent(uint64_t k, std::chrono::steady_clock::time_point t) {
    Slot& s = slots_[(k >> 4) & (kSlots - 1)];
    s.k.store(~uint64_t{0}, std::memory_order_relaxed);
    s.t.store(t.time_since_epoch().count(), std::memory_order_relaxed);
    s.k.store(k, std::memory_order_release);
  }
  // From the thread that settles replies (one thread). Returns the sample in seconds, or -1
  // when the slot no longer holds this probe's send time.
  double replied(uint64_t k, std::chrono::steady_clock::time_point at) {
    const Slot& s = slots_[(k >> 4) & (kSlots - 1)];
    if (s.k.load(std::memory_order_acquire) != k) return -1;
    std::chrono::steady_clock::time_point sent_at{
        std::chrono::steady_clock::duration(s.t.load(std::memory_order_relaxed))};
    if (at < sent_at) return -1;
    double r = std::chrono::duration<double>(at - sent_at).count();
    if (samples_++ == 0) {
      srtt_ = r;
      rttvar_ = r / 2;
    } else {
      rttvar_ = 0.75 * rttvar_ + 0.25 * std::abs(srtt_ - r);
      srtt_ = 0.875 * srtt_ + 0.125 * r;
    }
    pass_max_ = std::max(pass_max_, r);
    return r;
  }
  void new_pass() { pass_max_ = 0; }
  uint64_t samples() const { return samples_; }
  // How long to wait for a pass's last replies: the larger of srtt + 4 rttvar and twice the
  // slowest reply of the pass, plus 5 ms for the receive thread, within [10 ms, cap].
  std::chrono::milliseconds straggler_wait(std::chrono::milliseconds cap) const {
    double s = std::max(srtt_ + 4 * rttvar_, 2 * pass_max_) + 0.005;
    auto ms = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(s * 1000)));
    return std::clamp(ms, std::min(std::chrono::milliseconds(10), cap), cap);
  }

 private:
  static constexpr size_t kSlots = 1024;
  struct Slot {
    std::atomic<uint64_t> k{~uint64_t{0}};
    std::atomic<std::chrono::steady_clock::rep> t{0};
  };
  std::array<Slot, kSlots> slots_{};
  uint64_t samples_ = 0;
  double srtt_ = 0, rttvar_ = 0, pass_max_ = 0;
};

// How many ports of each target host have answered (0, 1, 2, 3 or more), two bits per host, and
// how many hosts are at each count: which hosts are silent, and the completeness model's
// hosts_by_answers (scan/completeness.h). Only kept when the scan has more than one port.
class HostAnswers {
 public:
  explicit HostAnswers(uint64_t hosts) : words_((hosts * 2 + 63) / 64, 0) {}
  unsigned get(uint64_t h) const { return (words_[h >> 5] >> ((h & 31) * 2)) & 3u; }
  void add(uint64_t h) {
    unsigned c = get(h);
    if (c == 3) return;
    words_[h >> 5] += uint64_t{1} << ((h & 31) * 2);
    if (c > 0) --by_count_[c - 1];
    ++by_count_[c];
  }
  const std::array<uint64_t, 3>& by_count() const { return by_count_; }

 private:
  std::vector<uint64_t> words_;
  std::array<uint64_t, 3> by_count_{};
};

}  // namespace gh
