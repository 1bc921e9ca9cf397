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

TEST(StatusLine, FormatsCounts) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(99999), "99999");
  EXPECT_EQ(format_count(100000), "100k");
  EXPECT_EQ(format_count(123456), "123k");
  EXPECT_EQ(format_count(999499), "999k");
  EXPECT_EQ(format_count(999500), "1.00M");  // not "1000k"
  EXPECT_EQ(format_count(1234567), "1.23M");
  EXPECT_EQ(format_count(12345678), "12.3M");
  EXPECT_EQ(format_count(123456789), "123M");
  EXPECT_EQ(format_count(4000000000), "4.00G");
  EXPECT_EQ(format_count(UINT64_MAX), "18.4E");
}

TEST(StatusLine, FormatsTheFirstPass) {
  StatusSnapshot s;
  s.sent = 456;  // first sends: no retries yet
  s.received = 90;
  s.done = 100;  // verdicts lag behind the sends: most probes are still waiting
  s.total = 1000;
  s.open = 3;
  // 45.6% sent; 544 left to send at 50 pps: 10.9 s.
  EXPECT_EQ(format_status(s, {50, 12}, seconds(10)),
            "send 50 pps, recv 12 pps, 45.6% done, 0:00:11 left, found 3, retries 0");
  // No send rate yet: extrapolated from the time so far, 10 s * 544 / 456 = 11.9 s.
  EXPECT_EQ(format_status(s, {0, 0}, seconds(10)),
            "send 0 pps, recv 0 pps, 45.6% done, 0:00:12 left, found 3, retries 0");
  // Probes settled without being sent (no ARP answer, refused by the gate) count as done too.
  s.done = 700;
  EXPECT_EQ(format_status(s, {300, 0}, seconds(10)),
            "send 300 pps, recv 0 pps, 70.0% done, 0:00:01 left, found 3, retries 0");
  // Nothing sent or settled, no rate: nothing to say about the time left.
  s.sent = 0;
  s.done = 0;
  EXPECT_EQ(format_status(s, {0, 0}, seconds(10)),
            "send 0 pps, recv 0 pps, 0.0% done, -:--:-- left, found 3, retries 0");
  // Everything sent, waiting for late replies.
  s.sent = 1000;
  s.done = 400;
  EXPECT_EQ(format_status(s, {0, 40}, seconds(10)),
            "send 0 pps, recv 40 pps, 100.0% done, 0:00:00 left, found 3, retries 0");
  // An empty scan.
  s.total = 0;
  EXPECT_EQ(format_status(s, {0, 0}, seconds(10)),
            "send 0 pps, recv 0 pps, 0.0% done, -:--:-- left, found 3, retries 0");
}

TEST(StatusLine, FormatsRetryPasses) {
  StatusSnapshot s;
  s.total = 1000;
  s.done = 400;
  s.retries = 1234567;
  s.sent = 1000 + s.retries;
  s.open = 123456;
  s.pass = 2;
  // A retry pass resends at most the 600 probes without a verdict: 2 s at 300 pps.
  EXPECT_EQ(format_status(s, {300, 1200.5}, seconds(10)),
            "send 300 pps, recv 1.2 kpps, 100.0% done, 0:00:02 left, found 123k, "
            "retries 1.23M (pass 2)");
  // Between batches (no send rate) nothing is said about the time left.
  EXPECT_EQ(
      format_status(s, {0, 0}, seconds(10)),
      "send 0 pps, recv 0 pps, 100.0% done, -:--:-- left, found 123k, retries 1.23M (pass 2)");
  // retries is counted when a probe is built, sent when its batch is out: never a negative count.
  s.sent = 10;
  EXPECT_EQ(
      format_status(s, {0, 0}, seconds(10)),
      "send 0 pps, recv 0 pps, 100.0% done, -:--:-- left, found 123k, retries 1.23M (pass 2)");
}

TEST(StatusLine, ShowsDropsAndSkippedWhenNotZero) {
  StatusSnapshot s;
  s.sent = 500;
  s.done = 500;
  s.total = 1000;
  s.drops = 5;
  EXPECT_EQ(format_status(s, {500, 0}, seconds(10)),
            "send 500 pps, recv 0 pps, 50.0% done, 0:00:01 left, found 0, retries 0, drops 5");
  s.skipped = 2;  // addresses the exclusions removed
  EXPECT_EQ(format_status(s, {500, 0}, seconds(10)),
            "send 500 pps, recv 0 pps, 50.0% done, 0:00:01 left, found 0, retries 0, drops 5, "
            "skipped 2");
}

TEST(StatusLine, StaysWithinTheWidth) {
  StatusSnapshot s;
  s.total = 1000000;
  s.done = 1;
  s.open = 1234567;
  s.retries = 12345678;
  s.sent = 99999999;
  s.pass = 10;
  s.drops = 1234567;
  s.skipped = 99999;
  const StatusRates fast{999949, 999949};
  std::string line = format_status(s, fast, seconds(10));
  EXPECT_LE(line.size(), kStatusWidth) << line;
  // skipped and the pass went first; the counts that matter most stay.
  EXPECT_EQ(line,
            "send 999.9 kpps, recv 999.9 kpps, 100.0% done, 0:00:01 left, found 1.23M, "
            "retries 12.3M, drops 1.23M");
  // A 277,777-hour estimate still leaves room for retries and drops.
  std::string slow = format_status(s, {0.001, 999949}, seconds(10));
  EXPECT_EQ(slow,
            "send 0 pps, recv 999.9 kpps, 100.0% done, 277777:30:00 left, found 1.23M, "
            "retries 12.3M, drops 1.23M");
  // Wider rates: retries go before drops.
  EXPECT_EQ(format_status(s, {1e9, 1e9}, seconds(10)),
            "send 1000.00 Mpps, recv 1000.00 Mpps, 100.0% done, 0:00:00 left, found 1.23M, "
            "drops 1.23M");
  // Whatever the numbers, the line fits and the first five fields stay.
  for (uint64_t pass : {0u, 50u})
    for (double send : {0.0, 0.001, 999949.0, 1e9})
      for (double recv : {0.0, 999949.0, 1e9})
        for (auto elapsed : {seconds(1), seconds(3600LL * 1000000)}) {
          s.pass = pass;
          std::string l = format_status(s, {send, recv}, elapsed);
          EXPECT_LE(l.size(), kStatusWidth) << l;
          EXPECT_EQ(l.rfind("send ", 0), 0u) << l;
          EXPECT_NE(l.find(", recv "), std::string::npos) << l;
          EXPECT_NE(l.find("% done, "), std::string::npos) << l;
          EXPECT_NE(l.find(" left, found 1.23M"), std::string::npos) << l;
        }
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
  c.skipped = 3;
  c.drops = 5;
  c.pass = 2;
  StatusSnapshot s = snapshot_of(c);
  EXPECT_EQ(s.sent, 10u);
  EXPECT_EQ(s.received, 4u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.done, 7u);
  EXPECT_EQ(s.total, 20u);
  EXPECT_EQ(s.open, 1u);
  EXPECT_EQ(s.skipped, 3u);
  EXPECT_EQ(s.drops, 5u);
  EXPECT_EQ(s.pass, 2u);
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
  std::string got = pipe.read_until("\x1b[K\rsend ");  // at least two draws
  EXPECT_EQ(got.rfind("\rsend 0 pps, recv 0 pps, 25.0% done, ", 0), 0u) << got;
  EXPECT_NE(got.find(" left, found 3, retries 0\x1b[K"), std::string::npos) << got;
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
    got = pipe.read_until("found 3");
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
  std::string got = pipe.read_until("found 3");
  std::ostringstream out;
  line.print_above(out, "Discovered open port 22/tcp on 192.0.2.7");
  EXPECT_EQ(out.str(), "Discovered open port 22/tcp on 192.0.2.7\n");
  got = pipe.read_until("found 3", got.substr(got.size()));  // the redraw after the line
  EXPECT_EQ(got.rfind("\r\x1b[K\rsend ", 0), 0u) << got;
  line.stop();
}

TEST(StatusLine, ReadsLiveCounters) {
  Pipe pipe;
  EngineCounters c;
  c.total = 10;
  c.done = 5;
  c.open = 7;
  StatusLine line(c, pipe_options(pipe.fd[1]));
  std::string got = pipe.read_until("found 7");
  EXPECT_NE(got.find("50.0% done"), std::string::npos) << got;
  c.open = 8;
  got = pipe.read_until("found 8", got);
  EXPECT_NE(got.find("found 8"), std::string::npos) << got;
}

}  // namespace
}  // namespace gh
