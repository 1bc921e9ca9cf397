// Per-host pacing of retries for probes whose "closed" answer is an ICMP error (-sU), which
// targets rate-limit per destination: Linux sends at most about one port unreachable a second to
// one address after a burst of about six (net.ipv4.icmp_ratelimit = 1000 ms, icmpv6 likewise,
// scaled by the route's prefix length), and 1,000 a second in all (icmp_msgs_per_sec). A scan
// that retries everything unanswered at once gets one more answer per host per pass, so nmap slows
// down for the whole scan; Glasshouse instead measures each host's limit from its own replies and
// keeps every live host's limiter busy at once.
//
// Model, per host that answered anything in the first pass (the others are retried the usual
// way by the driver):
//   * its unanswered ports form a ring, walked in cycles; each probe is a retry with its own
//     attempt number (the cycle), so a late answer is still matched;
//   * while the host has sent ICMP errors, probes go out at p = 2 r + 2 per second, r being the
//     rate of errors it sent over the last two seconds (at least 4/s): fast enough that its token
//     bucket never fills (a full bucket wastes the refill) and slow enough not to flood it; a host
//     that sent no ICMP error at all is not rate-limited by anything we know: 100/s;
//   * a host is done when its ring is empty (everything answered) or after two whole cycles in a
//     row with no new answer, each at least 1.1 s long (one refill of Linux's limiter): what is
//     left is open|filtered (the driver's silence()). Its limiter was then idle, so a closed port
//     would have answered: only network loss can hide one.
// Answers are fed in as they are settled (answered()); the driver asks next() which host may send
// now, and sleeps until due() otherwise. Single-threaded: the driver's thread only.
// A "host" here is one limiter, named by the caller: with -S (scan/source_pool.h) the driver
// gives each (host, source address) pair of a host that sent ICMP errors its own key, since the
// target keeps one limiter per address it answers to.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

namespace gh {

class HostPacer {
 public:
  using Clock = std::chrono::steady_clock;

  // `positions` of host `host` still unanswered after the first pass; `icmp_seen` when the host
  // sent at least one ICMP error (its limiter is engaged).
  void add_host(uint64_t host, std::vector<uint64_t> positions, bool icmp_seen,
                Clock::time_point now);
  // A settled answer from `host` (icmp: an ICMP error, which its limiter counted).
  void answered(uint64_t host, bool icmp, Clock::time_point at);

  struct Send {
    uint64_t host;
    uint64_t position;
    uint32_t attempt;  // 1 + the cycle
  };
  // The next probe due at `now`, skipping positions `is_answered` says are done; nullopt when no
  // host is due (see due()) or every host is done.
  template <class IsAnswered>
  std::optional<Send> next(Clock::time_point now, IsAnswered&& is_answered);
  // When the next host is due; nullopt when every host is done.
  std::optional<Clock::time_point> due() const;
  size_t active() const { return heap_.size(); }
  uint32_t max_cycle() const { return max_cycle_; }
  // The per-host rate (probes/s) it would send at now: for tests and -v.
  double rate_of(uint64_t host, Clock::time_point now) const;

 private:
  struct Host {
    std::deque<uint64_t> ring;
    size_t left_in_cycle = 0;  // positions of the current cycle not yet taken
    uint32_t cycle = 0;
    uint64_t answers = 0;           // every answer since it was added
    uint64_t answers_at_cycle = 0;  // `answers` when the current cycle began
    uint32_t silent_cycles = 0;
    bool icmp_seen = false;
    std::deque<Clock::time_point> icmp;  // times of recent ICMP errors (the last 2 s)
    Clock::time_point next;
    Clock::time_point cycle_start;
  };
  static constexpr auto kMinCycle = std::chrono::milliseconds(1100);
  double rate(Host& h, Clock::time_point now) const;
  struct Due {
    Clock::time_point at;
    uint64_t host;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  std::unordered_map<uint64_t, Host> hosts_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> heap_;
  uint32_t max_cycle_ = 0;
};

template <class IsAnswered>
std::optional<HostPacer::Send> HostPacer::next(Clock::time_point now, IsAnswered&& is_answered) {
  while (!heap_.empty()) {
    Due d = heap_.top();
    if (d.at > now) return std::nullopt;
    heap_.pop();
    Host& h = hosts_[d.host];
    for (;;) {
      if (h.left_in_cycle == 0) {
        // A cycle ends no sooner than kMinCycle after it began: a limiter that had no token
        // when the cycle went out (the host answered nothing yet) has had one refill since.
        if (h.cycle > 0 && now < h.cycle_start + kMinCycle) {
          heap_.push(Due{h.cycle_start + kMinCycle, d.host});
          goto next_host;
        }
        // A cycle ended: was it silent?
        if (h.cycle > 0)
          h.silent_cycles = h.answers == h.answers_at_cycle ? h.silent_cycles + 1 : 0;
        if (h.ring.empty() || h.silent_cycles >= 2) break;
        ++h.cycle;
        if (h.cycle > max_cycle_) max_cycle_ = h.cycle;
        h.answers_at_cycle = h.answers;
        h.cycle_start = now;
        h.left_in_cycle = h.ring.size();
      }
      uint64_t k = h.ring.front();
      h.ring.pop_front();
      --h.left_in_cycle;
      if (is_answered(k)) continue;
      h.ring.push_back(k);
      const double r = rate(h, now);
      h.next = std::max(now, d.at) +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / r));
      heap_.push(Due{h.next, d.host});
      return Send{d.host, k, h.cycle};
    }
    hosts_.erase(d.host);  // done: everything answered, or two silent cycles
  next_host:;
  }
  return std::nullopt;
}

}  // namespace gh
