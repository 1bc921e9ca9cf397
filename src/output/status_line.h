// The live status line on stderr while a scan runs:
//
//   send 12.3 kpps, recv 850 pps, 45.6% done, 0:00:12 left, found 3, retries 0
//   send 9.8 kpps, recv 12 pps, 100.0% done, 0:01:40 left, found 212, retries 1.23M (pass 2)
//
// redrawn in place every 250 ms ("\r", the text, then ESC[K to clear what a longer line left) and
// erased by stop(). Drawn only when enabled and stderr is a terminal.
//
//   send, recv  packets sent (probes, retries included) and validated replies received, per
//               second, each over a sliding window of the last 5 seconds
//   done        the share of the scan's probes sent once or already settled: max(done, sent -
//               retries) / total during the first pass, 100% once the retry passes have begun
//               (a mostly silent scan settles most probes only at its very end, so counting
//               verdicts alone would sit near 0% until then)
//   left        what the pass under way still has to send, at the current send rate: the first
//               pass's unsent probes, or in a retry pass the probes still without a verdict (an
//               upper bound: it resends only those). The waits for late replies and any further
//               retry passes are not in it. Before a send rate is known, the first pass is
//               extrapolated from the time so far; "-:--:--" when nothing can be said.
//   found       open ports
//   rate        the rate the engine aims at and why, when it says (-sS at -T3/-T4: "ramping",
//               "backing off for 198.18.0.5: unanswered probes", "host budget for ...",
//               "capped by --max-rate/scope")
//   retries     probes sent again, with the retry pass under way ("(pass N)", N >= 1) once there
//               is one
//   drops       replies the kernel dropped before the engine read them (-sS), when any
//   skipped     target addresses the exclusions removed, when any
//
// Counts of 100,000 and more are shortened to three digits ("123k", "1.23M"). The line is kept to
// kStatusWidth columns: when it would be longer, "skipped", then "(pass N)", then "retries",
// then "drops", then the rate's reason, then the rate are left out, in that order (the first
// five fields always fit), and the redraw also cuts it to the terminal's width.
//
// Threading: the redraw thread reads the counters through the snapshot function, which must be
// safe to call from that thread (EngineCounters are atomics) and must outlive the StatusLine.
// stop() may be called any number of times, from any thread but the redraw thread itself, and the
// destructor calls it, so every exit path (including exceptions) erases the line. Not
// async-signal-safe: call stop() from normal code, after the engine returned.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace gh {

struct EngineCounters;  // scan/engine.h

struct StatusSnapshot {
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t retries = 0;
  uint64_t done = 0;
  uint64_t total = 0;
  uint64_t open = 0;
  uint64_t skipped = 0;   // addresses the exclusions removed; shown when not zero
  uint64_t drops = 0;     // replies the kernel dropped (-sS); shown when not zero
  uint64_t pass = 0;      // retry pass under way, 0 = the first pass
  double rate = 0;        // the rate the engine aims at, pps; 0 = not said
  std::string rate_note;  // why (scan/congestion.h): "ramping", "backing off for 198.18.0.5: ..."
};

// Per-second rates over the sliding window.
struct StatusRates {
  double send = 0;  // packets sent per second
  double recv = 0;  // validated replies per second
};

// The longest line format_status returns.
inline constexpr size_t kStatusWidth = 100;

// Reads the engine's counters (each atomically; the set is not one consistent instant).
StatusSnapshot snapshot_of(const EngineCounters& c);

// Per-second rate of a growing counter over a sliding time window.
class RateWindow {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateWindow(Clock::duration span = std::chrono::seconds(5)) : span_(span) {}
  void add(Clock::time_point t, uint64_t value);
  // Increase per second between the oldest sample kept (at most `span` older than the newest,
  // plus one sample before that) and the newest; 0 with fewer than two samples.
  double per_second() const;

 private:
  Clock::duration span_;
  std::deque<std::pair<Clock::time_point, uint64_t>> samples_;
};

// "850 pps", "12.3 kpps", "1.25 Mpps".
std::string format_rate(double per_second);
// "0:00:12", "27:46:40".
std::string format_hms(std::chrono::seconds s);
// "99999", "123k", "1.23M", "12.3G": exact below 100,000, else three significant digits.
std::string format_count(uint64_t n);
// The status text without control characters, at most kStatusWidth columns.
std::string format_status(const StatusSnapshot& s, const StatusRates& rates,
                          std::chrono::steady_clock::duration elapsed);

struct StatusLineOptions {
  bool enabled = true;                      // --no-status / OutputSpec::status_line
  std::chrono::milliseconds interval{250};  // redraw period
  int fd = 2;                               // where to draw (stderr)
  bool force = false;                       // draw even if fd is not a terminal (tests)
};

class StatusLine {
 public:
  using Source = std::function<StatusSnapshot()>;

  // Starts the redraw thread when enabled and fd is a terminal (or force).
  explicit StatusLine(Source source, StatusLineOptions opts = {});
  explicit StatusLine(const EngineCounters& counters, StatusLineOptions opts = {});
  ~StatusLine();
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  // Whether the line is being drawn (false when disabled, not a terminal, or stopped).
  bool active() const;
  // Stops the thread and erases the line. Idempotent.
  void stop();
  // Writes `line` and a newline to `out` (e.g. std::cout) without mangling the status line:
  // erases it first and redraws it after. Works (plainly) when inactive too.
  void print_above(std::ostream& out, std::string_view line);

 private:
  void run();
  void draw_locked();
  void erase_locked();
  void write_fd(std::string_view s) const;

  Source source_;
  StatusLineOptions opts_;
  std::chrono::steady_clock::time_point start_;
  RateWindow sent_window_;
  RateWindow recv_window_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;   // under mu_
  bool stopping_ = false;  // under mu_
  bool drawn_ = false;     // under mu_: the line is on screen
  std::mutex join_mu_;
  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace gh
