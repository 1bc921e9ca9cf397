#include "io/rx_ring.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>

#include "core/error.h"
#include "io/packet_fd.h"

namespace gh {

namespace {

// The block's status word is shared with the kernel: read it with acquire (the frames it
// covers are then visible) and give the block back with release (we are done reading them).
uint32_t load_status(tpacket_block_desc* block) {
  return std::atomic_ref<uint32_t>(block->hdr.bh1.block_status).load(std::memory_order_acquire);
}

void give_back(tpacket_block_desc* block) {
  std::atomic_ref<uint32_t>(block->hdr.bh1.block_status)
      .store(TP_STATUS_KERNEL, std::memory_order_release);
}

// Where the kernel puts the frame's sockaddr_ll in a TPACKET_V3 ring.
constexpr size_t kSllOffset = TPACKET_ALIGN(sizeof(tpacket3_hdr));

}  // namespace

RxRing RxRing::open(int ifindex, const RxRingOptions& options) {
  if (ifindex <= 0)
    throw RuntimeError("packet ring: bad interface index " + std::to_string(ifindex));
  const long page = ::sysconf(_SC_PAGESIZE);
  if (options.block_size == 0 || options.block_size % static_cast<uint32_t>(page) != 0 ||
      options.block_count == 0 ||
      static_cast<uint64_t>(options.block_size) * options.block_count > (uint64_t{1} << 32))
    throw RuntimeError("packet ring: " + std::to_string(options.block_count) + " blocks of " +
                       std::to_string(options.block_size) +
                       " bytes (need a multiple of the page size, at most 4 GiB in all)");
  if (options.block_timeout.count() < 1 || options.block_timeout.count() > 60000)
    throw RuntimeError("packet ring: block timeout of " +
                       std::to_string(options.block_timeout.count()) + " ms (1 to 60000)");

  RxRing r(open_packet_fd(), ifindex);
  if (options.ignore_outgoing) r.ignores_outgoing_ = set_ignore_outgoing(r.fd());

  int version = TPACKET_V3;
  if (::setsockopt(r.fd(), SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0)
    throw system_error(errno, "setting PACKET_VERSION to TPACKET_V3");

  // In a V3 ring frames have variable sizes; tp_frame_size only has to divide the block and
  // hold a frame header (the longest frame kept is bounded by the block, not by it).
  tpacket_req3 req{};
  req.tp_block_size = options.block_size;
  req.tp_block_nr = options.block_count;
  req.tp_frame_size = std::min<uint32_t>(2048, options.block_size);
  req.tp_frame_nr = (req.tp_block_size / req.tp_frame_size) * req.tp_block_nr;
  req.tp_retire_blk_tov = static_cast<unsigned>(options.block_timeout.count());
  if (::setsockopt(r.fd(), SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
    throw system_error(errno, "setting up a packet receive ring of " +
                                  std::to_string(options.block_count) + " x " +
                                  std::to_string(options.block_size) + " bytes");
  size_t bytes = size_t{options.block_size} * options.block_count;
  void* map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd(), 0);
  if (map == MAP_FAILED) throw system_error(errno, "mapping the packet receive ring");
  r.map_ = static_cast<uint8_t*>(map);
  r.block_size_ = options.block_size;
  r.block_count_ = options.block_count;

  if (!options.filter.empty()) attach_bpf(r.fd(), options.filter);
  bind_packet(r.fd(), ifindex, options.protocol, "packet ring");
  return r;
}

RxRing::RxRing(RxRing&& other) noexcept
    : fd_(std::move(other.fd_)),
      ifindex_(other.ifindex_),
      ignores_outgoing_(other.ignores_outgoing_),
      map_(std::exchange(other.map_, nullptr)),
      block_size_(std::exchange(other.block_size_, 0)),
      block_count_(std::exchange(other.block_count_, 0)),
      current_(std::exchange(other.current_, 0)),
      wake_fd_(std::exchange(other.wake_fd_, -1)),
      totals_(other.totals_) {}

RxRing& RxRing::operator=(RxRing&& other) noexcept {
  if (this != &other) {
    unmap();
    fd_ = std::move(other.fd_);
    ifindex_ = other.ifindex_;
    ignores_outgoing_ = other.ignores_outgoing_;
    map_ = std::exchange(other.map_, nullptr);
    block_size_ = std::exchange(other.block_size_, 0);
    block_count_ = std::exchange(other.block_count_, 0);
    current_ = std::exchange(other.current_, 0);
    wake_fd_ = std::exchange(other.wake_fd_, -1);
    totals_ = other.totals_;
  }
  return *this;
}

RxRing::~RxRing() {
  unmap();
}

void RxRing::unmap() noexcept {
  if (map_ != nullptr) ::munmap(map_, block_size_ * block_count_);
  map_ = nullptr;
}

bool RxRing::wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  pollfd& p = fds[0];
  int ms = static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, 1 << 30));
  int ready = ::poll(fds, wake_fd_ >= 0 ? 2 : 1, ms);
  if (ready < 0) {
    if (errno == EINTR) return false;
    throw system_error(errno, "poll on packet ring");
  }
  if (ready == 0) return false;
  if (wake_fd_ >= 0 && (fds[1].revents & POLLIN)) {
    uint64_t n = 0;
    [[maybe_unused]] ssize_t r = ::read(wake_fd_, &n, sizeof n);  // resets the eventfd
    if (!(p.revents & POLLIN)) return false;
  }
  if (p.revents & POLLERR) {
    // The socket's pending error (ENETDOWN when the interface goes down), cleared by reading it.
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) throw system_error(err, "packet ring");
  }
  if (p.revents & POLLNVAL) throw RuntimeError("packet ring: poll on a closed descriptor");
  return (p.revents & POLLIN) != 0;
}

size_t RxRing::poll_impl(std::chrono::milliseconds timeout, FrameFn fn, void* ctx) {
  if (map_ == nullptr) throw RuntimeError("packet ring: poll on a moved-from ring");
  auto block_at = [&](size_t i) {
    return reinterpret_cast<tpacket_block_desc*>(map_ + i * block_size_);
  };
  if (!(load_status(block_at(current_)) & TP_STATUS_USER) && !wait(timeout)) return 0;

  size_t delivered = 0;
  // One lap at most, so that a steady flood cannot keep us here forever.
  for (size_t lap = 0; lap < block_count_; ++lap) {
    tpacket_block_desc* block = block_at(current_);
    if (!(load_status(block) & TP_STATUS_USER)) break;
    current_ = (current_ + 1) % block_count_;
    struct GiveBack {  // also when fn throws: the block must not stay ours forever
      tpacket_block_desc* block;
      ~GiveBack() { give_back(block); }
    } guard{block};

    const uint8_t* base = reinterpret_cast<const uint8_t*>(block);
    const uint32_t count = block->hdr.bh1.num_pkts;
    size_t offset = block->hdr.bh1.offset_to_first_pkt;
    for (uint32_t i = 0; i < count; ++i) {
      // The kernel wrote these headers; check them anyway rather than read past the block.
      if (offset + kSllOffset + sizeof(sockaddr_ll) > block_size_) break;
      const auto* h = reinterpret_cast<const tpacket3_hdr*>(base + offset);
      const auto* sll = reinterpret_cast<const sockaddr_ll*>(base + offset + kSllOffset);
      size_t mac = offset + h->tp_mac;
      if (mac > block_size_) break;
      size_t len = std::min<size_t>(h->tp_snaplen, block_size_ - mac);
      frame_time_ = std::chrono::seconds(h->tp_sec) + std::chrono::nanoseconds(h->tp_nsec);
      fn(ctx, std::span<const uint8_t>(base + mac, len), sll->sll_pkttype);
      ++delivered;
      if (h->tp_next_offset == 0) break;
      offset += h->tp_next_offset;
    }
  }
  frame_time_ = std::chrono::nanoseconds(0);
  return delivered;
}

RxRing::Stats RxRing::stats() {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof st;
  if (::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0)
    throw system_error(errno, "reading packet ring statistics");
  totals_.packets += st.tp_packets;
  totals_.drops += st.tp_drops;
  totals_.freezes += st.tp_freeze_q_cnt;
  return totals_;
}

}  // namespace gh
