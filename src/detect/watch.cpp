#include "detect/watch.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/signals.h"
#include "detect/decode.h"
#include "detect/kernel_fastpath.h"
#include "detect/local_discovery.h"
#include "detect/response.h"
#include "io/packet_socket.h"

namespace gh::detect {

namespace {

int64_t wall_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --alerts: JSON Lines appended, each record with one write(2), reopened on SIGHUP. A record that
// cannot be written whole (a full disk) is cut off again, so the file holds only whole lines; the
// first failure of a run of them is said once on stderr, with the reason, and a recovery too.
// Every failed record is counted (the stats line).
class AlertFile {
 public:
  explicit AlertFile(std::string path) : path_(std::move(path)) { open(); }
  ~AlertFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  AlertFile(const AlertFile&) = delete;
  AlertFile& operator=(const AlertFile&) = delete;
  void open() {
    if (path_.empty()) return;
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw system_error(errno, "cannot open alerts file " + path_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  void write(const std::string& line) {
    if (fd_ < 0) return;
    std::string rec = line + '\n';
    off_t before = ::lseek(fd_, 0, SEEK_END);
    ssize_t n = 0;
    do {
      n = ::write(fd_, rec.data(), rec.size());
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(rec.size())) {
      if (failing_)
        std::fprintf(stderr, "glasshouse watch: writing alerts to %s again\n", path_.c_str());
      failing_ = false;
      return;
    }
    int err = n < 0 ? errno : ENOSPC;
    if (n > 0 && before >= 0 && ::ftruncate(fd_, before) != 0) {
      // Cannot cut the partial record off: end it, so the next record starts on its own line.
      (void)!::write(fd_, "\n", 1);
    }
    ++errors_;
    if (!failing_)
      std::fprintf(stderr,
                   "glasshouse watch: cannot write alerts to %s: %s (lost records are counted)\n",
                   path_.c_str(), std::strerror(err));
    failing_ = true;
  }
  uint64_t errors() const { return errors_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool failing_ = false;
  uint64_t errors_ = 0;
};

// Blocks the daemon's signals and delivers them through a descriptor; restores the mask after.
// (A SIGINT/SIGTERM that came before, during start-up, went to main()'s handler: the loops also
// check stop_requested().)
class SignalChannel {
 public:
  SignalChannel() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, s);
    if (sigprocmask(SIG_BLOCK, &set, &old_) != 0) throw system_error(errno, "sigprocmask");
    fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) {
      int e = errno;
      sigprocmask(SIG_SETMASK, &old_, nullptr);
      throw system_error(e, "signalfd");
    }
  }
  ~SignalChannel() {
    close(fd_);
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  int fd() const { return fd_; }
  // The next pending signal, 0 if none.
  int take() {
    signalfd_siginfo si{};
    ssize_t n = read(fd_, &si, sizeof si);
    return n == static_cast<ssize_t>(sizeof si) ? static_cast<int>(si.ssi_signo) : 0;
  }

 private:
  int fd_ = -1;
  sigset_t old_{};
};

// --block, live: the packet loop's thread runs under SCHED_DEADLINE, a reservation of `runtime`
// every `period` (README, "Scheduling"): the earliest-deadline class runs before every ordinary
// task, so a frame's wake-up no longer waits behind the scanner and the host's other work for a
// CPU; and the kernel throttles the thread past its runtime, so even a flood cannot take more
// than runtime/period of one CPU from the host (the capture ring then fills and drops, counted).
// Children (the `nft` runs) start as ordinary tasks. Returns "" or why not (then nothing changed).
std::string reserve_cpu(uint64_t runtime_ns, uint64_t period_ns) {
  struct {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
  } attr{};
  attr.size = sizeof attr;
  attr.sched_policy = 6;  // SCHED_DEADLINE
  attr.sched_flags = 1;   // SCHED_FLAG_RESET_ON_FORK
  attr.sched_runtime = runtime_ns;
  attr.sched_deadline = period_ns;
  attr.sched_period = period_ns;
  if (syscall(SYS_sched_setattr, 0, &attr, 0) != 0) return std::strerror(errno);
  return "";
}

// --block, live: the pages of the program's and its libraries' code and read-only data are
// mapped in before the first frame (madvise MADV_POPULATE_READ over the file-backed, non-writable
// mappings of /proc/self/maps), so that no page fault lands between a probe and the block: the
// first detection, challenge and block run code used for the first time, and on the lab's
// virtualised host one such fault stalled the packet loop ~80 us (README "Latency"). Nothing is
// locked and no anonymous memory is touched (the tables are written at creation already).
// Best effort: errors are ignored (a kernel before 5.14 has no MADV_POPULATE_READ).
void populate_code() {
  FILE* f = std::fopen("/proc/self/maps", "re");
  if (!f) return;
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo = 0, hi = 0;
    char perms[5] = {};
    int path = 0;
    if (std::sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &lo, &hi, perms, &path) < 3) continue;
    if (path <= 0 || line[path] != '/' || perms[0] != 'r' || perms[1] == 'w') continue;
    constexpr int kPopulateRead = 22;  // MADV_POPULATE_READ (Linux 5.14)
    (void)madvise(reinterpret_cast<void*>(lo), hi - lo, kPopulateRead);
  }
  std::fclose(f);
}

struct Counters {
  uint64_t frames = 0, undecodable = 0;
};

class Watch {
 public:
  explicit Watch(WatchOptions opt) : opt_(std::move(opt)) {}
  int run();

 private:
  void on_alert(const Alert& a);
  void on_suspect(const Alert& a);
  void flush_suspects();
  void handle_signal(int sig);
  void print_stats(const char* what);
  void open_fastpath(uint64_t k0, uint64_t k1);
  void feed(const uint8_t* data, size_t len, int64_t ts);
  void on_authorization(const auth::AuthRecord& r);

  WatchOptions opt_;
  std::optional<Capture> cap_;
  std::unique_ptr<AlertFile> alerts_;
  std::unique_ptr<Detector> det_;
  std::unique_ptr<NftBlocker> blocker_;
  std::optional<PacketSocket> challenge_sock_;
  std::unique_ptr<Challenger> challenger_;
  std::unique_ptr<Responder> responder_;
  std::unique_ptr<KernelFastpath> fastpath_;  // --block, live (kernel_fastpath.h)
  std::unique_ptr<auth::AuthMonitor> auth_;   // --owner-key: announced scans (src/auth)
  Counters c_;
  // Live: suspects found while reading a batch of frames, challenged once the batch is read, so
  // that a detecting probe in the same batch is not kept waiting behind the challenge's netlink
  // add and send (the detection then challenges it itself, armed at once). Bounded.
  std::vector<Alert> suspects_;
  static constexpr size_t kMaxSuspects = 256;
  bool stop_ = false;
  int64_t now_us_ = 0;
  // Latency of blocks (live --block only): the packet being handled (its kernel timestamp and
  // when user space got it), and for each source challenged, when the challenge left (early or
  // not), the detecting probe's times, and when it was armed (0: not armed) and how long that
  // add took. Bounded: cleared when it reaches kMaxTimings.
  struct Timing {
    int64_t probe_ts = 0, probe_wall = 0, sent_wall = 0, armed_wall = 0, arm_us = -1;
  };
  static constexpr size_t kMaxTimings = 4096;
  bool timing_ = false;
  int64_t cur_ts_ = 0, cur_wall_ = 0;
  std::unordered_map<IpAddress, Timing, IpAddressHash> timings_;
};

void Watch::feed(const uint8_t* data, size_t len, int64_t ts) {
  ++c_.frames;
  if (timing_) {
    cur_ts_ = ts;
    cur_wall_ = wall_now_us();
  }
  PacketEvent ev;
  if (make_event(data, len, cap_->link_type(), ts, ev) != Decode::Ok) {
    ++c_.undecodable;
    return;
  }
  if (auth_) auth_->on_packet(ev);  // before the detector, so its alerts see the verdict
  if (challenger_) {
    IpAddress proven;
    Answer ans = challenger_->on_packet(ev, proven);
    if (ans == Answer::Own) return;  // our challenge leaving: not a reply of the local stack
    if (ans == Answer::Kernel) {     // the kernel's, in place of our stack's refusal
      det_->on_packet(kernel_refusal(ev));
      return;
    }
    det_->on_packet(ev);
    if (ans == Answer::Proven) det_->mark_verified(proven, Proof::Challenge);
    return;
  }
  det_->on_packet(ev);
}

void Watch::on_alert(const Alert& in) {
  Alert a = in;
  if (auth_) auth_->annotate(a);
  if (a.authorization == "authorized") {
    // A scan the owner signed for, inside its scope: reported, never challenged nor blocked.
    a.blocked = false;
    if (blocker_)
      a.block_note = fmt::format("authorized: engagement {}, signed by {}", a.engagement, a.signer);
  } else if (responder_ && timing_) {
    int64_t t0 = wall_now_us();
    uint64_t blocks = blocker_->total_blocked();
    const bool was_armed = blocker_->armed(a.src, t0);
    responder_->on_alert(a, t0);
    int64_t t1 = wall_now_us();
    if (blocker_->total_blocked() > blocks) {
      Alert::Latency l;
      l.nft = blocker_->last_add_us();
      l.answer_wait = cur_wall_ - cur_ts_;
      l.total = t1 - cur_ts_;
      auto it = timings_.find(a.src);
      if (it != timings_.end() && it->second.probe_ts != 0 && a.proof == Proof::Challenge) {
        // The answer came after the detection (this packet is the answer).
        const Timing& t = it->second;
        l.probe_wait = t.probe_wall - t.probe_ts;
        l.challenge_rtt = cur_ts_ - t.sent_wall;
        l.total = t1 - t.probe_ts;
        if (t.armed_wall != 0) {
          // Armed: the kernel dropped the source from the answer on (or from the arm, if later).
          l.nft = t.arm_us;
          l.total = std::max(t.armed_wall, cur_ts_) - t.probe_ts;
        }
      } else if (a.proof == Proof::Challenge) {
        // The answer (to an early challenge) was in hand at the detection: this is the probe.
        l.probe_wait = cur_wall_ - cur_ts_;
        l.answer_wait = -1;
      }
      if (it != timings_.end()) timings_.erase(it);
      a.block_latency = l;
    } else if (a.event == AlertEvent::New && a.challenge == to_string(Issue::Sent)) {
      if (timings_.size() >= kMaxTimings) timings_.clear();
      Timing& t = timings_[a.src];
      if (t.sent_wall == 0) t.sent_wall = t0;
      t.probe_ts = cur_ts_;
      t.probe_wall = cur_wall_;
      if (!was_armed && blocker_->armed(a.src, t1)) {
        t.armed_wall = blocker_->last_arm_wall_us();
        t.arm_us = blocker_->last_arm_us();
      }
    }
  } else if (responder_) {
    responder_->on_alert(a, opt_.read_file.empty() ? wall_now_us() : a.last_seen_us);
  }
  alerts_->write(to_json(a));
  std::string line = to_text(a);
  if (!opt_.quiet) fmt::print(stderr, "glasshouse watch: {}\n", line);
  if (opt_.syslog)
    syslog(a.event == AlertEvent::New ? LOG_WARNING : LOG_NOTICE, "%s", line.c_str());
}

void Watch::on_suspect(const Alert& in) {
  Alert a = in;
  if (auth_) {
    auth_->annotate(a);
    if (a.authorization == "authorized") return;
  }
  if (!opt_.read_file.empty()) {
    responder_->on_suspect(a, a.last_seen_us);
  } else if (suspects_.size() < kMaxSuspects) {
    suspects_.push_back(std::move(a));
  }
}

void Watch::flush_suspects() {
  for (const Alert& a : suspects_) responder_->on_suspect(a, wall_now_us());
  suspects_.clear();
}

void Watch::on_authorization(const auth::AuthRecord& r) {
  alerts_->write(auth::to_json(r));
  std::string line = auth::to_text(r);
  if (!opt_.quiet) fmt::print(stderr, "glasshouse watch: {}\n", line);
  if (opt_.syslog)
    syslog(r.verdict == auth::AuthVerdict::Authorized ? LOG_NOTICE : LOG_WARNING, "%s",
           line.c_str());
}

// The kernel's fast path (kernel_fastpath.h): the walk's parameters and the challenges' budgets
// are the detector's and the challenger's; what must never be blocked is never tracked there.
void Watch::open_fastpath(uint64_t k0, uint64_t k1) {
  FastpathConfig f;
  f.k0 = k0;
  f.k1 = k1;
  TrwModel m(opt_.detect.trw);
  f.log_fail = m.log_failure();
  f.log_success = m.log_success();
  f.log_hi = m.log_eta1();
  f.log_lo = m.log_eta0();
  f.vertical_threshold = opt_.detect.vertical_threshold;
  f.window_us = opt_.detect.window_us;
  const ChallengeConfig& c = opt_.challenge_cfg;
  f.challenge_after = c.prepare_after > 0 ? c.prepare_after : 4;
  f.interval_us = c.interval_us;
  f.timeout_us = c.timeout_us;
  f.hold_us = c.timeout_us;
  f.rate = c.rate;
  f.burst = static_cast<uint32_t>(c.burst);
  f.max_per_source = c.max_per_source;
  f.max_sources = opt_.detect.max_sources;
  std::string err;
  if (cap_->link_type() != link::kEthernet) {
    // Its challenge goes back to the probe's link address, as this process's does.
    fmt::print(stderr, "glasshouse watch: no kernel fast path (not an Ethernet link)\n");
    return;
  }
  int ifindex = static_cast<int>(if_nametoindex(opt_.interface.c_str()));
  fastpath_ = KernelFastpath::open(ifindex, f, err);
  if (fastpath_) challenger_->set_kernel_challenges(true);
  if (!fastpath_) {
    fmt::print(stderr, "glasshouse watch: no kernel fast path ({}); challenges from this process\n",
               err);
    return;
  }
  bool ok = true;
  const BlockConfig& b = opt_.block_cfg;
  for (const Prefix& p : b.allow.list()) ok = fastpath_->program().exempt(p) && ok;
  for (const Prefix& p : b.self.list()) ok = fastpath_->program().exempt(p) && ok;
  for (const IpAddress& g : b.gateways) ok = fastpath_->program().exempt(Prefix::host(g)) && ok;
  // Protected sources are the detector's alone, even with --block-internal (their thresholds
  // are --local-factor times the remote ones).
  for (const Prefix& p : b.local.list()) ok = fastpath_->program().exempt(p) && ok;
  if (!ok) {
    fmt::print(stderr, "glasshouse watch: no kernel fast path (too many exempt prefixes)\n");
    fastpath_.reset();
    challenger_->set_kernel_challenges(false);
  }
}

void Watch::print_stats(const char* what) {
  DetectStats d = det_->stats();
  CaptureStats k = cap_->stats();
  std::string line = fmt::format(
      "{}: packets {} (undecodable {}), kernel drops {}, sources {} (evicted {}), pending {} "
      "(dropped {}), probes {}, alerts {} (updates {})",
      what, c_.frames, c_.undecodable, k.dropped + k.if_dropped, d.sources, d.sources_evicted,
      d.pending, d.pending_dropped, d.probes, d.alerts, d.updates);
  if (blocker_)
    line += fmt::format(", blocks {} (active {}, armed {})", blocker_->total_blocked(),
                        blocker_->active(wall_now_us()), blocker_->armed_count(wall_now_us()));
  if (challenger_) {
    ChallengeStats cs = challenger_->stats();
    line += fmt::format(
        ", challenges {} (kernel {}, early {}, simulated {}, proven {}, wrong {}, late {}, "
        "replayed "
        "{}, wrong path {}, limited {}+{}, send errors {})",
        cs.sent, cs.kernel, cs.early, cs.simulated, cs.proven, cs.wrong, cs.late, cs.replayed,
        cs.wrong_path, cs.limited_source, cs.limited_global, cs.send_errors);
    line += fmt::format(", prepared {} (used {})", cs.prepared, cs.prepared_sent);
  }
  if (fastpath_) {
    FastpathStats f = fastpath_->program().stats();
    line += fmt::format(
        ", fast path (challenges:{} proven:{} wrong:{} limited:{} errors:{} dropped:{})",
        f.challenges, f.proven, f.wrong, f.limited, f.errors, f.dropped);
  }
  if (alerts_->errors()) line += fmt::format(", alert write errors {}", alerts_->errors());
  fmt::print(stderr, "glasshouse watch: {}\n", line);
  if (opt_.syslog) syslog(LOG_INFO, "%s", line.c_str());
}

void Watch::handle_signal(int sig) {
  switch (sig) {
    case SIGINT:
    case SIGTERM:
      stop_ = true;
      break;
    case SIGHUP:
      try {
        alerts_->open();
      } catch (const RuntimeError& e) {
        fmt::print(stderr, "glasshouse watch: {}\n", e.what());  // keep the old file
      }
      break;
    case SIGUSR1:
      print_stats("stats");
      break;
    default:
      break;
  }
}

int Watch::run() {
  const bool live = opt_.read_file.empty();
  // 1. Input and the protected networks.
  LocalView view;
  if (live) {
    view = discover_local(opt_.interface);
    opt_.live.interface = opt_.interface;
    // Blocking: every millisecond a packet waits in the kernel is probes the scanner still gets
    // answered, so the capture hands every frame over at once (capture.h, `immediate`).
    if (opt_.block) opt_.live.immediate = true;
    if (!opt_.filter.empty()) opt_.live.filter = opt_.filter;
  }
  if (opt_.local.empty()) opt_.local = view.local;
  if (opt_.local.empty())
    throw UsageError("no protected addresses: give --local (the interface has no address)");
  cap_.emplace(live ? Capture::open_live(opt_.live)
                    : Capture::open_file(opt_.read_file, opt_.filter));

  // 2. Outputs.
  alerts_ = std::make_unique<AlertFile>(opt_.alerts_path);
  if (opt_.syslog) openlog("glasshouse-watch", LOG_PID, LOG_DAEMON);

  // 3. Blocking, challenges.
  if (opt_.block) {
    opt_.block_cfg.local = opt_.local;
    opt_.block_cfg.gateways = view.gateways;
    opt_.block_cfg.self = view.self;
    opt_.block_cfg.prove_for_us = opt_.challenge_cfg.timeout_us;
    if (live) {
      blocker_ = std::make_unique<NftBlocker>(opt_.block_cfg);
      blocker_->start();
      timing_ = true;
    }
    uint64_t key[2] = {0, 0};
    if (opt_.challenge) {
      if (getrandom(key, sizeof key, 0) != static_cast<ssize_t>(sizeof key))
        throw system_error(errno, "getrandom");
      opt_.challenge_cfg.simulate = !live;
      opt_.challenge_cfg.max_sources = opt_.detect.max_sources;
      Challenger::Sender send;
      if (live) {
        int ifindex = static_cast<int>(if_nametoindex(opt_.interface.c_str()));
        challenge_sock_.emplace(PacketSocket::open(ifindex, PacketSocketOptions::send_only()));
        send = [this](const ChallengePacket& p) {
          uint8_t frame[kChallengeFrameMax];
          size_t n = build_challenge_frame(p, frame);
          if (n == 0) return EAFNOSUPPORT;
          // The kernel checks the answer too (blocker.h): its elements (and the source's arm) go
          // in first, in one transaction committed when expect_answer() returns; the kernel's
          // acknowledgements are read once the challenge is out.
          // A prepared challenge's elements are in the kernel already (blocker.h, prepare()).
          if (blocker_->kernel_proof() && !p.prepared)
            (void)blocker_->expect_answer(p, opt_.challenge_cfg.timeout_us);
          int64_t sent = wall_now_us();
          int rc = challenge_sock_->send(std::span<const uint8_t>(frame, n));
          (void)blocker_->finish_challenge();
          if (rc == 0) {
            if (timings_.size() >= kMaxTimings) timings_.clear();
            timings_[p.to.source].sent_wall = sent;
          }
          return rc;
        };
      }
      challenger_ =
          std::make_unique<Challenger>(opt_.challenge_cfg, key[0], key[1], std::move(send));
    }
    responder_ = std::make_unique<Responder>(opt_.block_cfg, blocker_.get(), challenger_.get());
    // Announced scans (--owner-key) are judged by their tags, which the kernel cannot verify:
    // an authorised scanner must never be dropped, so the fast path stays off.
    if (live && challenger_ && opt_.kernel_fastpath && !opt_.engagements.empty())
      fmt::print(stderr,
                 "glasshouse watch: no kernel fast path with --owner-key (the kernel cannot "
                 "verify announced scans' tags)\n");
    else if (live && challenger_ && opt_.kernel_fastpath)
      open_fastpath(key[0], key[1]);
  }

  det_ =
      std::make_unique<Detector>(opt_.detect, opt_.local, [this](const Alert& a) { on_alert(a); });
  // Suspects get an early challenge (--challenge-early), or else, live with the kernel's check,
  // a prepared one (--challenge-prepare).
  const uint32_t suspect_at = opt_.challenge_cfg.early_after > 0 ? opt_.challenge_cfg.early_after
                              : (blocker_ && blocker_->kernel_proof())
                                  ? opt_.challenge_cfg.prepare_after
                                  : 0;
  if (challenger_ && suspect_at > 0)
    det_->set_suspect_listener([this](const Alert& a) { on_suspect(a); }, suspect_at);
  if (!opt_.engagements.empty()) {
    for (const auto& e : opt_.engagements)
      fmt::print(stderr, "glasshouse watch: recognizing engagement {} ({}, signed by {})\n",
                 e.scope.engagement.id, e.scope.source, e.signer);
    auth_ = std::make_unique<auth::AuthMonitor>(
        std::move(opt_.engagements), opt_.local,
        [this](const auth::AuthRecord& r) { on_authorization(r); });
  }
  if (blocker_) populate_code();
  SignalChannel signals;
  fmt::print(
      stderr, "glasshouse watch: {} {}; protecting {}; up to {} sources ({:.1f} MiB at most){}\n",
      live ? "listening on" : "reading", live ? opt_.interface : opt_.read_file,
      opt_.local.to_string(), opt_.detect.max_sources,
      static_cast<double>(det_->memory_bound() + (challenger_ ? challenger_->memory_bound() : 0)) /
          (1 << 20),
      blocker_     ? fmt::format("; blocking into nftables table inet {}{}{}", opt_.block_cfg.table,
                             challenger_ ? ", challenging unverified sources" : "",
                             fastpath_ ? " (kernel fast path: tc-BPF)" : "")
      : responder_ ? std::string("; --block dry run (nothing blocked or sent)")
                   : std::string());

  // 4. The loop.
  const uint8_t* data = nullptr;
  size_t len = 0;
  int64_t ts = 0;
  int64_t next_stats = opt_.stats_interval_us > 0 ? wall_now_us() + opt_.stats_interval_us : 0;
  if (!live) {
    int64_t last_ts = 0;
    while (!stop_ && !stop_requested()) {
      for (int i = 0; i < 4096; ++i) {
        Capture::Next n = cap_->next(data, len, ts);
        if (n != Capture::Next::Packet) {
          stop_ = true;
          break;
        }
        feed(data, len, ts);
        last_ts = ts;
      }
      while (int sig = signals.take()) handle_signal(sig);
      if (next_stats && wall_now_us() >= next_stats) {
        print_stats("stats");
        next_stats += opt_.stats_interval_us;
      }
    }
    // 5. The capture ended after any reply would have come: unanswered attempts failed.
    det_->finish(last_ts, true);
    print_stats("done");
    return kExitOk;
  }

  if (blocker_ && opt_.cpu_reserve > 0) {
    std::string err = reserve_cpu(static_cast<uint64_t>(opt_.cpu_reserve * 1e6), 1'000'000);
    if (!err.empty())
      fmt::print(stderr,
                 "glasshouse watch: no CPU reservation (SCHED_DEADLINE: {}); running as "
                 "an ordinary task\n",
                 err);
  }
  pollfd fds[2] = {{cap_->selectable_fd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}};
  while (!stop_ && !stop_requested()) {
    int rc = poll(fds, 2, 100);
    if (rc < 0 && errno != EINTR) throw system_error(errno, "poll");
    // The signalfd is read only when it has something: a system call less per wake-up, between
    // a frame's arrival and the next one's reading.
    if (rc > 0 && (fds[1].revents & POLLIN))
      while (int sig = signals.take()) handle_signal(sig);
    for (int i = 0; i < 1024 && !stop_; ++i) {
      Capture::Next n = cap_->next(data, len, ts);
      if (n != Capture::Next::Packet) break;
      feed(data, len, ts);
    }
    if (!suspects_.empty()) flush_suspects();
    now_us_ = wall_now_us();
    det_->advance(now_us_);
    if (next_stats && now_us_ >= next_stats) {
      print_stats("stats");
      next_stats = now_us_ + opt_.stats_interval_us;
    }
  }
  det_->finish(wall_now_us(), false);
  print_stats("stopped");
  if (blocker_ && !blocker_->stop())
    fmt::print(stderr, "glasshouse watch: could not delete nftables table inet {}\n",
               opt_.block_cfg.table);
  return kExitOk;
}

}  // namespace

int run_watch(WatchOptions opt) {
  Watch w(std::move(opt));
  return w.run();
}

}  // namespace gh::detect
