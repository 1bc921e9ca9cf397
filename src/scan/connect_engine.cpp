// TCP connect scan engine: what is -sT's own, on the connection runner (scan/conn_runner.h),
// which owns the sockets, the epoll loop, the deadline heap, the descriptor budget and back-off,
// socket reuse and the admission (host timeout, scan delay, rate, gate). Design notes:
//
// * One Job per attempt (AttemptJob, pooled): it asks the runner for a connect() with the current
//   timeout estimate and turns the outcome into the port's verdict (classify_connect_errno), a
//   retry, or a self-connect to try again. The worker is the runner's JobSource: due retries
//   first, then the next never-tried TCP index of its share of the permutation.
// * Workers: a fast scan of many ports (connect_detail::workers_for: -T3 and faster, 8192+
//   probes, 2+ cores) runs two, the calling thread's and a helper thread. Profiles of a loopback
//   scan show >90% of the time in the kernel's connect() (the handshake or RST runs inside the
//   call), so the only way to go faster is to do that work on two cores. Each worker has its own
//   runner (sockets, epoll set, slots: the in-flight bound split between them, deadlines), retry
//   FIFO and timeout estimate, and claims kChunk permutation positions at a time from a shared
//   atomic cursor (disjoint, and a worker that gets less CPU takes fewer). The ConnAdmission is
//   shared (one lock: the gate is not thread-safe, and one limiter keeps the rate global).
//   Verdicts are reported from the calling thread only: the helper hands them over in batches
//   (kHandOver, and whatever it has when it ends), worker 0 reports them every runner turn and,
//   once its own share is done, until every helper has ended. ctx.after_sockets_open runs before
//   the helper starts. A stop ends every worker at its next turn; a worker that throws stops the
//   others and the scan rethrows its exception once all have ended.
// * Memory grows with the in-flight count only: the runner's slots, the pooled jobs, and the
//   retry FIFO (each entry comes from an attempt that timed out, and due retries are taken before
//   fresh probes, so it stays within the in-flight bound). The permutation is computed, not
//   stored. Only the host-timeout map grows with the scan (one entry per host, with
//   --host-timeout).
// * In-flight bound: min(RLIMIT_NOFILE soft limit - kFdReserve, a -T cap), split between the
//   workers; the runner backs off on descriptor, buffer and local-port shortages (conn_runner.h).
// * Timeouts: connect_detail::ConnectTimeout, nmap's SRTT + 4 * RTTVAR from every attempt that
//   got a definitive answer from the peer, right away or later (a reused socket gets a new local
//   port, and a socket that got no answer is never reused, so a late answer can never be
//   attributed to the wrong attempt and retried attempts are valid samples, unlike Karn's case).
//   An attempt's deadline is fixed when it starts. Outcomes connect() gave in the call that
//   started the attempt (no route, ...) are not samples (the runner gives them rtt 0).
// * Retries: an attempt that times out goes to the retry FIFO (due at once) until it has been
//   retried timing.max_retries times; then the port is filtered/no-response.
// * Rate and scan delay: timing.max_rate caps connect() starts; timing.scan_delay (nmap applies
//   it per host, for -T0/-T1) is a global minimum gap between connect() starts: simpler, and at
//   least as slow as nmap's. timing.min_rate is not used.
// * host_timeout (when set and > 0, as nmap's 0 means "none"): a host whose first attempt started
//   longer ago than that is given up: nothing more is reported for it. Its unsent probes are
//   skipped, its pending retries dropped, and verdicts still arriving for it ignored. Skipped
//   probes count in counters.done (they are finished) but produce no result.
// * Closing: every socket has SO_LINGER {on, 0} (the runner), so closing an established
//   connection sends RST instead of FIN, as nmap's connect scan does.
// * Self-connects: scanning a local address, connect() may pick the destination port as its own
//   local port and connect the socket to itself. Such an attempt is not a verdict; see
//   self_connect(). It counts in counters.sent, so sent can exceed total + retries by these.
// * ctx.gate: Refuse drops the probe, counted in report.refused and counters.done, never
//   reported; Later keeps it (and every later one) waiting (the runner's admission).
// * report.send_errors counts socket()/connect() calls that failed locally (fds, buffers, local
//   ports) and were tried again later.
// * Stop: ctx.stop is checked every runner turn (at most 5 ms apart). On stop every socket is
//   closed unreported and the report says interrupted.
#include "scan/connect_engine.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/error.h"
#include "scan/conn_admission.h"
#include "scan/conn_runner.h"
#include "targets/permutation.h"
#include "targets/slice.h"

namespace gh {
namespace {

using namespace std::chrono_literals;
using connect_detail::Classification;
using connect_detail::Outcome;
using Clock = SteadyClock;
using TimePoint = Clock::time_point;

constexpr size_t kLaunchBatch = 256;  // jobs a runner takes per turn before looking at events
constexpr uint32_t kLocalGiveUp = 6;  // self-connects of one probe in a row (see self_connect)
constexpr uint64_t kChunk = 64;       // permutation positions a worker claims at a time
constexpr size_t kHandOver = 256;     // a helper worker's verdicts passed on together

// ProbeSpace puts TCP ports before UDP ports (index = port_index * targets + target_index), so
// TCP indices are [0, tcp_end). Binary search for the first UDP port index.
uint64_t tcp_index_end(const ProbeSpace& space) {
  if (space.size() == 0 || space.targets() == 0) return 0;
  uint64_t lo = 0, hi = space.ports();
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (space.at(mid * space.targets()).proto == Protocol::Udp)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo * space.targets();
}

bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
    return x.sin6_port == y.sin6_port &&
           std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
  }
  return false;
}

// Whether a connected socket is connected to itself (local address:port == peer address:port).
bool self_connected(int fd) {
  sockaddr_storage local{}, peer{};
  socklen_t local_len = sizeof local, peer_len = sizeof peer;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) return false;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return false;
  return same_endpoint(local, peer);
}

// A probe waiting to be (re)tried.
struct Pending {
  uint64_t index = 0;
  uint32_t attempt = 0;         // 0 = first attempt
  uint32_t local_failures = 0;  // self-connects in a row (see kLocalGiveUp)
  TimePoint due;
};

// What the workers of one scan share. Helpers hand their verdicts to the calling thread's worker
// through `results`.
struct Shared {
  Shared(EngineContext& c, ConnAdmission::Options a) : ctx(c), admission(a) {}
  EngineContext& ctx;
  ConnAdmission admission;
  std::atomic<uint64_t> cursor{0};  // next unclaimed permutation position
  std::atomic<bool> abort{false};   // a worker failed: the others stop too

  std::mutex results_mu;
  std::condition_variable results_cv;
  std::vector<PortResult> results;  // from helpers, not yet reported
  size_t helpers_running = 0;
  std::exception_ptr error;  // the first helper failure
};

class ConnectWorker;

// One connect attempt of one probe, on the worker's runner.
class AttemptJob final : public Job {
 public:
  explicit AttemptJob(ConnectWorker& w) : w_(w) {}
  void start(ConnRunner& r) override;
  void on_connected(ConnRunner& r, int err, std::chrono::nanoseconds rtt) override;
  void on_not_admitted(ConnRunner& r, ConnAdmission::Decision d) override;
  void on_local_error(ConnRunner& r, int err) override;
  void on_io(ConnRunner&, uint32_t) override {}
  void on_timeout(ConnRunner&) override {}

  Pending work;
  Probe probe;

 private:
  ConnectWorker& w_;
};

// One worker: its runner, retries and timeout estimate, over the permutation positions it
// claims. Worker 0 runs in the calling thread and reports every verdict; helpers (other threads)
// hand theirs over.
class ConnectWorker final : public JobSource {
 public:
  ConnectWorker(Shared& shared, size_t cap, bool reports)
      : shared_(shared),
        ctx_(shared.ctx),
        perm_(ctx_.space.size(), ctx_.seed),
        slice_(Slice::shard(ctx_.space.size(), ctx_.config.shards.count, ctx_.config.shards.index)),
        tcp_end_(tcp_index_end(ctx_.space)),
        max_retries_(static_cast<uint32_t>(std::max(0, ctx_.config.timing.max_retries))),
        reports_(reports),
        cap_(std::max<size_t>(1, cap)),
        timeout_(ctx_.config.timing.initial_rtt, ctx_.config.timing.max_rtt) {}

  // Probes until this worker's share is done or a stop is requested. Returns false when stopped.
  bool run() {
    advance_fresh();
    ConnRunner::Options o;
    o.max_active = cap_;
    o.admission = &shared_.admission;
    o.stop = &ctx_.stop;
    o.on_turn = [this] {
      if (reports_) report_handed_over();
      return !shared_.abort.load(std::memory_order_relaxed);
    };
    if (!ctx_.config.interface.empty()) {
      o.scope_id = ::if_nametoindex(ctx_.config.interface.c_str());
      o.device = ctx_.config.interface;
    }
    o.reuse_after = &connect_detail::socket_reusable;
    o.source = this;
    o.source_batch = kLaunchBatch;
    bool finished;
    {
      ConnRunner runner(std::move(o));
      finished = runner.run();
      const auto& rs = runner.stats();
      stats_.sockets_opened = rs.sockets_opened;
      stats_.immediate = rs.immediate;
      stats_.waited = rs.waited;
      send_errors_ = rs.local_errors;
    }
    hand_over();
    return finished;
  }

  // Worker 0, done with its own share: reports the helpers' verdicts until they are all done.
  void report_until_helpers_done() {
    std::unique_lock lock(shared_.results_mu);
    for (;;) {
      std::vector<PortResult> batch;
      batch.swap(shared_.results);
      bool done = shared_.helpers_running == 0;
      lock.unlock();
      for (const auto& r : batch) ctx_.on_result(r);
      lock.lock();
      if (done && shared_.results.empty()) return;
      if (shared_.results.empty() && shared_.helpers_running > 0)
        shared_.results_cv.wait_for(lock, 5ms);
    }
  }

  void add_to(EngineReport& report) const {
    report.probes_sent += sent_;
    report.replies += replies_;
    report.send_errors += send_errors_;
    report.refused += refused_;
  }

  const connect_detail::Stats& stats() const { return stats_; }

  // ---- JobSource -------------------------------------------------------------------------------

  Job* next(TimePoint now, TimePoint* wake) override {
    Pending work;
    if (!retries_.empty() && retries_.front().due <= now) {
      work = retries_.front();
      retries_.pop_front();
    } else if (next_fresh_) {
      work.index = *next_fresh_;
      advance_fresh();
    } else {
      if (!retries_.empty()) *wake = std::min(*wake, retries_.front().due);
      return nullptr;
    }
    AttemptJob* job;
    if (free_jobs_.empty()) {
      jobs_.push_back(std::make_unique<AttemptJob>(*this));
      job = jobs_.back().get();
    } else {
      job = free_jobs_.back();
      free_jobs_.pop_back();
    }
    job->work = work;
    job->probe = ctx_.space.at(work.index);
    return job;
  }

  bool exhausted() const override { return retries_.empty() && !next_fresh_; }

  // ---- for the jobs ----------------------------------------------------------------------------

  std::chrono::nanoseconds timeout() const { return timeout_.timeout(); }

  void release(AttemptJob* job) { free_jobs_.push_back(job); }

  void count_attempt(const Pending& work) {
    ++sent_;
    ctx_.counters.sent.fetch_add(1, std::memory_order_relaxed);
    if (work.attempt > 0) ctx_.counters.retries.fetch_add(1, std::memory_order_relaxed);
  }

  // The attempt ended with connect()'s `err` (0: connected; the socket is `fd`).
  void attempt_done(const Pending& work, const Probe& probe, int err, std::chrono::nanoseconds rtt,
                    int fd) {
    Classification c = connect_detail::classify_connect_errno(err);
    if (c.outcome == Outcome::LocalFatal) throw local_error(err, probe);
    count_attempt(work);
    TimePoint now = Clock::now();
    if (c.outcome != Outcome::Verdict) return attempt_failed(work, probe, now);
    if (c.state == PortState::Open && self_connected(fd)) return self_connect(work, now);
    if (rtt.count() > 0) timeout_.sample(rtt);
    verdict(probe, c.state, c.reason, rtt);
  }

  void not_admitted(ConnAdmission::Decision d) {
    if (d == ConnAdmission::Decision::Refuse) ++refused_;
    skip();
  }

  static RuntimeError local_error(int err, const Probe& probe) {
    return system_error(
        err, "connect to " + probe.addr.to_string() + " port " + std::to_string(probe.port));
  }

 private:
  // The next never-tried TCP index of this worker: from the chunk of permutation positions it
  // claimed last, or from a new chunk. Chunks are claimed as they are needed, so a worker that
  // gets less CPU does less of the scan.
  void advance_fresh() {
    next_fresh_.reset();
    if (tcp_end_ == 0) return;
    for (;;) {
      if (chunk_pos_ == chunk_end_) {
        if (claimed_all_) return;
        uint64_t begin = shared_.cursor.fetch_add(kChunk, std::memory_order_relaxed);
        if (begin >= slice_.size()) {
          claimed_all_ = true;
          return;
        }
        chunk_pos_ = begin;
        chunk_end_ = std::min(begin + kChunk, slice_.size());
      }
      // Positions of this run's slice (the whole scan, or --shards N --shard I).
      uint64_t index = perm_.at(slice_.position(chunk_pos_++));
      if (index < tcp_end_) {
        next_fresh_ = index;
        return;
      }
    }
  }

  void attempt_failed(const Pending& work, const Probe& probe, TimePoint now) {
    if (shared_.admission.host_expired(probe.addr, now)) return skip();
    if (work.attempt < max_retries_) {
      retries_.push_back(Pending{work.index, work.attempt + 1, 0, now});
      return;
    }
    report(probe, PortState::Filtered, Reason::NoResponse, false);
  }

  // Scanning a local address, the kernel may pick the destination port itself as our ephemeral
  // port: the socket then connects to itself (TCP simultaneous open) and looks open. The probe is
  // tried again with a new socket (and so, almost surely, another local port). The kernel only
  // hands out a local port no socket is bound to, so nothing was listening there: after
  // kLocalGiveUp self-connects in a row the port is reported closed.
  void self_connect(Pending work, TimePoint now) {
    if (++work.local_failures >= kLocalGiveUp)
      return verdict(ctx_.space.at(work.index), PortState::Closed, Reason::ConnRefused);
    work.due = now;
    retries_.push_front(work);
  }

  // `rtt`: the connect()'s round trip, 0 when unknown.
  void verdict(const Probe& probe, PortState state, Reason reason,
               std::chrono::nanoseconds rtt = std::chrono::nanoseconds(0)) {
    if (shared_.admission.host_expired(probe.addr, Clock::now())) return skip();
    report(probe, state, reason, true, rtt);
  }

  void report(const Probe& probe, PortState state, Reason reason, bool answered,
              std::chrono::nanoseconds rtt = std::chrono::nanoseconds(0)) {
    if (answered) {
      ++replies_;
      ctx_.counters.received.fetch_add(1, std::memory_order_relaxed);
    }
    if (state == PortState::Open) ctx_.counters.open.fetch_add(1, std::memory_order_relaxed);
    ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
    if (!ctx_.on_result) return;
    PortResult r{probe.addr, Protocol::Tcp, probe.port, state, reason, 0, WallClock::now()};
    if (rtt.count() > 0)
      r.rtt = std::max(std::chrono::duration_cast<std::chrono::microseconds>(rtt),
                       std::chrono::microseconds(1));
    if (reports_) return ctx_.on_result(r);
    handed_.push_back(r);
    if (handed_.size() >= kHandOver) hand_over();
  }

  // A helper passes its verdicts to worker 0 (which reports them from the calling thread).
  void hand_over() {
    if (reports_ || handed_.empty()) return;
    {
      std::lock_guard lock(shared_.results_mu);
      shared_.results.insert(shared_.results.end(), handed_.begin(), handed_.end());
    }
    handed_.clear();
    shared_.results_cv.notify_one();
  }

  // Worker 0 reports what the helpers have handed over so far.
  void report_handed_over() {
    {
      std::lock_guard lock(shared_.results_mu);
      if (shared_.results.empty()) return;
      handed_.swap(shared_.results);
    }
    for (const auto& r : handed_) ctx_.on_result(r);
    handed_.clear();
  }

  void skip() { ctx_.counters.done.fetch_add(1, std::memory_order_relaxed); }

  Shared& shared_;
  EngineContext& ctx_;
  Permutation perm_;
  Slice slice_;
  uint64_t tcp_end_;
  uint32_t max_retries_;
  bool reports_;  // worker 0: calls ctx.on_result; helpers hand their verdicts over
  size_t cap_;
  connect_detail::ConnectTimeout timeout_;
  std::vector<PortResult> handed_;  // verdicts to hand over (helpers), or being reported (worker 0)

  uint64_t chunk_pos_ = 0, chunk_end_ = 0;  // permutation positions claimed and not yet looked at
  bool claimed_all_ = false;
  std::optional<uint64_t> next_fresh_;  // the next never-tried TCP index, if any
  std::deque<Pending> retries_;         // FIFO by due time (self-connects go to the front)
  std::vector<std::unique_ptr<AttemptJob>> jobs_;
  std::vector<AttemptJob*> free_jobs_;

  uint64_t sent_ = 0, replies_ = 0, send_errors_ = 0, refused_ = 0;
  connect_detail::Stats stats_;
};

void AttemptJob::start(ConnRunner& r) {
  r.connect(*this, probe.addr, probe.port, w_.timeout());
}

void AttemptJob::on_connected(ConnRunner& r, int err, std::chrono::nanoseconds rtt) {
  int fd = err == 0 ? r.fd(*this) : -1;
  try {
    w_.attempt_done(work, probe, err, rtt, fd);
  } catch (...) {
    r.finish(*this);
    throw;
  }
  r.finish(*this);
  w_.release(this);
}

void AttemptJob::on_not_admitted(ConnRunner& r, ConnAdmission::Decision d) {
  w_.not_admitted(d);
  r.finish(*this);
  w_.release(this);
}

void AttemptJob::on_local_error(ConnRunner& r, int err) {
  r.finish(*this);
  throw ConnectWorker::local_error(err, probe);
}

}  // namespace

EngineReport run_connect_scan(EngineContext& ctx, connect_detail::Stats* stats, size_t workers) {
  const Timing& timing = ctx.config.timing;
  uint64_t tcp_probes = tcp_index_end(ctx.space);
  if (workers == 0)
    workers = connect_detail::workers_for(timing, tcp_probes, std::thread::hardware_concurrency());
  uint64_t limit = fd_budget();
  uint64_t by_fds = limit > kFdReserve + 1 ? limit - kFdReserve : 1;
  auto cap = static_cast<size_t>(
      std::min<uint64_t>(by_fds, connect_detail::inflight_cap_for_level(timing.level)));
  workers = std::clamp<size_t>(workers, 1, cap);  // every worker has a slot at least

  ConnAdmission::Options admission;
  admission.max_rate = timing.max_rate;
  admission.min_gap = timing.scan_delay;
  admission.gate = ctx.gate;
  if (timing.host_timeout && timing.host_timeout->count() > 0)
    admission.host_timeout = *timing.host_timeout;
  Shared shared(ctx, admission);
  std::vector<std::unique_ptr<ConnectWorker>> scans;
  for (size_t i = 0; i < workers; ++i)
    scans.push_back(std::make_unique<ConnectWorker>(
        shared, cap / workers + (i < cap % workers ? 1 : 0), i == 0));

  // A connect scan needs no privilege at all: drop whatever the process has before the first
  // probe and the first helper thread (the fd limit was raised above).
  if (ctx.after_sockets_open) ctx.after_sockets_open();
  // TCP probes of this run's shard (ports are TCP only until UDP scanning exists).
  ctx.counters.total.store(
      Slice::shard(tcp_probes, ctx.config.shards.count, ctx.config.shards.index).size());

  std::vector<std::thread> threads;
  std::vector<char> finished(workers, 1);
  auto join_all = [&] {
    for (auto& t : threads) t.join();
  };
  try {
    for (size_t i = 1; i < workers; ++i) {
      {
        std::lock_guard lock(shared.results_mu);
        ++shared.helpers_running;
      }
      try {
        threads.emplace_back([&shared, &scans, &finished, i] {
          try {
            finished[i] = scans[i]->run() ? 1 : 0;
          } catch (...) {
            std::lock_guard lock(shared.results_mu);
            if (!shared.error) shared.error = std::current_exception();
            shared.abort = true;
          }
          {
            std::lock_guard lock(shared.results_mu);
            --shared.helpers_running;
          }
          shared.results_cv.notify_one();
        });
      } catch (const std::system_error&) {  // no thread: the other workers take its share
        std::lock_guard lock(shared.results_mu);
        --shared.helpers_running;
      }
    }
    finished[0] = scans[0]->run() ? 1 : 0;
    scans[0]->report_until_helpers_done();
  } catch (...) {
    shared.abort = true;
    join_all();
    throw;
  }
  join_all();
  if (shared.error) std::rethrow_exception(shared.error);

  EngineReport report;
  connect_detail::Stats total;
  total.workers = workers;
  for (size_t i = 0; i < workers; ++i) {
    scans[i]->add_to(report);
    total.sockets_opened += scans[i]->stats().sockets_opened;
    total.immediate += scans[i]->stats().immediate;
    total.waited += scans[i]->stats().waited;
    if (!finished[i]) report.interrupted = true;
  }
  if (stats != nullptr) *stats = total;
  return report;
}

}  // namespace gh
