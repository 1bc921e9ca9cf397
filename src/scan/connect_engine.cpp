// TCP connect scan engine. Design notes:
//
// * Non-blocking sockets (SOCK_NONBLOCK | SOCK_CLOEXEC). An attempt is connect(), which starts the
//   handshake and says EINPROGRESS, then at once a second connect() to the same address, which
//   says where the attempt stands: 0 (or EISCONN) once connected, the attempt's error once it
//   failed, EALREADY while it is under way. On loopback, and whenever the answer comes back
//   while connect() runs, the kernel has handled the peer's SYN-ACK or RST before the first
//   connect() returned, so most attempts end right there, without epoll. Only attempts still
//   under way are watched: epoll with EPOLLONESHOT (each attempt needs exactly one event, and
//   ONESHOT keeps a socket from firing again if a fork()ed child still holds a copy of it), and
//   when the event comes, the same second connect() gives the outcome. Events carry
//   (generation << 32 | slot) so a stale event can never be mistaken for the slot's next attempt.
// * Sockets are used again: a connect() that failed (refused: a closed port; or unreachable)
//   leaves the socket unconnected once the error is read (by that second connect()), and Linux
//   lets the next connect() on it start a new attempt, with a new local port (the old one was
//   released when the attempt failed). So a closed port costs two connect() calls and nothing
//   else: no socket(), setsockopt(), epoll_ctl() or close(). Connected sockets (open ports,
//   self-connects) and attempts that got no answer are closed, and a socket whose ONESHOT event
//   may still be pending too. Idle sockets wait in a pool per address family; the pools count
//   towards the in-flight bound's descriptors and are emptied on a resource error.
// * Workers: a fast scan of many ports (connect_detail::workers_for: -T4/-T5, 8192+ probes, 2+
//   cores) runs two, the calling thread's and a helper thread. Profiles of a loopback scan show
//   >90% of the time in the kernel's connect() (the handshake or RST runs inside the call), so the
//   only way to go faster is to do that work on two cores. Each worker owns its sockets, epoll
//   set, slots (the in-flight bound split between them), deadline heap, retry FIFO, timeout
//   estimate and resource backoff, and claims kChunk permutation positions at a time from a
//   shared atomic cursor (disjoint, and a worker that gets less CPU takes fewer). The gate, the
//   rate limiter, the host-timeout map and the scan-delay clock are shared under one mutex
//   (admit()): the gate is not thread-safe, and one limiter keeps the rate global. Verdicts are
//   reported from the calling thread only: the helper hands them over in batches (kHandOver, and
//   whatever it has when it ends), worker 0 reports them between its own turns and, once its own
//   share is done, until every helper has ended. ctx.after_sockets_open runs before the helper
//   starts. A stop ends every worker at its next turn; a worker that throws stops the others and
//   the scan rethrows its exception once all have ended.
// * Memory grows with the in-flight count only: a fixed table of slots (sized once to the in-flight
//   bound), an indexed min-heap of their deadlines, and a FIFO of probes waiting for a retry (each
//   entry comes from an attempt that timed out, and due retries are launched before fresh probes,
//   so it stays within the in-flight bound). The permutation is computed, not stored. The only
//   structure that grows with the scan is the per-host first-probe map, kept only with
//   --host-timeout (one entry per host).
// * In-flight bound: min(RLIMIT_NOFILE soft limit - 64, a -T cap). The soft limit is raised to the
//   hard limit first (gh::raise_fd_limit). EMFILE / ENFILE / ENOBUFS / ENOMEM (and EADDRNOTAVAIL:
//   no free local port) never fail the scan: the probe is put back, the cap drops to 3/4 of what is
//   in flight, new connects pause for 10 ms (doubling while EADDRNOTAVAIL repeats with nothing in
//   flight), and once a second has passed without a resource error the cap grows back by one
//   per completed attempt (it doubles per round of answers, like TCP slow start; if the resource
//   is really short, the next error cuts it again, which costs one pause). Only EADDRNOTAVAIL /
//   EAGAIN that persist with nothing else in flight (so not caused by our own load: e.g. no IPv6
//   source address) fail the scan, since waiting would never end.
// * Timeouts: connect_detail::ConnectTimeout, nmap's SRTT + 4 * RTTVAR from every attempt that got
//   a definitive answer from the peer, right away or later (a reused socket gets a new local port,
//   and a socket that got no answer is never reused, so a late answer can never be attributed to
//   the wrong attempt and retried attempts are valid samples, unlike Karn's case). An attempt's
//   deadline is fixed when it starts. Local errors from the first connect() (no route, ...) are
//   not samples.
// * Retries: an attempt that times out goes to the retry FIFO (due at once) until it has been
//   retried timing.max_retries times; then the port is filtered/no-response.
// * Rate: RateLimiter(timing.max_rate) gates connect() starts when max_rate > 0. timing.scan_delay
//   (nmap applies it per host, for -T0/-T1) is enforced as a global minimum gap between connect()
//   starts: simpler, and at least as slow as nmap's. timing.min_rate is not used: the engine does
//   not throttle itself below what the in-flight cap allows.
// * host_timeout (when set and > 0, as nmap's 0 means "none"): a host whose first attempt started
//   longer ago than that is given up: nothing more is reported for it. Its unsent probes are
//   skipped, its pending retries dropped, and verdicts still arriving for it ignored. Skipped
//   probes count in counters.done (they are finished) but produce no result.
// * Closing: every socket gets SO_LINGER {on, 0} when it is made, so closing an established
//   connection sends RST instead of FIN. The port scanned sees an aborted connection rather than
//   an orderly one, we keep no TIME_WAIT entry (thousands of open ports per second would otherwise
//   pin local ports and kernel memory for 60 s, and a later scan of the same port could collide
//   with them), and no FIN_WAIT state waits for the peer. nmap's connect scan does the same. A
//   socket still in SYN_SENT is discarded by close() without sending anything.
// * Self-connects: scanning a local address, connect() may pick the destination port as its own
//   local port and connect the socket to itself. Such an attempt is not a verdict; see
//   self_connect(). It counts in counters.sent, so sent can exceed total + retries by these.
// * ctx.gate (scope of authorization, per-host caps) is asked last before every connect(), fresh
//   probes, retries and re-attempts alike. Refuse: the probe is dropped, counted in
//   report.refused and counters.done, never reported. Later: nothing more is started until it is
//   asked again after retry_in (the probe keeps its place: head-of-line waiting keeps memory
//   bounded; answers and timeouts are still handled meanwhile). A rate token taken for a probe
//   the gate defers is not given back: the rate can only come out lower, never higher.
// * report.send_errors counts socket()/connect() calls that failed locally (fds, buffers, local
//   ports) and were tried again later.
// * Stop: ctx.stop is checked every loop turn, and every turn waits at most kMaxPoll. On stop every
//   socket is closed unreported and the report says interrupted.
#include "scan/connect_engine.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "io/fd.h"
#include "io/privilege.h"
#include "scan/conn_runner.h"
#include "scan/rate_limiter.h"
#include "targets/permutation.h"
#include "targets/slice.h"

namespace gh {
namespace connect_detail {

Classification classify_connect_errno(int err) {
  auto verdict = [](PortState s, Reason r) { return Classification{Outcome::Verdict, s, r}; };
  switch (err) {
    case 0:
    case EISCONN:  // a second connect() on a socket that has connected
    // The handshake completed and the peer reset or closed before we looked: it was open.
    case ECONNRESET:
    case EPIPE:
      return verdict(PortState::Open, Reason::ConnAccepted);
    // RST to our SYN, or ICMP port unreachable (which Linux also reports as ECONNREFUSED).
    case ECONNREFUSED:
      return verdict(PortState::Closed, Reason::ConnRefused);
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENONET:
      return verdict(PortState::Filtered, Reason::HostUnreach);
    case ENETUNREACH:
    case ENETDOWN:
      return verdict(PortState::Filtered, Reason::NetUnreach);
    // A local firewall rule (EPERM), or ICMPv6 administratively prohibited / policy (EACCES).
    case EACCES:
    case EPERM:
      return verdict(PortState::Filtered, Reason::AdminProhibited);
    case ENOPROTOOPT:  // ICMP protocol unreachable
      return verdict(PortState::Filtered, Reason::ProtoUnreach);
    case ETIMEDOUT:
      return {Outcome::Timeout};
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:
    case EAGAIN:
      return {Outcome::LocalTransient};
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case EINVAL:  // e.g. a link-local IPv6 target without an interface (-e) for its scope
      return {Outcome::LocalFatal};
    default:
      // Anything else (EMSGSIZE, EOPNOTSUPP from rarer ICMP errors, ...) is treated as no answer:
      // the attempt is retried and the port ends filtered/no-response.
      return {Outcome::Timeout};
  }
}

bool connect_pending(int err) {
  return err == EALREADY || err == EINPROGRESS || err == EINTR;
}

bool socket_reusable(int err) {
  if (err == 0) return false;
  Classification c = classify_connect_errno(err);
  return c.outcome == Outcome::Verdict && c.state != PortState::Open;
}

size_t workers_for(const Timing& timing, uint64_t tcp_probes, unsigned cores) {
  if (cores < 2 || timing.level < 3) return 1;
  // Per-host pacing is serial by nature, and a host timeout clock shared by threads is not worth
  // its locking: those scans are slow anyway.
  if (timing.scan_delay.count() > 0) return 1;
  if (timing.host_timeout && timing.host_timeout->count() > 0) return 1;
  if (tcp_probes < 2 * kMinProbesPerWorker) return 1;
  return 2;
}

size_t inflight_cap_for_level(int level) {
  if (level <= 1) return 1;  // paranoid/sneaky: serial, as nmap
  if (level == 2) return 16;
  if (level == 3) return 1024;
  return 4096;
}

ConnectTimeout::ConnectTimeout(std::chrono::milliseconds initial_rtt,
                               std::chrono::milliseconds max_rtt)
    : floor_(0), max_(std::max<Duration>(max_rtt, std::chrono::milliseconds(1))) {
  floor_ = std::min<Duration>(kFloor, max_);
  timeout_ = clamp(initial_rtt);
}

ConnectTimeout::Duration ConnectTimeout::clamp(Duration d) const {
  return std::clamp(d, floor_, max_);
}

void ConnectTimeout::sample(Duration rtt) {
  using namespace std::chrono_literals;
  rtt = std::max<Duration>(rtt, 0ns);
  if (!have_sample_) {
    have_sample_ = true;
    srtt_ = rtt;
    rttvar_ = std::clamp<Duration>(rtt, 5ms, 2s);  // nmap's first-sample variance
  } else {
    Duration delta = rtt - srtt_;
    srtt_ += delta / 8;
    rttvar_ += ((delta < 0ns ? -delta : delta) - rttvar_) / 4;
  }
  timeout_ = clamp(srtt_ + 4 * rttvar_);
}

}  // namespace connect_detail

namespace {

using namespace std::chrono_literals;
using connect_detail::Classification;
using connect_detail::Outcome;
using Clock = SteadyClock;
using TimePoint = Clock::time_point;

constexpr uint64_t kFdReserve = 64;  // descriptors left for sinks, logs, the epoll fd, ...
constexpr auto kMaxPoll = 5ms;       // longest wait between two looks at ctx.stop
constexpr int kLaunchBatch = 256;    // connects per loop turn before events are looked at
constexpr size_t kEventBatch = 1024;
constexpr auto kBackoffMin = 10ms;  // first pause after a resource error, doubled per failure
constexpr auto kBackoffMax = 1s;
constexpr auto kRegrowQuiet = 1s;     // no cap growth this soon after a resource error
constexpr uint32_t kLocalGiveUp = 6;  // local failures of one probe in a row (see uses)
constexpr uint32_t kNoPos = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kChunk = 64;    // permutation positions a worker claims at a time
constexpr size_t kHandOver = 256;  // a helper worker's verdicts passed on together

// The soft RLIMIT_NOFILE after raising it to the hard limit (shared with the -sV runner).
uint64_t fd_limit() {
  return fd_budget();
}

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

socklen_t fill_sockaddr(const Probe& p, unsigned scope_id, sockaddr_storage& ss) {
  return gh::fill_sockaddr(p.addr, p.port, scope_id, ss);  // scan/conn_runner.h
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
  uint32_t local_failures = 0;  // local failures / self-connects in a row (see kLocalGiveUp)
  TimePoint due;
};

// A probe socket. One is used for many attempts: after a refused (or unreachable) connect the
// kernel puts it back to an unconnected state, and the next connect() on it starts afresh.
struct ProbeSocket {
  FileDescriptor fd;
  int family = AF_UNSPEC;
  bool registered = false;  // added to the epoll set (it stays there until closed)
  bool armed = false;       // its EPOLLONESHOT registration may still report an event
};

// What the workers of one scan share. The gate, the rate limiter, the host-timeout map and the
// scan-delay clock are used under `mu` (one worker at a time: the gate is not thread-safe).
// Helpers hand their verdicts to the calling thread's worker through `results`.
struct Shared {
  explicit Shared(EngineContext& c) : ctx(c) {}
  EngineContext& ctx;
  std::atomic<uint64_t> cursor{0};  // next unclaimed permutation position
  std::atomic<bool> abort{false};   // a worker failed: the others stop too

  std::mutex mu;
  std::optional<RateLimiter> rate;
  std::optional<Clock::duration> host_timeout;
  std::unordered_map<IpAddress, TimePoint, IpAddressHash> host_first;
  std::optional<TimePoint> last_connect;

  std::mutex results_mu;
  std::condition_variable results_cv;
  std::vector<PortResult> results;  // from helpers, not yet reported
  size_t helpers_running = 0;
  std::exception_ptr error;  // the first helper failure

  bool stopping() const {
    return ctx.stop.load(std::memory_order_relaxed) || abort.load(std::memory_order_relaxed);
  }
};

struct Slot {
  ProbeSocket sock;
  uint32_t generation = 0;
  uint32_t heap_pos = kNoPos;
  Pending work;
  Probe probe;
  TimePoint started, deadline;
};

// One worker: its own sockets, epoll set, slots, deadlines, retries and timeout estimate, over
// the permutation positions it claims. Worker 0 runs in the calling thread and reports every
// verdict; helpers (other threads) hand theirs over.
class ConnectScan {
 public:
  ConnectScan(Shared& shared, size_t cap, bool reports)
      : shared_(shared),
        ctx_(shared.ctx),
        timing_(ctx_.config.timing),
        perm_(ctx_.space.size(), ctx_.seed),
        slice_(Slice::shard(ctx_.space.size(), ctx_.config.shards.count, ctx_.config.shards.index)),
        tcp_end_(tcp_index_end(ctx_.space)),
        max_retries_(static_cast<uint32_t>(std::max(0, timing_.max_retries))),
        reports_(reports),
        timeout_(timing_.initial_rtt, timing_.max_rtt) {
    max_cap_ = std::max<size_t>(1, cap);
    cap_ = max_cap_;
    slots_.resize(max_cap_);
    heap_.reserve(max_cap_);
    free_.reserve(max_cap_);
    for (size_t i = max_cap_; i-- > 0;) free_.push_back(static_cast<uint32_t>(i));
    if (!ctx_.config.interface.empty()) scope_id_ = ::if_nametoindex(ctx_.config.interface.c_str());

    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw system_error(errno, "epoll_create1");
  }

  // Probes until this worker's share is done or a stop is requested. Returns false when stopped.
  bool run() {
    advance_fresh();
    bool finished = true;
    for (;;) {
      if (idle()) break;
      if (shared_.stopping()) {
        finished = false;
        break;
      }
      if (reports_) report_handed_over();
      TimePoint now = Clock::now();
      expire(now);
      wake_ = now + kMaxPoll;
      bool more = launch();
      if (idle()) break;
      wait_for_events(more ? now : wake_);
    }
    // Unfinished attempts have no verdict: close them unreported.
    for (auto& s : slots_) s.sock = ProbeSocket{};
    drop_idle();
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
        shared_.results_cv.wait_for(lock, kMaxPoll);
    }
  }

  void add_to(EngineReport& report) const {
    report.probes_sent += sent_;
    report.replies += replies_;
    report.send_errors += send_errors_;
    report.refused += refused_;
  }

  const connect_detail::Stats& stats() const { return stats_; }

 private:
  // ---- work selection ----------------------------------------------------------------------

  bool idle() const { return in_flight_ == 0 && retries_.empty() && !next_fresh_; }

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

  // Starts attempts while the cap, the gates and the batch allow. Returns true when it stopped
  // only because of the batch size (there is more to start right away).
  bool launch() {
    for (int n = 0; n < kLaunchBatch; ++n) {
      if (in_flight_ >= cap_ || shared_.stopping()) return false;
      TimePoint now = Clock::now();
      if (now < backoff_until_) {
        wake_ = std::min(wake_, backoff_until_);
        return false;
      }
      Pending work;
      bool from_retry = !retries_.empty() && retries_.front().due <= now;
      if (from_retry) {
        work = retries_.front();
      } else if (next_fresh_) {
        work.index = *next_fresh_;
      } else {
        if (!retries_.empty()) wake_ = std::min(wake_, retries_.front().due);
        return false;
      }
      Probe probe = ctx_.space.at(work.index);
      if (probe.proto != Protocol::Tcp) {  // not reached: indices < tcp_end_ are TCP
        consume(from_retry);
        continue;
      }
      Admission a = admit(probe, now);
      if (a == Admission::Wait) return false;
      consume(from_retry);
      if (a == Admission::Send) {
        start(work, probe, now);
      } else {
        if (a == Admission::Refused) ++refused_;
        skip();
      }
    }
    return true;
  }

  enum class Admission { Send, Wait, Refused, HostExpired };

  // Whether `probe` may be sent now: host timeout, scan delay, rate, and the gate last, right
  // before the socket, so nothing gets around it. Wait: not yet (wake_ says when to look again).
  Admission admit(const Probe& probe, TimePoint now) {
    std::lock_guard lock(shared_.mu);
    if (host_expired_locked(probe.addr, now)) return Admission::HostExpired;
    if (timing_.scan_delay.count() > 0 && shared_.last_connect &&
        now < *shared_.last_connect + timing_.scan_delay) {
      wake_ = std::min(wake_, *shared_.last_connect + timing_.scan_delay);
      return Admission::Wait;
    }
    auto& rate = shared_.rate;
    if (rate && rate->grant(1) == 0) {
      wake_ = std::min(wake_, now + std::max<Clock::duration>(rate->time_to_next(), 100us));
      return Admission::Wait;
    }
    if (ctx_.gate != nullptr) {
      std::chrono::nanoseconds retry_in{0};
      ProbeGate::Decision d = ctx_.gate->check(probe, now, &retry_in);
      if (d == ProbeGate::Decision::Refuse) return Admission::Refused;
      if (d == ProbeGate::Decision::Later) {
        wake_ = std::min(wake_, now + std::max<Clock::duration>(retry_in, 100us));
        return Admission::Wait;
      }
    }
    if (shared_.host_timeout) shared_.host_first.try_emplace(probe.addr, now);
    shared_.last_connect = now;
    return Admission::Send;
  }

  void consume(bool from_retry) {
    if (from_retry)
      retries_.pop_front();
    else
      advance_fresh();
  }

  // ---- one attempt -------------------------------------------------------------------------

  void start(Pending work, const Probe& probe, TimePoint now) {
    int family = probe.addr.is_v4() ? AF_INET : AF_INET6;
    ProbeSocket sock = acquire(family);
    if (!sock.fd) return socket_failed(errno, "socket", work, probe, now);

    sockaddr_storage ss;
    socklen_t len = fill_sockaddr(probe, scope_id_, ss);
    int err = connect_errno(sock.fd.get(), ss, len);
    if (err == EINPROGRESS || err == EINTR) {  // EINTR: the connect goes on asynchronously
      count_attempt(work);
      // Often the answer is there already (always on loopback: the peer's SYN-ACK or RST was
      // handled before connect() returned). A second connect() says so without epoll.
      err = connect_errno(sock.fd.get(), ss, len);
      if (connect_detail::connect_pending(err)) return watch(std::move(sock), work, probe, now);
      ++stats_.immediate;
      return answered(std::move(sock), work, probe, now, err, Clock::now());
    }
    Classification c = connect_detail::classify_connect_errno(err);
    switch (c.outcome) {
      case Outcome::Verdict:
        count_attempt(work);
        ++stats_.immediate;
        if (c.state == PortState::Open && self_connected(sock.fd.get()))
          return self_connect(work, probe, now);
        if (connect_detail::socket_reusable(err)) recycle(std::move(sock));
        return verdict(probe, c.state, c.reason);
      case Outcome::Timeout:
        count_attempt(work);
        ++stats_.immediate;
        return attempt_failed(work, probe, now);
      case Outcome::LocalTransient:
        return socket_failed(err, "connect", work, probe, now);
      case Outcome::LocalFatal:
        throw system_error(
            err, "connect to " + probe.addr.to_string() + " port " + std::to_string(probe.port));
    }
  }

  static int connect_errno(int fd, const sockaddr_storage& ss, socklen_t len) {
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0 ? 0 : errno;
  }

  // An idle socket of `family`, or a new one (errno set and no descriptor when that fails).
  ProbeSocket acquire(int family) {
    auto& pool = idle_[family == AF_INET ? 0 : 1];
    if (!pool.empty()) {
      ProbeSocket sock = std::move(pool.back());
      pool.pop_back();
      return sock;
    }
    // Idle sockets of the other family hold descriptors too: keep the total within the cap.
    auto& other = idle_[family == AF_INET ? 1 : 0];
    if (!other.empty() && in_flight_ + other.size() >= max_cap_) other.pop_back();
    ProbeSocket sock;
    sock.fd.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!sock.fd) return sock;
    ++stats_.sockets_opened;
    sock.family = family;
    linger lg{1, 0};  // close() sends RST: see the file comment
    ::setsockopt(sock.fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    const std::string& dev = ctx_.config.interface;
    if (!dev.empty() &&
        ::setsockopt(sock.fd.get(), SOL_SOCKET, SO_BINDTODEVICE, dev.data(), dev.size()) != 0)
      throw system_error(errno, "SO_BINDTODEVICE " + dev);
    return sock;
  }

  // Keeps a socket whose attempt failed for the next attempt. One whose EPOLLONESHOT
  // registration may still fire would report the next attempt under this one's slot: closed.
  void recycle(ProbeSocket sock) {
    if (sock.armed) return;
    idle_[sock.family == AF_INET ? 0 : 1].push_back(std::move(sock));
  }

  void drop_idle() {
    idle_[0].clear();
    idle_[1].clear();
  }

  void count_attempt(const Pending& work) {
    ++sent_;
    ctx_.counters.sent.fetch_add(1, std::memory_order_relaxed);
    if (work.attempt > 0) ctx_.counters.retries.fetch_add(1, std::memory_order_relaxed);
  }

  // socket() or connect() failed for a local reason.
  void socket_failed(int err, const char* what, Pending work, const Probe& probe, TimePoint now) {
    Classification c = connect_detail::classify_connect_errno(err);
    if (c.outcome != Outcome::LocalTransient)
      throw system_error(err, std::string(what) + " for " + probe.addr.to_string());
    ++send_errors_;
    drop_idle();  // give their descriptors and memory back
    // Out of descriptors, kernel memory or buffers: always our own load, always wait it out.
    // Out of local ports / source address: give up once it persists with nothing else in flight.
    bool may_give_up = err == EADDRNOTAVAIL || err == EAGAIN;
    if (may_give_up && in_flight_ == 0 && ++work.local_failures >= kLocalGiveUp)
      throw system_error(err, std::string(what) + " to " + probe.addr.to_string() + " port " +
                                  std::to_string(probe.port));
    if (!may_give_up || in_flight_ > 0) work.local_failures = 0;
    cap_ = std::max<size_t>(1, in_flight_ - in_flight_ / 4);
    auto pause = std::min<Clock::duration>(kBackoffMin * (1u << std::min(work.local_failures, 7u)),
                                           kBackoffMax);
    backoff_until_ = now + pause;
    last_resource_error_ = now;
    work.due = now;
    retries_.push_front(work);
  }

  void watch(ProbeSocket sock, const Pending& work, const Probe& probe, TimePoint now) {
    uint32_t id = free_.back();
    Slot& s = slots_[id];
    ++s.generation;
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLONESHOT;
    ev.data.u64 = uint64_t{s.generation} << 32 | id;
    int op = sock.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (::epoll_ctl(epoll_.get(), op, sock.fd.get(), &ev) != 0) {
      int err = errno;
      if (err == ENOMEM || err == ENOSPC)
        return socket_failed(ENOMEM, "epoll_ctl", work, probe, now);
      throw system_error(err, "epoll_ctl");
    }
    sock.registered = sock.armed = true;
    ++stats_.waited;
    free_.pop_back();
    s.sock = std::move(sock);
    s.work = work;
    s.probe = probe;
    s.started = now;
    s.deadline = now + timeout_.timeout();
    heap_push(id);
    ++in_flight_;
  }

  // Frees a slot and returns what it was doing (its socket is still in it, to be moved out).
  Slot& release(uint32_t id) {
    Slot& s = slots_[id];
    heap_remove(id);
    free_.push_back(id);
    --in_flight_;
    return s;
  }

  // One more attempt has ended: after a quiet second without resource errors, the cap grows back.
  void regrow(TimePoint now) {
    if (cap_ < max_cap_ && now - last_resource_error_ >= kRegrowQuiet) ++cap_;
  }

  // Ends the attempts whose deadline has passed. One whose outcome is already there (it came
  // while this thread was busy elsewhere, before we looked) is an answer, not a timeout.
  void expire(TimePoint now) {
    while (!heap_.empty() && slots_[heap_[0]].deadline <= now) {
      uint32_t id = heap_[0];
      int err = check(slots_[id]);
      Slot& s = release(id);
      if (connect_detail::connect_pending(err)) {
        s.sock = ProbeSocket{};  // closed: a socket still in SYN_SENT sends nothing
        regrow(now);
        attempt_failed(s.work, s.probe, now);
      } else {
        answered(std::move(s.sock), s.work, s.probe, s.started, err, now);
      }
    }
  }

  // Asks the kernel where the attempt in slot `s` stands: connect() again on the same address
  // returns 0 once connected, the attempt's error once it failed (and makes the socket reusable),
  // EALREADY while it is still under way.
  int check(const Slot& s) {
    sockaddr_storage ss;
    socklen_t len = fill_sockaddr(s.probe, scope_id_, ss);
    return connect_errno(s.sock.fd.get(), ss, len);
  }

  // The attempt started at `started` on `sock` has its outcome `err` (see check()) at `now`.
  void answered(ProbeSocket sock, const Pending& work, const Probe& probe, TimePoint started,
                int err, TimePoint now) {
    regrow(now);
    Classification c = connect_detail::classify_connect_errno(err);
    if (c.outcome != Outcome::Verdict) return attempt_failed(work, probe, now);
    if (c.state == PortState::Open && self_connected(sock.fd.get()))
      return self_connect(work, probe, now);
    if (connect_detail::socket_reusable(err)) recycle(std::move(sock));
    timeout_.sample(now - started);
    verdict(probe, c.state, c.reason);
  }

  void wait_for_events(TimePoint until) {
    TimePoint now = Clock::now();
    if (!heap_.empty()) until = std::min(until, slots_[heap_[0]].deadline);
    auto wait = std::max<Clock::duration>(until - now, Clock::duration::zero());
    int n = epoll_wait_for(wait);
    if (n < 0) {
      if (errno == EINTR) return;
      throw system_error(errno, "epoll_wait");
    }
    now = Clock::now();
    for (int i = 0; i < n; ++i) {
      uint32_t id = static_cast<uint32_t>(events_[i].data.u64);
      uint32_t generation = static_cast<uint32_t>(events_[i].data.u64 >> 32);
      if (id >= slots_.size() || !slots_[id].sock.fd || slots_[id].generation != generation ||
          slots_[id].heap_pos == kNoPos)
        continue;
      slots_[id].sock.armed = false;  // EPOLLONESHOT: it reported, and stays quiet now
      int err = check(slots_[id]);
      if (connect_detail::connect_pending(err)) {  // not done after all: wait on
        rearm(id);
        continue;
      }
      Slot& s = release(id);
      answered(std::move(s.sock), s.work, s.probe, s.started, err, now);
    }
  }

  // epoll_wait for at most `wait`, to the microsecond where the kernel has epoll_pwait2 (Linux
  // 5.11): a per-host cap (--max-host-rate) or a rate gap can be far below a millisecond, and
  // epoll_wait's milliseconds would round each such wait up to 1 ms.
  int epoll_wait_for(Clock::duration wait) {
    auto size = static_cast<int>(events_.size());
    if (have_pwait2_) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      int n = ::epoll_pwait2(epoll_.get(), events_.data(), size, &ts, nullptr);
      // ENOSYS: an older kernel; EPERM: a seccomp filter that does not know the call.
      if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
      have_pwait2_ = false;
    }
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
    return ::epoll_wait(epoll_.get(), events_.data(), size, static_cast<int>(ms));
  }

  void rearm(uint32_t id) {
    Slot& s = slots_[id];
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLONESHOT;
    ev.data.u64 = uint64_t{s.generation} << 32 | id;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, s.sock.fd.get(), &ev) == 0) {
      s.sock.armed = true;
      return;
    }
    // Cannot wait on it any more: let its deadline end it.
    s.deadline = Clock::now();
    heap_remove(id);
    heap_push(id);
  }

  // ---- outcomes ----------------------------------------------------------------------------

  void attempt_failed(const Pending& work, const Probe& probe, TimePoint now) {
    if (host_expired(probe.addr, now)) return skip();
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
  void self_connect(Pending work, const Probe& probe, TimePoint now) {
    if (++work.local_failures >= kLocalGiveUp)
      return verdict(probe, PortState::Closed, Reason::ConnRefused);
    work.due = now;
    retries_.push_front(work);
  }

  void verdict(const Probe& probe, PortState state, Reason reason) {
    if (host_expired(probe.addr, Clock::now())) return skip();
    report(probe, state, reason, true);
  }

  void report(const Probe& probe, PortState state, Reason reason, bool answered) {
    if (answered) {
      ++replies_;
      ctx_.counters.received.fetch_add(1, std::memory_order_relaxed);
    }
    if (state == PortState::Open) ctx_.counters.open.fetch_add(1, std::memory_order_relaxed);
    ctx_.counters.done.fetch_add(1, std::memory_order_relaxed);
    if (!ctx_.on_result) return;
    PortResult r{probe.addr, Protocol::Tcp, probe.port, state, reason, 0, WallClock::now()};
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

  // ---- host timeout ------------------------------------------------------------------------

  bool host_expired(const IpAddress& addr, TimePoint now) {
    if (!shared_.host_timeout) return false;  // set before the workers start, never changed
    std::lock_guard lock(shared_.mu);
    return host_expired_locked(addr, now);
  }

  bool host_expired_locked(const IpAddress& addr, TimePoint now) const {
    if (!shared_.host_timeout) return false;
    auto it = shared_.host_first.find(addr);
    return it != shared_.host_first.end() && now - it->second > *shared_.host_timeout;
  }

  // ---- deadline heap (indexed, so a finished attempt leaves it at once) -----------------------

  bool earlier(uint32_t a, uint32_t b) const { return slots_[a].deadline < slots_[b].deadline; }

  void heap_set(size_t pos, uint32_t id) {
    heap_[pos] = id;
    slots_[id].heap_pos = static_cast<uint32_t>(pos);
  }

  void sift_up(size_t pos) {
    uint32_t id = heap_[pos];
    while (pos > 0) {
      size_t parent = (pos - 1) / 2;
      if (!earlier(id, heap_[parent])) break;
      heap_set(pos, heap_[parent]);
      pos = parent;
    }
    heap_set(pos, id);
  }

  void sift_down(size_t pos) {
    uint32_t id = heap_[pos];
    for (;;) {
      size_t child = 2 * pos + 1;
      if (child >= heap_.size()) break;
      if (child + 1 < heap_.size() && earlier(heap_[child + 1], heap_[child])) ++child;
      if (!earlier(heap_[child], id)) break;
      heap_set(pos, heap_[child]);
      pos = child;
    }
    heap_set(pos, id);
  }

  void heap_push(uint32_t id) {
    heap_.push_back(id);
    sift_up(heap_.size() - 1);
  }

  void heap_remove(uint32_t id) {
    size_t pos = slots_[id].heap_pos;
    if (pos == kNoPos) return;
    slots_[id].heap_pos = kNoPos;
    uint32_t last = heap_.back();
    heap_.pop_back();
    if (pos == heap_.size()) return;
    heap_set(pos, last);
    sift_up(pos);
    sift_down(slots_[last].heap_pos);
  }

  Shared& shared_;
  EngineContext& ctx_;
  const Timing& timing_;
  Permutation perm_;
  Slice slice_;
  uint64_t tcp_end_;
  uint32_t max_retries_;
  bool reports_;  // worker 0: calls ctx.on_result; helpers hand their verdicts over
  connect_detail::ConnectTimeout timeout_;
  unsigned scope_id_ = 0;
  std::vector<PortResult> handed_;  // verdicts to hand over (helpers), or being reported (worker 0)

  uint64_t chunk_pos_ = 0, chunk_end_ = 0;  // permutation positions claimed and not yet looked at
  bool claimed_all_ = false;
  std::optional<uint64_t> next_fresh_;  // the next never-tried TCP index, if any
  std::deque<Pending> retries_;         // FIFO by due time (resource backoffs go to the front)

  FileDescriptor epoll_;
  std::vector<epoll_event> events_ = std::vector<epoll_event>(kEventBatch);
  bool have_pwait2_ = true;
  std::vector<ProbeSocket> idle_[2];  // sockets ready for their next attempt: IPv4, IPv6
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> heap_;
  size_t in_flight_ = 0;
  size_t max_cap_ = 1, cap_ = 1;
  TimePoint backoff_until_{}, last_resource_error_{};
  TimePoint wake_{};

  uint64_t sent_ = 0, replies_ = 0, send_errors_ = 0, refused_ = 0;
  connect_detail::Stats stats_;
};

}  // namespace

EngineReport run_connect_scan(EngineContext& ctx, connect_detail::Stats* stats, size_t workers) {
  const Timing& timing = ctx.config.timing;
  uint64_t tcp_probes = tcp_index_end(ctx.space);
  if (workers == 0)
    workers = connect_detail::workers_for(timing, tcp_probes, std::thread::hardware_concurrency());
  uint64_t limit = fd_limit();
  uint64_t by_fds = limit > kFdReserve + 1 ? limit - kFdReserve : 1;
  auto cap = static_cast<size_t>(
      std::min<uint64_t>(by_fds, connect_detail::inflight_cap_for_level(timing.level)));
  workers = std::clamp<size_t>(workers, 1, cap);  // every worker has a slot at least

  Shared shared(ctx);
  if (timing.max_rate > 0) shared.rate.emplace(timing.max_rate);
  if (timing.host_timeout && timing.host_timeout->count() > 0)
    shared.host_timeout = *timing.host_timeout;
  std::vector<std::unique_ptr<ConnectScan>> scans;
  for (size_t i = 0; i < workers; ++i)
    scans.push_back(
        std::make_unique<ConnectScan>(shared, cap / workers + (i < cap % workers ? 1 : 0), i == 0));

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
