#include "output/status_line.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <vector>

#include "scan/engine.h"

namespace gh {

StatusSnapshot snapshot_of(const EngineCounters& c) {
  StatusSnapshot s;
  s.sent = c.sent.load(std::memory_order_relaxed);
  s.received = c.received.load(std::memory_order_relaxed);
  s.retries = c.retries.load(std::memory_order_relaxed);
  s.done = c.done.load(std::memory_order_relaxed);
  s.total = c.total.load(std::memory_order_relaxed);
  s.open = c.open.load(std::memory_order_relaxed);
  s.skipped = c.skipped.load(std::memory_order_relaxed);
  s.drops = c.drops.load(std::memory_order_relaxed);
  s.pass = c.pass.load(std::memory_order_relaxed);
  s.rate = c.rate.load(std::memory_order_relaxed);
  s.rate_note = c.rate_note();
  return s;
}

void RateWindow::add(Clock::time_point t, uint64_t value) {
  samples_.emplace_back(t, value);
  // Keep one sample at or before (t - span) so the window covers the whole span once it can.
  while (samples_.size() > 2 && samples_[1].first <= t - span_) samples_.pop_front();
}

double RateWindow::per_second() const {
  if (samples_.size() < 2) return 0;
  const auto& [t0, v0] = samples_.front();
  const auto& [t1, v1] = samples_.back();
  std::chrono::duration<double> dt = t1 - t0;
  if (dt.count() <= 0 || v1 < v0) return 0;
  return static_cast<double>(v1 - v0) / dt.count();
}

std::string format_rate(double pps) {
  if (!(pps >= 0)) pps = 0;
  if (pps < 1000) return fmt::format("{:.0f} pps", pps);
  if (pps < 999950) return fmt::format("{:.1f} kpps", pps / 1e3);
  return fmt::format("{:.2f} Mpps", pps / 1e6);
}

std::string format_hms(std::chrono::seconds s) {
  auto total = std::max<int64_t>(0, s.count());
  return fmt::format("{}:{:02d}:{:02d}", total / 3600, (total / 60) % 60, total % 60);
}

std::string format_count(uint64_t n) {
  if (n < 100000) return fmt::format("{}", n);
  static constexpr const char* kUnits[] = {"k", "M", "G", "T", "P", "E"};
  double v = static_cast<double>(n) / 1e3;
  size_t unit = 0;
  // Three significant digits; move up a unit when rounding would print 1000 (999.6k -> 1.00M).
  while (v >= 999.5 && unit + 1 < std::size(kUnits)) {
    v /= 1e3;
    ++unit;
  }
  if (v < 9.995) return fmt::format("{:.2f}{}", v, kUnits[unit]);
  if (v < 99.95) return fmt::format("{:.1f}{}", v, kUnits[unit]);
  return fmt::format("{:.0f}{}", v, kUnits[unit]);
}

namespace {

// Seconds -> "0:00:12", or "-:--:--" when unknown (negative, NaN, or beyond any sense).
std::string format_left(double seconds) {
  if (!(seconds >= 0) || seconds > 1e9) return "-:--:--";
  return format_hms(std::chrono::seconds(static_cast<int64_t>(seconds + 0.5)));
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

}  // namespace

std::string format_status(const StatusSnapshot& s, const StatusRates& rates,
                          std::chrono::steady_clock::duration elapsed) {
  // Progress: probes sent once (sent - retries) or settled. `retries` is counted as a probe is
  // built and `sent` once its batch is out, so sent - retries may briefly lag: never below 0.
  const uint64_t first_sent = s.sent > s.retries ? s.sent - s.retries : 0;
  const uint64_t progressed = std::min(s.total, std::max(s.done, first_sent));
  double pct = 0;
  if (s.total > 0) pct = s.pass > 0 ? 100.0 : 100.0 * static_cast<double>(progressed) / s.total;

  double left = -1;  // unknown
  if (s.total > 0) {
    const uint64_t settled = std::min(s.done, s.total);
    // What the pass under way still has to send.
    const uint64_t pending = s.pass > 0 ? s.total - settled : s.total - progressed;
    if (pending == 0) {
      left = 0;
    } else if (rates.send > 0) {
      left = static_cast<double>(pending) / rates.send;
    } else if (s.pass == 0 && progressed > 0) {
      std::chrono::duration<double> e = elapsed;
      left = e.count() * static_cast<double>(pending) / static_cast<double>(progressed);
    }
  }

  std::vector<std::string> parts = {
      "send " + format_rate(rates.send), "recv " + format_rate(rates.recv),
      fmt::format("{:.1f}% done", pct),  format_left(left) + " left",
      "found " + format_count(s.open),
  };
  const size_t rate = parts.size();
  const std::string rate_plain = s.rate > 0 ? "rate " + format_rate(s.rate) : "";
  parts.push_back(rate_plain.empty() || s.rate_note.empty() ? rate_plain
                                                            : rate_plain + ": " + s.rate_note);
  const size_t retries = parts.size();
  parts.push_back("retries " + format_count(s.retries));
  const std::string pass = s.pass > 0 ? fmt::format(" (pass {})", s.pass) : "";
  parts[retries] += pass;
  const size_t drops = parts.size();
  parts.push_back(s.drops != 0 ? "drops " + format_count(s.drops) : "");
  const size_t skipped = parts.size();
  parts.push_back(s.skipped != 0 ? "skipped " + format_count(s.skipped) : "");

  // Too wide: leave out the least needed parts first.
  std::string line = join(parts);
  if (line.size() > kStatusWidth) {
    parts[skipped].clear();
    line = join(parts);
  }
  if (line.size() > kStatusWidth && !pass.empty()) {
    parts[retries].resize(parts[retries].size() - pass.size());
    line = join(parts);
  }
  if (line.size() > kStatusWidth) {
    parts[retries].clear();
    line = join(parts);
  }
  if (line.size() > kStatusWidth) {
    parts[drops].clear();
    line = join(parts);
  }
  if (line.size() > kStatusWidth) {
    parts[rate] = rate_plain;
    line = join(parts);
  }
  if (line.size() > kStatusWidth) {
    parts[rate].clear();
    line = join(parts);
  }
  return line;
}

StatusLine::StatusLine(Source source, StatusLineOptions opts)
    : source_(std::move(source)), opts_(opts), start_(std::chrono::steady_clock::now()) {
  if (opts_.enabled && source_ && (opts_.force || ::isatty(opts_.fd) == 1)) {
    running_ = true;
    thread_ = std::thread([this] { run(); });
  }
}

StatusLine::StatusLine(const EngineCounters& counters, StatusLineOptions opts)
    : StatusLine([&counters] { return snapshot_of(counters); }, opts) {}

StatusLine::~StatusLine() {
  stop();
}

bool StatusLine::active() const {
  std::lock_guard lk(mu_);
  return running_ && !stopping_;
}

void StatusLine::write_fd(std::string_view s) const {
  while (!s.empty()) {
    ssize_t n = ::write(opts_.fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // best effort: a status line is not worth failing the scan for
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
}

void StatusLine::draw_locked() {
  StatusSnapshot snap = source_();
  auto now = std::chrono::steady_clock::now();
  sent_window_.add(now, snap.sent);
  recv_window_.add(now, snap.received);
  std::string text =
      format_status(snap, {sent_window_.per_second(), recv_window_.per_second()}, now - start_);
  winsize ws{};
  if (::ioctl(opts_.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && text.size() >= ws.ws_col) {
    text.resize(ws.ws_col - 1u);  // a wrapped line could not be redrawn in place
  }
  write_fd("\r" + text + "\x1b[K");
  drawn_ = true;
}

void StatusLine::erase_locked() {
  if (!drawn_) return;
  write_fd("\r\x1b[K");
  drawn_ = false;
}

void StatusLine::run() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    draw_locked();
    cv_.wait_for(lk, opts_.interval, [this] { return stopping_; });
  }
}

void StatusLine::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  {
    std::lock_guard j(join_mu_);
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }
  std::lock_guard lk(mu_);
  erase_locked();
  running_ = false;
}

void StatusLine::print_above(std::ostream& out, std::string_view line) {
  std::lock_guard lk(mu_);
  erase_locked();
  out << line << '\n';
  out.flush();
  if (running_ && !stopping_) draw_locked();
}

}  // namespace gh
