// An AF_PACKET receive ring (TPACKET_V3): the kernel writes frames straight into memory shared
// with us, so receiving costs no system call and no copy per frame, only a poll() when nothing is
// ready.
//
// How the ring works: the mapping is `block_count` blocks of `block_size` bytes. The kernel fills
// one block at a time with as many frames as fit, and hands it to user space ("retires" it) when
// it is full or when `block_timeout` has passed since it took its first frame, so a reply waits at
// most that long. poll() walks every frame of every block that is ours, then gives the block back.
// While every block is ours (nobody polls), the kernel drops what arrives and counts it (stats()).
//
// Ownership:
//  - An RxRing owns its descriptor and its mapping (move-only; the destructor unmaps and closes).
//  - The frames handed to poll()'s callback live in the ring: the span is valid only during that
//    call (the block is given back to the kernel afterwards). Copy what must outlive it.
//  - The options' filter is copied by the kernel; the vector may be freed after open().
// Threads: poll() from one thread at a time. stats() may run on another thread than poll(), but
// not on two threads at once. poll() throws only when the socket itself breaks (e.g. ENETDOWN
// after the interface went away); a signal interrupting the wait is a timeout.
//
// As with PacketSocket, frames this host sends on the interface are also seen as PACKET_OUTGOING
// unless ignore_outgoing (the default) works (kernels >= 4.20; ignores_outgoing() says).
#pragma once

#include <linux/filter.h>
#include <linux/if_ether.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "io/fd.h"

namespace gh {

struct RxRingOptions {
  uint16_t protocol = ETH_P_ALL;    // EtherType to receive (host order)
  bool ignore_outgoing = true;      // PACKET_IGNORE_OUTGOING where supported
  std::vector<sock_filter> filter;  // attached before binding, so no frame escapes it; may be empty
  // Ring geometry. block_size: a multiple of the page size; it also bounds the longest frame
  // kept whole (longer frames are cut to fit). All of the ring is mapped and counts in the
  // process's resident memory: block_size x block_count bytes (16 MiB by default).
  uint32_t block_size = 1u << 20;
  uint32_t block_count = 16;
  // The longest a block with frames in it stays with the kernel before poll() sees it (1 ms or
  // more; the kernel's unit is the millisecond).
  std::chrono::milliseconds block_timeout{2};
};

class RxRing {
 public:
  // Cumulative since open(). The kernel resets its counters on every read; RxRing adds them up.
  struct Stats {
    uint64_t packets = 0;  // frames the filter accepted, delivered or dropped (kernel's count)
    uint64_t drops = 0;    // of those, dropped because no block was free
    uint64_t freezes = 0;  // times every block was ours and the kernel had to stop filling
  };

  // Opens an AF_PACKET socket with the ring and binds it to `ifindex`. Without CAP_NET_RAW:
  // RuntimeError saying so. Bad geometry or other failures (no such interface, ...):
  // RuntimeError with errno text.
  static RxRing open(int ifindex, const RxRingOptions& options = {});

  RxRing(RxRing&& other) noexcept;
  RxRing& operator=(RxRing&& other) noexcept;
  RxRing(const RxRing&) = delete;
  RxRing& operator=(const RxRing&) = delete;
  ~RxRing();

  int ifindex() const { return ifindex_; }
  int fd() const { return fd_.get(); }  // for the caller's own epoll (POLLIN: a block is ready)
  // A descriptor (an eventfd) that also ends poll()'s wait when readable: another thread's way
  // to make the receiving thread look at its stop flag now. poll() reads it (resetting an
  // eventfd) and returns 0. -1: none. The caller owns it.
  void set_wake_fd(int fd) { wake_fd_ = fd; }
  bool ignores_outgoing() const { return ignores_outgoing_; }
  size_t block_count() const { return block_count_; }
  size_t block_size() const { return block_size_; }

  // Waits up to `timeout` (0: just look) for a block that is ours, then calls
  //   fn(std::span<const uint8_t> frame, uint8_t packet_type)
  // for each frame of every block that is ready, in arrival order, at most one lap of the ring,
  // and gives each block back to the kernel after its last frame. `frame` is the captured part,
  // starting at the link-layer header: shorter than the frame on the wire when the filter or the
  // block size cut it. `packet_type` is PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST,
  // PACKET_OTHERHOST or PACKET_OUTGOING (linux/if_packet.h).
  // Returns the number of frames delivered; 0 on timeout or when a signal interrupted the wait,
  // so the caller can check its stop flag. Returns within about `timeout` when nothing arrives.
  // If fn throws, the rest of that block is dropped (the block goes back to the kernel) and the
  // exception propagates.
  template <class Fn>
  size_t poll(std::chrono::milliseconds timeout, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    return poll_impl(
        timeout,
        [](void* ctx, std::span<const uint8_t> frame, uint8_t type) {
          (*static_cast<F*>(ctx))(frame, type);
        },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Inside poll()'s callback: when the kernel received the frame being delivered (its
  // CLOCK_REALTIME timestamp, tpacket3_hdr), before it waited in its block for the block timeout
  // and for the caller's thread. Zero outside a callback.
  std::chrono::nanoseconds frame_time() const { return frame_time_; }

  // Reads the kernel's counters (PACKET_STATISTICS) and returns the totals since open().
  Stats stats();

 private:
  using FrameFn = void (*)(void* ctx, std::span<const uint8_t> frame, uint8_t packet_type);

  RxRing(FileDescriptor fd, int ifindex) : fd_(std::move(fd)), ifindex_(ifindex) {}
  size_t poll_impl(std::chrono::milliseconds timeout, FrameFn fn, void* ctx);
  bool wait(std::chrono::milliseconds timeout);
  void unmap() noexcept;

  FileDescriptor fd_;
  int ifindex_ = 0;
  bool ignores_outgoing_ = false;
  uint8_t* map_ = nullptr;
  size_t block_size_ = 0;
  size_t block_count_ = 0;
  size_t current_ = 0;  // the next block to read
  int wake_fd_ = -1;
  std::chrono::nanoseconds frame_time_{0};
  Stats totals_;
};

}  // namespace gh
