#include "io/raw_ip_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "core/error.h"

namespace gh {

RawIpv4Socket RawIpv4Socket::open() {
  int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);  // implies IP_HDRINCL
  if (fd < 0) {
    int err = errno;
    if (err == EPERM || err == EACCES)
      throw RuntimeError("opening a raw IPv4 socket needs CAP_NET_RAW (run as root, or setcap)");
    throw system_error(err, "socket(AF_INET, SOCK_RAW)");
  }
  return RawIpv4Socket(FileDescriptor(fd));
}

size_t RawIpv4Socket::send_batch(std::span<const std::span<const uint8_t>> packets,
                                 std::span<const IpAddress> destinations, int* error) noexcept {
  constexpr size_t kMax = 64;
  size_t sent = 0;
  *error = 0;
  while (sent < packets.size()) {
    size_t n = std::min(kMax, packets.size() - sent);
    std::array<mmsghdr, kMax> msgs{};
    std::array<iovec, kMax> iov{};
    std::array<sockaddr_in, kMax> addrs{};
    for (size_t i = 0; i < n; ++i) {
      const auto& p = packets[sent + i];
      iov[i] = {const_cast<uint8_t*>(p.data()), p.size()};
      addrs[i].sin_family = AF_INET;
      addrs[i].sin_addr.s_addr = htonl(destinations[sent + i].v4_value());
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    int r = ::sendmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(n), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      *error = errno;
      return sent;
    }
    sent += static_cast<size_t>(r);
    if (static_cast<size_t>(r) < n) {
      *error = EAGAIN;
      return sent;
    }
  }
  return sent;
}

}  // namespace gh
