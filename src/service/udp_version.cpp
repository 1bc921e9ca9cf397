#include "service/udp_version.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include <fmt/format.h>

#include "net/headers.h"
#include "service/services.h"

namespace gh {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

std::vector<UdpStep> udp_probe_plan(const ProbeDb& db, const net::UdpPayloads& payloads,
                                    uint16_t port, int intensity) {
  std::vector<UdpStep> steps;
  for (size_t k = 0; k < payloads.count(port); ++k) {
    const net::UdpPayload* p = payloads.pick(port, static_cast<unsigned>(k));
    if (p == nullptr || p->bytes.empty()) continue;
    steps.push_back({std::string(p->bytes.begin(), p->bytes.end()), nullptr, p});
  }
  struct C {
    const ServiceProbe* p;
    int listed, rarity, source;
    size_t index;
  };
  std::vector<C> cs;
  size_t index = 0;
  for (const ServiceProbe& p : db.probes()) {
    ++index;
    if (p.proto != Protocol::Udp || p.payload.empty()) continue;
    bool listed = in_ranges(p.ports, port);
    if (!listed && p.rarity > intensity) continue;
    cs.push_back({&p, listed ? 0 : 1, p.rarity, p.source == DbSource::Ours ? 0 : 1, index});
  }
  std::stable_sort(cs.begin(), cs.end(), [](const C& a, const C& b) {
    return std::tie(a.listed, a.source, a.rarity, a.index) <
           std::tie(b.listed, b.source, b.rarity, b.index);
  });
  for (const C& c : cs) {
    bool sent = std::any_of(steps.begin(), steps.end(),
                            [&](const UdpStep& s) { return s.payload == c.p->payload; });
    if (!sent) steps.push_back({c.p->payload, c.p});
  }
  return steps;
}

std::string udp_step_datagram(const UdpStep& s, const auth::ProbeAnnouncer* announce,
                              const net::UdpPayloads& payloads, const IpAddress& src,
                              const IpAddress& dst, uint16_t port) {
  std::string out = s.payload;
  if (announce == nullptr) return out;
  if (s.udp_payload != nullptr) {
    if (!s.udp_payload->announce_trailer) return out;
    out.append(s.udp_payload->announce_wrap.begin(), s.udp_payload->announce_wrap.end());
  } else {
    for (size_t k = 0; k < payloads.count(port); ++k) {
      const net::UdpPayload* p = payloads.pick(port, static_cast<unsigned>(k));
      if (p != nullptr && p->source == "glasshouse" && !p->announce_trailer) return out;
    }
  }
  net::AnnounceBlock b = announce->block(src, dst, net::ipproto::kUdp, port);
  out.append(reinterpret_cast<const char*>(b.data()), b.size());
  return out;
}

std::optional<ServiceMatch> match_udp_reply(const ProbeDb& db, const UdpStep& step, uint16_t port,
                                            std::string_view reply, std::string_view soft) {
  if (step.probe != nullptr) return db.match(*step.probe, reply, soft);
  std::optional<ServiceMatch> first_soft;
  for (int source = 0; source < 2; ++source) {
    for (const ServiceProbe& p : db.probes()) {
      if (p.proto != Protocol::Udp || !in_ranges(p.ports, port)) continue;
      if ((p.source == DbSource::Ours ? 0 : 1) != source) continue;
      auto m = db.match(p, reply, soft);
      if (m && !m->soft) {
        m->probe = "udp-payload";
        return m;
      }
      if (m && !first_soft) {
        first_soft = m;
        first_soft->probe = "udp-payload";
      }
    }
  }
  return first_soft;
}

namespace {

constexpr size_t kMaxPortBytes = 256 * 1024;

bool tracing() {
  static const bool on = [] {
    const char* e = std::getenv("GLASSHOUSE_SV_TRACE");
    return e != nullptr && e[0] == '1';
  }();
  return on;
}

// Sends step `s` on the connected socket `fd` to (dst, port), with the --announce tag by the
// rules of udp_step_datagram (the source address is the socket's own). send()'s result.
ssize_t send_step(int fd, const UdpStep& s, const ServiceOptions& o, const IpAddress& dst,
                  uint16_t port) {
  std::string datagram = s.payload;
  if (o.announce != nullptr) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    IpAddress src = dst;  // replaced by the socket's own address below
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      if (ss.ss_family == AF_INET)
        src = IpAddress::v4(ntohl(reinterpret_cast<sockaddr_in*>(&ss)->sin_addr.s_addr));
      else if (ss.ss_family == AF_INET6)
        src = IpAddress::from_v6_bytes(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr.s6_addr);
    }
    datagram = udp_step_datagram(s, o.announce, net::UdpPayloads::instance(), src, dst, port);
  }
  return ::send(fd, datagram.data(), datagram.size(), MSG_DONTWAIT);
}

class UdpPortJob : public Job {
 public:
  UdpPortJob(const ProbeDb& db, const ServiceOptions& o, ServiceInfo& res, UdpRtt& rtt)
      : db_(db), o_(o), res_(res), rtt_(rtt) {}

  void start(ConnRunner& r) override {
    res_.proto = Protocol::Udp;
    res_.name = std::string(ServiceTable::instance().name(Protocol::Udp, res_.port));
    port_deadline_ = Clock::now() + o_.port_budget;
    steps_ = udp_probe_plan(db_, net::UdpPayloads::instance(), res_.port, o_.intensity);
    next_ = 0;
    next_step(r);
  }

  void on_connected(ConnRunner& r, int err, nanoseconds) override {
    if (err != 0) {
      if (err == EACCES) {
        note("the policy gate refused the probe");
        return conclude(r);
      }
      if (++failures_ >= 3) {
        note(fmt::format("socket: {}", std::strerror(err)));
        return conclude(r);
      }
      return next_step(r);
    }
    const UdpStep& s = steps_[next_ - 1];
    trace("send");
    ssize_t n = send_step(r.fd(*this), s, o_, res_.addr, res_.port);
    if (n < 0) {
      if (errno == ECONNREFUSED) return unreachable(r);
      return next_step(r);
    }
    sent_at_ = Clock::now();
    answered_ = false;
    r.watch(*this, EPOLLIN);
    arm(r, wait());
  }

  void on_io(ConnRunner& r, uint32_t) override {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(r.fd(*this), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNREFUSED) return unreachable(r);
        if (errno != EAGAIN && errno != EWOULDBLOCK) r.watch(*this, 0);
        return;
      }
      port_bytes_ += static_cast<size_t>(n);
      if (port_bytes_ > kMaxPortBytes) {
        note(fmt::format("stopped after {} KiB from the service", port_bytes_ / 1024));
        return conclude(r);
      }
      if (!answered_) rtt_.sample(Clock::now() - sent_at_);
      answered_ = true;
      if (reply(std::string_view(buf, static_cast<size_t>(n)))) return conclude(r);
      // More datagrams may follow (a long answer); wait a little for them, then go on.
      arm(r, quiet());
    }
  }

  void on_timeout(ConnRunner& r) override {
    if (Clock::now() >= port_deadline_) {
      note(fmt::format("port budget of {} ms spent", o_.port_budget.count()));
      return conclude(r);
    }
    next_step(r);
  }

  void on_abort() override {
    if (done_) return;
    note("the -sV stage ended (time budget or interrupt) before this port was done");
    finalize();
  }

 private:
  nanoseconds srtt() const { return rtt_.have ? rtt_.srtt : nanoseconds(milliseconds(50)); }
  nanoseconds wait() const {
    const UdpStep& s = steps_[next_ - 1];
    milliseconds cap = milliseconds(s.probe != nullptr ? s.probe->totalwait_ms : 5000);
    return std::clamp<nanoseconds>(milliseconds(250) + 8 * srtt(), milliseconds(50),
                                   std::max(cap, milliseconds(50)));
  }
  nanoseconds quiet() const {
    return std::clamp<nanoseconds>(milliseconds(40) + 4 * srtt(), milliseconds(20),
                                   milliseconds(1000));
  }
  void arm(ConnRunner& r, nanoseconds in) {
    r.set_deadline(*this, std::min(Clock::now() + in, port_deadline_));
  }
  void note(const std::string& n) {
    if (res_.note.empty()) res_.note = n;
  }
  void trace(std::string_view what) const {
    if (!tracing()) return;
    const UdpStep* s = next_ > 0 && next_ <= steps_.size() ? &steps_[next_ - 1] : nullptr;
    std::fprintf(stderr, "sV %s:%u/udp %s %s\n", res_.addr.to_string().c_str(), res_.port,
                 s == nullptr          ? "-"
                 : s->probe != nullptr ? s->probe->name.c_str()
                                       : "udp-payload",
                 std::string(what).c_str());
  }

  // Whether step `s` is still worth sending given what is known: after a hard match without a
  // version, only probes listing the port that know the service; after a soft match, any probe
  // (within the plan) that knows it.
  bool worth(const UdpStep& s) const {
    if (s.probe == nullptr) return !best_ && soft_.empty();  // -sU's payloads: matched already
    if (best_)
      return in_ranges(s.probe->ports, res_.port) && db_.can_identify(*s.probe, best_->service);
    if (!soft_.empty()) return db_.can_identify(*s.probe, soft_);
    return true;
  }

  void next_step(ConnRunner& r) {
    r.close(*this);
    if (Clock::now() >= port_deadline_) {
      note(fmt::format("port budget of {} ms spent", o_.port_budget.count()));
      return conclude(r);
    }
    while (next_ < steps_.size()) {
      const UdpStep& s = steps_[next_++];
      if (!worth(s)) continue;
      return r.connect(*this, res_.addr, res_.port, wait(), Protocol::Udp);
    }
    conclude(r);
  }

  // Matches one datagram; true when the port is done.
  bool reply(std::string_view data) {
    const UdpStep& s = steps_[next_ - 1];
    std::string_view soft = best_ ? std::string_view() : std::string_view(soft_);
    auto m = match_udp_reply(db_, s, res_.port, data, soft);
    if (tracing())
      trace(fmt::format(
          "reply {} bytes: {}", data.size(),
          m ? (m->soft ? "soft " : "hard ") + m->service + " " + m->product + " " + m->version
            : std::string("no match")));
    if (!m) return false;
    if (m->soft) {
      if (soft_.empty() && !best_) {
        soft_ = m->service;
        soft_match_ = m;
      }
      return false;
    }
    if (!best_) {
      best_ = m;
    } else if (m->service == best_->service && !m->version.empty() &&
               (best_->product.empty() || m->product == best_->product)) {
      best_ = m;
    }
    return !best_->version.empty();
  }

  void unreachable(ConnRunner& r) {
    trace("port unreachable");
    note("the port answered with ICMP port unreachable during -sV");
    conclude(r);
  }

  void finalize() {
    if (done_) return;
    done_ = true;
    const std::optional<ServiceMatch>& m = best_ ? best_ : soft_match_;
    if (!m) return;
    res_.name = m->service;
    res_.method = "probed";
    res_.probe = m->probe;
    if (m->soft) {
      res_.confidence = 8;
      return;
    }
    res_.product = m->product;
    res_.version = m->version;
    res_.extra_info = m->info;
    res_.hostname = m->hostname;
    res_.ostype = m->ostype;
    res_.devicetype = m->devicetype;
    res_.cpe = m->cpe;
    res_.confidence = 10;
  }

  void conclude(ConnRunner& r) {
    finalize();
    trace("done: " + res_.name + " " + res_.product + " " + res_.version + " " + res_.note);
    r.finish(*this);
  }

  const ProbeDb& db_;
  const ServiceOptions& o_;
  ServiceInfo& res_;
  UdpRtt& rtt_;
  Clock::time_point port_deadline_, sent_at_;
  std::vector<UdpStep> steps_;
  size_t next_ = 0;
  std::optional<ServiceMatch> best_, soft_match_;
  std::string soft_;
  size_t port_bytes_ = 0;
  int failures_ = 0;
  bool answered_ = false, done_ = false;
};

// The sweep's ranks: a hard match with a version, a hard match, a soft one.
int sweep_rank(const ServiceMatch& m) {
  if (m.soft) return 2;
  return m.version.empty() ? 1 : 0;
}

class UdpSweepJob : public Job {
 public:
  UdpSweepJob(const ProbeDb& db, const ServiceOptions& o, UdpSweepPort& p, size_t step,
              UdpSweepBudget& budget)
      : db_(db), o_(o), p_(p), step_(step), budget_(budget) {}

  void start(ConnRunner& r) override {
    started_ = true;
    Clock::time_point now = Clock::now();
    if (!budget_.last_start) budget_.last_start = now + budget_.start_window;
    if (now > *budget_.last_start) {
      ++budget_.cut;
      return r.finish(*this);
    }
    // Nothing more to learn: the port is named for good, or it said it is closed.
    if (udp_sweep_settled(p_) || p_.unreached || p_.bytes > kMaxPortBytes) return r.finish(*this);
    r.connect(*this, p_.res->addr, p_.res->port, wait(), Protocol::Udp);
  }

  void on_connected(ConnRunner& r, int err, nanoseconds) override {
    if (err != 0) return r.finish(*this);  // refused by the gate, or no socket: nothing sent
    ssize_t n = send_step(r.fd(*this), step(), o_, p_.res->addr, p_.res->port);
    if (n < 0) {
      if (errno == ECONNREFUSED) p_.unreached = true;
      return r.finish(*this);
    }
    ++budget_.sent;
    sent_at_ = Clock::now();
    r.watch(*this, EPOLLIN);
    r.set_deadline(*this, sent_at_ + wait());
  }

  void on_io(ConnRunner& r, uint32_t) override {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(r.fd(*this), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNREFUSED) {
          p_.unreached = true;
          return r.finish(*this);
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) r.watch(*this, 0);
        return;
      }
      p_.bytes += static_cast<size_t>(n);
      if (p_.bytes > kMaxPortBytes) return r.finish(*this);
      if (!answered_ && p_.rtt != nullptr) p_.rtt->sample(Clock::now() - sent_at_);
      answered_ = true;
      std::string_view data(buf, static_cast<size_t>(n));
      auto m = match_udp_reply(db_, step(), p_.res->port, data);
      if (tracing())
        std::fprintf(stderr, "sV %s:%u/udp sweep %s reply %zd bytes: %s\n",
                     p_.res->addr.to_string().c_str(), p_.res->port,
                     step().probe != nullptr ? step().probe->name.c_str() : "-", n,
                     m ? (m->service + " " + m->product + " " + m->version).c_str() : "no match");
      udp_sweep_offer(p_, step_, m);
      if (udp_sweep_settled(p_)) return r.finish(*this);
      // More datagrams may follow (a long answer): a short quiet period for them.
      r.set_deadline(*this, Clock::now() + quiet());
    }
  }

  void on_timeout(ConnRunner& r) override { r.finish(*this); }

  void on_abort() override {
    if (!started_) ++budget_.cut;
  }

 private:
  const UdpStep& step() const { return (*p_.steps)[step_]; }
  nanoseconds srtt() const {
    return p_.rtt != nullptr && p_.rtt->have ? p_.rtt->srtt : nanoseconds(milliseconds(50));
  }
  nanoseconds wait() const {
    milliseconds cap = milliseconds(step().probe != nullptr ? step().probe->totalwait_ms : 5000);
    cap = std::min(cap, milliseconds(2000));
    return std::clamp<nanoseconds>(milliseconds(250) + 8 * srtt(), milliseconds(50),
                                   std::max(cap, milliseconds(50)));
  }
  nanoseconds quiet() const {
    return std::clamp<nanoseconds>(milliseconds(40) + 4 * srtt(), milliseconds(20),
                                   milliseconds(1000));
  }

  const ProbeDb& db_;
  const ServiceOptions& o_;
  UdpSweepPort& p_;
  size_t step_;
  UdpSweepBudget& budget_;
  Clock::time_point sent_at_;
  bool started_ = false, answered_ = false;
};

}  // namespace

std::vector<UdpStep> udp_sweep_plan(const ProbeDb& db, const net::UdpPayloads& payloads,
                                    uint16_t port, int intensity) {
  std::vector<UdpStep> steps = udp_probe_plan(db, payloads, port, intensity);
  std::erase_if(steps, [](const UdpStep& s) { return s.probe == nullptr; });
  return steps;
}

void udp_sweep_offer(UdpSweepPort& p, size_t step, const std::optional<ServiceMatch>& m) {
  if (!p.answered || step < p.answered_step) p.answered_step = step;
  p.answered = true;
  if (!m) return;
  if (!p.best || sweep_rank(*m) < sweep_rank(*p.best) ||
      (sweep_rank(*m) == sweep_rank(*p.best) && step < p.best_step)) {
    p.best = m;
    p.best_step = step;
  }
}

bool udp_sweep_settled(const UdpSweepPort& p) {
  return p.best && sweep_rank(*p.best) == 0;
}

void udp_sweep_finish(UdpSweepPort& p) {
  ServiceInfo& res = *p.res;
  res.proto = Protocol::Udp;
  res.name = std::string(ServiceTable::instance().name(Protocol::Udp, res.port));
  if (!p.answered) return;
  res.promoted = true;
  if (!p.best) {
    const UdpStep& s = (*p.steps)[p.answered_step];
    res.probe = s.probe != nullptr ? s.probe->name : "udp-payload";
    res.note = fmt::format("answered the -sV probe {} (no rule matched the reply)", res.probe);
    return;
  }
  const ServiceMatch& m = *p.best;
  res.name = m.service;
  res.method = "probed";
  res.probe = m.probe;
  if (m.soft) {
    res.confidence = 8;
    return;
  }
  res.product = m.product;
  res.version = m.version;
  res.extra_info = m.info;
  res.hostname = m.hostname;
  res.ostype = m.ostype;
  res.devicetype = m.devicetype;
  res.cpe = m.cpe;
  res.confidence = 10;
}

std::unique_ptr<Job> make_udp_sweep_job(const ProbeDb& db, const ServiceOptions& opts,
                                        UdpSweepPort& p, size_t step, UdpSweepBudget& budget) {
  return std::make_unique<UdpSweepJob>(db, opts, p, step, budget);
}

std::unique_ptr<Job> make_udp_port_job(const ProbeDb& db, const ServiceOptions& opts,
                                       ServiceInfo& res, UdpRtt& rtt) {
  return std::make_unique<UdpPortJob>(db, opts, res, rtt);
}

}  // namespace gh
