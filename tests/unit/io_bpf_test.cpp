// The receive filter, run on byte fixtures by a small classic-BPF interpreter, and checked by the
// kernel's own verifier (on an ordinary UDP socket: no privilege needed).
#include "io/bpf.h"

#include <linux/if_arp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/error.h"
#include "io/fd.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

// Runs `prog` over `pkt` with the kernel's semantics for the instructions the builder emits
// (loads past the end reject the packet). Returns the number of bytes to keep (0 = drop).
uint32_t run_bpf(const std::vector<sock_filter>& prog, std::span<const uint8_t> pkt) {
  uint32_t a = 0;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    switch (BPF_CLASS(f.code)) {
      case BPF_LD: {
        if (BPF_MODE(f.code) != BPF_ABS) {
          ADD_FAILURE() << "unexpected load mode at " << pc;
          return 0;
        }
        size_t size = BPF_SIZE(f.code) == BPF_W ? 4 : BPF_SIZE(f.code) == BPF_H ? 2 : 1;
        if (f.k + size > pkt.size()) return 0;
        a = 0;
        for (size_t i = 0; i < size; ++i) a = a << 8 | pkt[f.k + i];
        break;
      }
      case BPF_ALU:
        if (BPF_OP(f.code) != BPF_AND || BPF_SRC(f.code) != BPF_K) {
          ADD_FAILURE() << "unexpected ALU op at " << pc;
          return 0;
        }
        a &= f.k;
        break;
      case BPF_JMP: {
        size_t skip;
        if (BPF_OP(f.code) == BPF_JA)
          skip = f.k;
        else if (BPF_OP(f.code) == BPF_JEQ && BPF_SRC(f.code) == BPF_K)
          skip = a == f.k ? f.jt : f.jf;
        else {
          ADD_FAILURE() << "unexpected jump at " << pc;
          return 0;
        }
        if (pc + 1 + skip >= prog.size()) {
          ADD_FAILURE() << "jump out of the program at " << pc;
          return 0;
        }
        pc += skip;
        break;
      }
      case BPF_RET:
        return f.k;
      default:
        ADD_FAILURE() << "unexpected instruction class at " << pc;
        return 0;
    }
  }
  ADD_FAILURE() << "fell off the end of the program";
  return 0;
}

std::vector<uint8_t> ipv4(const char* src, const char* dst, uint8_t proto, size_t payload = 20) {
  std::vector<uint8_t> p(20 + payload, 0);
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(p.size() >> 8);
  p[3] = static_cast<uint8_t>(p.size());
  p[8] = 64;
  p[9] = proto;
  auto s = ip(src).bytes(), d = ip(dst).bytes();
  std::memcpy(&p[12], s.data(), 4);
  std::memcpy(&p[16], d.data(), 4);
  return p;
}

std::vector<uint8_t> ipv6(const char* src, const char* dst, uint8_t next, size_t payload = 20) {
  std::vector<uint8_t> p(40 + payload, 0);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>(payload >> 8);
  p[5] = static_cast<uint8_t>(payload);
  p[6] = next;
  p[7] = 64;
  auto s = ip(src).bytes(), d = ip(dst).bytes();
  std::memcpy(&p[8], s.data(), 16);
  std::memcpy(&p[24], d.data(), 16);
  return p;
}

std::vector<uint8_t> ether(uint16_t type, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> f(14 + payload.size(), 0);
  f[0] = 0x02;  // some destination MAC
  f[12] = static_cast<uint8_t>(type >> 8);
  f[13] = static_cast<uint8_t>(type);
  std::copy(payload.begin(), payload.end(), f.begin() + 14);
  return f;
}

bool accepts(const std::vector<sock_filter>& prog, const std::vector<uint8_t>& frame) {
  return run_bpf(prog, frame) != 0;
}

TEST(IoBpf, EthernetV4) {
  auto prog = destination_filter(LinkFraming::Ethernet, ip("198.18.0.1"));
  EXPECT_TRUE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP))));
  EXPECT_TRUE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_ICMP))));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_UDP))));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.3", IPPROTO_TCP))));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.1", "198.18.0.2", IPPROTO_TCP))));
  // ARP that happens to carry the address at the same offsets is still not IP.
  EXPECT_FALSE(accepts(prog, ether(0x0806, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP))));
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_TCP))));
  // A runt: the destination lies past the end.
  auto runt = ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP));
  runt.resize(14 + 18);
  EXPECT_FALSE(accepts(prog, runt));
  // Accepted frames are kept whole.
  EXPECT_GE(run_bpf(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP))), 65535u);
}

TEST(IoBpf, EthernetV6) {
  auto prog = destination_filter(LinkFraming::Ethernet, ip("2001:db8::1"));
  EXPECT_TRUE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_TCP))));
  EXPECT_TRUE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_ICMPV6))));
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_ICMP))));
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_UDP))));
  // Differs only in the last, or only in the first, 32-bit word.
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::2", IPPROTO_TCP))));
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db9::1", IPPROTO_TCP))));
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8:0:0:1::1", IPPROTO_TCP))));
  // Extension headers are not followed (documented limit).
  EXPECT_FALSE(
      accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", 0 /* hop-by-hop */))));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP))));
}

TEST(IoBpf, LoopbackUsesEthernetFraming) {
  EXPECT_EQ(framing_for(ARPHRD_LOOPBACK), LinkFraming::Ethernet);
  EXPECT_EQ(framing_for(ARPHRD_ETHER), LinkFraming::Ethernet);
  EXPECT_EQ(framing_for(ARPHRD_NONE), LinkFraming::RawIp);
  EXPECT_THROW(framing_for(ARPHRD_INFINIBAND), RuntimeError);
  auto prog = destination_filter(LinkFraming::Ethernet, ip("127.0.0.1"));
  auto frame = ether(0x0800, ipv4("127.0.0.1", "127.0.0.1", IPPROTO_TCP));
  frame[0] = 0;  // zero MACs, as on lo
  EXPECT_TRUE(accepts(prog, frame));
}

TEST(IoBpf, MixedFamiliesAndSeveralAddresses) {
  std::vector<IpAddress> mine = {ip("198.18.0.1"), ip("2001:db8::1"), ip("198.18.1.1"),
                                 ip("2001:db8::5")};
  auto prog = destination_filter(LinkFraming::Ethernet, mine);
  EXPECT_TRUE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP))));
  EXPECT_TRUE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.1.1", IPPROTO_ICMP))));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.2.1", IPPROTO_TCP))));
  EXPECT_TRUE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_TCP))));
  EXPECT_TRUE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::5", IPPROTO_ICMPV6))));
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::4", IPPROTO_TCP))));
}

TEST(IoBpf, RawIpFraming) {
  std::vector<IpAddress> mine = {ip("198.18.0.1"), ip("2001:db8::1")};
  auto prog = destination_filter(LinkFraming::RawIp, mine);
  EXPECT_TRUE(accepts(prog, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP)));
  EXPECT_TRUE(accepts(prog, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_ICMPV6)));
  EXPECT_FALSE(accepts(prog, ipv4("198.18.0.2", "198.18.0.9", IPPROTO_TCP)));
  EXPECT_FALSE(accepts(prog, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_UDP)));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP))));
}

TEST(IoBpf, RefusesWhatClassicBpfCannotHold) {
  EXPECT_THROW(destination_filter(LinkFraming::Ethernet, std::span<const IpAddress>{}),
               std::invalid_argument);
  std::vector<IpAddress> many;
  for (uint32_t i = 0; i < 100; ++i) many.push_back(IpAddress::v6((u128{0x20010db8} << 96) | i));
  EXPECT_THROW(destination_filter(LinkFraming::Ethernet, many), std::invalid_argument);
  many.resize(20);
  auto prog = destination_filter(LinkFraming::Ethernet, many);
  EXPECT_TRUE(accepts(prog, ether(0x86dd, ipv6("2001:db8::ff", "2001:db8::13", IPPROTO_TCP))));
}

TEST(IoBpf, KernelAcceptsThePrograms) {
  FileDescriptor udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(udp);
  std::vector<IpAddress> mine = {ip("198.18.0.1"), ip("2001:db8::1")};
  for (auto framing : {LinkFraming::Ethernet, LinkFraming::RawIp}) {
    auto prog = destination_filter(framing, mine);
    sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
    EXPECT_EQ(::setsockopt(udp.get(), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog), 0)
        << std::strerror(errno);
  }
}

}  // namespace
}  // namespace gh

namespace gh {
namespace {

// An ARP packet (Ethernet/IPv4): opcode, sender and target protocol addresses.
std::vector<uint8_t> arp(uint16_t op, const char* spa, const char* tpa) {
  std::vector<uint8_t> b = {
      0, 1, 8, 0, 6, 4, static_cast<uint8_t>(op >> 8), static_cast<uint8_t>(op)};
  auto push_ip = [&](const char* a) {
    auto x = ip(a).bytes();
    b.insert(b.end(), x.begin(), x.begin() + 4);
  };
  b.insert(b.end(), 6, 0x02);
  push_ip(spa);
  b.insert(b.end(), 6, 0x00);
  push_ip(tpa);
  return b;
}

TEST(IoBpf, ReceiveSpecChoosesProtocolsAndArpReplies) {
  IpAddress mine[] = {ip("198.18.0.1"), ip("2001:db8::1")};
  auto prog = receive_filter(LinkFraming::Ethernet, mine,
                             ReceiveSpec{.udp = true, .icmp = true, .arp = true});
  EXPECT_TRUE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_UDP))));
  EXPECT_TRUE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_ICMP))));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP))));
  EXPECT_TRUE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_UDP))));
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_TCP))));
  // ARP: replies to our address only; requests and replies to others are dropped.
  EXPECT_TRUE(accepts(prog, ether(0x0806, arp(2, "198.18.0.7", "198.18.0.1"))));
  EXPECT_FALSE(accepts(prog, ether(0x0806, arp(1, "198.18.0.7", "198.18.0.1"))));
  EXPECT_FALSE(accepts(prog, ether(0x0806, arp(2, "198.18.0.7", "198.18.0.9"))));
  auto runt = ether(0x0806, arp(2, "198.18.0.7", "198.18.0.1"));
  runt.resize(14 + 20);
  EXPECT_FALSE(accepts(prog, runt));
  // Without `arp`, no ARP at all.
  auto no_arp = receive_filter(LinkFraming::Ethernet, mine, ReceiveSpec{.tcp = true});
  EXPECT_FALSE(accepts(no_arp, ether(0x0806, arp(2, "198.18.0.7", "198.18.0.1"))));
  EXPECT_THROW(receive_filter(LinkFraming::Ethernet, mine, ReceiveSpec{.arp = true}),
               std::invalid_argument);
}

}  // namespace
}  // namespace gh
