// TxRing on the loopback device of a private network namespace (root only), checked with an
// RxRing on the same device: frames sent there never leave the namespace. Each frame carries an
// invalid IPv4 header checksum, so that the namespace's IP stack drops it silently.
#include "io/tx_ring.h"

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
#include "ring_fixture.h"

namespace gh {
namespace {

using namespace ring_test;

using namespace std::chrono_literals;

// Pushes every frame; when the ring is full, flushes, and if that did not free the next slot,
// waits for the kernel to finish with the ring. Flushes what is left at the end.
void push_all(TxRing& tx, const std::vector<std::vector<uint8_t>>& frames) {
  for (const auto& f : frames) {
    auto t0 = Clock::now();
    while (!tx.try_push(f)) {
      int err = tx.flush();
      if (err != 0 && err != EAGAIN) FAIL() << "flush: " << std::strerror(err);
      if (tx.try_push(f)) break;
      err = tx.flush_and_wait();
      if (err != 0 && err != EAGAIN && err != ETIMEDOUT)
        FAIL() << "flush_and_wait: " << std::strerror(err);
      if (Clock::now() - t0 > 2s) FAIL() << "the ring stayed full";
    }
  }
  EXPECT_EQ(tx.flush_and_wait(), 0);
  EXPECT_EQ(tx.unflushed(), 0u);
}

std::vector<std::vector<uint8_t>> numbered_frames(int n, int first = 0) {
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < n; ++i)
    frames.push_back(v4_frame("127.0.0.1", static_cast<uint16_t>(first + i)));
  return frames;
}

// Receives on `rx` on a thread of its own while `send` runs, until `want` frames or 5 s.
std::vector<Seen> receive_while(RxRing& rx, size_t want, const std::function<void()>& send) {
  std::vector<Seen> seen;
  std::thread reader([&] { seen = collect(rx, want, 5000ms); });
  send();
  reader.join();
  return seen;
}

TEST(TxRing, EveryFrameArrivesOnceInOrder) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  for (bool copy : {true, false}) {
    SCOPED_TRACE(copy ? "copy_frames" : "zero-copy");
    in_private_netns([copy](int lo) {
      RxRing rx = RxRing::open(lo, filtered("127.0.0.1"));
      TxRingOptions o;
      o.frame_count = 256;  // far fewer slots than frames: the ring goes round many times
      o.copy_frames = copy;
      TxRing tx = TxRing::open(lo, o);
      EXPECT_EQ(tx.frame_count(), 256u);
      EXPECT_EQ(tx.copies_frames(), copy);  // this kernel is newer than 4.11
      EXPECT_EQ(tx.frame_capacity(), copy ? 2048u - 32u - 10u : 2048u - 32u);

      auto frames = numbered_frames(5000);
      auto seen = receive_while(rx, frames.size(), [&] { push_all(tx, frames); });
      ASSERT_EQ(seen.size(), frames.size());
      for (size_t i = 0; i < frames.size(); ++i) {
        ASSERT_EQ(seen[i].bytes, frames[i]) << "frame " << i;
        EXPECT_EQ(seen[i].type, PACKET_HOST);
      }
      EXPECT_EQ(collect(rx, 1, 100ms).size(), 0u);  // no duplicates
      EXPECT_EQ(rx.stats().drops, 0u);
      EXPECT_EQ(tx.rejected(), 0u);
    });
  }
}

TEST(TxRing, AFullRingRefusesUntilTheKernelIsDone) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRing rx = RxRing::open(lo, filtered("127.0.0.1"));
    TxRingOptions o;
    o.frame_count = 3;  // rounded up to whole pages: 4 slots of 2 KiB
    TxRing tx = TxRing::open(lo, o);
    ASSERT_EQ(tx.frame_count(), 4u);
    auto frames = numbered_frames(5);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(tx.try_push(frames[i])) << i;
    EXPECT_FALSE(tx.try_push(frames[4]));
    EXPECT_EQ(tx.unflushed(), 4u);
    // Nothing leaves before a flush.
    EXPECT_EQ(collect(rx, 1, 50ms).size(), 0u);
    EXPECT_EQ(tx.flush_and_wait(), 0);
    EXPECT_EQ(tx.unflushed(), 0u);
    EXPECT_TRUE(tx.try_push(frames[4]));
    EXPECT_EQ(tx.flush(), 0);
    auto seen = collect(rx, 5);
    ASSERT_EQ(seen.size(), 5u);
    for (size_t i = 0; i < 5; ++i) EXPECT_EQ(seen[i].bytes, frames[i]);
  });
}

// Sets lo's MTU, so that a frame can fit its slot and still be longer than the MTU.
void set_lo_mtu(int mtu) {
  FileDescriptor s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "lo");
  ifr.ifr_mtu = mtu;
  if (::ioctl(s.get(), SIOCSIFMTU, &ifr) != 0) throw system_error(errno, "SIOCSIFMTU");
}

TEST(TxRing, MalformedFramesAreSkippedNotStuck) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  for (bool copy : {true, false}) {
    SCOPED_TRACE(copy ? "copy_frames" : "zero-copy");
    in_private_netns([copy](int lo) {
      RxRing rx = RxRing::open(lo, filtered("127.0.0.1"));
      TxRingOptions o;
      o.frame_count = 8;
      o.copy_frames = copy;
      TxRing tx = TxRing::open(lo, o);
      auto good = numbered_frames(6);
      std::vector<uint8_t> runt(10, 0);    // shorter than an Ethernet header: EINVAL in the kernel
      std::vector<uint8_t> huge(4000, 0);  // longer than a slot: refused by try_push

      auto seen = receive_while(rx, 6, [&] {
        ASSERT_TRUE(tx.try_push(good[0]));
        ASSERT_TRUE(tx.try_push(runt));
        ASSERT_TRUE(tx.try_push(good[1]));
        ASSERT_TRUE(tx.try_push(runt));
        ASSERT_TRUE(tx.try_push(good[2]));
        ASSERT_TRUE(tx.try_push(huge));
        ASSERT_TRUE(tx.try_push(std::span<const uint8_t>()));
        EXPECT_EQ(tx.rejected(), 2u);
        EXPECT_EQ(tx.unflushed(), 5u);
        EXPECT_EQ(tx.flush_and_wait(), 0);
        // The ring goes on past the bad slots: it was not stopped at them.
        for (int i = 3; i < 6; ++i) ASSERT_TRUE(tx.try_push(good[i]));
        EXPECT_EQ(tx.flush_and_wait(), 0);
      });
      ASSERT_EQ(seen.size(), 6u);
      for (size_t i = 0; i < 6; ++i) EXPECT_EQ(seen[i].bytes, good[i]) << i;
      EXPECT_EQ(collect(rx, 1, 50ms).size(), 0u);
    });
  }
}

TEST(TxRing, OnlyTheZeroCopyRingChecksTheMtu) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  for (bool copy : {true, false}) {
    SCOPED_TRACE(copy ? "copy_frames" : "zero-copy");
    in_private_netns([copy](int lo) {
      set_lo_mtu(1500);
      RxRing rx = RxRing::open(lo, filtered("127.0.0.1"));
      TxRingOptions o;
      o.copy_frames = copy;
      TxRing tx = TxRing::open(lo, o);
      auto jumbo = v4_frame("127.0.0.1", 99);
      jumbo.resize(1600);  // fits a slot, longer than 1500 + 14
      auto after = v4_frame("127.0.0.1", 100);
      ASSERT_TRUE(tx.try_push(jumbo));
      ASSERT_TRUE(tx.try_push(after));
      EXPECT_EQ(tx.flush_and_wait(), 0);
      auto seen = collect(rx, 2, 300ms);
      if (copy) {
        // The kernel cannot tell this from a GSO frame and leaves it to the driver; lo takes it.
        ASSERT_EQ(seen.size(), 2u);
        EXPECT_EQ(seen[0].bytes, jumbo);
      } else {
        // EMSGSIZE in the kernel, skipped (PACKET_LOSS).
        ASSERT_EQ(seen.size(), 1u);
      }
      EXPECT_EQ(seen.back().bytes, after);
    });
  }
}

TEST(TxRing, QdiscBypassSendsTooButTapsDoNotSeeIt) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  for (bool bypass : {false, true}) {
    SCOPED_TRACE(bypass ? "bypass" : "qdisc");
    in_private_netns([bypass](int lo) {
      RxRingOptions ro = filtered("127.0.0.1");
      ro.ignore_outgoing = false;  // a capture on the sending host (tcpdump) sees outgoing frames
      RxRing rx = RxRing::open(lo, ro);
      TxRingOptions o;
      o.qdisc_bypass = bypass;
      o.frame_count = 64;
      TxRing tx = TxRing::open(lo, o);
      auto frames = numbered_frames(500);
      auto seen = receive_while(rx, bypass ? 500 : 1000, [&] { push_all(tx, frames); });
      std::vector<std::vector<uint8_t>> host, outgoing;
      for (auto& f : seen) (f.type == PACKET_OUTGOING ? outgoing : host).push_back(f.bytes);
      EXPECT_EQ(host, frames);
      // The bypass skips the taps with the queueing discipline: no PACKET_OUTGOING copies.
      if (bypass)
        EXPECT_TRUE(outgoing.empty());
      else
        EXPECT_EQ(outgoing, frames);
    });
  }
}

TEST(TxRing, UnflushedFramesAreNotSentAndMovesKeepTheRing) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    RxRing rx = RxRing::open(lo, filtered("127.0.0.1"));
    auto frames = numbered_frames(2);
    {
      TxRing dropped = TxRing::open(lo);
      ASSERT_TRUE(dropped.try_push(frames[0]));
    }  // closed without a flush
    TxRing a = TxRing::open(lo);
    TxRing b = std::move(a);
    EXPECT_EQ(a.fd(), -1);
    EXPECT_FALSE(a.try_push(frames[1]));
    EXPECT_EQ(a.flush(), EBADF);
    TxRing c = TxRing::open(lo);
    c = std::move(b);
    ASSERT_TRUE(c.try_push(frames[1]));
    EXPECT_EQ(c.flush(), 0);
    auto seen = collect(rx, 2, 300ms);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].bytes, frames[1]);
  });
}

TEST(TxRing, OpenFailuresAreRuntimeErrors) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  EXPECT_THROW(TxRing::open(0), RuntimeError);
  in_private_netns([](int lo) {
    EXPECT_THROW(TxRing::open(1 << 20), RuntimeError);  // no such interface
    TxRingOptions o;
    o.frame_size = 100;  // too small
    EXPECT_THROW(TxRing::open(lo, o), RuntimeError);
    o.frame_size = 2050;  // not a multiple of 16
    EXPECT_THROW(TxRing::open(lo, o), RuntimeError);
    o = {};
    o.frame_count = 0;
    EXPECT_THROW(TxRing::open(lo, o), RuntimeError);
  });
}

TEST(TxRing, WithoutCapNetRawTheErrorSaysSo) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  auto message = error_without_capability(CAP_NET_RAW, [] { (void)TxRing::open(1); });
  if (!message) GTEST_SKIP() << "capset not permitted here";
  EXPECT_NE(message->find("CAP_NET_RAW"), std::string::npos) << *message;
}

}  // namespace
}  // namespace gh
