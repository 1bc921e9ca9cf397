// The asynchronous connection runner: the one epoll loop, deadline heap, descriptor budget and
// connect() admission of the code base. Both TCP connect users run on it: the connect scan
// (-sT, scan/connect_engine.cpp: one short Job per connect attempt, pulled from a JobSource, one
// runner per worker thread sharing one ConnAdmission) and service probing (-sV,
// service/version_scan.cpp: one Job per open port, added up front).
//
// One runner is one thread. It owns an epoll set, a table of slots (one per admitted job: at most
// one socket each), an indexed min-heap of the slots' deadlines, and a pool of idle sockets.
// Jobs wait (added ones in a FIFO; a JobSource is asked while a slot is free) until a slot is
// free: at most max_active jobs hold a slot at once, so thousands of jobs cost memory only for
// their own state.
//
// Contract with a Job (all calls from run(), on the runner's thread):
//   start(r)             once, when the job gets its slot. It calls r.connect(...) or r.finish().
//   on_connected(r, err, rtt)  the connect() it asked for ended: err 0 = connected (rtt is the
//                        handshake's time; the socket is r.fd(job)), else the connect()'s errno
//                        (ECONNREFUSED, EHOSTUNREACH, ..., ETIMEDOUT when nothing came by the
//                        connect deadline, or whatever connect() said at once, e.g. ENETUNREACH
//                        or EINVAL). rtt is 0 when the call that started the attempt had the
//                        outcome (nothing was timed). After an error the job has no socket.
//   on_local_error(r, err)  no attempt could start: socket() failed for good (EAFNOSUPPORT), or
//                        a shortage (EADDRNOTAVAIL, EAGAIN) persisted with nothing else in
//                        flight. Default: on_connected(err, 0).
//   on_not_admitted(r, d) the admission refused the connect for good (d: Refuse = the gate,
//                        HostExpired = its host's time is up). Default: on_connected(EACCES).
//   on_io(r, events)     readiness of its socket for what it asked with r.watch().
//   on_timeout(r)        the deadline it set with r.set_deadline() passed (one shot).
//   on_abort()           the stop flag, on_turn or the stage deadline ended the run while the job
//                        held a slot or waited: it records what it has (no runner calls allowed).
// A job ends by calling r.finish(*this) (its socket is closed, its slot freed; the runner does not
// touch the job again, so it may be reused at once); it may call r.close(*this) then r.connect(...)
// again to open another connection in the same slot. connect(), watch(), set_deadline(), close()
// and finish() may only be called from the job's own callbacks. A job must outlive its slot.
//
// How a connect() goes (the connect scan's tuned path, kept for every user):
// * Admission: pending connects are started in order; each asks the ConnAdmission (host timeout,
//   scan delay, rate, gate). Wait stops every later one too until the wake time (head-of-line:
//   bounded work per turn whatever the per-host caps).
// * A non-blocking socket (SO_LINGER {1,0}: close() sends RST, no TIME_WAIT; SO_BINDTODEVICE with
//   Options::device), from the idle pool when one of its family is there. connect(), and when it
//   says EINPROGRESS a second connect() at once: on loopback, and whenever the answer came back
//   inside the first call, it has the outcome (0/EISCONN, or the error), so most attempts never
//   touch epoll. Attempts still under way are watched with EPOLLOUT | EPOLLONESHOT and a deadline
//   (connect time + timeout); the event, or the deadline, asks a second connect() again (an
//   answer already there at the deadline is an answer, not a timeout).
// * Socket reuse (Options::reuse_after): a TCP socket whose attempt failed with an errno the
//   predicate accepts (a refused or unreachable attempt leaves it unconnected, and the next
//   connect() on it starts afresh with a new local port) goes back to the pool, unless its ONESHOT
//   registration may still fire. Idle sockets count towards the descriptor budget.
// * Descriptor budget and back-off: max_active is capped by RLIMIT_NOFILE (raised to the hard
//   limit) less a reserve. EMFILE/ENFILE/ENOBUFS/ENOMEM/EADDRNOTAVAIL/EAGAIN from socket() or the
//   first connect() never reach the job: the idle pool is emptied, the cap drops to 3/4 of the
//   jobs holding a slot, connects pause 10 ms (doubling per failure of the same connect while
//   EADDRNOTAVAIL/EAGAIN repeat with nothing else in flight, up to 1 s), the connect is tried
//   again; after a quiet second each finished job grows the cap back by one. Only EADDRNOTAVAIL /
//   EAGAIN that persist (6 in a row) with nothing else in flight reach the job.
// * Stop: Options::stop and on_turn are looked at every turn, and a turn waits at most 5 ms.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "io/fd.h"
#include "scan/conn_admission.h"
#include "scan/engine.h"

namespace gh {

// A sockaddr for (addr, port); IPv6 link-local addresses get scope_id.
socklen_t fill_sockaddr(const IpAddress& addr, uint16_t port, unsigned scope_id,
                        sockaddr_storage& ss);
// The soft RLIMIT_NOFILE after raising it to the hard limit (the current one if that fails).
uint64_t fd_budget();
// Descriptors a runner leaves for everything else (sinks, logs, its epoll fd, ...).
constexpr uint64_t kFdReserve = 64;

class ConnRunner;

class Job {
 public:
  virtual ~Job() = default;
  virtual void start(ConnRunner& r) = 0;
  virtual void on_connected(ConnRunner& r, int err, std::chrono::nanoseconds rtt) = 0;
  virtual void on_not_admitted(ConnRunner& r, ConnAdmission::Decision) {
    on_connected(r, EACCES, {});
  }
  virtual void on_local_error(ConnRunner& r, int err) { on_connected(r, err, {}); }
  virtual void on_io(ConnRunner& r, uint32_t events) = 0;
  virtual void on_timeout(ConnRunner& r) = 0;
  virtual void on_abort() {}

 private:
  friend class ConnRunner;
  size_t slot_ = SIZE_MAX;
};

// Jobs made on demand (the connect scan: one per attempt, so millions cost nothing up front).
class JobSource {
 public:
  virtual ~JobSource() = default;
  // The next job to start, or null when there is none now (then *wake may be moved earlier to
  // when one will be due). Asked only while a slot is free and no connect waits for admission.
  virtual Job* next(std::chrono::steady_clock::time_point now,
                    std::chrono::steady_clock::time_point* wake) = 0;
  // True when next() will never give a job again while no job holds a slot.
  virtual bool exhausted() const = 0;
};

class ConnRunner {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    size_t max_active = 512;                    // jobs holding a slot (and a socket) at once
    double max_rate = 0;                        // without `admission`: connect() starts per s
    ProbeGate* gate = nullptr;                  // without `admission`: asked before connect()
    ConnAdmission* admission = nullptr;         // shared admission (several runners); else own
    const std::atomic<bool>* stop = nullptr;    // checked every turn
    std::function<bool()> on_turn;              // called every turn; false ends the run
    std::optional<Clock::time_point> deadline;  // the whole run ends here (jobs get on_abort)
    unsigned scope_id = 0;                      // for IPv6 link-local targets
    std::string device;                         // SO_BINDTODEVICE for every socket
    bool (*reuse_after)(int err) = nullptr;     // which failed TCP attempts leave a reusable socket
    JobSource* source = nullptr;                // jobs on demand, after the added ones
    size_t source_batch = 256;                  // jobs taken from the source per turn
  };

  explicit ConnRunner(Options opts);
  ~ConnRunner();
  ConnRunner(const ConnRunner&) = delete;
  ConnRunner& operator=(const ConnRunner&) = delete;

  // Queues a job; run() starts it when a slot is free.
  void add(Job* job) { waiting_.push_back(job); }
  // Runs until every job has finished and the source is exhausted, or stop/on_turn/deadline.
  // Returns false when it was cut short. Exceptions from a job's callbacks propagate.
  bool run();

  // --- For jobs, from their callbacks ---
  // Asks for a connection; on_connected follows (after the admission allows it, and at the latest
  // at `timeout` after the connect() started). Protocol::Udp: a connected datagram socket (no
  // handshake: on_connected follows the admission at once, rtt 0; an ICMP port unreachable later
  // shows as ECONNREFUSED from recv()). The admission is asked for (addr, proto, port) either way.
  void connect(Job& job, const IpAddress& addr, uint16_t port, std::chrono::nanoseconds timeout,
               Protocol proto = Protocol::Tcp);
  int fd(const Job& job) const;
  // Interest in EPOLLIN / EPOLLOUT for the job's socket (0: none).
  void watch(Job& job, uint32_t events);
  void set_deadline(Job& job, Clock::time_point when);
  void clear_deadline(Job& job);
  void close(Job& job);
  void finish(Job& job);
  size_t max_active() const { return max_cap_; }

  struct Stats {
    uint64_t connects = 0;  // connect() attempts started (that reached the network or failed)
    uint64_t refused_by_gate = 0;
    uint64_t sockets_opened = 0;  // socket() calls that succeeded
    uint64_t immediate = 0;       // TCP attempts whose outcome was there right after connect()
    uint64_t waited = 0;          // TCP attempts that went through epoll (or their deadline)
    uint64_t local_errors = 0;    // socket()/connect() shortages waited out (back-off)
    size_t peak_active = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Sock {
    FileDescriptor fd;
    int family = AF_UNSPEC;
    bool registered = false;  // in the epoll set (it stays there until closed)
    bool armed = false;       // an EPOLLONESHOT registration that may still report
  };
  struct Slot {
    Job* job = nullptr;
    Sock sock;
    uint32_t gen = 0;  // bumped for each socket (epoll events carry it)
    uint32_t events = 0;
    uint32_t heap_pos = UINT32_MAX;
    uint32_t pend_gen = 0;  // bumped for each connect() asked (pending_ entries carry it)
    bool connecting = false;
    bool pending = false;  // a connect() waiting for admission
    Clock::time_point connect_start{};
    Clock::time_point deadline{};
    IpAddress addr;
    uint16_t port = 0;
    Protocol proto = Protocol::Tcp;
    uint32_t local_failures = 0;
    std::chrono::nanoseconds connect_timeout{};
  };

  void admit(Clock::time_point now, Clock::time_point* wake);
  void take(Job* job);
  void start_pending(Clock::time_point* wake);
  void drop_sock(Slot& s, bool pool);
  void regrow(Clock::time_point now);
  void do_connect(size_t idx, Clock::time_point now);
  void outcome(size_t idx, int err, bool timed);
  void local_shortage(size_t idx, int err, Clock::time_point now);
  int check(size_t idx);
  Sock acquire(int family);
  void register_oneshot(size_t idx);
  void update_epoll(size_t idx);
  void fire_deadlines(Clock::time_point now);
  void on_event(size_t idx, uint32_t events);
  int wait_events(Clock::duration wait);
  void abort_all();
  bool done() const;
  // Indexed deadline heap.
  void heap_push(size_t idx);
  void heap_remove(size_t idx);
  void heap_set(size_t pos, uint32_t idx);
  void sift_up(size_t pos);
  void sift_down(size_t pos);

  Options opts_;
  std::optional<ConnAdmission> own_admission_;
  ConnAdmission* admission_;
  FileDescriptor epoll_;
  std::vector<epoll_event> events_;
  bool have_pwait2_ = true;
  std::vector<Slot> slots_;
  std::vector<size_t> free_;
  std::deque<Job*> waiting_;
  std::deque<std::pair<size_t, uint32_t>> pending_;  // (slot, pend_gen) waiting for admission
  std::vector<uint32_t> heap_;
  std::vector<Sock> idle_[2];  // reusable sockets: IPv4, IPv6
  size_t active_ = 0;
  size_t in_flight_ = 0;  // slots holding a socket
  bool source_dry_ = false;
  uint64_t finished_ = 0;  // jobs finished (for the loop: a freed slot may be refilled at once)
  size_t max_cap_ = 1, cap_ = 1;
  Clock::time_point backoff_until_{}, last_shortage_{}, admit_wake_{};
  Stats stats_;
};

}  // namespace gh
