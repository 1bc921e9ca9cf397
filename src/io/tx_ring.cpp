#include "io/tx_ring.h"

#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>

#include "core/error.h"
#include "io/packet_fd.h"

namespace gh {

namespace {

// Where the frame starts in a slot: the kernel reads it there unless PACKET_TX_HAS_OFF is set.
constexpr size_t kDataOffset = TPACKET_ALIGN(sizeof(tpacket2_hdr));

// The slot's status word is shared with the kernel: acquire on reading (the kernel is done with
// the slot), release on requesting (the frame's bytes are written before the kernel sees them).
uint32_t load_status(tpacket2_hdr* h) {
  return std::atomic_ref<uint32_t>(h->tp_status).load(std::memory_order_acquire);
}

// struct virtio_net_hdr of linux/virtio_net.h, which C++ cannot include (a field is named
// `class`).
struct VirtioNetHeader {
  uint8_t flags = 0;     // no checksum to fill in
  uint8_t gso_type = 0;  // VIRTIO_NET_HDR_GSO_NONE
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};
static_assert(sizeof(VirtioNetHeader) == 10);

// Transmit rings read virtio-net headers since Linux 4.11 (commit 1d036d25e560); earlier ones
// would send the header as the first bytes of the frame.
bool ring_reads_vnet_headers() {
  utsname u{};
  int major = 0, minor = 0;
  if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 4 || (major == 4 && minor >= 11);
}

void set_option(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) throw system_error(errno, what);
}

}  // namespace

TxRing TxRing::open(int ifindex, const TxRingOptions& options) {
  if (ifindex <= 0)
    throw RuntimeError("packet ring: bad interface index " + std::to_string(ifindex));
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t frame_size = options.frame_size;
  if (frame_size < 128 || frame_size % TPACKET_ALIGNMENT != 0 || options.frame_count == 0 ||
      uint64_t{frame_size} * options.frame_count > (uint64_t{1} << 32))
    throw RuntimeError("packet ring: " + std::to_string(options.frame_count) + " slots of " +
                       std::to_string(frame_size) +
                       " bytes (need at least 128 bytes, a multiple of 16, at most 4 GiB in all)");
  // A block is the smallest run of whole slots that fills whole pages, so slot i starts at
  // i x frame_size; the slot count is rounded up to whole blocks.
  const size_t per_block = page / std::gcd(page, frame_size);
  const size_t block_size = per_block * frame_size;
  const size_t blocks = (options.frame_count + per_block - 1) / per_block;

  TxRing t(open_packet_fd(), ifindex);

  set_option(t.fd(), SOL_PACKET, PACKET_VERSION, TPACKET_V2,
             "setting PACKET_VERSION to TPACKET_V2");
  set_option(t.fd(), SOL_PACKET, PACKET_LOSS, 1, "setting PACKET_LOSS");
  if (options.copy_frames && ring_reads_vnet_headers()) {
    set_option(t.fd(), SOL_PACKET, PACKET_VNET_HDR, 1, "setting PACKET_VNET_HDR");
    t.vnet_size_ = sizeof(VirtioNetHeader);
  }
  if (options.qdisc_bypass)
    set_option(t.fd(), SOL_PACKET, PACKET_QDISC_BYPASS, 1, "setting PACKET_QDISC_BYPASS");
  // Room in the send buffer for every slot at once, so that a flush is never cut short by it
  // (beyond wmem_max needs CAP_NET_ADMIN; without it the kernel's cap applies).
  int sndbuf =
      static_cast<int>(std::min<uint64_t>(uint64_t{frame_size} * blocks * per_block, 1u << 30));
  if (::setsockopt(t.fd(), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0 &&
      ::setsockopt(t.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0)
    throw system_error(errno, "setting the packet ring's send buffer");
  timeval tv{};
  tv.tv_sec = options.wait_timeout.count() / 1000;
  tv.tv_usec = (options.wait_timeout.count() % 1000) * 1000;
  if (::setsockopt(t.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
    throw system_error(errno, "setting the packet ring's send timeout");

  tpacket_req req{};
  req.tp_block_size = static_cast<unsigned>(block_size);
  req.tp_block_nr = static_cast<unsigned>(blocks);
  req.tp_frame_size = static_cast<unsigned>(frame_size);
  req.tp_frame_nr = static_cast<unsigned>(blocks * per_block);
  if (::setsockopt(t.fd(), SOL_PACKET, PACKET_TX_RING, &req, sizeof req) != 0)
    throw system_error(errno, "setting up a packet transmit ring of " +
                                  std::to_string(req.tp_frame_nr) + " x " +
                                  std::to_string(frame_size) + " bytes");
  size_t bytes = block_size * blocks;
  void* map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, t.fd(), 0);
  if (map == MAP_FAILED) throw system_error(errno, "mapping the packet transmit ring");
  t.map_ = static_cast<uint8_t*>(map);
  t.frame_size_ = frame_size;
  t.frame_count_ = blocks * per_block;

  bind_packet(t.fd(), ifindex, 0, "packet ring");  // protocol 0: send only
  return t;
}

TxRing::TxRing(TxRing&& other) noexcept
    : fd_(std::move(other.fd_)),
      ifindex_(other.ifindex_),
      map_(std::exchange(other.map_, nullptr)),
      frame_size_(std::exchange(other.frame_size_, 0)),
      frame_count_(std::exchange(other.frame_count_, 0)),
      next_(std::exchange(other.next_, 0)),
      unflushed_(std::exchange(other.unflushed_, 0)),
      rejected_(other.rejected_),
      vnet_size_(other.vnet_size_) {}

TxRing& TxRing::operator=(TxRing&& other) noexcept {
  if (this != &other) {
    unmap();
    fd_ = std::move(other.fd_);
    ifindex_ = other.ifindex_;
    map_ = std::exchange(other.map_, nullptr);
    frame_size_ = std::exchange(other.frame_size_, 0);
    frame_count_ = std::exchange(other.frame_count_, 0);
    next_ = std::exchange(other.next_, 0);
    unflushed_ = std::exchange(other.unflushed_, 0);
    rejected_ = other.rejected_;
    vnet_size_ = other.vnet_size_;
  }
  return *this;
}

TxRing::~TxRing() {
  unmap();
}

void TxRing::unmap() noexcept {
  if (map_ != nullptr) ::munmap(map_, frame_size_ * frame_count_);
  map_ = nullptr;
}

size_t TxRing::frame_capacity() const {
  size_t room = frame_size_ > kDataOffset + vnet_size_ ? frame_size_ - kDataOffset - vnet_size_ : 0;
  return vnet_size_ != 0 ? std::min<size_t>(room, 0xffff) : room;  // hdr_len has 16 bits
}

bool TxRing::try_push(std::span<const uint8_t> frame) noexcept {
  if (map_ == nullptr) return false;
  if (frame.empty() || frame.size() > frame_capacity()) {
    ++rejected_;
    return true;
  }
  auto* h = reinterpret_cast<tpacket2_hdr*>(map_ + next_ * frame_size_);
  if (load_status(h) != TP_STATUS_AVAILABLE) return false;
  uint8_t* data = reinterpret_cast<uint8_t*>(h) + kDataOffset;
  if (vnet_size_ != 0) {
    // No offloads; all of the frame is "header", which the kernel copies into the packet buffer.
    // Native byte order: the kernel reads these fields as legacy virtio, the host's order.
    VirtioNetHeader v;
    v.hdr_len = static_cast<uint16_t>(frame.size());
    std::memcpy(data, &v, sizeof v);
  }
  std::memcpy(data + vnet_size_, frame.data(), frame.size());
  h->tp_len = static_cast<uint32_t>(vnet_size_ + frame.size());
  std::atomic_ref<uint32_t>(h->tp_status).store(TP_STATUS_SEND_REQUEST, std::memory_order_release);
  next_ = next_ + 1 == frame_count_ ? 0 : next_ + 1;
  ++unflushed_;
  return true;
}

int TxRing::kick(int flags) noexcept {
  if (map_ == nullptr) return EBADF;
  for (;;) {
    if (::send(fd_.get(), nullptr, 0, flags) >= 0) break;
    if (errno == EINTR && (flags & MSG_DONTWAIT)) continue;
    return errno;
  }
  // The kernel marks a slot "sending" before it returns from send(); the last slot we requested
  // still waiting means the send buffer filled part way (send() then reports success for what it
  // took).
  if (unflushed_ > 0) {
    size_t last = next_ == 0 ? frame_count_ - 1 : next_ - 1;
    if (load_status(reinterpret_cast<tpacket2_hdr*>(map_ + last * frame_size_)) ==
        TP_STATUS_SEND_REQUEST)
      return EAGAIN;
  }
  unflushed_ = 0;
  return 0;
}

int TxRing::flush() noexcept {
  return kick(MSG_DONTWAIT);
}

int TxRing::flush_and_wait() noexcept {
  return kick(0);
}

}  // namespace gh
