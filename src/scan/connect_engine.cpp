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
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "io/fd.h"
#include "io/privilege.h"
#include "scan/rate_limiter.h"
#include "targets/permutation.h"

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

// The soft RLIMIT_NOFILE after raising it to the hard limit. A limit we cannot raise is not worth
// failing the scan for: the in-flight cap just stays lower.
uint64_t fd_limit() {
  try {
    return raise_fd_limit();
  } catch (const RuntimeError&) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    return rl.rlim_cur == RLIM_INFINITY ? std::numeric_limits<uint64_t>::max() : rl.rlim_cur;
  }
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

bool is_v6_link_local(const IpAddress& a) {
  return a.is_v6() && static_cast<uint16_t>((a.value >> 112) & 0xffc0) == 0xfe80;
}

socklen_t fill_sockaddr(const Probe& p, unsigned scope_id, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (p.addr.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(p.port);
    sin->sin_addr.s_addr = htonl(p.addr.v4_value());
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(p.port);
  auto bytes = p.addr.bytes();
  std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
  if (is_v6_link_local(p.addr)) sin6->sin6_scope_id = scope_id;
  return sizeof(sockaddr_in6);
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

struct Slot {
  ProbeSocket sock;
  uint32_t generation = 0;
  uint32_t heap_pos = kNoPos;
  Pending work;
  Probe probe;
  TimePoint started, deadline;
};

class ConnectScan {
 public:
  explicit ConnectScan(EngineContext& ctx)
      : ctx_(ctx),
        timing_(ctx.config.timing),
        perm_(ctx.space.size(), ctx.seed),
        tcp_end_(tcp_index_end(ctx.space)),
        max_retries_(static_cast<uint32_t>(std::max(0, timing_.max_retries))),
        timeout_(timing_.initial_rtt, timing_.max_rtt) {
    uint64_t limit = fd_limit();
    uint64_t by_fds = limit > kFdReserve + 1 ? limit - kFdReserve : 1;
    max_cap_ = static_cast<size_t>(
        std::min<uint64_t>(by_fds, connect_detail::inflight_cap_for_level(timing_.level)));
    cap_ = max_cap_;
    slots_.resize(max_cap_);
    heap_.reserve(max_cap_);
    free_.reserve(max_cap_);
    for (size_t i = max_cap_; i-- > 0;) free_.push_back(static_cast<uint32_t>(i));

    if (timing_.max_rate > 0) rate_.emplace(timing_.max_rate);
    if (timing_.host_timeout && timing_.host_timeout->count() > 0)
      host_timeout_ = *timing_.host_timeout;
    if (!ctx.config.interface.empty()) scope_id_ = ::if_nametoindex(ctx.config.interface.c_str());

    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw system_error(errno, "epoll_create1");
    advance_fresh();
  }

  EngineReport run() {
    // A connect scan needs no privilege at all: drop whatever the process has before the first
    // probe (the fd limit was raised in the constructor).
    if (ctx_.after_sockets_open) ctx_.after_sockets_open();
    ctx_.counters.total.store(tcp_end_);
    EngineReport report;
    for (;;) {
      if (in_flight_ == 0 && retries_.empty() && !next_fresh_) break;
      if (ctx_.stop.load()) {
        report.interrupted = true;
        break;
      }
      TimePoint now = Clock::now();
      expire(now);
      wake_ = now + kMaxPoll;
      bool more = launch();
      if (in_flight_ == 0 && retries_.empty() && !next_fresh_) break;
      wait_for_events(more ? now : wake_);
    }
    // Unfinished attempts have no verdict: close them unreported.
    for (auto& s : slots_) s.sock = ProbeSocket{};
    drop_idle();
    report.probes_sent = sent_;
    report.replies = replies_;
    report.send_errors = send_errors_;
    report.refused = refused_;
    return report;
  }

 private:
  // ---- work selection ----------------------------------------------------------------------

  void advance_fresh() {
    next_fresh_.reset();
    if (tcp_end_ == 0) {
      cursor_ = perm_.size();
      return;
    }
    while (cursor_ < perm_.size()) {
      uint64_t index = perm_.at(cursor_++);
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
      if (in_flight_ >= cap_ || ctx_.stop.load(std::memory_order_relaxed)) return false;
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
      if (host_expired(probe.addr, now)) {
        consume(from_retry);
        skip();
        continue;
      }
      if (timing_.scan_delay.count() > 0 && last_connect_ &&
          now < *last_connect_ + timing_.scan_delay) {
        wake_ = std::min(wake_, *last_connect_ + timing_.scan_delay);
        return false;
      }
      if (rate_ && rate_->grant(1) == 0) {
        wake_ = std::min(wake_, now + std::max<Clock::duration>(rate_->time_to_next(), 100us));
        return false;
      }
      if (ctx_.gate != nullptr) {  // last, right before the socket: nothing gets around it
        std::chrono::nanoseconds retry_in{0};
        ProbeGate::Decision d = ctx_.gate->check(probe, now, &retry_in);
        if (d == ProbeGate::Decision::Refuse) {
          consume(from_retry);
          ++refused_;
          skip();
          continue;
        }
        if (d == ProbeGate::Decision::Later) {
          wake_ = std::min(wake_, now + std::max<Clock::duration>(retry_in, 100us));
          return false;
        }
      }
      consume(from_retry);
      start(work, probe, now);
    }
    return true;
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
    note_first_probe(probe.addr, now);
    last_connect_ = now;
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
    int timeout_ms = 0;
    if (until > now)
      timeout_ms =
          static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(until - now).count());
    int n =
        ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
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
    if (ctx_.on_result)
      ctx_.on_result(
          PortResult{probe.addr, Protocol::Tcp, probe.port, state, reason, 0, WallClock::now()});
  }

  void skip() { ctx_.counters.done.fetch_add(1, std::memory_order_relaxed); }

  // ---- host timeout ------------------------------------------------------------------------

  bool host_expired(const IpAddress& addr, TimePoint now) const {
    if (!host_timeout_) return false;
    auto it = host_first_.find(addr);
    return it != host_first_.end() && now - it->second > *host_timeout_;
  }

  void note_first_probe(const IpAddress& addr, TimePoint now) {
    if (host_timeout_) host_first_.try_emplace(addr, now);
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

  EngineContext& ctx_;
  const Timing& timing_;
  Permutation perm_;
  uint64_t tcp_end_;
  uint32_t max_retries_;
  connect_detail::ConnectTimeout timeout_;
  std::optional<RateLimiter> rate_;
  std::optional<Clock::duration> host_timeout_;
  std::unordered_map<IpAddress, TimePoint, IpAddressHash> host_first_;
  unsigned scope_id_ = 0;

  uint64_t cursor_ = 0;                 // next permutation position
  std::optional<uint64_t> next_fresh_;  // the next never-tried TCP index, if any
  std::deque<Pending> retries_;         // FIFO by due time (resource backoffs go to the front)

  FileDescriptor epoll_;
  std::vector<epoll_event> events_ = std::vector<epoll_event>(kEventBatch);
  std::vector<ProbeSocket> idle_[2];  // sockets ready for their next attempt: IPv4, IPv6
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> heap_;
  size_t in_flight_ = 0;
  size_t max_cap_ = 1, cap_ = 1;
  TimePoint backoff_until_{}, last_resource_error_{};
  std::optional<TimePoint> last_connect_;
  TimePoint wake_{};

  uint64_t sent_ = 0, replies_ = 0, send_errors_ = 0, refused_ = 0;

 public:
  connect_detail::Stats stats_;
};

}  // namespace

EngineReport run_connect_scan(EngineContext& ctx, connect_detail::Stats* stats) {
  ConnectScan scan(ctx);
  EngineReport report = scan.run();
  if (stats != nullptr) *stats = scan.stats_;
  return report;
}

}  // namespace gh
