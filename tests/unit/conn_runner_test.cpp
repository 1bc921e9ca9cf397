// The connection runner's own contract (scan/conn_runner.h), apart from its two users (-sT in
// connect_engine_test.cpp, -sV in service_version_test.cpp): jobs from a source, socket reuse,
// the shared admission, and the outcome of each connect.
#include "scan/conn_runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "io/fd.h"
#include "scan/conn_admission.h"

namespace gh {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Bound {
  FileDescriptor fd;
  uint16_t port = 0;
};

// A TCP socket on 127.0.0.1 (any free port), listening with `backlog` unless backlog < 0 (then
// it answers SYNs with RST: a closed port nothing else can take while the test runs).
Bound bind_loopback(int backlog) {
  Bound b;
  b.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  EXPECT_EQ(::bind(b.fd.get(), reinterpret_cast<sockaddr*>(&sin), len), 0);
  if (backlog >= 0) {
    EXPECT_EQ(::listen(b.fd.get(), backlog), 0);
  }
  EXPECT_EQ(::getsockname(b.fd.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  b.port = ntohs(sin.sin_port);
  return b;
}

const IpAddress kLoopback = *IpAddress::parse("127.0.0.1");

// A job that connects once and records what came back.
struct OneConnect final : Job {
  uint16_t port = 0;
  std::optional<int> err;
  std::optional<ConnAdmission::Decision> refused;
  bool aborted = false;
  void start(ConnRunner& r) override { r.connect(*this, kLoopback, port, 1s); }
  void on_connected(ConnRunner& r, int e, std::chrono::nanoseconds) override {
    err = e;
    r.finish(*this);
  }
  void on_not_admitted(ConnRunner& r, ConnAdmission::Decision d) override {
    refused = d;
    r.finish(*this);
  }
  void on_io(ConnRunner&, uint32_t) override {}
  void on_timeout(ConnRunner&) override {}
  void on_abort() override { aborted = true; }
};

// Hands out `count` jobs, one at a time, to `port`.
struct Source final : JobSource {
  std::vector<std::unique_ptr<OneConnect>> jobs;
  size_t given = 0;
  Source(size_t count, uint16_t port) {
    for (size_t i = 0; i < count; ++i) {
      jobs.push_back(std::make_unique<OneConnect>());
      jobs.back()->port = port;
    }
  }
  Job* next(Clock::time_point, Clock::time_point*) override {
    return given < jobs.size() ? jobs[given++].get() : nullptr;
  }
  bool exhausted() const override { return given == jobs.size(); }
};

TEST(ConnRunner, JobsFromASourceReuseRefusedSockets) {
  Bound closed = bind_loopback(-1);
  Source src(500, closed.port);
  std::atomic<bool> stop{false};
  ConnRunner::Options o;
  o.max_active = 64;
  o.stop = &stop;
  o.source = &src;
  o.reuse_after = [](int err) { return err == ECONNREFUSED; };
  ConnRunner r(o);
  ASSERT_TRUE(r.run());
  for (const auto& j : src.jobs) EXPECT_EQ(j->err, ECONNREFUSED);
  EXPECT_EQ(r.stats().connects, 500u);
  // Loopback answers inside connect(): one socket serves every attempt in turn.
  EXPECT_LT(r.stats().sockets_opened, 10u);
}

TEST(ConnRunner, WithoutReuseEveryAttemptHasItsSocket) {
  Bound closed = bind_loopback(-1);
  Source src(50, closed.port);
  ConnRunner::Options o;
  o.source = &src;
  ConnRunner r(o);
  ASSERT_TRUE(r.run());
  EXPECT_EQ(r.stats().sockets_opened, 50u);
}

TEST(ConnRunner, OpenPortConnectsAndAddedJobsRunToo) {
  Bound open = bind_loopback(16);
  Bound closed = bind_loopback(-1);
  OneConnect a, b;
  a.port = open.port;
  b.port = closed.port;
  ConnRunner r(ConnRunner::Options{});
  r.add(&a);
  r.add(&b);
  ASSERT_TRUE(r.run());
  EXPECT_EQ(a.err, 0);
  EXPECT_EQ(b.err, ECONNREFUSED);
}

struct RefusePort final : ProbeGate {
  uint16_t refused = 0;
  int asked = 0;
  Decision check(const Probe& p, Clock::time_point, std::chrono::nanoseconds*) override {
    ++asked;
    return p.port == refused ? Decision::Refuse : Decision::Send;
  }
};

TEST(ConnRunner, TwoRunnersShareOneAdmission) {
  Bound closed = bind_loopback(-1);
  Bound other = bind_loopback(-1);
  RefusePort gate;
  gate.refused = other.port;
  ConnAdmission::Options ao;
  ao.gate = &gate;
  ConnAdmission admission(ao);
  Source s1(20, closed.port), s2(20, other.port);
  ConnRunner::Options o1, o2;
  o1.admission = o2.admission = &admission;
  o1.source = &s1;
  o2.source = &s2;
  ConnRunner r1(o1), r2(o2);
  ASSERT_TRUE(r1.run());
  ASSERT_TRUE(r2.run());
  EXPECT_EQ(gate.asked, 40);
  EXPECT_EQ(r1.stats().refused_by_gate + r2.stats().refused_by_gate, 20u);
  for (auto* s : {&s1, &s2})
    for (const auto& j : s->jobs) {
      if (j->port == other.port) {
        EXPECT_EQ(j->refused, ConnAdmission::Decision::Refuse);
        EXPECT_FALSE(j->err);
      } else {
        EXPECT_EQ(j->err, ECONNREFUSED);
      }
    }
}

TEST(ConnRunner, StopAbortsWaitingJobs) {
  Bound closed = bind_loopback(-1);
  OneConnect a;
  a.port = closed.port;
  std::atomic<bool> stop{true};
  ConnRunner::Options o;
  o.stop = &stop;
  ConnRunner r(o);
  r.add(&a);
  EXPECT_FALSE(r.run());
  EXPECT_TRUE(a.aborted);
  EXPECT_FALSE(a.err);
}

// Connects, holds the connection 20 ms (a deadline), then finishes: descriptors pile up.
struct HoldJob final : Job {
  uint16_t port = 0;
  std::optional<int> err;
  void start(ConnRunner& r) override { r.connect(*this, kLoopback, port, 2s); }
  void on_connected(ConnRunner& r, int e, std::chrono::nanoseconds) override {
    err = e;
    if (e != 0) return r.finish(*this);
    r.set_deadline(*this, Clock::now() + 20ms);
  }
  void on_io(ConnRunner&, uint32_t) override {}
  void on_timeout(ConnRunner& r) override { r.finish(*this); }
};

// In a child: a hard descriptor limit, then every free descriptor but a few taken, so the
// runner's sockets run out (EMFILE) long before its 64 slots are full.
void run_out_of_descriptors() {
  rlimit rl{256, 256};
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) std::_Exit(3);
  Bound open = bind_loopback(1024);
  std::vector<std::unique_ptr<HoldJob>> jobs;
  ConnRunner::Options o;
  o.max_active = 64;
  ConnRunner r(o);
  for (int i = 0; i < 200; ++i) {
    jobs.push_back(std::make_unique<HoldJob>());
    jobs.back()->port = open.port;
    r.add(jobs.back().get());
  }
  std::vector<FileDescriptor> hog;
  for (int fd; (fd = ::dup(0)) >= 0;) hog.emplace_back(fd);
  for (int i = 0; i < 8 && !hog.empty(); ++i) hog.pop_back();
  bool finished = r.run();
  hog.clear();
  int bad = 0;
  for (const auto& j : jobs)
    if (j->err != 0) ++bad;
  std::fprintf(stderr, "finished=%d bad=%d local_errors=%llu\n", finished ? 1 : 0, bad,
               static_cast<unsigned long long>(r.stats().local_errors));
  std::fflush(nullptr);
  std::_Exit(finished && bad == 0 && r.stats().local_errors > 0 ? 0 : 1);
}

TEST(ConnRunner, BacksOffWhenDescriptorsRunOut) {
  // Every job still connects: the shortage is waited out, never passed to a job.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_out_of_descriptors(), ::testing::ExitedWithCode(0), "");
}

TEST(ConnAdmission, GapHostTimeoutAndRate) {
  ConnAdmission::Options o;
  o.min_gap = 10ms;
  o.host_timeout = 50ms;
  ConnAdmission a(o);
  Probe p{kLoopback, Protocol::Tcp, 80};
  auto t0 = Clock::now();
  Clock::time_point wake{};
  EXPECT_EQ(a.admit(p, t0, &wake), ConnAdmission::Decision::Send);
  EXPECT_EQ(a.admit(p, t0 + 5ms, &wake), ConnAdmission::Decision::Wait);
  EXPECT_EQ(wake, t0 + 10ms);
  EXPECT_EQ(a.admit(p, t0 + 10ms, &wake), ConnAdmission::Decision::Send);
  EXPECT_FALSE(a.host_expired(kLoopback, t0 + 50ms));
  EXPECT_TRUE(a.host_expired(kLoopback, t0 + 51ms));
  EXPECT_EQ(a.admit(p, t0 + 60ms, &wake), ConnAdmission::Decision::HostExpired);
}

}  // namespace
}  // namespace gh
