// Helpers shared by the RxRing and TxRing tests: collecting what an RxRing delivers. Test frames
// come from netns_fixture.h.
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
