// A fake Transport and a fake ProbeModule for unit tests of the raw driver (scan/driver.h), and
// for ThreadSanitizer runs of it: no socket, no privilege, no network.
//
// FakeModule writes the probe itself into the frame (family, address, protocol, port, attempt,
// a key), and classify() reads it back from a reply frame (the same layout, a kind byte
// saying open/closed/host up). The key stands for the cookie: a frame with another key is not
// ours.
// FakeTransport keeps the "wire": every committed frame is recorded (thread-safe; several send
// threads commit at once), then `responder(probe, attempt)` decides whether and how the target
// answers (nullopt: silence, as a lost probe or a filtered port). Replies are delivered by
// receive() after `delay`. `no_mac` makes commit() say NoNeighbor for chosen addresses.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "scan/probe_module.h"
#include "scan/transport.h"

namespace gh::fake {

// The frame layout both fakes share: [0] family (4/6), [1..17) address, [17] protocol,
// [18..20) port, [20] attempt, [21] kind (0 probe, 1 open, 2 closed, 3 host up), [22..30) key.
inline constexpr size_t kFakeFrame = 30;

enum class FakeReply : uint8_t { Open = 1, Closed = 2, HostUp = 3 };

inline void fake_encode(uint8_t* out, const Probe& p, uint8_t attempt, uint8_t kind, uint64_t key) {
  out[0] = p.addr.is_v4() ? 4 : 6;
  std::memcpy(out + 1, &p.addr.value, 16);
  out[17] = static_cast<uint8_t>(p.proto);
  out[18] = static_cast<uint8_t>(p.port >> 8);
  out[19] = static_cast<uint8_t>(p.port);
  out[20] = attempt;
  out[21] = kind;
  std::memcpy(out + 22, &key, 8);
}

struct FakeDecoded {
  Probe probe;
  uint8_t attempt = 0;
  uint8_t kind = 0;
  uint64_t key = 0;
};

inline std::optional<FakeDecoded> fake_decode(std::span<const uint8_t> f) {
  if (f.size() < kFakeFrame || (f[0] != 4 && f[0] != 6)) return std::nullopt;
  FakeDecoded d;
  u128 v;
  std::memcpy(&v, f.data() + 1, 16);
  d.probe.addr = IpAddress{f[0] == 4 ? Family::V4 : Family::V6, v};
  d.probe.proto = static_cast<Protocol>(f[17]);
  d.probe.port = static_cast<uint16_t>(f[18] << 8 | f[19]);
  d.attempt = f[20];
  d.kind = f[21];
  std::memcpy(&d.key, f.data() + 22, 8);
  return d;
}

class FakeModule : public ProbeModule {
 public:
  explicit FakeModule(uint64_t key = 42, Silence silence = Silence::PortFiltered)
      : key_(key), silence_(silence) {}
  std::string_view name() const override { return "fake"; }
  Protocol protocol() const override { return Protocol::Tcp; }
  FrameKind frame_kind() const override { return FrameKind::Ip; }
  Silence silence() const override { return silence_; }
  ReceiveSpec receive() const override { return ReceiveSpec{.tcp = true}; }
  size_t max_frame() const override { return kFakeFrame; }
  bool prepare(const PathInfo&) override {
    ++prepared;
    return true;
  }
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override {
    if (out.size() < kFakeFrame || probe.proto != Protocol::Tcp) return 0;
    fake_encode(out.data(), probe, args.attempt, 0, key_);
    return kFakeFrame;
  }
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override {
    auto d = fake_decode(frame.bytes);
    if (!d || d->kind == 0 || d->key != key_) return false;
    out = ProbeVerdict{};
    out.probe = d->probe;
    out.attempt = d->attempt;
    out.ttl = 64;
    if (d->kind == static_cast<uint8_t>(FakeReply::HostUp)) {
      out.host = true;
      out.host_state = HostState::Up;
      out.reason = Reason::EchoReply;
    } else {
      bool open = d->kind == static_cast<uint8_t>(FakeReply::Open);
      out.state = open ? PortState::Open : PortState::Closed;
      out.reason = open ? Reason::SynAck : Reason::Reset;
    }
    return true;
  }
  std::string describe(std::span<const uint8_t> frame, LinkFraming) const override {
    auto d = fake_decode(frame);
    return d ? "fake " + d->probe.addr.to_string() + ":" + std::to_string(d->probe.port) : "?";
  }
  int prepared = 0;

 private:
  uint64_t key_;
  Silence silence_;
};

class FakeTransport : public Transport {
 public:
  using Responder = std::function<std::optional<FakeReply>(const Probe&, uint8_t attempt)>;

  struct Sent {
    Probe probe;
    uint8_t attempt;
    std::chrono::steady_clock::time_point at;
  };

  Responder responder = [](const Probe&, uint8_t) { return std::optional<FakeReply>(); };
  std::chrono::milliseconds delay{1};
  std::function<bool(const IpAddress&)> no_mac;  // true: commit() says NoNeighbor
  uint64_t reply_key = 42;                       // the key replies carry (FakeModule's)
  size_t batch = 64;

  void open(const TargetSet&, std::span<ProbeModule* const> modules, bool dry_run) override {
    std::lock_guard lock(mu_);
    opened_ = true;
    dry_run_ = dry_run;
    PathInfo info;
    for (ProbeModule* m : modules) m->prepare(info);
  }
  std::optional<LinkFraming> framing(Family) const override { return LinkFraming::RawIp; }

  class FakeSender : public TransportSender {
   public:
    FakeSender(FakeTransport& t, size_t max_frame) : t_(t), buf_(max_frame) {}
    std::span<uint8_t> slot() override { return buf_; }
    Commit commit(size_t length, const IpAddress& dst, FrameKind) override {
      if (t_.no_mac && t_.no_mac(dst)) return Commit::NoNeighbor;
      queued_.emplace_back(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(length));
      if (queued_.size() >= t_.batch) flush();
      return Commit::Queued;
    }
    void flush() override {
      if (queued_.empty()) return;
      t_.wire(queued_);
      counters_.sent.fetch_add(queued_.size(), std::memory_order_relaxed);
      queued_.clear();
    }
    size_t pending() const override { return queued_.size(); }

   private:
    FakeTransport& t_;
    std::vector<uint8_t> buf_;
    std::vector<std::vector<uint8_t>> queued_;
  };

  std::unique_ptr<TransportSender> sender(size_t max_frame) override {
    std::lock_guard lock(mu_);
    ++senders_made_;
    return std::make_unique<FakeSender>(*this, max_frame);
  }

  size_t receive(std::chrono::milliseconds timeout, const FrameFn& fn) override {
    std::vector<std::vector<uint8_t>> ready;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      {
        std::lock_guard lock(mu_);
        auto now = std::chrono::steady_clock::now();
        while (!replies_.empty() && replies_.front().first <= now) {
          ready.push_back(std::move(replies_.front().second));
          replies_.pop_front();
        }
      }
      if (!ready.empty() || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    for (const auto& f : ready) {
      RxFrame rx{f, LinkFraming::RawIp, nullptr, std::chrono::steady_clock::now()};
      fn(rx);
    }
    return ready.size();
  }
  uint64_t drops() override { return 0; }

  // What was sent, in wire order.
  std::vector<Sent> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  // How many probes went to (addr, port), over all attempts.
  size_t sent_to(const IpAddress& a, uint16_t port) const {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count_if(sent_.begin(), sent_.end(), [&](const Sent& s) {
      return s.probe.addr == a && s.probe.port == port;
    }));
  }
  bool opened() const {
    std::lock_guard lock(mu_);
    return opened_;
  }
  int senders_made() const {
    std::lock_guard lock(mu_);
    return senders_made_;
  }
  // Injects a reply frame as if it came from the network (forged or foreign ones, say).
  void inject(std::vector<uint8_t> frame) {
    std::lock_guard lock(mu_);
    replies_.emplace_back(std::chrono::steady_clock::now(), std::move(frame));
  }

 private:
  void wire(const std::vector<std::vector<uint8_t>>& frames) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    for (const auto& f : frames) {
      auto d = fake_decode(f);
      if (!d) continue;
      sent_.push_back(Sent{d->probe, d->attempt, now});
      if (auto r = responder(d->probe, d->attempt)) {
        std::vector<uint8_t> reply(kFakeFrame);
        fake_encode(reply.data(), d->probe, d->attempt, static_cast<uint8_t>(*r), reply_key);
        replies_.emplace_back(now + delay, std::move(reply));
      }
    }
  }

  mutable std::mutex mu_;
  std::vector<Sent> sent_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::vector<uint8_t>>> replies_;
  bool opened_ = false;
  bool dry_run_ = false;
  int senders_made_ = 0;
};

}  // namespace gh::fake
