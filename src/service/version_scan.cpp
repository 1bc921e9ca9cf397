#include "service/version_scan.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "core/build_paths.h"
#include "core/error.h"
#include "scan/conn_runner.h"
#include "service/nmap_probes.h"
#include "service/services.h"
#include "service/ssh_hostkey.h"
#include "service/toml_probes.h"
#include "service/udp_version.h"

namespace gh {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

ProbeDb load_service_db(const std::string& nmap_file, std::string* summary) {
  ProbeDb ours;
  std::string ours_path;
  for (const std::string dir : {GLASSHOUSE_DATADIR, GLASSHOUSE_SOURCE_DATADIR}) {
    std::string p = dir + "/service-probes.toml";
    if (::access(p.c_str(), R_OK) == 0) {
      ours_path = p;
      break;
    }
  }
  if (const char* env = std::getenv("GLASSHOUSE_SERVICE_PROBES")) ours_path = env;
  if (!ours_path.empty()) ours = load_toml_probes(ours_path);
  std::string text = ours_path.empty() ? "no data/service-probes.toml found"
                                       : fmt::format("{} ({} probes, {} rules)", ours_path,
                                                     ours.probes().size(), ours.rule_count());
  std::string nmap_path = nmap_file;
  bool explicit_file = !nmap_file.empty();
  if (nmap_path.empty()) nmap_path = "/usr/share/nmap/nmap-service-probes";
  if (nmap_path != "none") {
    std::ifstream in(nmap_path, std::ios::binary);
    if (in) {
      ProbeDb theirs = parse_nmap_probes(in, nmap_path, DbSource::Nmap);
      text += fmt::format(" + {} ({} probes, {} rules)", nmap_path, theirs.probes().size(),
                          theirs.rule_count());
      ours.merge(std::move(theirs));
    } else if (explicit_file) {
      throw UsageError(fmt::format("cannot read --service-probes file \"{}\"", nmap_path));
    }
  }
  if (ours.find("NULL", Protocol::Tcp) == nullptr) {
    ServiceProbe null;
    null.name = "NULL";
    null.rarity = 1;
    ours.probes().insert(ours.probes().begin(), std::move(null));
  }
  if (summary != nullptr) *summary = text;
  return ours;
}

HttpInfo parse_http(std::string_view r) {
  HttpInfo h;
  if (r.substr(0, 5) != "HTTP/") return h;
  size_t sp = r.find(' ');
  if (sp != std::string_view::npos && sp + 4 <= r.size()) {
    int code = 0;
    for (size_t i = sp + 1; i < sp + 4; ++i) {
      if (r[i] < '0' || r[i] > '9') {
        code = 0;
        break;
      }
      code = code * 10 + (r[i] - '0');
    }
    h.status = code;
  }
  size_t end = r.find("\r\n\r\n");
  std::string_view head = r.substr(0, end);
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string_view line = head.substr(
        pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "server") h.server = printable(value, 200);
      if (name == "location") h.location = printable(value, 400);
    }
    pos = next;
  }
  if (end != std::string_view::npos) {
    std::string body(r.substr(end + 4, 64 * 1024));
    std::string lower = body;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    size_t t = lower.find("<title");
    if (t != std::string::npos) {
      size_t gt = lower.find('>', t);
      size_t close = lower.find("</title", t);
      if (gt != std::string::npos && close != std::string::npos && gt < close) {
        std::string title = body.substr(gt + 1, close - gt - 1);
        for (char& c : title)
          if (c == '\r' || c == '\n' || c == '\t') c = ' ';
        size_t a = title.find_first_not_of(' '), b = title.find_last_not_of(' ');
        h.title = a == std::string::npos ? "" : printable(title.substr(a, b - a + 1), 200);
      }
    }
  }
  return h;
}

std::vector<const ServiceProbe*> probe_order(const ProbeDb& db, uint16_t port, bool in_tls,
                                             int intensity, bool tls_tried, std::string_view soft) {
  struct C {
    const ServiceProbe* p;
    int listed, rarity, source;
    size_t index;
  };
  std::vector<C> cs;
  bool ssl_port = false;
  size_t index = 0;
  for (const ServiceProbe& p : db.probes()) {
    ++index;
    if (p.proto != Protocol::Tcp || p.payload.empty()) continue;
    if (in_ranges(p.sslports, port)) ssl_port = true;
    // Our TLS handshake is the TLS probe; nmap's raw ClientHello probes would only repeat it.
    if (p.name == "SSLSessionReq" || p.name == "TLSSessionReq" || p.name == "SSLv23SessionReq")
      continue;
    bool listed = in_ranges(in_tls ? p.sslports : p.ports, port);
    if (!listed && p.rarity > intensity) continue;
    if (!soft.empty() && !db.can_identify(p, soft)) continue;
    cs.push_back({&p, listed ? 0 : 1, p.rarity, p.source == DbSource::Ours ? 0 : 1, index});
  }
  if (!in_tls && !tls_tried && (soft.empty() || soft == "ssl"))
    cs.push_back({nullptr, ssl_port ? -1 : 1, 0, 0, 0});
  std::stable_sort(cs.begin(), cs.end(), [](const C& a, const C& b) {
    return std::tie(a.listed, a.rarity, a.source, a.index) <
           std::tie(b.listed, b.rarity, b.source, b.index);
  });
  std::vector<const ServiceProbe*> out;
  for (const C& c : cs) out.push_back(c.p);
  return out;
}

namespace {

constexpr size_t kMaxReply = 32 * 1024;
constexpr size_t kMaxPortBytes = 1024 * 1024;

struct HostRtt {
  nanoseconds srtt{0};
  bool have = false;
  void sample(nanoseconds rtt) {
    if (!have) {
      srtt = rtt;
      have = true;
    } else {
      srtt += (rtt - srtt) / 8;
    }
  }
};

template <class D>
nanoseconds clamp_ns(nanoseconds v, D lo, D hi) {
  return std::clamp<nanoseconds>(v, lo, hi);
}

struct StartTlsStep {
  const char* send;
  const char* ok;  // prefix of the line that says go on
};

// On a fresh connection: the greeting first (nothing sent), then each command and its answer.
std::vector<StartTlsStep> starttls_steps(const std::string& service) {
  if (service == "smtp" || service == "submission")
    return {{"", "220 "}, {"EHLO glasshouse.invalid\r\n", "250 "}, {"STARTTLS\r\n", "220"}};
  if (service == "imap") return {{"", "* OK"}, {"a1 STARTTLS\r\n", "a1 OK"}};
  if (service == "pop3") return {{"", "+OK"}, {"STLS\r\n", "+OK"}};
  if (service == "ftp") return {{"", "220 "}, {"AUTH TLS\r\n", "234"}};
  return {};
}

// GLASSHOUSE_SV_TRACE=1: one stderr line per step of every port (for debugging probes).
bool tracing() {
  static const bool on = [] {
    const char* e = std::getenv("GLASSHOUSE_SV_TRACE");
    return e != nullptr && e[0] == '1';
  }();
  return on;
}

class PortJob : public Job {
 public:
  PortJob(const ProbeDb& db, const ServiceOptions& o, ServiceInfo& res, HostRtt& rtt)
      : db_(db), o_(o), res_(res), rtt_(rtt) {}

  bool done() const { return done_; }

  void start(ConnRunner& r) override {
    port_deadline_ = Clock::now() + o_.port_budget;
    res_.name = std::string(ServiceTable::instance().name(Protocol::Tcp, res_.port));
    cur_ = db_.find("NULL", Protocol::Tcp);
    plan_ = probe_order(db_, res_.port, false, o_.intensity, false, {});
    next_ = 0;
    open(r);
  }

  void on_connected(ConnRunner& r, int err, nanoseconds rtt) override {
    if (err != 0 && starttls_pending_) return conclude(r);
    if (err != 0) {
      if (++connect_failures_ >= 3 || err == EACCES) {
        note(err == EACCES ? "the policy gate refused the connection"
                           : fmt::format("connect: {}", std::strerror(err)));
        return conclude(r);
      }
      return next_step(r, false);
    }
    rtt_.sample(rtt);
    eof_ = false;
    in_.clear();
    tls_.reset();
    if (starttls_pending_) {
      trace("starttls");
      phase_ = Phase::StartTls;
      step_ = 0;
      r.watch(*this, EPOLLIN);
      arm(r, long_wait());
      return;
    }
    if (in_tls_ || cur_ == nullptr) return begin_tls(r);
    send_probe(r);
  }

  void on_io(ConnRunner& r, uint32_t events) override {
    (void)events;
    std::string got;
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(r.fd(*this), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        if (got.size() >= kMaxReply) break;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) eof_ = true;
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    port_bytes_ += got.size();
    if (port_bytes_ > kMaxPortBytes) {
      note(fmt::format("stopped after {} KiB from the service", port_bytes_ / 1024));
      return conclude(r);
    }
    if (tls_) {
      if (tls_->state() == TlsSession::State::Handshaking && looks_like_tls(got))
        tls_server_seen_ = true;
      tls_->feed(got);
      if (tls_->state() != TlsSession::State::Established) {
        tls_->handshake();  // a session that failed in feed() (too many bytes) stays failed
        flush_tls(r);
        if (tls_->state() == TlsSession::State::Established) return tls_up(r);
        if (tls_->state() == TlsSession::State::Failed || eof_) return tls_failed(r, tls_->error());
        return;
      }
      got = tls_->read();
      if (tls_->closed_by_peer()) eof_ = true;
    }
    switch (phase_) {
      case Phase::Reading:
        return reading(r, got);
      case Phase::StartTls:
        return starttls_reply(r, got);
      case Phase::Ssh:
        return ssh_reply(r, got);
      default:
        if (eof_) r.watch(*this, 0);
        return;
    }
  }

  void on_timeout(ConnRunner& r) override {
    if (Clock::now() >= port_deadline_) {
      note(fmt::format("port budget of {} ms spent", o_.port_budget.count()));
      if (phase_ == Phase::Reading) match_now(true);
      return conclude(r);
    }
    switch (phase_) {
      case Phase::Reading:
        return evaluate(r);
      case Phase::TlsHandshake:
        return tls_failed(r, "the TLS handshake stalled");
      default:
        return conclude(r);
    }
  }

  void on_abort() override {
    if (done_) return;
    note("the -sV stage ended (time budget or interrupt) before this port was done");
    if (phase_ == Phase::Reading) match_now(true);
    finalize();
  }

 private:
  enum class Phase { Connect, TlsHandshake, Reading, StartTls, Ssh };

  nanoseconds srtt() const { return rtt_.have ? rtt_.srtt : nanoseconds(milliseconds(50)); }
  nanoseconds wait_for(const ServiceProbe* p) const {
    milliseconds base = p != nullptr && p->is_null() ? milliseconds(500) : milliseconds(250);
    milliseconds cap = milliseconds(p != nullptr ? p->totalwait_ms : 5000);
    return clamp_ns(base + 8 * srtt(), milliseconds(50), std::max(cap, milliseconds(50)));
  }
  nanoseconds quiet() const {
    return clamp_ns(milliseconds(40) + 4 * srtt(), milliseconds(20), milliseconds(1000));
  }
  // A TLS server may be slow to answer its first client (a login process starting).
  nanoseconds tls_wait() const {
    return clamp_ns(milliseconds(3000) + 8 * srtt(), milliseconds(500), milliseconds(8000));
  }
  nanoseconds long_wait() const {
    return clamp_ns(milliseconds(1000) + 8 * srtt(), milliseconds(200), milliseconds(5000));
  }

  void arm(ConnRunner& r, nanoseconds in) {
    r.set_deadline(*this, std::min(Clock::now() + in, port_deadline_));
  }

  void trace(std::string_view what) const {
    if (tracing())
      std::fprintf(stderr, "sV %s:%u %s %s\n", res_.addr.to_string().c_str(), res_.port,
                   cur_ == nullptr ? "(tls)" : cur_->name.c_str(), std::string(what).c_str());
  }

  void note(const std::string& n) {
    if (res_.note.empty()) res_.note = n;
  }

  void open(ConnRunner& r) {
    phase_ = Phase::Connect;
    r.connect(*this, res_.addr, res_.port, long_wait());
  }

  void send_raw(ConnRunner& r, std::string_view bytes) {
    if (bytes.empty()) return;
    ssize_t n = ::send(r.fd(*this), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) eof_ = true;
  }
  void send_app(ConnRunner& r, std::string_view bytes) {
    if (tls_) {
      tls_->write(bytes);
      flush_tls(r);
    } else {
      send_raw(r, bytes);
    }
  }
  void flush_tls(ConnRunner& r) { send_raw(r, tls_->take_output()); }

  void send_probe(ConnRunner& r) {
    phase_ = Phase::Reading;
    reply_.clear();
    tentative_ = false;
    if (cur_ != nullptr) send_app(r, cur_->payload);
    r.watch(*this, EPOLLIN);
    arm(r, wait_for(cur_));
  }

  void begin_tls(ConnRunner& r) {
    trace("tls handshake");
    phase_ = Phase::TlsHandshake;
    tls_ = std::make_unique<TlsSession>();
    tls_->handshake();
    flush_tls(r);
    r.watch(*this, EPOLLIN);
    arm(r, tls_wait());
  }

  void tls_up(ConnRunner& r) {
    if (!res_.tls) res_.tls = tls_->info();
    if (starttls_mode_) {
      res_.starttls = res_.name;
      return conclude(r);
    }
    if (!in_tls_) {
      // Probe again inside the tunnel, banner first.
      in_tls_ = true;
      res_.tls_tunnel = true;
      soft_.clear();
      soft_match_.reset();
      cur_ = db_.find("NULL", Protocol::Tcp);
      plan_ = probe_order(db_, res_.port, true, o_.intensity, true, {});
      next_ = 0;
    }
    std::string early = tls_->read();  // application data that came with the handshake
    send_probe(r);
    if (!early.empty()) reading(r, early);
  }

  void tls_failed(ConnRunner& r, const std::string& why) {
    trace("tls failed: " + why);
    if (starttls_mode_) {
      note("STARTTLS handshake failed: " + why);
      return conclude(r);
    }
    // A TLS server that failed the handshake (a certificate over the bound, a broken chain) is
    // worth saying; a plain service that answered our ClientHello with text is not.
    if (tls_server_seen_) note("TLS handshake failed: " + why);
    tls_.reset();
    next_step(r, false);
  }

  // Matches what the current probe got. `final`: nothing more will come.
  std::optional<ServiceMatch> match_now(bool final) {
    if (reply_.empty() || cur_ == nullptr) return std::nullopt;
    auto m = db_.match(*cur_, reply_, soft_);
    if (final && m && !m->soft) identify(*m);
    return m;
  }

  void reading(ConnRunner& r, const std::string& got) {
    if (!got.empty()) {
      got_data_ = true;
      reply_.append(got, 0, kMaxReply - std::min(kMaxReply, reply_.size()));
      auto m = match_now(false);
      if (m && !m->soft && !m->version.empty()) return evaluate(r);
      if (reply_.size() >= kMaxReply) {
        note(fmt::format("a reply passed {} KiB and was cut there", kMaxReply / 1024));
        return evaluate(r);
      }
      if (m && !m->soft && !tentative_) {
        tentative_ = true;
        arm(r, quiet());
      }
    }
    if (eof_) {
      r.watch(*this, 0);
      if (reply_.empty() && cur_ != nullptr && cur_->is_null()) closed_silent_ = true;
      evaluate(r);
    }
  }

  void evaluate(ConnRunner& r) {
    std::optional<ServiceMatch> m = match_now(false);
    trace(fmt::format("reply {} bytes{}: {}", reply_.size(), eof_ ? " (closed)" : "",
                      m ? (m->soft ? "soft " : "hard ") + m->service : std::string("no match")));
    bool tls_seen = looks_like_tls(reply_) || (m && m->service == "ssl");
    if (m && !m->soft && !(m->service == "ssl" && !in_tls_ && !tls_tried_)) {
      identify(*m);
      return after_match(r);
    }
    if (m && m->soft && !soft_match_ && m->service != "ssl") {
      soft_ = m->service;
      soft_match_ = m;
      plan_ = probe_order(db_, res_.port, in_tls_, o_.intensity, tls_tried_ || in_tls_, soft_);
      next_ = 0;
    }
    if (!in_tls_ && !tls_tried_ && tls_seen) {
      plan_.insert(plan_.begin() + static_cast<long>(next_), nullptr);
    }
    bool reuse = !eof_ && reply_.empty() && cur_ != nullptr && cur_->is_null();
    next_step(r, reuse);
  }

  void next_step(ConnRunner& r, bool reuse) {
    if (Clock::now() >= port_deadline_) {
      note(fmt::format("port budget of {} ms spent", o_.port_budget.count()));
      return conclude(r);
    }
    while (next_ < plan_.size()) {
      const ServiceProbe* p = plan_[next_++];
      if (p == nullptr && (tls_tried_ || in_tls_)) continue;
      if (p != nullptr && !soft_.empty() && !db_.can_identify(*p, soft_)) continue;
      cur_ = p;
      if (p == nullptr) tls_tried_ = true;
      // A silent NULL connection carries the next probe, but never a TLS handshake: a server
      // whose banner is only late would read our ClientHello as a command.
      if (reuse && p != nullptr) return send_probe(r);
      return open(r);
    }
    conclude(r);
  }

  void identify(const ServiceMatch& m) {
    res_.name = m.service;
    res_.product = m.product;
    res_.version = m.version;
    res_.extra_info = m.info;
    res_.hostname = m.hostname;
    res_.ostype = m.ostype;
    res_.devicetype = m.devicetype;
    res_.cpe = m.cpe;
    res_.method = "probed";
    res_.confidence = 10;
    res_.probe = m.probe;
    identified_ = true;
  }

  void after_match(ConnRunner& r) {
    if (reply_.substr(0, 5) == "HTTP/") res_.http = parse_http(reply_);
    if (res_.name == "ssh" && !eof_) {
      SshInfo s;
      size_t nl = reply_.find('\n');
      size_t start = reply_.find("SSH-");
      if (start != std::string::npos) {
        nl = reply_.find('\n', start);
        parse_ssh_banner(std::string_view(reply_).substr(start), s.protocol, s.software);
      }
      res_.ssh = s;
      kex_ = std::make_unique<SshKex>();
      phase_ = Phase::Ssh;
      send_raw(r, kex_->start());
      std::string rest = nl == std::string::npos ? std::string() : reply_.substr(nl + 1);
      ssh_reply(r, rest);
      if (!done_) {
        r.watch(*this, EPOLLIN);
        arm(r, long_wait());
      }
      return;
    }
    if (!in_tls_ && !tls_) {
      steps_ = starttls_steps(res_.name);
      if (!steps_.empty()) {
        starttls_pending_ = true;
        return open(r);
      }
    }
    conclude(r);
  }

  void starttls_reply(ConnRunner& r, const std::string& got) {
    in_ += got;
    if (in_.size() > kMaxReply) return conclude(r);
    size_t pos;
    while ((pos = in_.find('\n')) != std::string::npos) {
      std::string line = in_.substr(0, pos);
      in_.erase(0, pos + 1);
      const StartTlsStep& s = steps_[step_];
      if (line.rfind(s.ok, 0) == 0) {
        if (++step_ == steps_.size()) {
          starttls_mode_ = true;
          return begin_tls(r);
        }
        send_raw(r, steps_[step_].send);
        continue;
      }
      bool final_line = (line.size() >= 4 && line[3] == ' ' &&
                         std::isdigit(static_cast<unsigned char>(line[0]))) ||
                        line.rfind("a1 ", 0) == 0 || line.rfind("-ERR", 0) == 0;
      if (final_line) {
        note("STARTTLS refused: " + printable(line, 80));
        return conclude(r);
      }
    }
    if (eof_) conclude(r);
  }

  void ssh_reply(ConnRunner& r, const std::string& got) {
    std::string out = kex_->feed(got);
    send_raw(r, out);
    if (kex_->done()) {
      res_.ssh->key_type = kex_->key_type();
      res_.ssh->fingerprint = kex_->fingerprint();
      return conclude(r);
    }
    if (kex_->failed()) {
      note("SSH key exchange: " + kex_->error());
      return conclude(r);
    }
    if (eof_) conclude(r);
  }

  void finalize() {
    if (done_) return;
    done_ = true;
    if (!identified_ && soft_match_) {
      res_.name = soft_match_->service;
      res_.method = "probed";
      res_.confidence = 8;
      res_.probe = soft_match_->probe;
    } else if (!identified_ && closed_silent_ && !got_data_) {
      res_.name = "tcpwrapped";
      res_.method = "probed";
      res_.confidence = 8;
    }
  }

  void conclude(ConnRunner& r) {
    trace("done: " + res_.name + " " + res_.product + " " + res_.version + " " + res_.note);
    finalize();
    r.finish(*this);
  }

  const ProbeDb& db_;
  const ServiceOptions& o_;
  ServiceInfo& res_;
  HostRtt& rtt_;
  Clock::time_point port_deadline_;
  Phase phase_ = Phase::Connect;
  const ServiceProbe* cur_ = nullptr;  // nullptr: the TLS handshake step
  std::vector<const ServiceProbe*> plan_;
  size_t next_ = 0;
  std::string reply_, in_;
  std::string soft_;
  std::optional<ServiceMatch> soft_match_;
  std::unique_ptr<TlsSession> tls_;
  std::unique_ptr<SshKex> kex_;
  std::vector<StartTlsStep> steps_;
  size_t step_ = 0;
  size_t port_bytes_ = 0;
  int connect_failures_ = 0;
  bool in_tls_ = false, tls_tried_ = false, starttls_mode_ = false, starttls_pending_ = false;
  bool eof_ = false, tentative_ = false, identified_ = false, done_ = false;
  bool got_data_ = false, closed_silent_ = false, tls_server_seen_ = false;
};

}  // namespace

std::vector<ServiceInfo> run_version_scan(const std::vector<std::pair<IpAddress, uint16_t>>& ports,
                                          const ProbeDb& db, const ServiceOptions& opts,
                                          ProbeGate* gate, const std::atomic<bool>& stop) {
  std::vector<ServiceTarget> targets;
  targets.reserve(ports.size());
  for (const auto& [addr, port] : ports) targets.push_back({addr, Protocol::Tcp, port});
  return run_version_scan(targets, db, opts, gate, stop);
}

size_t max_sweep_jobs(const ServiceOptions& opts) {
  return std::max<size_t>(1, opts.max_active) * 64;
}

std::vector<ServiceInfo> run_version_scan(const std::vector<ServiceTarget>& ports,
                                          const ProbeDb& db, const ServiceOptions& opts,
                                          ProbeGate* gate, const std::atomic<bool>& stop,
                                          SweepStats* sweep) {
  std::vector<ServiceInfo> results(ports.size());
  std::map<IpAddress, HostRtt> rtts;
  std::map<IpAddress, UdpRtt> udp_rtts;
  std::vector<std::unique_ptr<Job>> jobs;
  std::vector<std::unique_ptr<UdpSweepPort>> swept;
  std::map<std::vector<const ServiceProbe*>, std::unique_ptr<std::vector<UdpStep>>> plans;
  UdpSweepBudget sweep_budget;
  ConnRunner::Options ro;
  ro.max_active = opts.max_active;
  ro.max_rate = opts.max_rate;
  ro.gate = gate;
  ro.stop = &stop;
  size_t confirmed = 0;
  for (const ServiceTarget& t : ports)
    if (!t.open_filtered) ++confirmed;
  auto budget = opts.stage_budget;
  if (budget.count() <= 0) {
    size_t rounds = (confirmed + opts.max_active - 1) / std::max<size_t>(1, opts.max_active);
    budget = std::max<milliseconds>(
        milliseconds(30000), opts.port_budget * static_cast<int64_t>(rounds) + milliseconds(5000));
  }
  ro.deadline = Clock::now() + budget;
  ConnRunner runner(ro);
  for (size_t i = 0; i < ports.size(); ++i) {
    results[i].addr = ports[i].addr;
    results[i].proto = ports[i].proto;
    results[i].port = ports[i].port;
    if (ports[i].open_filtered) {
      if (ports[i].proto != Protocol::Udp) continue;  // only UDP ports are swept
      auto p = std::make_unique<UdpSweepPort>();
      p->res = &results[i];
      p->rtt = &udp_rtts[ports[i].addr];
      std::vector<UdpStep> steps =
          udp_sweep_plan(db, net::UdpPayloads::instance(), ports[i].port, opts.intensity);
      std::vector<const ServiceProbe*> key;
      for (const UdpStep& s : steps) key.push_back(s.probe);
      auto& plan = plans[key];
      if (!plan) plan = std::make_unique<std::vector<UdpStep>>(std::move(steps));
      p->steps = plan.get();
      swept.push_back(std::move(p));
    } else if (ports[i].proto == Protocol::Udp) {
      jobs.push_back(make_udp_port_job(db, opts, results[i], udp_rtts[ports[i].addr]));
      runner.add(jobs.back().get());
    } else {
      jobs.push_back(std::make_unique<PortJob>(db, opts, results[i], rtts[ports[i].addr]));
      runner.add(jobs.back().get());
    }
  }
  // The sweep after the open ports' jobs, interleaved: every port's first probe, then every
  // port's second, ... (the first probes are the likeliest: those listing the port).
  // At most 64 x max_active of them (udp_version.h): the rest could not start in the window.
  const size_t max_jobs = max_sweep_jobs(opts);
  size_t sweep_jobs = 0;
  for (size_t k = 0;; ++k) {
    bool any = false;
    for (auto& p : swept) {
      if (k >= p->steps->size()) continue;
      any = true;
      if (sweep_jobs == max_jobs) {
        ++sweep_budget.cut;
        continue;
      }
      ++sweep_jobs;
      jobs.push_back(make_udp_sweep_job(db, opts, *p, k, sweep_budget));
      runner.add(jobs.back().get());
    }
    if (!any) break;
  }
  runner.run();
  for (auto& p : swept) udp_sweep_finish(*p);  // (before `plans` goes: the steps are its)
  if (sweep != nullptr) {
    sweep->ports = swept.size();
    sweep->promoted = 0;
    for (auto& p : swept)
      if (p->res->promoted) ++sweep->promoted;
    sweep->sent = sweep_budget.sent;
    sweep->cut = sweep_budget.cut;
  }
  return results;
}

std::vector<ServiceInfo> detect_services(const ScanConfig& config, const ProbeDb& db,
                                         const ResultTable& table, ProbeGate* gate,
                                         const std::atomic<bool>& stop,
                                         const auth::ProbeAnnouncer* announce, SweepStats* sweep) {
  ServiceOptions o;
  o.intensity = config.service.intensity;
  o.port_budget = config.service.port_budget;
  o.stage_budget = config.service.stage_budget;
  o.max_rate = config.timing.max_rate;
  o.announce = announce;
  if (config.timing.level <= 1)
    o.max_active = 1;
  else if (config.timing.level == 2)
    o.max_active = 16;
  // Ports past the sweep's job cap could get no job: they are counted, not passed (each would
  // hold a ServiceInfo for nothing).
  std::vector<ServiceTarget> ports;
  size_t swept = 0, unswept = 0;
  for (const auto& [addr, host] : table.hosts())
    for (const auto& e : host.sorted_entries()) {
      if (e.state == PortState::Open) ports.push_back({addr, e.proto, e.port});
      if (e.state != PortState::OpenFiltered || e.proto != Protocol::Udp) continue;
      if (swept < max_sweep_jobs(o)) {
        ports.push_back({addr, e.proto, e.port, true});
        ++swept;
      } else {
        ++unswept;
      }
    }
  std::vector<ServiceInfo> all = run_version_scan(ports, db, o, gate, stop, sweep);
  if (sweep != nullptr) sweep->unswept = unswept;
  std::vector<ServiceInfo> out;
  out.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i)
    if (!ports[i].open_filtered || all[i].promoted) out.push_back(std::move(all[i]));
  return out;
}

}  // namespace gh
