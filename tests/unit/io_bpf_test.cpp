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

#include "bpf_interpreter.h"
#include "core/error.h"
#include "io/fd.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

using test::run_bpf;

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
  // ARP alone is something to receive when there is an IPv4 address to answer; not otherwise.
  auto only_arp = receive_filter(LinkFraming::Ethernet, mine, ReceiveSpec{.arp = true});
  EXPECT_TRUE(accepts(only_arp, ether(0x0806, arp(2, "198.18.0.7", "198.18.0.1"))));
  EXPECT_FALSE(accepts(only_arp, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_ICMP))));
  EXPECT_FALSE(accepts(only_arp, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_TCP))));
  IpAddress v6_only[] = {ip("2001:db8::1")};
  EXPECT_THROW(receive_filter(LinkFraming::Ethernet, v6_only, ReceiveSpec{.arp = true}),
               std::invalid_argument);
  EXPECT_THROW(receive_filter(LinkFraming::RawIp, mine, ReceiveSpec{.arp = true}),
               std::invalid_argument);
  EXPECT_THROW(receive_filter(LinkFraming::Ethernet, mine, ReceiveSpec{}), std::invalid_argument);
}

// A TCP or UDP packet (20-byte L4 header room) from `sport` to `dport`, with `options` bytes of
// IPv4 options (a longer header moves the ports).
std::vector<uint8_t> ipv4_ports(const char* src, const char* dst, uint8_t proto, uint16_t sport,
                                uint16_t dport, size_t options = 0) {
  auto p = ipv4(src, dst, proto, 20 + options);
  p[0] = static_cast<uint8_t>(0x45 + options / 4);
  const size_t l4 = 20 + options;
  p[l4] = static_cast<uint8_t>(sport >> 8), p[l4 + 1] = static_cast<uint8_t>(sport);
  p[l4 + 2] = static_cast<uint8_t>(dport >> 8), p[l4 + 3] = static_cast<uint8_t>(dport);
  return p;
}

std::vector<uint8_t> ipv6_ports(const char* src, const char* dst, uint8_t next, uint16_t sport,
                                uint16_t dport) {
  auto p = ipv6(src, dst, next, 20);
  p[40] = static_cast<uint8_t>(sport >> 8), p[41] = static_cast<uint8_t>(sport);
  p[42] = static_cast<uint8_t>(dport >> 8), p[43] = static_cast<uint8_t>(dport);
  return p;
}

TEST(IoBpf, PortSpansKeepOnlyOurDestinationPorts) {
  IpAddress mine[] = {ip("198.18.0.1"), ip("2001:db8::1")};
  const ReceiveSpec spec{.tcp = true,
                         .udp = true,
                         .icmp = true,
                         .tcp_ports = {33000, 39999},
                         .udp_ports = {1000, 1000}};
  for (auto framing : {LinkFraming::Ethernet, LinkFraming::RawIp}) {
    SCOPED_TRACE(framing == LinkFraming::Ethernet ? "ethernet" : "raw ip");
    auto prog = receive_filter(framing, mine, spec);
    auto frame = [&](std::vector<uint8_t> pkt) {
      return framing == LinkFraming::Ethernet ? ether(pkt[0] >> 4 == 4 ? 0x0800 : 0x86dd, pkt)
                                              : pkt;
    };
    const char* them = "198.18.0.2";
    // TCP: the span's edges and just outside them; the source port does not matter.
    EXPECT_TRUE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 33000))));
    EXPECT_TRUE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 39999))));
    EXPECT_FALSE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 32999))));
    EXPECT_FALSE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 40000))));
    EXPECT_FALSE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 35000, 22))));
    // IPv4 options move the ports: the header length is read.
    EXPECT_TRUE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 35000, 12))));
    EXPECT_FALSE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 50000, 12))));
    auto opts = ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 35000, 12);
    opts[20 + 2] = 0x88;  // the port where a header without options would have it: not read
    opts[20 + 3] = 0xb8;
    EXPECT_TRUE(accepts(prog, frame(opts)));
    // A later fragment carries no ports: dropped; the first fragment (MF set) is checked.
    auto later = ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 35000);
    later[7] = 0x10;
    EXPECT_FALSE(accepts(prog, frame(later)));
    auto first = ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 35000);
    first[6] = 0x20;
    EXPECT_TRUE(accepts(prog, frame(first)));
    // A runt that ends before the port.
    auto runt = ipv4_ports(them, "198.18.0.1", IPPROTO_TCP, 443, 35000);
    runt.resize(22);
    EXPECT_FALSE(accepts(prog, frame(runt)));
    // UDP has its own span; ICMP is not port-checked.
    EXPECT_TRUE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_UDP, 53, 1000))));
    EXPECT_FALSE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_UDP, 53, 35000))));
    EXPECT_TRUE(accepts(prog, frame(ipv4_ports(them, "198.18.0.1", IPPROTO_ICMP, 0, 0))));
    // Another destination address is refused before any port.
    EXPECT_FALSE(accepts(prog, frame(ipv4_ports(them, "198.18.0.9", IPPROTO_TCP, 443, 35000))));
    // IPv6: the fixed header's next header, the ports right after it.
    const char* them6 = "2001:db8::2";
    EXPECT_TRUE(accepts(prog, frame(ipv6_ports(them6, "2001:db8::1", IPPROTO_TCP, 443, 35000))));
    EXPECT_FALSE(accepts(prog, frame(ipv6_ports(them6, "2001:db8::1", IPPROTO_TCP, 443, 45000))));
    EXPECT_TRUE(accepts(prog, frame(ipv6_ports(them6, "2001:db8::1", IPPROTO_UDP, 53, 1000))));
    EXPECT_FALSE(accepts(prog, frame(ipv6_ports(them6, "2001:db8::1", IPPROTO_UDP, 53, 1001))));
    EXPECT_TRUE(accepts(prog, frame(ipv6_ports(them6, "2001:db8::1", IPPROTO_ICMPV6, 0x8100, 0))));
  }
}

TEST(IoBpf, SpecPerFamily) {
  IpAddress mine[] = {ip("198.18.0.1"), ip("2001:db8::1")};
  // IPv4: ARP only (an on-link sweep); IPv6: ICMPv6 only (neighbor advertisements).
  auto prog = receive_filter(LinkFraming::Ethernet, mine, ReceiveSpec{.arp = true},
                             ReceiveSpec{.icmp = true, .arp = true});
  EXPECT_TRUE(accepts(prog, ether(0x0806, arp(2, "198.18.0.7", "198.18.0.1"))));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_ICMP))));
  EXPECT_FALSE(accepts(prog, ether(0x0800, ipv4("198.18.0.2", "198.18.0.1", IPPROTO_TCP))));
  EXPECT_TRUE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_ICMPV6))));
  EXPECT_FALSE(accepts(prog, ether(0x86dd, ipv6("2001:db8::2", "2001:db8::1", IPPROTO_TCP))));
  // The IPv6 spec's `arp` adds nothing without an IPv4 address.
  IpAddress v6_only[] = {ip("2001:db8::1")};
  EXPECT_THROW(receive_filter(LinkFraming::Ethernet, v6_only, ReceiveSpec{.icmp = true},
                              ReceiveSpec{.arp = true}),
               std::invalid_argument);
}

TEST(IoBpf, UnionOfSpecs) {
  ReceiveSpec s;
  s |= ReceiveSpec{.arp = true};
  EXPECT_EQ(s, (ReceiveSpec{.arp = true}));
  // A span joins only with a span of the same protocol; a protocol without one is every port.
  s |= ReceiveSpec{.tcp = true, .icmp = true, .tcp_ports = {33000, 39999}};
  EXPECT_EQ(s, (ReceiveSpec{.tcp = true, .icmp = true, .arp = true, .tcp_ports = {33000, 39999}}));
  s |= ReceiveSpec{.udp = true, .udp_ports = {33000, 39999}};
  EXPECT_EQ(s.udp_ports, (PortSpan{33000, 39999}));
  EXPECT_EQ(s.tcp_ports, (PortSpan{33000, 39999}));
  s |= ReceiveSpec{.tcp = true, .tcp_ports = {40000, 59999}};
  EXPECT_EQ(s.tcp_ports, (PortSpan{33000, 59999}));
  s |= ReceiveSpec{.tcp = true, .icmp = true};  // a module that takes every port
  EXPECT_TRUE(s.tcp_ports.all());
  EXPECT_EQ(s.udp_ports, (PortSpan{33000, 39999}));
  EXPECT_TRUE(s.tcp && s.udp && s.icmp && s.arp);
}

TEST(IoBpf, KernelAcceptsPortAndPerFamilyPrograms) {
  FileDescriptor udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(udp);
  IpAddress mine[] = {ip("198.18.0.1"), ip("2001:db8::1")};
  const ReceiveSpec ports{.tcp = true,
                          .udp = true,
                          .icmp = true,
                          .arp = true,
                          .tcp_ports = {33000, 39999},
                          .udp_ports = {33000, 39999}};
  for (auto framing : {LinkFraming::Ethernet, LinkFraming::RawIp}) {
    for (const auto& v4 : {ports, ReceiveSpec{.arp = true}}) {
      if (framing == LinkFraming::RawIp && !v4.any_ip()) continue;
      auto prog = receive_filter(framing, mine, v4, ports);
      sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
      EXPECT_EQ(::setsockopt(udp.get(), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog), 0)
          << std::strerror(errno);
    }
  }
}

}  // namespace
}  // namespace gh
