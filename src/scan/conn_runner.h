// An asynchronous runner of many TCP connections (and connected UDP sockets), each driven by a
// small state machine of its own (a Job): connect, read, write a probe, read, TLS... The -sV stage
// (service/version_scan.h) runs one Job per open port on it; the connect scan engine shares its
// helpers (fill_sockaddr, fd_budget) and admits its connect() calls the same way (gate, then rate).
//
// One thread. The runner owns an epoll set, a table of slots (one per admitted job: at most one
// socket each), a min-heap of deadlines (lazily invalidated by a generation count), a rate limiter
// for connect() starts and the probe gate. Jobs wait in a FIFO until a slot is free: at most
// Options::max_active jobs hold a socket at once (the descriptor budget), so thousands of jobs
// cost memory only for their own state.
//
// Contract with a Job (all calls from run(), on the runner's thread):
//   start(r)             once, when the job gets its slot. It calls r.connect(...) or r.finish().
//   on_connected(r, err, rtt)  the connect() it asked for ended: err 0 = connected (rtt is the
//                        handshake's time), else the errno (ECONNREFUSED, ETIMEDOUT at the
//                        connect deadline, EACCES when the gate refused it).
//   on_io(r, events)     readiness of its socket for what it asked with r.watch().
//   on_timeout(r)        the deadline it set with r.set_deadline() passed (one shot).
//   on_abort()           the stop flag or the stage deadline ended the run while the job was
//                        admitted or waiting: it records what it has (no runner calls allowed).
// A job ends by calling r.finish(*this) (its socket is closed, its slot freed); it may call
// r.close(*this) then r.connect(...) again to open another connection in the same slot.
// connect(), watch(), set_deadline(), close() and finish() may only be called from the job's own
// callbacks. A job object must outlive run().
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <vector>

#include "core/address.h"
#include "io/fd.h"
#include "scan/engine.h"
#include "scan/rate_limiter.h"

namespace gh {

// A sockaddr for (addr, port); IPv6 link-local addresses get scope_id.
socklen_t fill_sockaddr(const IpAddress& addr, uint16_t port, unsigned scope_id,
                        sockaddr_storage& ss);
// The soft RLIMIT_NOFILE after raising it to the hard limit (the current one if that fails).
uint64_t fd_budget();

class ConnRunner;

class Job {
 public:
  virtual ~Job() = default;
  virtual void start(ConnRunner& r) = 0;
  virtual void on_connected(ConnRunner& r, int err, std::chrono::nanoseconds rtt) = 0;
  virtual void on_io(ConnRunner& r, uint32_t events) = 0;
  virtual void on_timeout(ConnRunner& r) = 0;
  virtual void on_abort() {}

 private:
  friend class ConnRunner;
  size_t slot_ = SIZE_MAX;
};

class ConnRunner {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    size_t max_active = 512;                    // jobs holding a slot (and a socket) at once
    double max_rate = 0;                        // connect() starts per second; 0 = no cap
    ProbeGate* gate = nullptr;                  // asked before every connect()
    const std::atomic<bool>* stop = nullptr;    // checked every turn
    std::optional<Clock::time_point> deadline;  // the whole run ends here (jobs get on_abort)
    unsigned scope_id = 0;                      // for IPv6 link-local targets
  };

  explicit ConnRunner(Options opts);
  ~ConnRunner();
  ConnRunner(const ConnRunner&) = delete;
  ConnRunner& operator=(const ConnRunner&) = delete;

  // Queues a job; run() starts it when a slot is free.
  void add(Job* job) { waiting_.push_back(job); }
  // Runs until every job has finished, or stop/deadline. Returns false when it was cut short.
  bool run();

  // --- For jobs, from their callbacks ---
  // Asks for a connection; on_connected follows (after the gate and the rate allow it, and at
  // the latest at `timeout` after the connect() started). Protocol::Udp: a connected datagram
  // socket (no handshake: on_connected follows the admission at once, rtt 0; an ICMP port
  // unreachable later shows as ECONNREFUSED from recv()). The gate is asked for (addr, proto,
  // port) either way.
  void connect(Job& job, const IpAddress& addr, uint16_t port, std::chrono::nanoseconds timeout,
               Protocol proto = Protocol::Tcp);
  int fd(const Job& job) const;
  // Interest in EPOLLIN / EPOLLOUT for the job's socket (0: none).
  void watch(Job& job, uint32_t events);
  void set_deadline(Job& job, Clock::time_point when);
  void clear_deadline(Job& job);
  void close(Job& job);
  void finish(Job& job);

  struct Stats {
    uint64_t connects = 0;  // connect() calls made
    uint64_t refused_by_gate = 0;
    size_t peak_active = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Slot {
    Job* job = nullptr;
    FileDescriptor fd;
    uint32_t gen = 0;     // bumped for each socket (epoll events carry it)
    uint32_t dl_gen = 0;  // bumped for each deadline change (heap entries carry it)
    uint32_t events = 0;
    bool registered = false;
    bool connecting = false;
    Clock::time_point connect_start{};
    Clock::time_point deadline{};
    bool has_deadline = false;
    // A connect() waiting for the gate or the rate limiter.
    bool pending = false;
    IpAddress addr;
    uint16_t port = 0;
    Protocol proto = Protocol::Tcp;
    std::chrono::nanoseconds connect_timeout{};
    Clock::time_point not_before{};
  };
  struct Due {
    Clock::time_point when;
    size_t slot;
    uint32_t gen;
    bool operator>(const Due& o) const { return when > o.when; }
  };

  void admit();
  void start_pending(Clock::time_point now);
  void do_connect(size_t slot);
  void update_epoll(Slot& s, size_t idx);
  void fire_deadlines(Clock::time_point now);
  void abort_all();

  Options opts_;
  FileDescriptor epoll_;
  RateLimiter rate_;
  std::vector<Slot> slots_;
  std::vector<size_t> free_;
  std::deque<Job*> waiting_;
  std::vector<size_t> pending_;  // slots with a connect() waiting for admission
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap_;
  size_t active_ = 0;
  Stats stats_;
};

}  // namespace gh
