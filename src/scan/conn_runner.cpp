#include "scan/conn_runner.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>

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
constexpr auto kMaxPoll = std::chrono::milliseconds(50);
uint64_t key(size_t slot, uint32_t gen) {
  return (static_cast<uint64_t>(gen) << 32) | slot;
}
}  // namespace

ConnRunner::ConnRunner(Options opts)
    : opts_(opts), epoll_(::epoll_create1(EPOLL_CLOEXEC)), rate_(opts.max_rate) {
  if (!epoll_) throw RuntimeError(std::string("epoll_create1: ") + std::strerror(errno));
  uint64_t budget = fd_budget();
  size_t cap = budget > 96 ? static_cast<size_t>(std::min<uint64_t>(budget - 64, 1u << 20)) : 16;
  opts_.max_active = std::max<size_t>(1, std::min(opts_.max_active, cap));
}

ConnRunner::~ConnRunner() = default;

int ConnRunner::fd(const Job& job) const {
  return slots_.at(job.slot_).fd.get();
}

void ConnRunner::update_epoll(Slot& s, size_t idx) {
  if (!s.fd) return;
  epoll_event ev{};
  ev.events = s.events | EPOLLERR | EPOLLHUP;
  ev.data.u64 = key(idx, s.gen);
  if (!s.registered) {
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s.fd.get(), &ev) != 0)
      throw RuntimeError(std::string("epoll_ctl: ") + std::strerror(errno));
    s.registered = true;
  } else if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, s.fd.get(), &ev) != 0) {
    throw RuntimeError(std::string("epoll_ctl: ") + std::strerror(errno));
  }
}

void ConnRunner::watch(Job& job, uint32_t events) {
  Slot& s = slots_.at(job.slot_);
  s.events = events;
  update_epoll(s, job.slot_);
}

void ConnRunner::set_deadline(Job& job, Clock::time_point when) {
  Slot& s = slots_.at(job.slot_);
  s.deadline = when;
  s.has_deadline = true;
  heap_.push({when, job.slot_, ++s.dl_gen});
}

void ConnRunner::clear_deadline(Job& job) {
  Slot& s = slots_.at(job.slot_);
  s.has_deadline = false;
  ++s.dl_gen;
}

void ConnRunner::close(Job& job) {
  Slot& s = slots_.at(job.slot_);
  s.fd.reset();  // closing removes it from the epoll set
  s.registered = false;
  s.connecting = false;
  s.pending = false;
  s.events = 0;
  ++s.gen;
  s.has_deadline = false;
  ++s.dl_gen;
}

void ConnRunner::finish(Job& job) {
  size_t idx = job.slot_;
  close(job);
  slots_[idx].job = nullptr;
  job.slot_ = SIZE_MAX;
  free_.push_back(idx);
  --active_;
}

void ConnRunner::connect(Job& job, const IpAddress& addr, uint16_t port,
                         std::chrono::nanoseconds timeout, Protocol proto) {
  Slot& s = slots_.at(job.slot_);
  close(job);
  s.pending = true;
  s.addr = addr;
  s.port = port;
  s.proto = proto;
  s.connect_timeout = timeout;
  s.not_before = {};
  pending_.push_back(job.slot_);
}

void ConnRunner::do_connect(size_t idx) {
  Slot& s = slots_[idx];
  Job& job = *s.job;
  s.pending = false;
  sockaddr_storage ss;
  socklen_t len = fill_sockaddr(s.addr, s.port, opts_.scope_id, ss);
  const bool udp = s.proto == Protocol::Udp;
  int fd = ::socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    udp ? IPPROTO_UDP : IPPROTO_TCP);
  if (fd < 0) {
    job.on_connected(*this, errno, {});
    return;
  }
  s.fd = FileDescriptor(fd);
  ++s.gen;
  if (!udp) {
    linger lg{1, 0};  // close with RST: no TIME_WAIT per probe connection
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  ++stats_.connects;
  s.connect_start = Clock::now();
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    job.on_connected(*this, 0, Clock::now() - s.connect_start);
    return;
  }
  if (errno != EINPROGRESS) {
    int err = errno;
    close(job);
    job.on_connected(*this, err, {});
    return;
  }
  s.connecting = true;
  s.events = EPOLLOUT;
  update_epoll(s, idx);
  set_deadline(job, s.connect_start + s.connect_timeout);
}

void ConnRunner::start_pending(Clock::time_point now) {
  std::vector<size_t> later;
  std::vector<size_t> todo;
  todo.swap(pending_);
  for (size_t i = 0; i < todo.size(); ++i) {
    size_t idx = todo[i];
    Slot& s = slots_[idx];
    if (!s.pending || s.job == nullptr) continue;
    if (s.not_before > now) {
      later.push_back(idx);
      continue;
    }
    if (opts_.gate != nullptr) {
      std::chrono::nanoseconds retry{0};
      auto d = opts_.gate->check(Probe{s.addr, s.proto, s.port}, now, &retry);
      if (d == ProbeGate::Decision::Refuse) {
        ++stats_.refused_by_gate;
        s.pending = false;
        s.job->on_connected(*this, EACCES, {});
        continue;
      }
      if (d == ProbeGate::Decision::Later) {
        s.not_before = now + retry;
        later.push_back(idx);
        continue;
      }
    }
    if (rate_.grant(1) == 0) {
      // Keep order: this one and every later one wait for the next token.
      for (size_t k = i; k < todo.size(); ++k) later.push_back(todo[k]);
      break;
    }
    do_connect(idx);
  }
  for (size_t idx : pending_) later.push_back(idx);  // asked for during the callbacks above
  pending_.swap(later);
}

void ConnRunner::admit() {
  while (!waiting_.empty() && active_ < opts_.max_active) {
    Job* job = waiting_.front();
    waiting_.pop_front();
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
}

void ConnRunner::fire_deadlines(Clock::time_point now) {
  while (!heap_.empty() && heap_.top().when <= now) {
    Due d = heap_.top();
    heap_.pop();
    Slot& s = slots_[d.slot];
    if (s.job == nullptr || !s.has_deadline || d.gen != s.dl_gen) continue;
    s.has_deadline = false;
    Job& job = *s.job;
    if (s.connecting) {
      close(job);
      job.on_connected(*this, ETIMEDOUT, {});
    } else {
      job.on_timeout(*this);
    }
  }
}

void ConnRunner::abort_all() {
  for (auto& s : slots_) {
    if (s.job == nullptr) continue;
    Job* job = s.job;
    s.fd.reset();
    s.job = nullptr;
    job->slot_ = SIZE_MAX;
    job->on_abort();
  }
  for (Job* job : waiting_) job->on_abort();
  waiting_.clear();
  active_ = 0;
}

bool ConnRunner::run() {
  std::vector<epoll_event> events(256);
  for (;;) {
    admit();
    auto now = Clock::now();
    if ((opts_.stop != nullptr && opts_.stop->load()) ||
        (opts_.deadline && now >= *opts_.deadline)) {
      abort_all();
      return false;
    }
    if (active_ == 0 && waiting_.empty()) return true;
    start_pending(now);
    fire_deadlines(Clock::now());
    admit();
    if (active_ == 0 && waiting_.empty()) return true;

    auto wait = kMaxPoll;
    now = Clock::now();
    if (!heap_.empty()) {
      auto until = heap_.top().when - now;
      if (until < wait) wait = std::chrono::duration_cast<std::chrono::milliseconds>(until);
    }
    if (!pending_.empty()) wait = std::min(wait, std::chrono::milliseconds(1));
    if (wait.count() < 0) wait = std::chrono::milliseconds(0);
    int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                         static_cast<int>(wait.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw RuntimeError(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < n; ++i) {
      size_t idx = static_cast<uint32_t>(events[i].data.u64);
      uint32_t gen = static_cast<uint32_t>(events[i].data.u64 >> 32);
      if (idx >= slots_.size()) continue;
      Slot& s = slots_[idx];
      if (s.job == nullptr || s.gen != gen || !s.fd) continue;
      Job& job = *s.job;
      if (s.connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        s.connecting = false;
        s.has_deadline = false;
        ++s.dl_gen;
        s.events = 0;
        update_epoll(s, idx);
        if (err != 0) close(job);
        job.on_connected(*this, err, Clock::now() - s.connect_start);
        continue;
      }
      job.on_io(*this, events[i].events);
    }
  }
}

}  // namespace gh
