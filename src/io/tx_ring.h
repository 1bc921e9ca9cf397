// An AF_PACKET transmit ring (PACKET_TX_RING, TPACKET_V2): frames are copied into slots of memory
// shared with the kernel, and one send() hands every filled slot to the interface, however many
// there are.
//
// How the ring works: `frame_count` slots of `frame_size` bytes, used in order. try_push() copies
// a frame into the next slot and marks it "send request"; flush() makes the kernel walk the ring
// from where it stopped and transmit every requested slot, in order. A slot becomes free again
// when the kernel is done with its frame (the device has taken or dropped it); until then the
// ring is full from that slot on.
//
// Copy or zero-copy (TxRingOptions::copy_frames). By default each slot starts with a virtio-net
// header (PACKET_VNET_HDR) saying "no offloads, the whole frame is header", so that the kernel
// copies the frame into the packet buffer it sends, as sendmmsg() does. Without it the kernel
// copies the link header only and hangs the ring's page under the packet buffer for the rest;
// for small frames such as SYNs that costs more than the copy it saves (a page reference per
// frame, a pull of the IP header by whoever parses it), and veth, the lab's link, copies such
// frames once more into a freshly allocated page (bench/io/README.md has the figures).
//
// Malformed frames (shorter than the link-layer header; longer than the MTU, a check the kernel
// makes only for zero-copy rings: with copy_frames an oversized frame goes to the driver, which
// usually drops it) are skipped by the kernel and their slot freed. PACKET_LOSS is set for that:
// without it, one bad frame would stop the ring at its slot for good (the kernel marks it
// TP_STATUS_WRONG_FORMAT and sends nothing after it). Nothing counts skipped frames; the caller
// builds frames that are right.
//
// Ownership: a TxRing owns its descriptor and its mapping (move-only; the destructor unmaps and
// closes; frames pushed but never flushed are not sent). try_push() copies the caller's bytes, so
// the caller may reuse its buffer at once. The caller writes every byte of the frame, link-layer
// header included (Route says which header: see io/route.h).
// Threads: one thread at a time. Per-frame calls never throw.
//
// The socket binds with protocol 0: it receives nothing, so nothing piles up behind it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "io/fd.h"

namespace gh {

struct TxRingOptions {
  uint32_t frame_size = 2048;   // bytes per slot, the kernel's 32-byte header included
  uint32_t frame_count = 4096;  // slots (mapped, so resident: frame_size x frame_count bytes)
  // PACKET_QDISC_BYPASS: hand frames to the driver directly, skipping the interface's queueing
  // discipline (tc, netfilter's egress hook on this host) and the packet taps: a capture on the
  // sending host (tcpdump) no longer sees what we send. Faster where a qdisc does work; veth has
  // none (bench/io/README.md).
  bool qdisc_bypass = false;
  // Have the kernel copy each frame into the packet buffer it sends (see above). Ignored on
  // kernels before 4.11, whose transmit rings do not read virtio-net headers.
  bool copy_frames = true;
  // How long flush_and_wait() waits at most for the kernel to finish with the ring.
  std::chrono::milliseconds wait_timeout{200};
};

class TxRing {
 public:
  // Opens an AF_PACKET socket with the ring and binds it to `ifindex`. Without CAP_NET_RAW:
  // RuntimeError saying so. Bad geometry or other failures: RuntimeError with errno text.
  static TxRing open(int ifindex, const TxRingOptions& options = {});

  TxRing(TxRing&& other) noexcept;
  TxRing& operator=(TxRing&& other) noexcept;
  TxRing(const TxRing&) = delete;
  TxRing& operator=(const TxRing&) = delete;
  ~TxRing();

  int ifindex() const { return ifindex_; }
  int fd() const { return fd_.get(); }
  size_t frame_count() const { return frame_count_; }
  // The longest frame a slot holds (frame_size minus the kernel's header and, when copying, the
  // virtio-net header).
  size_t frame_capacity() const;
  bool copies_frames() const { return vnet_size_ != 0; }

  // Copies `frame` into the next slot and requests its transmission at the next flush().
  // Returns false, copying nothing, when that slot is still in the kernel's hands (the ring is
  // full: flush(), then try again). A frame longer than frame_capacity() or empty is never
  // queued: it is counted in rejected() and true is returned (it is consumed, not retried).
  [[nodiscard]] bool try_push(std::span<const uint8_t> frame) noexcept;

  // Frames pushed since the last flush() or flush_and_wait() that returned 0.
  size_t unflushed() const { return unflushed_; }
  uint64_t rejected() const { return rejected_; }

  // Has the kernel transmit every requested slot, without waiting for slots to come free.
  // Returns 0, or the errno value: EAGAIN / ENOBUFS when the socket's send buffer is full (the
  // slots stay requested; flush again later), ENETDOWN, ENXIO, ...
  [[nodiscard]] int flush() noexcept;
  // The same, then waits (up to wait_timeout) until the kernel has finished with every slot, so
  // that the whole ring is free. Returns 0, ETIMEDOUT, EINTR, or another errno value as flush().
  [[nodiscard]] int flush_and_wait() noexcept;

 private:
  TxRing(FileDescriptor fd, int ifindex) : fd_(std::move(fd)), ifindex_(ifindex) {}
  int kick(int flags) noexcept;
  void unmap() noexcept;

  FileDescriptor fd_;
  int ifindex_ = 0;
  uint8_t* map_ = nullptr;
  size_t frame_size_ = 0;
  size_t frame_count_ = 0;
  size_t next_ = 0;  // the next slot to fill
  size_t unflushed_ = 0;
  uint64_t rejected_ = 0;
  size_t vnet_size_ = 0;  // bytes of virtio-net header before each frame: 0 or 10
};

}  // namespace gh
