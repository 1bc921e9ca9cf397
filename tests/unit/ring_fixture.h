// Helpers shared by the RxRing and TxRing tests: frames with an invalid IPv4 header checksum (so
// the private namespace's IP stack drops them silently), and collecting what an RxRing delivers.
#pragma once

#include <linux/capability.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/address.h"
#include "core/error.h"
#include "io/bpf.h"
#include "io/fd.h"
#include "io/rx_ring.h"
#include "netns_fixture.h"

namespace gh::ring_test {

using namespace gh::test_netns;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline uint16_t tag_of(std::span<const uint8_t> frame) {
  return frame.size() >= 20 ? static_cast<uint16_t>(frame[18] << 8 | frame[19]) : 0xffff;
}

// Ethernet (zero MACs, loopback framing) + IPv4 (checksum left at zero: invalid) + 20 bytes of
// TCP. `tag` goes into the IP id and the TCP sequence number to tell frames apart.
inline std::vector<uint8_t> v4_frame(const char* dst, uint16_t tag, uint8_t proto = 6) {
  std::vector<uint8_t> f(14 + 20 + 20, 0);
  f[12] = 0x08;
  uint8_t* p = f.data() + 14;
  p[0] = 0x45;
  p[3] = 40;
  p[4] = static_cast<uint8_t>(tag >> 8);
  p[5] = static_cast<uint8_t>(tag);
  p[8] = 64;
  p[9] = proto;
  auto s = ip("127.0.0.1").bytes(), d = ip(dst).bytes();
  std::memcpy(p + 12, s.data(), 4);
  std::memcpy(p + 16, d.data(), 4);
  p[20 + 4] = static_cast<uint8_t>(tag >> 8);
  p[20 + 5] = static_cast<uint8_t>(tag);
  p[20 + 12] = 0x50;
  p[20 + 13] = 0x02;  // SYN
  return f;
}

struct Seen {
  std::vector<uint8_t> bytes;
  uint8_t type;
};

// Polls until `want` frames arrived or `limit` passed; returns what arrived.
inline std::vector<Seen> collect(RxRing& rx, size_t want,
                                 std::chrono::milliseconds limit = 2000ms) {
  std::vector<Seen> seen;
  auto deadline = Clock::now() + limit;
  while (seen.size() < want && Clock::now() < deadline) {
    rx.poll(20ms, [&](std::span<const uint8_t> f, uint8_t type) {
      seen.push_back({{f.begin(), f.end()}, type});
    });
  }
  return seen;
}

inline RxRingOptions filtered(const char* address) {
  RxRingOptions o;
  o.filter = destination_filter(LinkFraming::Ethernet, ip(address));
  return o;
}

}  // namespace gh::ring_test
