// An AF_PACKET / SOCK_RAW socket bound to one interface: whole link-layer frames out and in.
//
// Ownership:
//  - A PacketSocket owns its descriptor (move-only; closed by the destructor).
//  - Frames to send belong to the caller; send() and send_batch() copy them into the kernel
//    before returning, so the caller may reuse its buffers at once. The caller writes every byte
//    of the frame, link-layer header included (Route says which header: see io/route.h).
//  - receive() writes into the caller's buffer and nothing else; the socket keeps no frame.
//  - attach_filter() and the options' filter are copied by the kernel; the program may be freed.
// Threads: one thread may send while another receives on the same socket; two concurrent senders
// (or two receivers) need their own synchronisation. Per-packet calls never throw: send returns
// an errno value for the caller to count; receive throws only when the socket itself breaks.
//
// Frames we send are looped back to packet sockets on the same interface as PACKET_OUTGOING (and
// on loopback the same frame then arrives again as PACKET_HOST). With ignore_outgoing (the
// default) the kernel drops the PACKET_OUTGOING copy for this socket, on kernels >= 4.20;
// ignores_outgoing() says whether that worked, and receive() reports the packet type either way.
#pragma once

#include <linux/filter.h>
#include <linux/if_ether.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "io/fd.h"

namespace gh {

struct PacketSocketOptions {
  // EtherType to receive (host order). ETH_P_ALL receives every frame; 0 makes a send-only socket
  // that never queues a received frame.
  uint16_t protocol = ETH_P_ALL;
  bool ignore_outgoing = true;      // PACKET_IGNORE_OUTGOING where supported
  int receive_buffer = 0;           // bytes; 0 keeps the kernel default
  std::vector<sock_filter> filter;  // attached before binding, so no frame escapes it; may be empty

  // For a transmitter: receives nothing, so nothing piles up in its receive queue.
  static PacketSocketOptions send_only() {
    PacketSocketOptions o;
    o.protocol = 0;
    return o;
  }
};

struct ReceivedFrame {
  size_t length = 0;        // bytes written to the caller's buffer
  size_t wire_length = 0;   // the frame's full length; larger than `length` when cut short
  uint8_t packet_type = 0;  // PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST,
                            // PACKET_OTHERHOST, PACKET_OUTGOING (linux/if_packet.h)
  uint16_t protocol = 0;    // EtherType, host order
  bool truncated() const { return wire_length > length; }
};

class PacketSocket {
 public:
  // Opens and binds to `ifindex`. Without CAP_NET_RAW: RuntimeError saying so. Other failures
  // (no such interface, ...) raise RuntimeError with errno text.
  static PacketSocket open(int ifindex, const PacketSocketOptions& options = {});

  int ifindex() const { return ifindex_; }
  int fd() const { return fd_.get(); }  // for the caller's own poll/epoll; still owned here
  bool ignores_outgoing() const { return ignores_outgoing_; }

  // Sends one whole frame. Returns 0, or the errno value (ENOBUFS, EMSGSIZE, ENETDOWN, ...).
  // Blocks while the socket's send buffer is full.
  [[nodiscard]] int send(std::span<const uint8_t> frame) noexcept;

  struct BatchResult {
    size_t sent = 0;  // frames handed to the kernel, always a prefix of the batch
    int error = 0;    // why frames[sent] was not sent; 0 when all were
  };
  // Sends the frames in order with sendmmsg(), as few system calls as possible.
  BatchResult send_batch(std::span<const std::span<const uint8_t>> frames) noexcept;

  // Waits up to `timeout` (0: just look) for one frame and copies it into `buffer`, cutting it to
  // the buffer's size (see ReceivedFrame::truncated). nullopt on timeout or when a signal
  // interrupted the wait, so that a caller can check its stop flag. RuntimeError if the socket
  // fails (e.g. ENETDOWN after the interface went away).
  std::optional<ReceivedFrame> receive(std::span<uint8_t> buffer,
                                       std::chrono::milliseconds timeout);

  // Replaces the socket's filter, then drops frames that were queued before it applied.
  void attach_filter(std::span<const sock_filter> program);

  // Asks for a receive buffer of `bytes` (SO_RCVBUFFORCE when privileged, beyond rmem_max; else
  // SO_RCVBUF, capped by rmem_max). Returns the size in force (the kernel doubles the request
  // for its bookkeeping).
  int set_receive_buffer(int bytes);

 private:
  PacketSocket(FileDescriptor fd, int ifindex) : fd_(std::move(fd)), ifindex_(ifindex) {}
  void drain() noexcept;

  FileDescriptor fd_;
  int ifindex_ = 0;
  bool ignores_outgoing_ = false;
};

}  // namespace gh
