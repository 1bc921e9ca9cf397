#include "io/packet_socket.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "core/error.h"
#include "io/packet_fd.h"

namespace gh {

PacketSocket PacketSocket::open(int ifindex, const PacketSocketOptions& options) {
  if (ifindex <= 0)
    throw RuntimeError("packet socket: bad interface index " + std::to_string(ifindex));
  PacketSocket s(open_packet_fd(), ifindex);
  if (options.ignore_outgoing) s.ignores_outgoing_ = set_ignore_outgoing(s.fd());
  if (options.receive_buffer > 0) s.set_receive_buffer(options.receive_buffer);
  if (!options.filter.empty()) attach_bpf(s.fd(), options.filter);
  bind_packet(s.fd(), ifindex, options.protocol, "packet socket");
  return s;
}

int PacketSocket::send(std::span<const uint8_t> frame) noexcept {
  for (;;) {
    if (::send(fd_.get(), frame.data(), frame.size(), 0) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

PacketSocket::BatchResult PacketSocket::send_batch(
    std::span<const std::span<const uint8_t>> frames) noexcept {
  constexpr size_t kChunk = 64;  // per sendmmsg call; keeps the scratch arrays on the stack
  BatchResult result;
  mmsghdr msgs[kChunk];
  iovec iovs[kChunk];
  while (result.sent < frames.size()) {
    size_t n = std::min(kChunk, frames.size() - result.sent);
    for (size_t i = 0; i < n; ++i) {
      auto f = frames[result.sent + i];
      iovs[i] = {const_cast<uint8_t*>(f.data()), f.size()};  // sendmmsg only reads
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = ::sendmmsg(fd_.get(), msgs, static_cast<unsigned>(n), 0);
    if (sent < 0) {
      if (errno == EINTR) continue;
      result.error = errno;
      return result;
    }
    // A short count means the next frame failed; the next call reports why.
    result.sent += static_cast<size_t>(sent);
  }
  return result;
}

std::optional<ReceivedFrame> PacketSocket::receive(std::span<uint8_t> buffer,
                                                   std::chrono::milliseconds timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  int ms = static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, 1 << 30));
  int ready = ::poll(&p, 1, ms);
  if (ready < 0) {
    if (errno == EINTR) return std::nullopt;
    throw system_error(errno, "poll on packet socket");
  }
  if (ready == 0) return std::nullopt;

  sockaddr_ll from{};
  socklen_t from_len = sizeof from;
  ssize_t n = ::recvfrom(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC,
                         reinterpret_cast<sockaddr*>(&from), &from_len);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
    throw system_error(errno, "receiving from packet socket");
  }
  ReceivedFrame f;
  f.wire_length = static_cast<size_t>(n);
  f.length = std::min(f.wire_length, buffer.size());
  f.packet_type = from.sll_pkttype;
  f.protocol = ntohs(from.sll_protocol);
  return f;
}

void PacketSocket::attach_filter(std::span<const sock_filter> program) {
  // As libpcap does: a drop-everything filter first, so that draining what was queued under the
  // old filter ends, then the real one. No frame that the new filter rejects is ever returned.
  static const sock_filter kDropAll[] = {{BPF_RET | BPF_K, 0, 0, 0}};
  attach_bpf(fd_.get(), kDropAll);
  drain();
  attach_bpf(fd_.get(), program);
}

void PacketSocket::drain() noexcept {
  uint8_t scratch[1];
  while (::recv(fd_.get(), scratch, sizeof scratch, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
  }
}

int PacketSocket::set_receive_buffer(int bytes) {
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0 &&
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0)
    throw system_error(errno, "setting the packet socket's receive buffer");
  int actual = 0;
  socklen_t len = sizeof actual;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &actual, &len) != 0)
    throw system_error(errno, "reading the packet socket's receive buffer size");
  return actual;
}

}  // namespace gh
