#include "scan/packet_transport.h"
#include <sys/eventfd.h>

#include <linux/if_arp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "io/bpf.h"
#include "net/packet.h"
#include "scan/source_pool.h"

namespace gh {
namespace {

using std::chrono::milliseconds;

constexpr size_t kBatch = 64;

// The first address of a family in the target set (ranges are sorted, IPv4 first).
std::optional<IpAddress> first_of_family(const TargetSet& targets, Family f) {
  for (const auto& r : targets.ranges())
    if (r.first.family == f) return r.first;
  return std::nullopt;
}

// The route for a dry run: the kernel's answer when there is one (asking resolves no MAC), or an
// unspecified source, so that --dry-run works without privilege and without a route.
Route dry_run_route(const IpAddress& dst, const std::string& iface) {
  try {
    return lookup_route(dst, iface, milliseconds(0));
  } catch (const RuntimeError&) {
    Route r;
    r.source = dst.is_v4() ? IpAddress::v4(0) : IpAddress::v6(0);
    r.next_hop_mac = MacAddress{};
    return r;
  }
}

// The addresses of one family in the target set, or nullopt when there are more than `limit`.
std::optional<std::vector<IpAddress>> addresses_of_family(const TargetSet& targets, Family f,
                                                          size_t limit) {
  std::vector<IpAddress> out;
  for (const auto& r : targets.ranges()) {
    if (r.first.family != f) continue;
    // last - first (not size(), which wraps to 0 for ::/0) bounds the range before it is walked.
    if (r.last.value - r.first.value >= limit - out.size()) return std::nullopt;
    for (u128 v = r.first.value;; ++v) {
      out.push_back(IpAddress{f, v});
      if (v == r.last.value) break;
    }
  }
  return out;
}

class PacketSender : public TransportSender {
 public:
  PacketSender(const PacketTransport& t, size_t max_frame)
      : t_(t), stride_(max_frame), frames_(kBatch * max_frame) {}
  ~PacketSender() override = default;

  std::span<uint8_t> slot() override { return {frames_.data() + n_ * stride_, stride_}; }

  Commit commit(size_t length, const IpAddress& dst, FrameKind kind) override {
    const PacketTransport::Path* path = t_.path(dst.family);
    if (path == nullptr) return Commit::NoPath;
    if (path_ != path) {
      // The frame was built in slot n_; the batch queued so far leaves through the old path,
      // and this frame becomes the first of the new batch (slot 0). Without the move, slot 0
      // kept the old batch's first frame: it was sent again and this one never was (a scan of
      // IPv4 and IPv6 targets at once lost about a third of its probes this way).
      if (n_ > 0) {
        size_t at = n_;
        flush();
        std::memmove(frames_.data(), frames_.data() + at * stride_, std::min(length, stride_));
      }
      path_ = path;
    }
    if (kind == FrameKind::Ip && (path->per_host || path->macs != nullptr)) {
      std::optional<MacAddress> mac;
      if (path->macs != nullptr) mac = path->macs->find(dst);
      if (!mac && path->per_host) {
        auto it = path->per_host->find(dst);
        if (it != path->per_host->end()) mac = it->second;
      }
      // No ARP/NDP answer: nothing can be sent to it, as connect() would say EHOSTUNREACH.
      if (!mac) return Commit::NoNeighbor;
      std::copy(mac->begin(), mac->end(), frames_.data() + n_ * stride_);
    }
    dst_[n_] = dst;
    lengths_[n_++] = length;
    if (n_ == kBatch) flush();
    return Commit::Queued;
  }

  size_t pending() const override { return n_; }

  void flush() override {
    if (n_ == 0) return;
    std::array<std::span<const uint8_t>, kBatch> spans;
    for (size_t i = 0; i < n_; ++i) spans[i] = {frames_.data() + i * stride_, lengths_[i]};
    size_t done = 0;
    int stalls = 0;
    while (done < n_) {
      PacketSocket::BatchResult r;
      if (path_->raw != nullptr)
        r.sent = path_->raw->send_batch({spans.data() + done, n_ - done},
                                        {dst_.data() + done, n_ - done}, &r.error);
      else
        r = path_->socket->send_batch({spans.data() + done, n_ - done});
      done += r.sent;
      if (r.error == 0) continue;
      // ENOBUFS/EAGAIN: the device queue (on a veth, the peer's backlog) is full; give the
      // softirq that drains it a moment (and tell the rate controller). A short sleep: with
      // 200 us, a scan over veth spent most of its time asleep. Anything else, or a queue that
      // stays full (~1,000 tries), loses the rest of the batch, which the retry passes resend.
      if ((r.error != ENOBUFS && r.error != EAGAIN) || ++stalls > 1000) {
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      counters_.stalls.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    counters_.sent.fetch_add(done, std::memory_order_relaxed);
    n_ = 0;
  }

 private:
  const PacketTransport& t_;
  size_t stride_;
  std::vector<uint8_t> frames_;  // kBatch slots of stride_ bytes
  std::array<size_t, kBatch> lengths_{};
  std::array<IpAddress, kBatch> dst_{};
  size_t n_ = 0;
  const PacketTransport::Path* path_ = nullptr;  // the path the queued frames leave through
};

}  // namespace

void PacketTransport::open(const TargetSet& targets, std::span<ProbeModule* const> modules,
                           bool dry_run) {
  const ReceiveSpec want = receive_union(modules);
  for (Family f : {Family::V4, Family::V6}) {
    auto first = first_of_family(targets, f);
    if (!first) continue;
    Route route = dry_run ? dry_run_route(*first, opt_.interface)
                  : opt_.macs != nullptr
                      // With discovery's MACs, an on-link first target (the network address,
                      // silent) is not resolved: its MAC comes from the table like any other's.
                      ? lookup_path(*first, opt_.interface)
                      : lookup_route(*first, opt_.interface);
    if (!route.next_hop_mac && !route.gateway && !route.loopback && route.arp_type == ARPHRD_ETHER)
      route.next_hop_mac = MacAddress{};  // on-link: each frame gets its target's MAC
    if (!route.next_hop_mac)
      throw RuntimeError(fmt::format(
          "-sS sends Ethernet frames, and interface {} has no Ethernet framing: use -sT",
          route.ifname));
    bool on_link = !route.gateway && !route.loopback;
    // On-link targets each have their own MAC: from the discovery stage's table, or else the
    // kernel's neighbour table for all of them.
    std::optional<NeighborMap> per_host;
    if (!dry_run && on_link && opt_.macs == nullptr) {
      auto addrs = addresses_of_family(targets, f, kMaxNeighbors);
      if (!addrs)
        throw RuntimeError(fmt::format(
            "-sS of more than {} on-link hosts ({} is directly on {}) without the MACs of "
            "host discovery is not supported: scan the network in parts or use -sT",
            kMaxNeighbors, first->to_string(), route.ifname));
      if (addrs->size() > 1)
        per_host = resolve_neighbors(route.ifindex, *addrs,
                                     std::max(opt_.resolve_timeout, milliseconds(1000)));
    }
    bool raw_ip = f == Family::V4 && route.loopback && !dry_run;
    PathInfo info;
    info.family = f;
    info.source = route.source;
    info.framing = raw_ip ? LinkFraming::RawIp : LinkFraming::Ethernet;
    info.src_mac = route.src_mac;
    info.dst_mac = *route.next_hop_mac;
    info.on_link = on_link;
    info.loopback = route.loopback;
    info.ifindex = route.ifindex;
    info.mtu = route.mtu;
    // -S: this family's addresses, each one ours on this interface (a dry run without a route
    // has no interface to check against).
    if (!(dry_run && route.ifindex == 0))
      info.sources = pool_for_path(opt_.sources, f, route.ifindex, route.ifname);
    else
      info.sources = sources_of_family(opt_.sources, f);
    for (ProbeModule* m : modules)
      if (!m->prepare(info))
        throw RuntimeError(
            fmt::format("probe module {} cannot send through {}", m->name(), route.ifname));
    Path p{route,
           info,
           nullptr,
           nullptr,
           std::move(per_host),
           on_link && !dry_run ? opt_.macs : nullptr};
    paths_[f == Family::V4 ? 0 : 1] = std::move(p);
    if (raw_ip) {
      raw_v4_.emplace(RawIpv4Socket::open());
      paths_[0]->raw = &*raw_v4_;
    }
  }
  if (dry_run) return;
  // Per interface, shared by the families that leave through it: a send-only socket, and a
  // TPACKET_V3 receive ring whose BPF filter passes only packets to our own addresses before
  // the kernel queues them (io/rx_ring.h: replies are read in place, a block at a time).
  for (auto& p : paths_) {
    if (!p) continue;
    for (auto& s : sockets_)
      if (s->ifindex() == p->route.ifindex) p->socket = s.get();
    if (p->socket != nullptr) continue;
    std::vector<IpAddress> ours;
    for (auto& q : paths_)
      if (q && q->route.ifindex == p->route.ifindex) {
        ours.push_back(q->route.source);
        for (const IpAddress& a : q->info.sources)  // -S: replies to every pool address
          if (a != q->route.source) ours.push_back(a);
      }
    RxRingOptions ro;
    ro.ignore_outgoing = true;  // on loopback every packet is seen twice otherwise
    try {
      ro.filter = receive_filter(LinkFraming::Ethernet, ours, want);
    } catch (const std::invalid_argument&) {
      throw UsageError(fmt::format("-S: {} addresses on {} are too many for the receive filter",
                                   ours.size(), p->route.ifname));
    }
    // 4 MiB (~30,000 replies; the kernel's setup time grows with it) in 16 blocks, each handed
    // over after at most 1 ms (the kernel's least): replies clock slow start and end the scan,
    // and a one-host top-1000 scan lasts ~20 ms. With 4 blocks of 1 MiB, 1 ms left the receive
    // thread 4 ms before our own ring dropped replies (test_recall_loss measured loss 0.13-0.14
    // of its 0.07-0.13); 16 blocks leave it 16 ms.
    // A scan of at most 4,096 probes gets 64 KiB blocks (1 MiB, ~7,000 replies: more than it
    // can draw): the kernel's setup and our mapping of the ring cost ~0.5 ms less.
    ro.block_size = opt_.probes != 0 && opt_.probes <= 4096 ? 1u << 16 : 1u << 18;
    ro.block_count = 16;
    ro.block_timeout = milliseconds(1);
    rings_.push_back(RxRing::open(p->route.ifindex, ro));
    if (!wake_) {
      wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!wake_) throw system_error(errno, "eventfd");
    }
    rings_.back().set_wake_fd(wake_.get());
    sockets_.push_back(std::make_unique<PacketSocket>(
        PacketSocket::open(p->route.ifindex, PacketSocketOptions::send_only())));
    p->socket = sockets_.back().get();
  }
}

std::optional<LinkFraming> PacketTransport::framing(Family family) const {
  const Path* p = path(family);
  if (p == nullptr) return std::nullopt;
  return p->info.framing;
}

std::unique_ptr<TransportSender> PacketTransport::sender(size_t max_frame) {
  return std::make_unique<PacketSender>(*this, max_frame);
}

size_t PacketTransport::receive(std::chrono::milliseconds timeout, const FrameFn& fn) {
  if (rings_.empty()) {
    std::this_thread::sleep_for(timeout);
    return 0;
  }
  RxRing& ring = rings_[next_ring_++ % rings_.size()];
  auto t = rings_.size() > 1 ? std::min(timeout, milliseconds(2)) : timeout;
  return ring.poll(t, [&](std::span<const uint8_t> frame, uint8_t /*packet_type*/) {
    net::ParsedPacket parsed;
    bool ip = net::parse_packet(frame, net::LinkType::Ethernet, parsed);
    RxFrame rx{frame, LinkFraming::Ethernet, ip ? &parsed : nullptr,
               std::chrono::steady_clock::now()};
    // The kernel's receive time (CLOCK_REALTIME) moved to the steady clock; a clock step
    // (negative or above a second) leaves it unknown.
    auto waited = std::chrono::system_clock::now().time_since_epoch() - ring.frame_time();
    if (ring.frame_time().count() > 0 && waited >= std::chrono::nanoseconds(0) &&
        waited < std::chrono::seconds(1))
      rx.arrived = rx.at - std::chrono::duration_cast<std::chrono::steady_clock::duration>(waited);
    fn(rx);
  });
}

void PacketTransport::wake() {
  if (!wake_) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wake_.get(), &one, sizeof one);
}

uint64_t PacketTransport::drops() {
  uint64_t d = 0;
  for (auto& r : rings_) d += r.stats().drops;
  return d;
}

}  // namespace gh
