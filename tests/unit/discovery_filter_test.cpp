// The discovery sweep's kernel receive filter (DiscoveryModules::receive_filter, io/bpf.h), run by
// the test BPF interpreter: for each module set the sweep can run, every module's genuine reply
// (built by ping_replies.h from the probe the module built, and accepted by its classify()) passes
// the compiled program, first attempts and retries alike, and unrelated frames do not (TCP to the
// port stages' source ports or to a service port, UDP that is not ours, IPv4 when the IPv4 side
// only needs ARP, ARP requests, packets to other addresses). The kernel's verifier accepts the
// programs.
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "bpf_interpreter.h"
#include "io/fd.h"
#include "net/bytes.h"
#include "ping_replies.h"
#include "scan/discovery_modules.h"
#include "scan/probe_ping.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

constexpr ModuleKeys kKeys{0x9abc, 0xdef0};
const MacAddress kOurMac{2, 0, 0, 0, 0, 1};
const MacAddress kGatewayMac{2, 0, 0, 0, 0, 2};
const MacAddress kOtherMac{2, 0, 0, 0, 0, 9};

IpAddress our(Family f) {
  return f == Family::V4 ? ip("198.18.0.1") : ip("2001:db8::1");
}
// An on-link target and a routed one, per family.
IpAddress target(Family f, bool on_link) {
  if (f == Family::V4) return on_link ? ip("198.18.0.77") : ip("198.19.4.5");
  return on_link ? ip("2001:db8::77") : ip("2001:db8:9::5");
}

PathInfo path(Family f, bool on_link) {
  PathInfo p;
  p.family = f;
  p.source = our(f);
  p.framing = LinkFraming::Ethernet;
  p.src_mac = kOurMac;
  p.dst_mac = on_link ? MacAddress{} : kGatewayMac;
  p.on_link = on_link;
  p.ifindex = 3;
  p.mtu = 1500;
  return p;
}

// nmap's sets: on a LAN ARP/NDP (plan.arp), off it -PE -PS443 -PA80 -PP; plus what a user may
// add (-PM, more -PS ports, -PU).
DiscoveryPlan plan(bool arp, bool all_pings) {
  DiscoveryPlan p;
  p.arp = arp;
  p.echo = p.timestamp = true;
  p.syn_ports = {443};
  p.ack_ports = {80};
  if (all_pings) {
    p.mask = true;
    p.syn_ports = {443, 22};
    p.udp_ports = {40125};
  }
  return p;
}

struct Sweep {
  DiscoveryModules modules;
  std::vector<PathInfo> paths;
  std::vector<sock_filter> filter;

  Sweep(const DiscoveryPlan& plan, std::vector<PathInfo> ps)
      : modules(plan, kKeys, nullptr), paths(std::move(ps)) {
    for (const PathInfo& p : paths) modules.prepare(p);
    filter = modules.receive_filter(LinkFraming::Ethernet, paths);
  }
  bool passes(const std::vector<uint8_t>& frame) const { return test::bpf_accepts(filter, frame); }
  bool classifies(const std::vector<uint8_t>& frame) const {
    net::ParsedPacket p;
    const bool is_ip = net::parse_packet(frame, net::LinkType::Ethernet, p);
    ProbeVerdict v;
    return modules.classify(RxFrame{frame, LinkFraming::Ethernet, is_ip ? &p : nullptr, {}}, v) &&
           v.host && v.host_state == HostState::Up;
  }
};

std::vector<uint8_t> build(const DiscoveryModules::Entry& e, const IpAddress& dst,
                           uint8_t attempt) {
  std::vector<uint8_t> b(e.module->max_frame());
  const size_t n = e.module->build(b, e.probe(dst), BuildArgs{0x4242, attempt});
  EXPECT_NE(n, 0u) << e.module->name();
  b.resize(n);
  return b;
}

// The genuine replies a live target (never a router) sends to one probe of module `name`.
std::vector<std::vector<uint8_t>> replies(std::string_view name, const std::vector<uint8_t>& probe,
                                          const IpAddress& dst) {
  const bool v4 = dst.is_v4();
  const uint8_t unreach = v4 ? 3 : 1, port_unreach = v4 ? 3 : 4, admin = v4 ? 13 : 1;
  if (name == "arp") return {test::arp_reply(dst, our(Family::V4), kOurMac)};
  if (name == "ndp") return {test::neighbor_advert(dst, our(Family::V6), kOurMac)};
  if (name == "icmp_echo") return {test::icmp_reply(probe, v4 ? 0 : 129)};
  if (name == "icmp_timestamp") return {test::icmp_reply(probe, 14)};
  if (name == "icmp_mask") return {test::icmp_reply(probe, 18)};
  if (name == "tcp_syn_ping")
    return {test::syn_answer(probe, 0x12), test::syn_answer(probe, 0x14),
            test::icmp_error(probe, unreach, port_unreach),
            test::icmp_error(probe, unreach, admin)};
  if (name == "tcp_ack_ping")
    return {test::ack_answer(probe), test::icmp_error(probe, unreach, admin)};
  if (name == "udp_ping")
    return {test::udp_answer(probe), test::icmp_error(probe, unreach, port_unreach)};
  ADD_FAILURE() << "no reply for module " << name;
  return {};
}

// Every probe the sweep sends through `sweep`'s paths, first attempt and a late retry: each
// reply is the module's (classify) and passes the filter. Returns how many replies were checked.
size_t expect_every_reply_passes(const Sweep& sweep) {
  size_t checked = 0;
  for (const PathInfo& p : sweep.paths)
    for (const auto& e : sweep.modules.probes(p.family, p.on_link))
      for (uint8_t attempt : {0, 5}) {
        const IpAddress dst = target(p.family, p.on_link);
        SCOPED_TRACE(std::string(e.module->name()) + " port " + std::to_string(e.port) + " to " +
                     dst.to_string() + " attempt " + std::to_string(attempt));
        const auto probe = build(e, dst, attempt);
        for (const auto& reply : replies(e.module->name(), probe, dst)) {
          EXPECT_TRUE(sweep.classifies(reply));
          EXPECT_TRUE(sweep.passes(reply));
          ++checked;
        }
      }
  return checked;
}

// A TCP or UDP packet from `src`:sport to `dst`:dport, as a target would send it to us.
std::vector<uint8_t> l4_to(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                           uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> l4(20, 0);
  net::store_be16(&l4[0], sport);
  net::store_be16(&l4[2], dport);
  if (proto == IPPROTO_TCP) {
    l4[12] = 0x50;
    l4[13] = 0x12;  // a SYN-ACK
  } else {
    net::store_be16(&l4[4], 20);
  }
  return test::ip_frame(kOurMac, kOtherMac, src, dst, proto, l4);
}

TEST(DiscoveryFilter, LanAndRoutedTogetherPassEveryModulesReplies) {
  // One interface with on-link and routed ranges of both families: ARP/NDP on the LAN, every
  // IP ping toward the routed ranges.
  Sweep s(plan(true, true), {path(Family::V4, true), path(Family::V6, true),
                             path(Family::V4, false), path(Family::V6, false)});
  // arp, ndp; v4: echo, timestamp, mask, syn x2, ack, udp; v6: echo, syn x2, ack, udp.
  EXPECT_EQ(expect_every_reply_passes(s), 2u * (1 + 1 + 3 + 2 * 4 + 2 + 2 + 1 + 2 * 4 + 2 + 2));

  for (Family f : {Family::V4, Family::V6}) {
    SCOPED_TRACE(f == Family::V4 ? "v4" : "v6");
    const IpAddress them = target(f, false), me = our(f);
    // A port stage's SYN-ACK (source ports 40000-59999) and one to a service of ours.
    EXPECT_FALSE(s.passes(l4_to(them, me, IPPROTO_TCP, 443, 45000)));
    EXPECT_FALSE(s.passes(l4_to(them, me, IPPROTO_TCP, 443, 32999)));
    EXPECT_FALSE(s.passes(l4_to(them, me, IPPROTO_TCP, 51515, 22)));
    // UDP that is not ours: DNS to a resolver's port, mDNS, a -sU stage's reply.
    EXPECT_FALSE(s.passes(l4_to(them, me, IPPROTO_UDP, 53, 53)));
    EXPECT_FALSE(s.passes(l4_to(them, me, IPPROTO_UDP, 5353, 5353)));
    EXPECT_FALSE(s.passes(l4_to(them, me, IPPROTO_UDP, 161, 50000)));
    // The edges of the pings' source ports pass (they may be ours: classify decides).
    EXPECT_TRUE(s.passes(l4_to(them, me, IPPROTO_TCP, 443, HostPingModule::kPortBase)));
    EXPECT_TRUE(s.passes(l4_to(them, me, IPPROTO_UDP, 40125,
                               HostPingModule::kPortBase + HostPingModule::kPortRange - 1)));
    // Anything to an address that is not ours.
    const IpAddress other = f == Family::V4 ? ip("198.18.0.2") : ip("2001:db8::2");
    EXPECT_FALSE(s.passes(l4_to(them, other, IPPROTO_TCP, 443, 35000)));
    EXPECT_FALSE(s.passes(test::ip_frame(kOurMac, kOtherMac, them, other,
                                         f == Family::V4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6},
                                         std::vector<uint8_t>(8, 0))));
  }
  // ARP: requests, and replies to another address, stay out.
  EXPECT_FALSE(s.passes(test::arp_reply(target(Family::V4, true), our(Family::V4), kOurMac, 1)));
  EXPECT_FALSE(s.passes(test::arp_reply(target(Family::V4, true), ip("198.18.0.2"), kOtherMac)));
}

TEST(DiscoveryFilter, OnlyArpOnTheLanPassesNoIpv4Packet) {
  // An on-link IPv4 sweep (nmap's default on a LAN): ARP replies only.
  Sweep s(plan(true, true), {path(Family::V4, true)});
  EXPECT_EQ(expect_every_reply_passes(s), 2u);
  const IpAddress them = target(Family::V4, true), me = our(Family::V4);
  EXPECT_FALSE(s.passes(l4_to(them, me, IPPROTO_TCP, 443, 35000)));
  EXPECT_FALSE(s.passes(l4_to(them, me, IPPROTO_UDP, 40125, 35000)));
  EXPECT_FALSE(s.passes(
      test::ip_frame(kOurMac, kOtherMac, them, me, IPPROTO_ICMP, std::vector<uint8_t>(8, 0))));
  EXPECT_FALSE(s.passes(test::arp_reply(them, me, kOurMac, 1)));
  // No IPv6 path: no IPv6 either.
  EXPECT_FALSE(s.passes(test::neighbor_advert(target(Family::V6, true), our(Family::V6), kOurMac)));

  // An on-link IPv6 sweep: neighbor advertisements (ICMPv6) only.
  Sweep s6(plan(true, true), {path(Family::V6, true)});
  EXPECT_EQ(expect_every_reply_passes(s6), 2u);
  EXPECT_FALSE(
      s6.passes(l4_to(target(Family::V6, true), our(Family::V6), IPPROTO_TCP, 443, 35000)));
  EXPECT_FALSE(s6.passes(test::arp_reply(them, me, kOurMac)));
}

TEST(DiscoveryFilter, SendIpOnTheLanAndTheRoutedDefaults) {
  // --send-ip: the IP pings on the on-link path (frames to the broadcast / solicited-node MAC).
  Sweep lan(plan(false, true), {path(Family::V4, true), path(Family::V6, true)});
  EXPECT_EQ(expect_every_reply_passes(lan), 2u * (3 + 2 * 4 + 2 + 2 + 1 + 2 * 4 + 2 + 2));
  EXPECT_FALSE(lan.passes(test::arp_reply(target(Family::V4, true), our(Family::V4), kOurMac)));

  // nmap's routed default, -PE -PS443 -PA80 -PP: no UDP ping, so no UDP at all.
  Sweep routed(plan(false, false), {path(Family::V4, false), path(Family::V6, false)});
  EXPECT_EQ(expect_every_reply_passes(routed), 2u * (2 + 4 + 2 + 1 + 4 + 2));
  for (Family f : {Family::V4, Family::V6}) {
    EXPECT_FALSE(routed.passes(l4_to(target(f, false), our(f), IPPROTO_UDP, 40125, 35000)));
    EXPECT_FALSE(routed.passes(l4_to(target(f, false), our(f), IPPROTO_TCP, 80, 50000)));
  }
}

TEST(DiscoveryFilter, UnionOfThePreparedModulesOnly) {
  DiscoveryModules m(plan(true, true), kKeys, nullptr);
  m.prepare(path(Family::V4, true));
  m.prepare(path(Family::V6, true));
  m.prepare(path(Family::V4, false));
  // ndp refused IPv4 and arp IPv6: each family gets its own.
  EXPECT_EQ(m.receive(Family::V4, true), (ReceiveSpec{.arp = true}));
  EXPECT_EQ(m.receive(Family::V6, true), (ReceiveSpec{.icmp = true}));
  EXPECT_EQ(m.receive(Family::V4, false), (ReceiveSpec{.tcp = true,
                                                       .udp = true,
                                                       .icmp = true,
                                                       .tcp_ports = HostPingModule::ping_ports(),
                                                       .udp_ports = HostPingModule::ping_ports()}));
  EXPECT_EQ(m.receive(Family::V6, false), ReceiveSpec{});  // not prepared
  // Nothing prepared on the paths: a program that drops everything (not an error).
  DiscoveryModules none(plan(true, true), kKeys, nullptr);
  const std::vector<PathInfo> routed6 = {path(Family::V6, false)};
  none.prepare(path(Family::V6, true));
  auto drop = none.receive_filter(LinkFraming::Ethernet, routed6);
  EXPECT_FALSE(test::bpf_accepts(
      drop, l4_to(target(Family::V6, false), our(Family::V6), IPPROTO_TCP, 443, 35000)));
}

TEST(DiscoveryFilter, KernelAcceptsThePrograms) {
  FileDescriptor udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(udp);
  for (bool arp : {false, true}) {
    Sweep s(plan(arp, true), {path(Family::V4, true), path(Family::V6, true),
                              path(Family::V4, false), path(Family::V6, false)});
    sock_fprog fprog{static_cast<unsigned short>(s.filter.size()), s.filter.data()};
    EXPECT_EQ(::setsockopt(udp.get(), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog), 0)
        << std::strerror(errno);
  }
}

}  // namespace
}  // namespace gh
