#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <string>

#include "output/status_line.h"
#include "scan/engine.h"

namespace gh {
namespace {

using std::chrono::seconds;

TEST(StatusLine, FormatsRates) {
  EXPECT_EQ(format_rate(0), "0 pps");
  EXPECT_EQ(format_rate(850.4), "850 pps");
  EXPECT_EQ(format_rate(12345), "12.3 kpps");
  EXPECT_EQ(format_rate(999949), "999.9 kpps");
  EXPECT_EQ(format_rate(1250000), "1.25 Mpps");
  EXPECT_EQ(format_rate(-3), "0 pps");
}

TEST(StatusLine, FormatsDurations) {
  EXPECT_EQ(format_hms(seconds(12)), "0:00:12");
  EXPECT_EQ(format_hms(seconds(3599)), "0:59:59");
  EXPECT_EQ(format_hms(seconds(100000)), "27:46:40");
  EXPECT_EQ(format_hms(seconds(-5)), "0:00:00");
}

TEST(StatusLine, FormatsTheLine) {
  StatusSnapshot s;
  s.sent = 999;
  s.done = 456;
  s.total = 1000;
  s.open = 3;
  // 10 s for 456 of 1000: 10 * 544 / 456 = 11.9 s left.
  EXPECT_EQ(format_status(s, 12300, seconds(10)),
            "rate: 12.3 kpps, 45.6% done, 0:00:12 remaining, found=3");
  s.done = 0;
  EXPECT_EQ(format_status(s, 0, seconds(10)), "rate: 0 pps, 0.0% done, -:--:-- remaining, found=3");
  s.done = 1000;
  EXPECT_EQ(format_status(s, 500, seconds(10)),
            "rate: 500 pps, 100.0% done, 0:00:00 remaining, found=3");
  s.total = 0;
  EXPECT_EQ(format_status(s, 500, seconds(10)),
            "rate: 500 pps, 0.0% done, -:--:-- remaining, found=3");
  s.skipped = 2;  // addresses the exclusions removed
  EXPECT_EQ(format_status(s, 500, seconds(10)),
            "rate: 500 pps, 0.0% done, -:--:-- remaining, found=3, skipped=2");
}

TEST(StatusLine, RateIsOverASlidingWindow) {
  RateWindow w(seconds(5));
  auto t0 = RateWindow::Clock::time_point{} + seconds(100);
  EXPECT_EQ(w.per_second(), 0);
  w.add(t0, 0);
  EXPECT_EQ(w.per_second(), 0);  // one sample: no rate yet
  uint64_t v = 0;
  for (int i = 1; i <= 10; ++i) w.add(t0 + seconds(i), v += 1000);
  EXPECT_DOUBLE_EQ(w.per_second(), 1000);
  for (int i = 11; i <= 20; ++i) w.add(t0 + seconds(i), v += 5000);
  // Only the last 5 seconds count: the earlier, slower part has left the window.
  EXPECT_DOUBLE_EQ(w.per_second(), 5000);
  for (int i = 21; i <= 22; ++i) w.add(t0 + seconds(i), v);  // stalled
  EXPECT_DOUBLE_EQ(w.per_second(), 3 * 5000 / 5.0);
}

TEST(StatusLine, SnapshotReadsEngineCounters) {
  EngineCounters c;
  c.sent = 10;
  c.received = 4;
  c.retries = 2;
  c.done = 7;
  c.total = 20;
  c.open = 1;
  StatusSnapshot s = snapshot_of(c);
  EXPECT_EQ(s.sent, 10u);
  EXPECT_EQ(s.received, 4u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.done, 7u);
  EXPECT_EQ(s.total, 20u);
  EXPECT_EQ(s.open, 1u);
}

// A pipe standing in for the terminal.
struct Pipe {
  Pipe() {
    EXPECT_EQ(::pipe(fd), 0);
    ::fcntl(fd[0], F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  // Reads what is there now.
  std::string drain() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  // Reads until `needle` shows up (or 10 s pass: then the test fails on the content).
  std::string read_until(const std::string& needle, std::string got = {}) {
    for (int i = 0; i < 1000 && got.find(needle) == std::string::npos; ++i) {
      pollfd p{fd[0], POLLIN, 0};
      ::poll(&p, 1, 10);
      got += drain();
    }
    return got;
  }
  int fd[2] = {-1, -1};
};

StatusLineOptions pipe_options(int fd) {
  StatusLineOptions o;
  o.fd = fd;
  o.force = true;
  o.interval = std::chrono::milliseconds(5);
  return o;
}

StatusSnapshot fixed() {
  StatusSnapshot s;
  s.done = 1;
  s.total = 4;
  s.open = 3;
  return s;
}

TEST(StatusLine, DrawsInPlaceAndErasesOnStop) {
  Pipe pipe;
  StatusLine line(fixed, pipe_options(pipe.fd[1]));
  EXPECT_TRUE(line.active());
  std::string got = pipe.read_until("\x1b[K\rrate:");  // at least two draws
  EXPECT_EQ(got.rfind("\rrate: 0 pps, 25.0% done, ", 0), 0u) << got;
  EXPECT_NE(got.find(" remaining, found=3\x1b[K"), std::string::npos) << got;
  line.stop();
  EXPECT_FALSE(line.active());
  got += pipe.drain();
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got.substr(got.size() - 4), "\r\x1b[K");
  line.stop();  // idempotent: nothing more is written
  EXPECT_EQ(pipe.drain(), "");
}

TEST(StatusLine, DestructorErasesTheLine) {
  Pipe pipe;
  std::string got;
  {
    StatusLine line(fixed, pipe_options(pipe.fd[1]));
    got = pipe.read_until("found=3");
  }
  got += pipe.drain();
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got.substr(got.size() - 4), "\r\x1b[K");
}

TEST(StatusLine, StaysOffWhenNotATerminalOrDisabled) {
  Pipe pipe;
  StatusLineOptions o = pipe_options(pipe.fd[1]);
  o.force = false;  // a pipe is not a terminal
  {
    StatusLine line(fixed, o);
    EXPECT_FALSE(line.active());
    std::ostringstream out;
    line.print_above(out, "Discovered open port 22/tcp on 192.0.2.7");
    EXPECT_EQ(out.str(), "Discovered open port 22/tcp on 192.0.2.7\n");
  }
  o.force = true;
  o.enabled = false;
  {
    StatusLine line(fixed, o);
    EXPECT_FALSE(line.active());
  }
  EXPECT_EQ(pipe.drain(), "");
}

TEST(StatusLine, PrintAboveErasesThenRedraws) {
  Pipe pipe;
  StatusLineOptions o = pipe_options(pipe.fd[1]);
  o.interval = std::chrono::hours(1);  // only the first draw and the ones print_above makes
  StatusLine line(fixed, o);
  std::string got = pipe.read_until("found=3");
  std::ostringstream out;
  line.print_above(out, "Discovered open port 22/tcp on 192.0.2.7");
  EXPECT_EQ(out.str(), "Discovered open port 22/tcp on 192.0.2.7\n");
  got = pipe.read_until("found=3", got.substr(got.size()));  // the redraw after the line
  EXPECT_EQ(got.rfind("\r\x1b[K\rrate: ", 0), 0u) << got;
  line.stop();
}

TEST(StatusLine, ReadsLiveCounters) {
  Pipe pipe;
  EngineCounters c;
  c.total = 10;
  c.done = 5;
  c.open = 7;
  StatusLine line(c, pipe_options(pipe.fd[1]));
  std::string got = pipe.read_until("found=7");
  EXPECT_NE(got.find("50.0% done"), std::string::npos) << got;
  c.open = 8;
  got = pipe.read_until("found=8", got);
  EXPECT_NE(got.find("found=8"), std::string::npos) << got;
}

}  // namespace
}  // namespace gh
