// PacketSocket on the loopback device of a private network namespace (root only): frames sent
// there never leave the namespace. Each frame carries an invalid checksum (or an unspecified
// source) so that the namespace's IP stack drops it silently instead of answering.
#include "io/packet_socket.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <exception>
#include <functional>
#include <thread>

#include "core/address.h"
#include "core/error.h"
#include "io/bpf.h"
#include "io/fd.h"
#include "io/route.h"
#include "netns_fixture.h"

namespace gh {
namespace {

using namespace std::chrono_literals;
using namespace test_netns;

// IPv6 with ICMPv6 (or another next header) and a zero, invalid, upper-layer checksum; the
// source is unspecified so that no ICMPv6 error can be sent about it.
std::vector<uint8_t> v6_frame(const char* dst, uint8_t next) {
  std::vector<uint8_t> f(14 + 40 + 8, 0);
  f[12] = 0x86;
  f[13] = 0xdd;
  uint8_t* p = f.data() + 14;
  p[0] = 0x60;
  p[5] = 8;
  p[6] = next;
  p[7] = 64;
  auto d = ip(dst).bytes();
  std::memcpy(p + 24, d.data(), 16);
  p[40] = 129;  // echo reply: never answered
  return f;
}

TEST(PacketSocket, FilteredLoopbackReceivesOnlyMatchingFrames) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    // What a scanner does: the route says lo, the filter takes our source addresses.
    Route r = lookup_route(ip("127.0.0.1"));
    ASSERT_EQ(r.ifindex, lo);
    PacketSocketOptions rx_opts;
    std::vector<IpAddress> mine = {ip("127.0.0.1"), ip("::1")};
    rx_opts.filter = destination_filter(framing_for(r.arp_type), mine);
    PacketSocket rx = PacketSocket::open(lo, rx_opts);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    EXPECT_TRUE(rx.ignores_outgoing());  // kernel >= 4.20

    auto tcp = v4_frame("127.0.0.1", 1, IPPROTO_TCP);
    auto icmp6 = v6_frame("::1", IPPROTO_ICMPV6);
    EXPECT_EQ(tx.send(v4_frame("127.0.0.1", 0, IPPROTO_UDP)), 0);
    EXPECT_EQ(tx.send(v4_frame("127.0.0.2", 0, IPPROTO_TCP)), 0);
    EXPECT_EQ(tx.send(v6_frame("::2", IPPROTO_ICMPV6)), 0);
    EXPECT_EQ(tx.send(tcp), 0);
    EXPECT_EQ(tx.send(icmp6), 0);

    std::vector<uint8_t> buf(2048);
    auto f = rx.receive(buf, 1000ms);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->packet_type, PACKET_HOST);
    EXPECT_EQ(f->protocol, 0x0800);
    ASSERT_EQ(f->length, tcp.size());
    EXPECT_FALSE(f->truncated());
    EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + f->length), tcp);

    f = rx.receive(buf, 1000ms);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->packet_type, PACKET_HOST);
    EXPECT_EQ(f->protocol, 0x86dd);
    EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + f->length), icmp6);

    // Nothing else: neither the rejected frames nor the PACKET_OUTGOING copies.
    EXPECT_FALSE(rx.receive(buf, 100ms));
  });
}

TEST(PacketSocket, WithoutIgnoreOutgoingLoopbackShowsEachFrameTwice) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    PacketSocketOptions rx_opts;
    rx_opts.ignore_outgoing = false;
    PacketSocket rx = PacketSocket::open(lo, rx_opts);
    EXPECT_FALSE(rx.ignores_outgoing());
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    auto frame = v4_frame("127.0.0.1", 7, IPPROTO_TCP);
    ASSERT_EQ(tx.send(frame), 0);
    std::vector<uint8_t> buf(2048);
    int outgoing = 0, host = 0;
    for (int i = 0; i < 2; ++i) {
      auto f = rx.receive(buf, 1000ms);
      ASSERT_TRUE(f);
      EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + f->length), frame);
      outgoing += f->packet_type == PACKET_OUTGOING;
      host += f->packet_type == PACKET_HOST;
    }
    EXPECT_EQ(outgoing, 1);
    EXPECT_EQ(host, 1);
    EXPECT_FALSE(rx.receive(buf, 50ms));
  });
}

TEST(PacketSocket, SendBatchKeepsOrder) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    PacketSocketOptions rx_opts;
    rx_opts.filter = destination_filter(LinkFraming::Ethernet, ip("127.0.0.1"));
    rx_opts.receive_buffer = 1 << 20;
    PacketSocket rx = PacketSocket::open(lo, rx_opts);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());

    constexpr int kFrames = 100;  // more than one sendmmsg chunk
    std::vector<std::vector<uint8_t>> frames;
    for (int i = 0; i < kFrames; ++i)
      frames.push_back(v4_frame("127.0.0.1", static_cast<uint16_t>(i), IPPROTO_TCP));
    std::vector<std::span<const uint8_t>> spans(frames.begin(), frames.end());
    auto result = tx.send_batch(spans);
    EXPECT_EQ(result.sent, static_cast<size_t>(kFrames));
    EXPECT_EQ(result.error, 0);

    std::vector<uint8_t> buf(2048);
    for (int i = 0; i < kFrames; ++i) {
      auto f = rx.receive(buf, 1000ms);
      ASSERT_TRUE(f) << "frame " << i;
      EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + f->length), frames[i]);
    }
    EXPECT_FALSE(rx.receive(buf, 50ms));
  });
}

TEST(PacketSocket, TruncatesIntoSmallBuffersAndReportsSendErrors) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    PacketSocket rx = PacketSocket::open(lo);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    auto frame = v4_frame("127.0.0.1", 0, IPPROTO_TCP);
    ASSERT_EQ(tx.send(frame), 0);
    uint8_t small[20];
    auto f = rx.receive(small, 1000ms);
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->truncated());
    EXPECT_EQ(f->length, sizeof small);
    EXPECT_EQ(f->wire_length, frame.size());
    EXPECT_EQ(std::memcmp(small, frame.data(), sizeof small), 0);

    // Larger than lo's MTU: an errno value, not an exception.
    std::vector<uint8_t> huge(70000, 0);
    huge[12] = 0x08;
    EXPECT_EQ(tx.send(huge), EMSGSIZE);
    std::span<const uint8_t> batch[] = {frame, huge, frame};
    auto r = tx.send_batch(batch);
    EXPECT_EQ(r.sent, 1u);
    EXPECT_EQ(r.error, EMSGSIZE);
  });
}

TEST(PacketSocket, FilterAttachedLaterDropsWhatWasQueued) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  in_private_netns([](int lo) {
    PacketSocket rx = PacketSocket::open(lo);  // no filter: takes everything
    EXPECT_GE(rx.set_receive_buffer(1 << 20), 1 << 20);
    PacketSocket tx = PacketSocket::open(lo, PacketSocketOptions::send_only());
    ASSERT_EQ(tx.send(v4_frame("127.0.0.2", 0, IPPROTO_TCP)), 0);  // queued unfiltered
    std::this_thread::sleep_for(20ms);
    rx.attach_filter(destination_filter(LinkFraming::Ethernet, ip("127.0.0.1")));
    ASSERT_EQ(tx.send(v4_frame("127.0.0.2", 0, IPPROTO_TCP)), 0);
    auto wanted = v4_frame("127.0.0.1", 0, IPPROTO_ICMP);
    ASSERT_EQ(tx.send(wanted), 0);
    std::vector<uint8_t> buf(2048);
    auto f = rx.receive(buf, 1000ms);
    ASSERT_TRUE(f);
    EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + f->length), wanted);
    EXPECT_FALSE(rx.receive(buf, 50ms));
  });
}

TEST(PacketSocket, OpenFailuresAreRuntimeErrors) {
  if (!lab_possible()) GTEST_SKIP() << "needs root";
  EXPECT_THROW(PacketSocket::open(0), RuntimeError);
  in_private_netns([](int) { EXPECT_THROW(PacketSocket::open(1 << 20), RuntimeError); });
}

}  // namespace
}  // namespace gh
