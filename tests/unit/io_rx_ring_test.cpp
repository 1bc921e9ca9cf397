// RxRing on the loopback device of a private network namespace (root only): frames sent there
// never leave the namespace. Each frame carries an invalid IPv4 header checksum, so that the
// namespace's IP stack drops it silently instead of answering.
#include "io/rx_ring.h"

#include "ring_fixture.h"

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

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/address.h"
#include "core/error.h"
#include "io/bpf.h"
#include "io/fd.h"
#include "io/packet_socket.h"

namespace gh {
namespace {

using namespace ring_test;

using namespace std::chrono_literals;

TEST(RxRing, FilteredLoopbackDeliversOnlyMatchingFrames) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRing rx = RxRing::open(lo, filtered("127.0.0.1"));
    EXPECT_TRUE(rx.ignores_outgoing());  // kernel >= 4.20
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    auto a = v4_frame("127.0.0.1", 1), b = v4_frame("127.0.0.1", 2);
    ASSERT_EQ(tx.send(v4_frame("127.0.0.2", 3)), 0);               // another destination
    ASSERT_EQ(tx.send(v4_frame("127.0.0.1", 4, IPPROTO_UDP)), 0);  // UDP
    ASSERT_EQ(tx.send(a), 0);
    ASSERT_EQ(tx.send(b), 0);

    auto seen = collect(rx, 2);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].bytes, a);
    EXPECT_EQ(seen[1].bytes, b);
    EXPECT_EQ(seen[0].type, PACKET_HOST);
    EXPECT_EQ(seen[1].type, PACKET_HOST);
    // Nothing else: neither the rejected frames nor the PACKET_OUTGOING copies.
    EXPECT_EQ(collect(rx, 1, 100ms).size(), 0u);
    auto st = rx.stats();
    EXPECT_EQ(st.packets, 2u);
    EXPECT_EQ(st.drops, 0u);
  });
}

TEST(RxRing, ManyFramesAcrossBlocksArriveExactlyOnce) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRingOptions o = filtered("127.0.0.1");
    o.block_size = 4096;  // a few dozen frames a block: many blocks, several laps of the ring
    o.block_count = 16;
    RxRing rx = RxRing::open(lo, o);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());

    constexpr int kFrames = 3000;
    std::map<uint16_t, int> count;
    int bad_bytes = 0;
    std::atomic<bool> sent_all{false};
    std::thread reader([&] {
      auto deadline = Clock::now() + 10s;
      while (Clock::now() < deadline) {
        size_t n = rx.poll(20ms, [&](std::span<const uint8_t> f, uint8_t) {
          uint16_t tag = tag_of(f);
          ++count[tag];
          auto want = v4_frame("127.0.0.1", tag);
          if (!std::equal(f.begin(), f.end(), want.begin(), want.end())) ++bad_bytes;
        });
        if (n == 0 && sent_all) break;
      }
    });
    // Paced, so that the reader usually keeps up; on a busy machine it may not, and the kernel
    // then drops and counts: every frame must be either delivered once or counted as dropped.
    for (int i = 0; i < kFrames; ++i) {
      int err = tx.send(v4_frame("127.0.0.1", static_cast<uint16_t>(i)));
      if (err != 0) {
        ADD_FAILURE() << "send: errno " << err;
        break;
      }
      if (i % 25 == 24) std::this_thread::sleep_for(1ms);
    }
    std::this_thread::sleep_for(20ms);  // past the block timeout
    sent_all = true;
    reader.join();
    auto st = rx.stats();
    EXPECT_EQ(bad_bytes, 0);
    for (auto [tag, n] : count) EXPECT_EQ(n, 1) << "frame " << tag;
    EXPECT_EQ(static_cast<uint64_t>(count.size()) + st.drops, static_cast<uint64_t>(kFrames));
    EXPECT_EQ(st.packets, static_cast<uint64_t>(kFrames));
    EXPECT_GT(count.size(), size_t{kFrames / 2}) << "drops: " << st.drops;  // laps were made
  });
}

TEST(RxRing, CountsDropsWhenNobodyReads) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRingOptions o = filtered("127.0.0.1");
    o.block_size = 4096;
    o.block_count = 2;
    RxRing rx = RxRing::open(lo, o);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    constexpr uint64_t kFrames = 500;  // far more than two pages hold
    for (uint64_t i = 0; i < kFrames; ++i)
      ASSERT_EQ(tx.send(v4_frame("127.0.0.1", static_cast<uint16_t>(i))), 0);
    std::this_thread::sleep_for(20ms);  // past the block timeout

    auto st = rx.stats();
    EXPECT_EQ(st.packets, kFrames);
    EXPECT_GT(st.drops, 0u);
    EXPECT_GE(st.freezes, 1u);
    // What was kept is the first frames, in order.
    auto seen = collect(rx, kFrames, 200ms);
    EXPECT_EQ(seen.size() + st.drops, kFrames);
    for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(tag_of(seen[i].bytes), i);

    // The counters add up across reads (the kernel resets its own on each read) and the ring
    // works again once its blocks are back.
    ASSERT_EQ(tx.send(v4_frame("127.0.0.1", 9999)), 0);
    seen = collect(rx, 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(tag_of(seen[0].bytes), 9999);
    auto st2 = rx.stats();
    EXPECT_EQ(st2.packets, kFrames + 1);
    EXPECT_EQ(st2.drops, st.drops);
  });
}

TEST(RxRing, PollReturnsWithinItsTimeoutWhenIdle) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRing rx = RxRing::open(lo, filtered("127.0.0.1"));
    int calls = 0;
    auto fn = [&](std::span<const uint8_t>, uint8_t) { ++calls; };
    auto t0 = Clock::now();
    EXPECT_EQ(rx.poll(0ms, fn), 0u);
    EXPECT_LT(Clock::now() - t0, 100ms);
    t0 = Clock::now();
    EXPECT_EQ(rx.poll(100ms, fn), 0u);
    auto elapsed = Clock::now() - t0;
    EXPECT_GE(elapsed, 90ms);
    EXPECT_LT(elapsed, 200ms);
    EXPECT_EQ(calls, 0);
  });
}

TEST(RxRing, ALoneFrameIsDeliveredAfterTheBlockTimeout) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRingOptions o = filtered("127.0.0.1");
    o.block_timeout = 10ms;
    RxRing rx = RxRing::open(lo, o);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    ASSERT_EQ(tx.send(v4_frame("127.0.0.1", 5)), 0);
    // One frame does not fill a block; the kernel retires the block when its timer fires.
    auto t0 = Clock::now();
    size_t n = 0;
    while (n == 0 && Clock::now() - t0 < 1s) n = rx.poll(500ms, [](auto, auto) {});
    EXPECT_EQ(n, 1u);
    EXPECT_LT(Clock::now() - t0, 500ms);
  });
}

TEST(RxRing, PassesTheCapturedPartOfCutFrames) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRingOptions o;
    o.filter = {{BPF_RET | BPF_K, 0, 0, 20}};  // accept every frame, keep 20 bytes
    RxRing rx = RxRing::open(lo, o);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    auto frame = v4_frame("127.0.0.1", 0x1234);
    ASSERT_EQ(tx.send(frame), 0);
    auto seen = collect(rx, 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].bytes, std::vector<uint8_t>(frame.begin(), frame.begin() + 20));
  });
}

TEST(RxRing, WithoutIgnoreOutgoingLoopbackShowsEachFrameTwice) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRingOptions o = filtered("127.0.0.1");
    o.ignore_outgoing = false;
    RxRing rx = RxRing::open(lo, o);
    EXPECT_FALSE(rx.ignores_outgoing());
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    ASSERT_EQ(tx.send(v4_frame("127.0.0.1", 7)), 0);
    auto seen = collect(rx, 2);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].type, PACKET_OUTGOING);
    EXPECT_EQ(seen[1].type, PACKET_HOST);
    EXPECT_EQ(seen[0].bytes, seen[1].bytes);
  });
}

TEST(RxRing, AThrowingCallbackGivesTheBlockBack) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRingOptions o = filtered("127.0.0.1");
    o.block_count = 2;
    RxRing rx = RxRing::open(lo, o);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    ASSERT_EQ(tx.send(v4_frame("127.0.0.1", 1)), 0);
    ASSERT_EQ(tx.send(v4_frame("127.0.0.1", 2)), 0);
    auto throws = [](std::span<const uint8_t>, uint8_t) { throw std::runtime_error("caller"); };
    auto t0 = Clock::now();
    bool thrown = false;
    while (!thrown && Clock::now() - t0 < 1s) {
      try {
        rx.poll(50ms, throws);
      } catch (const std::runtime_error&) {
        thrown = true;
      }
    }
    ASSERT_TRUE(thrown);
    // The block with both frames was given back: the rest of it is gone, and both blocks cycle.
    for (uint16_t round = 0; round < 4; ++round) {
      ASSERT_EQ(tx.send(v4_frame("127.0.0.1", static_cast<uint16_t>(10 + round))), 0);
      auto seen = collect(rx, 1);
      ASSERT_EQ(seen.size(), 1u) << "round " << round;
      EXPECT_EQ(tag_of(seen[0].bytes), 10 + round);
    }
  });
}

TEST(RxRing, MovesKeepTheRing) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRing a = RxRing::open(lo, filtered("127.0.0.1"));
    RxRing b = std::move(a);
    EXPECT_EQ(a.fd(), -1);
    EXPECT_THROW(a.poll(0ms, [](auto, auto) {}), RuntimeError);
    RxRing c = RxRing::open(lo, filtered("127.0.0.1"));
    c = std::move(b);  // c's own ring is unmapped and closed
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    ASSERT_EQ(tx.send(v4_frame("127.0.0.1", 3)), 0);
    auto seen = collect(c, 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(tag_of(seen[0].bytes), 3);
  });
}

TEST(RxRing, OpenFailuresAreRuntimeErrors) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  EXPECT_THROW(RxRing::open(0), RuntimeError);
  in_private_netns([](int lo) {
    EXPECT_THROW(RxRing::open(1 << 20), RuntimeError);  // no such interface
    RxRingOptions o;
    o.block_size = 1000;  // not a multiple of the page size
    EXPECT_THROW(RxRing::open(lo, o), RuntimeError);
    o = {};
    o.block_count = 0;
    EXPECT_THROW(RxRing::open(lo, o), RuntimeError);
    o = {};
    o.block_timeout = 0ms;
    EXPECT_THROW(RxRing::open(lo, o), RuntimeError);
  });
}

TEST(RxRing, WithoutCapNetRawTheErrorSaysSo) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  auto message = error_without_capability(CAP_NET_RAW, [] { (void)RxRing::open(1); });
  if (!message) GTEST_SKIP() << "capset not permitted here";
  EXPECT_NE(message->find("CAP_NET_RAW"), std::string::npos) << *message;
}

}  // namespace
}  // namespace gh
