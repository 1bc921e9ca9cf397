#include "output/status_line.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

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

std::string format_status(const StatusSnapshot& s, double pps,
                          std::chrono::steady_clock::duration elapsed) {
  double pct = 0;
  if (s.total > 0) pct = std::min(100.0, 100.0 * static_cast<double>(s.done) / s.total);
  std::string eta = "-:--:--";
  if (s.total > 0 && s.done >= s.total) {
    eta = format_hms(std::chrono::seconds(0));
  } else if (s.done > 0 && s.total > 0) {
    std::chrono::duration<double> e = elapsed;
    double left = e.count() * static_cast<double>(s.total - s.done) / static_cast<double>(s.done);
    eta = format_hms(std::chrono::seconds(static_cast<int64_t>(left + 0.5)));
  }
  std::string line = fmt::format("rate: {}, {:.1f}% done, {} remaining, found={}", format_rate(pps),
                                 pct, eta, s.open);
  if (s.skipped != 0) line += fmt::format(", skipped={}", s.skipped);
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
  window_.add(now, snap.sent);
  std::string text = format_status(snap, window_.per_second(), now - start_);
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
