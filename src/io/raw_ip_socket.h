// A raw IPv4 socket (IPPROTO_RAW, header included) for the one path AF_PACKET cannot serve:
// IPv4 loopback. A frame injected on `lo` through AF_PACKET reaches IP input without a route
// attached, and the kernel drops 127.0.0.0/8 traffic that arrives that way as martian (unless
// route_localnet is set, which is not ours to change). Through a raw IP socket the kernel routes
// the packet itself, as it does for nmap's loopback probes. Send-only: replies are still read from
// the AF_PACKET socket on `lo`.
#pragma once

#include <span>

#include "core/address.h"
#include "io/fd.h"

namespace gh {

class RawIpv4Socket {
 public:
  // Without CAP_NET_RAW: RuntimeError saying so.
  static RawIpv4Socket open();
  // Sends IPv4 packets (starting at the IP header) to their destinations. Returns how many were
  // handed to the kernel (a prefix) and sets *error to the errno that stopped the rest, 0 if none.
  size_t send_batch(std::span<const std::span<const uint8_t>> packets,
                    std::span<const IpAddress> destinations, int* error) noexcept;

 private:
  explicit RawIpv4Socket(FileDescriptor fd) : fd_(std::move(fd)) {}
  FileDescriptor fd_;
};

}  // namespace gh
