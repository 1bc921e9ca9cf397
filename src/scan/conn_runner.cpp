#include "scan/conn_runner.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/privilege.h"

namespace gh {

socklen_t fill_sockaddr(const IpAddress& addr, uint16_t port, unsigned scope_id,
                        sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (addr.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(addr.v4_value());
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  auto bytes = addr.bytes();
  std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
  if (static_cast<uint16_t>((addr.value >> 112) & 0xffc0) == 0xfe80) sin6->sin6_scope_id = scope_id;
  return sizeof(sockaddr_in6);
}

uint64_t fd_budget() {
  try {
    return raise_fd_limit();
  } catch (const RuntimeError&) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    return rl.rlim_cur == RLIM_INFINITY ? std::numeric_limits<uint64_t>::max() : rl.rlim_cur;
  }
}

namespace {
using namespace std::chrono_literals;
constexpr auto kMaxPoll = 5ms;  // longest wait between two looks at the stop flag
constexpr size_t kEventBatch = 1024;
constexpr auto kBackoffMin = 10ms;  // first pause after a shortage, doubled per failure
constexpr auto kBackoffMax = 1s;
constexpr auto kRegrowQuiet = 1s;     // no cap growth this soon after a shortage
constexpr uint32_t kLocalGiveUp = 6;  // shortages of one connect in a row with nothing in flight
constexpr uint32_t kNoPos = UINT32_MAX;

uint64_t key(size_t slot, uint32_t gen) {
  return (static_cast<uint64_t>(gen) << 32) | slot;
}
// Out of descriptors, kernel memory, buffers or local ports: a passing shortage.
bool shortage(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
         err == EADDRNOTAVAIL || err == EAGAIN;
}
// "No outcome yet" from a connect() on a socket whose attempt is under way.
bool under_way(int err) {
  return err == EALREADY || err == EINPROGRESS || err == EINTR;
}
int connect_errno(int fd, const sockaddr_storage& ss, socklen_t len) {
  return ::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0 ? 0 : errno;
}
}  // namespace

ConnRunner::ConnRunner(Options opts)
    : opts_(std::move(opts)), epoll_(::epoll_create1(EPOLL_CLOEXEC)), events_(kEventBatch) {
  if (!epoll_) throw system_error(errno, "epoll_create1");
  if (opts_.admission != nullptr) {
    admission_ = opts_.admission;
  } else {
    own_admission_.emplace(ConnAdmission::Options{opts_.max_rate, {}, opts_.gate, {}});
    admission_ = &*own_admission_;
  }
  uint64_t budget = fd_budget();
  size_t cap =
      budget > 96 ? static_cast<size_t>(std::min<uint64_t>(budget - kFdReserve, 1u << 20)) : 16;
  max_cap_ = cap_ = std::max<size_t>(1, std::min(opts_.max_active, cap));
}

ConnRunner::~ConnRunner() = default;

int ConnRunner::fd(const Job& job) const {
  return slots_.at(job.slot_).sock.fd.get();
}

// ---- the deadline heap (indexed: a slot leaves it at once when its deadline goes) ----------

void ConnRunner::heap_set(size_t pos, uint32_t idx) {
  heap_[pos] = idx;
  slots_[idx].heap_pos = static_cast<uint32_t>(pos);
}

void ConnRunner::sift_up(size_t pos) {
  uint32_t idx = heap_[pos];
  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!(slots_[idx].deadline < slots_[heap_[parent]].deadline)) break;
    heap_set(pos, heap_[parent]);
    pos = parent;
  }
  heap_set(pos, idx);
}

void ConnRunner::sift_down(size_t pos) {
  uint32_t idx = heap_[pos];
  for (;;) {
    size_t child = 2 * pos + 1;
    if (child >= heap_.size()) break;
    if (child + 1 < heap_.size() &&
        slots_[heap_[child + 1]].deadline < slots_[heap_[child]].deadline)
      ++child;
    if (!(slots_[heap_[child]].deadline < slots_[idx].deadline)) break;
    heap_set(pos, heap_[child]);
    pos = child;
  }
  heap_set(pos, idx);
}

void ConnRunner::heap_push(size_t idx) {
  heap_.push_back(static_cast<uint32_t>(idx));
  sift_up(heap_.size() - 1);
}

void ConnRunner::heap_remove(size_t idx) {
  uint32_t pos = slots_[idx].heap_pos;
  if (pos == kNoPos) return;
  slots_[idx].heap_pos = kNoPos;
  uint32_t last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) return;
  heap_set(pos, last);
  sift_up(pos);
  sift_down(slots_[last].heap_pos);
}

// ---- sockets -------------------------------------------------------------------------------

void ConnRunner::drop_sock(Slot& s, bool pool) {
  if (!s.sock.fd) return;
  --in_flight_;
  if (pool && !s.sock.armed) idle_[s.sock.family == AF_INET ? 0 : 1].push_back(std::move(s.sock));
  s.sock = Sock{};  // closing takes it out of the epoll set; SO_LINGER {1,0}: RST
}

ConnRunner::Sock ConnRunner::acquire(int family) {
  auto& pool = idle_[family == AF_INET ? 0 : 1];
  if (!pool.empty()) {
    Sock sock = std::move(pool.back());
    pool.pop_back();
    return sock;
  }
  // Idle sockets of the other family hold descriptors too: keep the total within the cap.
  auto& other = idle_[family == AF_INET ? 1 : 0];
  if (!other.empty() && in_flight_ + other.size() >= max_cap_) other.pop_back();
  Sock sock;
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return sock;  // errno says why
  sock.fd.reset(fd);
  ++stats_.sockets_opened;
  sock.family = family;
  linger lg{1, 0};  // close() sends RST: no TIME_WAIT per probe connection
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  const std::string& dev = opts_.device;
  if (!dev.empty() && ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev.data(), dev.size()) != 0)
    throw system_error(errno, "SO_BINDTODEVICE " + dev);
  return sock;
}

void ConnRunner::update_epoll(size_t idx) {
  Slot& s = slots_[idx];
  if (!s.sock.fd) return;
  epoll_event ev{};
  ev.events = s.events | EPOLLERR | EPOLLHUP;
  ev.data.u64 = key(idx, s.gen);
  int op = s.sock.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (::epoll_ctl(epoll_.get(), op, s.sock.fd.get(), &ev) != 0)
    throw system_error(errno, "epoll_ctl");
  s.sock.registered = true;
  s.sock.armed = false;
}

void ConnRunner::register_oneshot(size_t idx) {
  Slot& s = slots_[idx];
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLONESHOT;
  ev.data.u64 = key(idx, s.gen);
  int op = s.sock.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (::epoll_ctl(epoll_.get(), op, s.sock.fd.get(), &ev) != 0) {
    int err = errno;
    if (err != ENOMEM && err != ENOSPC) throw system_error(err, "epoll_ctl");
    drop_sock(s, false);
    s.connecting = false;
    return local_shortage(idx, ENOMEM, Clock::now());
  }
  s.sock.registered = s.sock.armed = true;
}

// ---- for jobs --------------------------------------------------------------------------------

void ConnRunner::watch(Job& job, uint32_t events) {
  slots_.at(job.slot_).events = events;
  update_epoll(job.slot_);
}

void ConnRunner::set_deadline(Job& job, Clock::time_point when) {
  heap_remove(job.slot_);
  slots_.at(job.slot_).deadline = when;
  heap_push(job.slot_);
}

void ConnRunner::clear_deadline(Job& job) {
  heap_remove(job.slot_);
}

void ConnRunner::close(Job& job) {
  Slot& s = slots_.at(job.slot_);
  drop_sock(s, false);
  s.connecting = false;
  s.pending = false;
  s.events = 0;
  ++s.gen;
  heap_remove(job.slot_);
}

void ConnRunner::finish(Job& job) {
  size_t idx = job.slot_;
  close(job);
  slots_[idx].job = nullptr;
  job.slot_ = SIZE_MAX;
  free_.push_back(idx);
  --active_;
  ++finished_;
}

void ConnRunner::connect(Job& job, const IpAddress& addr, uint16_t port,
                         std::chrono::nanoseconds timeout, Protocol proto) {
  close(job);
  Slot& s = slots_[job.slot_];
  s.pending = true;
  s.addr = addr;
  s.port = port;
  s.proto = proto;
  s.connect_timeout = timeout;
  s.local_failures = 0;
  pending_.emplace_back(job.slot_, ++s.pend_gen);
}

// ---- one connect -------------------------------------------------------------------------------

void ConnRunner::regrow(Clock::time_point now) {
  if (cap_ < max_cap_ && now - last_shortage_ >= kRegrowQuiet) ++cap_;
}

int ConnRunner::check(size_t idx) {
  const Slot& s = slots_[idx];
  sockaddr_storage ss;
  socklen_t len = fill_sockaddr(s.addr, s.port, opts_.scope_id, ss);
  return connect_errno(s.sock.fd.get(), ss, len);
}

void ConnRunner::do_connect(size_t idx, Clock::time_point now) {
  Slot& s = slots_[idx];
  sockaddr_storage ss;
  socklen_t len = fill_sockaddr(s.addr, s.port, opts_.scope_id, ss);
  s.connect_start = now;
  if (s.proto == Protocol::Udp) {
    int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) {
      int err = errno;
      if (shortage(err)) return local_shortage(idx, err, now);
      return s.job->on_local_error(*this, err);
    }
    s.sock.fd.reset(fd);
    s.sock.family = ss.ss_family;
    ++in_flight_;
    ++s.gen;
    ++stats_.sockets_opened;
    ++stats_.connects;
    int err = connect_errno(fd, ss, len);
    if (err != 0) drop_sock(s, false);
    return s.job->on_connected(*this, err, {});
  }
  Sock sock = acquire(ss.ss_family);
  if (!sock.fd) {
    int err = errno;
    if (shortage(err)) return local_shortage(idx, err, now);
    return s.job->on_local_error(*this, err);
  }
  s.sock = std::move(sock);
  ++in_flight_;
  ++s.gen;
  int err = connect_errno(s.sock.fd.get(), ss, len);
  if (err == EINPROGRESS || err == EINTR) {  // EINTR: the connect goes on asynchronously
    ++stats_.connects;
    // Often the answer is there already (always on loopback: the peer's SYN-ACK or RST was
    // handled before connect() returned). A second connect() says so without epoll.
    err = connect_errno(s.sock.fd.get(), ss, len);
    if (under_way(err)) {
      ++stats_.waited;
      s.connecting = true;
      register_oneshot(idx);
      if (!s.connecting) return;  // a shortage: put back
      s.deadline = s.connect_start + s.connect_timeout;
      heap_push(idx);
      return;
    }
    ++stats_.immediate;
    return outcome(idx, err, true);
  }
  if (shortage(err)) {
    drop_sock(s, false);
    return local_shortage(idx, err, now);
  }
  ++stats_.connects;
  ++stats_.immediate;
  outcome(idx, err, false);
}

// The attempt in slot idx ended with `err` (0 or EISCONN: connected); `timed`: after the call
// that started it (else rtt 0).
void ConnRunner::outcome(size_t idx, int err, bool timed) {
  Slot& s = slots_[idx];
  auto now = Clock::now();
  s.connecting = false;
  heap_remove(idx);
  regrow(now);
  Job& job = *s.job;
  std::chrono::nanoseconds rtt = timed ? now - s.connect_start : Clock::duration::zero();
  if (err == EISCONN) err = 0;
  if (err != 0) {
    // A refused or unreachable attempt leaves the socket unconnected: the next connect() on it
    // starts afresh (with a new local port).
    drop_sock(s, opts_.reuse_after != nullptr && opts_.reuse_after(err));
    ++s.gen;
  }
  s.events = 0;
  if (err == 0 && s.sock.armed) update_epoll(idx);  // quiet its ONESHOT registration
  job.on_connected(*this, err, rtt);
}

void ConnRunner::local_shortage(size_t idx, int err, Clock::time_point now) {
  Slot& s = slots_[idx];
  ++stats_.local_errors;
  idle_[0].clear();  // give their descriptors and memory back
  idle_[1].clear();
  // Out of descriptors, kernel memory or buffers: always our own load, always wait it out.
  // Out of local ports / source address: give up once it persists with nothing else in flight.
  bool may_give_up = err == EADDRNOTAVAIL || err == EAGAIN;
  if (may_give_up && in_flight_ == 0 && ++s.local_failures >= kLocalGiveUp)
    return s.job->on_local_error(*this, err);
  if (!may_give_up || in_flight_ > 0) s.local_failures = 0;
  cap_ = std::max<size_t>(1, in_flight_ - in_flight_ / 4);
  auto pause =
      std::min<Clock::duration>(kBackoffMin * (1u << std::min(s.local_failures, 7u)), kBackoffMax);
  backoff_until_ = now + pause;
  last_shortage_ = now;
  s.pending = true;
  pending_.emplace_front(idx, s.pend_gen);
}

void ConnRunner::start_pending(Clock::time_point* wake) {
  while (!pending_.empty()) {
    auto now = Clock::now();
    if (now < backoff_until_) {
      *wake = std::min(*wake, backoff_until_);
      return;
    }
    if (now < admit_wake_) {
      *wake = std::min(*wake, admit_wake_);
      return;
    }
    if (opts_.stop != nullptr && opts_.stop->load(std::memory_order_relaxed)) return;
    auto [idx, pg] = pending_.front();
    Slot& s = slots_[idx];
    if (s.job == nullptr || !s.pending || s.pend_gen != pg) {
      pending_.pop_front();
      continue;
    }
    Clock::time_point w = now;
    auto d = admission_->admit(Probe{s.addr, s.proto, s.port}, now, &w);
    if (d == ConnAdmission::Decision::Wait) {  // head of line: every later one waits too
      admit_wake_ = w;
      *wake = std::min(*wake, w);
      return;
    }
    pending_.pop_front();
    s.pending = false;
    if (d == ConnAdmission::Decision::Send) {
      do_connect(idx, now);
      continue;
    }
    if (d == ConnAdmission::Decision::Refuse) ++stats_.refused_by_gate;
    s.job->on_not_admitted(*this, d);
  }
}

// ---- the loop --------------------------------------------------------------------------------

void ConnRunner::take(Job* job) {
  size_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    idx = slots_.size();
    slots_.emplace_back();
  }
  slots_[idx].job = job;
  job->slot_ = idx;
  ++active_;
  stats_.peak_active = std::max(stats_.peak_active, active_);
  job->start(*this);
}

void ConnRunner::admit(Clock::time_point now, Clock::time_point* wake) {
  while (!waiting_.empty() && active_ < cap_) {
    Job* job = waiting_.front();
    waiting_.pop_front();
    take(job);
  }
  source_dry_ = false;
  if (opts_.source == nullptr || !pending_.empty()) return;
  for (size_t n = 0; n < opts_.source_batch && active_ < cap_; ++n) {
    Job* job = opts_.source->next(now, wake);
    if (job == nullptr) {
      source_dry_ = true;
      return;
    }
    take(job);
  }
}

void ConnRunner::fire_deadlines(Clock::time_point now) {
  while (!heap_.empty() && slots_[heap_[0]].deadline <= now) {
    size_t idx = heap_[0];
    heap_remove(idx);
    Slot& s = slots_[idx];
    Job& job = *s.job;
    if (!s.connecting) {
      job.on_timeout(*this);
      continue;
    }
    // An outcome already there (it came while this thread was busy) is an answer, not a timeout.
    int err = check(idx);
    if (!under_way(err)) {
      outcome(idx, err, true);
      continue;
    }
    s.connecting = false;
    drop_sock(s, false);  // a socket still in SYN_SENT sends nothing when closed
    ++s.gen;
    regrow(now);
    job.on_connected(*this, ETIMEDOUT, {});
  }
}

void ConnRunner::on_event(size_t idx, uint32_t events) {
  if (idx >= slots_.size()) return;
  Slot& s = slots_[idx];
  if (s.job == nullptr || !s.sock.fd) return;
  if (!s.connecting) return s.job->on_io(*this, events);
  s.sock.armed = false;  // EPOLLONESHOT: it reported, and stays quiet now
  int err = check(idx);
  if (!under_way(err)) return outcome(idx, err, true);
  epoll_event ev{};  // not done after all: wait on
  ev.events = EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLONESHOT;
  ev.data.u64 = key(idx, s.gen);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, s.sock.fd.get(), &ev) == 0) {
    s.sock.armed = true;
    return;
  }
  heap_remove(idx);  // cannot wait on it any more: let its deadline end it now
  s.deadline = Clock::now();
  heap_push(idx);
}

// epoll_wait for at most `wait`, to the microsecond where the kernel has epoll_pwait2 (Linux
// 5.11): a per-host cap or a rate gap can be far below a millisecond.
int ConnRunner::wait_events(Clock::duration wait) {
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

void ConnRunner::abort_all() {
  pending_.clear();
  heap_.clear();
  idle_[0].clear();
  idle_[1].clear();
  for (auto& s : slots_) {
    s.heap_pos = kNoPos;
    if (s.job == nullptr) continue;
    Job* job = s.job;
    drop_sock(s, false);
    s.job = nullptr;
    job->slot_ = SIZE_MAX;
    job->on_abort();
  }
  for (Job* job : waiting_) job->on_abort();
  waiting_.clear();
  active_ = 0;
}

bool ConnRunner::done() const {
  return active_ == 0 && waiting_.empty() && (opts_.source == nullptr || opts_.source->exhausted());
}

bool ConnRunner::run() {
  for (;;) {
    auto now = Clock::now();
    if ((opts_.stop != nullptr && opts_.stop->load(std::memory_order_relaxed)) ||
        (opts_.deadline && now >= *opts_.deadline) || (opts_.on_turn && !opts_.on_turn())) {
      abort_all();
      return false;
    }
    Clock::time_point wake = now + kMaxPoll;
    if (opts_.deadline) wake = std::min(wake, *opts_.deadline);
    fire_deadlines(now);
    admit(now, &wake);
    uint64_t finished_before = finished_;
    start_pending(&wake);
    if (done()) {
      idle_[0].clear();
      idle_[1].clear();
      return true;
    }
    // More to start right away: freed slots to refill, and jobs waiting or a source not dry.
    bool more = active_ < cap_ && pending_.empty() && Clock::now() >= backoff_until_ &&
                (!waiting_.empty() ||
                 (opts_.source != nullptr && (!source_dry_ || finished_ != finished_before)));
    auto until = more ? Clock::now() : wake;
    if (!heap_.empty()) until = std::min(until, slots_[heap_[0]].deadline);
    int n = wait_events(std::max<Clock::duration>(until - Clock::now(), Clock::duration::zero()));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw system_error(errno, "epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      size_t idx = static_cast<uint32_t>(events_[i].data.u64);
      uint32_t gen = static_cast<uint32_t>(events_[i].data.u64 >> 32);
      if (idx < slots_.size() && slots_[idx].gen == gen) on_event(idx, events_[i].events);
    }
  }
}

}  // namespace gh
