// Netlink requests and reply parsing, from byte fixtures: no socket, no privilege.
#include "io/netlink.h"

#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "io/route.h"

namespace gh {
namespace {

using netlink::Request;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

// A datagram as the kernel would send it: messages back to back, each padded, 4-byte aligned.
class Datagram {
 public:
  Datagram& add(const Request& m) {
    auto b = m.bytes();
    return add(b);
  }
  Datagram& add(std::span<const uint8_t> b) {
    size_t at = bytes_.size();
    bytes_.resize(at + NLMSG_ALIGN(b.size()));
    std::memcpy(bytes_.data() + at, b.data(), b.size());
    return *this;
  }
  std::span<const uint8_t> span() {
    words_.assign((bytes_.size() + 3) / 4, 0);
    std::memcpy(words_.data(), bytes_.data(), bytes_.size());
    return {reinterpret_cast<const uint8_t*>(words_.data()), bytes_.size()};
  }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<uint32_t> words_;
};

// A reply message built with the request builder, then given the kernel's flags and seq.
template <class Header>
Request reply(uint16_t type, const Header& h, uint32_t seq, uint16_t flags = 0) {
  Request r(type, 0, h);
  r.header()->nlmsg_flags = flags;
  r.header()->nlmsg_seq = seq;
  return r;
}

Request done(uint32_t seq, int code = 0) {
  Request r = reply(NLMSG_DONE, code, seq, NLM_F_MULTI);
  return r;
}

Request error(uint32_t seq, int negative_errno, const char* text = nullptr) {
  nlmsgerr e{};
  e.error = negative_errno;
  e.msg.nlmsg_len = NLMSG_HDRLEN;  // capped: only the request's header is echoed
  e.msg.nlmsg_seq = seq;
  Request r = reply(NLMSG_ERROR, e, seq, NLM_F_CAPPED);
  if (text) {
    r.header()->nlmsg_flags |= NLM_F_ACK_TLVS;
    r.add_attr(NLMSGERR_ATTR_MSG, text, std::strlen(text) + 1);
  }
  return r;
}

ifaddrmsg addr_header(int family, int ifindex, int prefix) {
  ifaddrmsg a{};
  a.ifa_family = static_cast<uint8_t>(family);
  a.ifa_index = static_cast<uint32_t>(ifindex);
  a.ifa_prefixlen = static_cast<uint8_t>(prefix);
  return a;
}

TEST(IoNetlink, RequestLayout) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = 32;
  Request r(RTM_GETROUTE, 0, rtm);
  r.add_address(RTA_DST, ip("198.18.0.2"));
  r.add_u32(RTA_OIF, 7);
  auto b = r.bytes();
  ASSERT_EQ(b.size(), NLMSG_LENGTH(sizeof(rtmsg)) + 8 + 8);
  EXPECT_EQ(r.header()->nlmsg_len, b.size());
  EXPECT_EQ(r.header()->nlmsg_type, RTM_GETROUTE);
  EXPECT_EQ(r.header()->nlmsg_flags, NLM_F_REQUEST);
  const uint8_t* a = b.data() + NLMSG_LENGTH(sizeof(rtmsg));
  const uint8_t dst_attr[] = {8, 0, RTA_DST, 0, 198, 18, 0, 2};
  EXPECT_EQ(std::memcmp(a, dst_attr, sizeof dst_attr), 0);
  uint32_t oif;
  std::memcpy(&oif, a + 12, 4);
  EXPECT_EQ(oif, 7u);

  // Odd-sized payloads are padded to 4 bytes with zeros.
  ifinfomsg ifi{};
  Request l(RTM_GETLINK, 0, ifi);
  l.add_attr(IFLA_IFNAME, "eth0", 5);
  EXPECT_EQ(l.bytes().size(), NLMSG_LENGTH(sizeof(ifinfomsg)) + 12);
  EXPECT_EQ(l.bytes()[l.bytes().size() - 1], 0);

  // Overflow is refused, not written past the buffer.
  std::vector<uint8_t> big(Request::kCapacity);
  EXPECT_THROW(l.add_attr(IFLA_IFALIAS, big.data(), big.size()), std::length_error);
}

TEST(IoNetlink, DumpEndsAtDone) {
  Request a1 = reply(RTM_NEWADDR, addr_header(AF_INET, 1, 8), 5, NLM_F_MULTI);
  a1.add_address(IFA_LOCAL, ip("127.0.0.1"));
  Request a2 = reply(RTM_NEWADDR, addr_header(AF_INET6, 1, 128), 5, NLM_F_MULTI);
  a2.add_address(IFA_ADDRESS, ip("::1"));
  Datagram d;
  d.add(a1).add(a2).add(done(5));
  std::vector<IpAddress> seen;
  auto st = netlink::parse_datagram(d.span(), 5, [&](const nlmsghdr& m) {
    auto a = netlink::parse_addr(m);
    ASSERT_TRUE(a);
    seen.push_back(a->address);
  });
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.error, 0);
  EXPECT_FALSE(st.interrupted);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], ip("127.0.0.1"));
  EXPECT_EQ(seen[1], ip("::1"));
}

TEST(IoNetlink, MultipartWithoutDoneIsNotFinished) {
  Request a1 = reply(RTM_NEWADDR, addr_header(AF_INET, 1, 8), 5, NLM_F_MULTI);
  a1.add_address(IFA_LOCAL, ip("127.0.0.1"));
  Datagram d;
  d.add(a1);
  int calls = 0;
  auto st = netlink::parse_datagram(d.span(), 5, [&](const nlmsghdr&) { ++calls; });
  EXPECT_FALSE(st.done);
  EXPECT_EQ(calls, 1);
}

TEST(IoNetlink, SingleReplyIsFinished) {
  Request r = reply(RTM_NEWROUTE, rtmsg{}, 9);
  Datagram d;
  d.add(r);
  int calls = 0;
  auto st = netlink::parse_datagram(d.span(), 9, [&](const nlmsghdr&) { ++calls; });
  EXPECT_TRUE(st.done);
  EXPECT_EQ(calls, 1);
}

TEST(IoNetlink, OtherSequenceNumbersAreSkipped) {
  Request stale = reply(RTM_NEWADDR, addr_header(AF_INET, 1, 8), 4, NLM_F_MULTI);
  stale.add_address(IFA_LOCAL, ip("127.0.0.1"));
  Datagram d;
  d.add(stale).add(done(4));
  int calls = 0;
  auto st = netlink::parse_datagram(d.span(), 5, [&](const nlmsghdr&) { ++calls; });
  EXPECT_FALSE(st.done);
  EXPECT_EQ(calls, 0);
}

TEST(IoNetlink, ErrorsAndAcks) {
  {
    Datagram d;
    d.add(error(3, -ENETUNREACH));
    auto st = netlink::parse_datagram(d.span(), 3, {});
    EXPECT_TRUE(st.done);
    EXPECT_EQ(st.error, ENETUNREACH);
    EXPECT_EQ(st.error_text, "");
  }
  {
    Datagram d;
    d.add(error(3, -EINVAL, "Device not specified"));
    auto st = netlink::parse_datagram(d.span(), 3, {});
    EXPECT_EQ(st.error, EINVAL);
    EXPECT_EQ(st.error_text, "Device not specified");
  }
  {
    Datagram d;
    d.add(error(3, 0));  // an ack
    auto st = netlink::parse_datagram(d.span(), 3, {});
    EXPECT_TRUE(st.done);
    EXPECT_EQ(st.error, 0);
  }
  {
    Datagram d;
    d.add(done(3, -EBUSY));  // a dump that failed midway
    auto st = netlink::parse_datagram(d.span(), 3, {});
    EXPECT_TRUE(st.done);
    EXPECT_EQ(st.error, EBUSY);
  }
}

TEST(IoNetlink, InterruptedDumpIsFlagged) {
  Request a = reply(RTM_NEWADDR, addr_header(AF_INET, 1, 8), 2, NLM_F_MULTI | NLM_F_DUMP_INTR);
  a.add_address(IFA_LOCAL, ip("127.0.0.1"));
  Datagram d;
  d.add(a).add(done(2));
  auto st = netlink::parse_datagram(d.span(), 2, {});
  EXPECT_TRUE(st.interrupted);
  EXPECT_TRUE(st.done);
}

TEST(IoNetlink, MalformedDatagramsThrow) {
  Request a = reply(RTM_NEWADDR, addr_header(AF_INET, 1, 8), 2, NLM_F_MULTI);
  a.add_address(IFA_LOCAL, ip("127.0.0.1"));
  auto good = a.bytes();

  // Cut short: nlmsg_len says more than the datagram holds.
  {
    Datagram d;
    d.add(good.first(good.size() - 4));
    EXPECT_THROW(netlink::parse_datagram(d.span(), 2, {}), RuntimeError);
  }
  // Trailing bytes that are not a whole header.
  {
    Datagram d;
    const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    d.add(good).add(junk);
    EXPECT_THROW(netlink::parse_datagram(d.span(), 2, {}), RuntimeError);
  }
  // nlmsg_len smaller than a header: NLMSG_OK refuses it.
  {
    std::vector<uint8_t> bad(good.begin(), good.end());
    uint32_t tiny = 4;
    std::memcpy(bad.data(), &tiny, 4);
    Datagram d;
    d.add(bad);
    EXPECT_THROW(netlink::parse_datagram(d.span(), 2, {}), RuntimeError);
  }
  // An NLMSG_ERROR too short for its nlmsgerr.
  {
    Request e = reply(NLMSG_ERROR, 0, 2);
    Datagram d;
    d.add(e);
    EXPECT_THROW(netlink::parse_datagram(d.span(), 2, {}), RuntimeError);
  }
  // Unaligned buffers are refused rather than read with misaligned loads.
  {
    std::vector<uint32_t> words(good.size() / 4 + 2);
    auto* p = reinterpret_cast<uint8_t*>(words.data()) + 1;
    std::memcpy(p, good.data(), good.size());
    EXPECT_THROW(netlink::parse_datagram({p, good.size()}, 2, {}), RuntimeError);
  }
  // Empty: nothing to see, not finished.
  EXPECT_FALSE(netlink::parse_datagram({}, 2, {}).done);
}

TEST(IoNetlink, ParsesRoute) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_type = RTN_UNICAST;
  rtm.rtm_dst_len = 32;
  rtm.rtm_table = RT_TABLE_MAIN;
  Request r = reply(RTM_NEWROUTE, rtm, 1);
  r.add_address(RTA_DST, ip("198.51.100.7"));
  r.add_u32(RTA_OIF, 3);
  r.add_address(RTA_PREFSRC, ip("198.18.0.1"));
  r.add_address(RTA_GATEWAY, ip("198.18.0.254"));
  r.add_u32(RTA_TABLE, 1000);
  // RTA_METRICS holds nested attributes; RTAX_MTU = 1400.
  uint8_t metrics[8] = {8, 0, RTAX_MTU, 0};
  uint32_t mtu = 1400;
  std::memcpy(metrics + 4, &mtu, 4);
  r.add_attr(RTA_METRICS, metrics, sizeof metrics);

  auto m = netlink::parse_route(*r.header());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->family, AF_INET);
  EXPECT_EQ(m->type, RTN_UNICAST);
  EXPECT_EQ(m->oif, 3);
  EXPECT_EQ(m->table, 1000u);
  EXPECT_EQ(m->dst, ip("198.51.100.7"));
  EXPECT_EQ(m->prefsrc, ip("198.18.0.1"));
  EXPECT_EQ(m->gateway, ip("198.18.0.254"));
  EXPECT_EQ(m->mtu, 1400u);

  // Another message type is not a route.
  r.header()->nlmsg_type = RTM_NEWLINK;
  EXPECT_FALSE(netlink::parse_route(*r.header()));
}

TEST(IoNetlink, ParsesRouteViaOtherFamily) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_type = RTN_UNICAST;
  Request r = reply(RTM_NEWROUTE, rtm, 1);
  r.add_u32(RTA_OIF, 2);
  uint8_t via[2 + 16] = {};
  uint16_t fam = AF_INET6;
  std::memcpy(via, &fam, 2);
  auto b = ip("2001:db8::fe").bytes();
  std::memcpy(via + 2, b.data(), 16);
  r.add_attr(RTA_VIA, via, sizeof via);
  auto m = netlink::parse_route(*r.header());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->gateway, ip("2001:db8::fe"));
  EXPECT_FALSE(m->prefsrc);
  EXPECT_EQ(m->mtu, 0u);
}

TEST(IoNetlink, RejectsBadAttributes) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  {  // an IPv4 route with a 16-byte gateway
    Request r = reply(RTM_NEWROUTE, rtm, 1);
    r.add_address(RTA_GATEWAY, ip("2001:db8::1"));
    EXPECT_FALSE(netlink::parse_route(*r.header()));
  }
  {  // a 2-byte interface index
    Request r = reply(RTM_NEWROUTE, rtm, 1);
    uint16_t small = 3;
    r.add_attr(RTA_OIF, &small, sizeof small);
    EXPECT_FALSE(netlink::parse_route(*r.header()));
  }
  {  // an attribute whose length runs past the message
    Request r = reply(RTM_NEWROUTE, rtm, 1);
    r.add_u32(RTA_OIF, 3);
    auto* h = r.header();
    auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<uint8_t*>(h) +
                                          NLMSG_LENGTH(NLMSG_ALIGN(sizeof(rtmsg))));
    rta->rta_len = 64;
    EXPECT_FALSE(netlink::parse_route(*h));
  }
  {  // a zero-length attribute must not loop forever
    Request r = reply(RTM_NEWROUTE, rtm, 1);
    r.add_u32(RTA_OIF, 3);
    auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<uint8_t*>(r.header()) +
                                          NLMSG_LENGTH(NLMSG_ALIGN(sizeof(rtmsg))));
    rta->rta_len = 0;
    EXPECT_FALSE(netlink::parse_route(*r.header()));
  }
  {  // a message too short for its family header
    Request r(RTM_NEWROUTE, 0, uint32_t{0});
    EXPECT_FALSE(netlink::parse_route(*r.header()));
  }
}

TEST(IoNetlink, ParsesLink) {
  ifinfomsg ifi{};
  ifi.ifi_index = 4;
  ifi.ifi_type = ARPHRD_ETHER;
  ifi.ifi_flags = IFF_UP | IFF_BROADCAST;
  Request r = reply(RTM_NEWLINK, ifi, 1);
  r.add_attr(IFLA_IFNAME, "veth0", 6);
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  r.add_attr(IFLA_ADDRESS, mac, 6);
  r.add_u32(IFLA_MTU, 1500);
  auto l = netlink::parse_link(*r.header());
  ASSERT_TRUE(l);
  EXPECT_EQ(l->ifindex, 4);
  EXPECT_EQ(l->type, ARPHRD_ETHER);
  EXPECT_EQ(l->flags, static_cast<uint32_t>(IFF_UP | IFF_BROADCAST));
  EXPECT_EQ(l->name, "veth0");
  EXPECT_EQ(l->address, std::vector<uint8_t>(mac, mac + 6));
  EXPECT_EQ(l->mtu, 1500u);

  // A name without its terminating NUL is still bounded by the attribute.
  Request n = reply(RTM_NEWLINK, ifi, 1);
  n.add_attr(IFLA_IFNAME, "abcd", 4);
  EXPECT_EQ(netlink::parse_link(*n.header())->name, "abcd");
}

TEST(IoNetlink, ParsesAddr) {
  auto h = addr_header(AF_INET, 5, 24);
  h.ifa_scope = RT_SCOPE_UNIVERSE;
  h.ifa_flags = IFA_F_PERMANENT;
  {  // point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer
    Request r = reply(RTM_NEWADDR, h, 1);
    r.add_address(IFA_ADDRESS, ip("198.18.9.9"));
    r.add_address(IFA_LOCAL, ip("198.18.0.1"));
    auto a = netlink::parse_addr(*r.header());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->address, ip("198.18.0.1"));
    EXPECT_EQ(a->prefix_len, 24);
    EXPECT_EQ(a->ifindex, 5);
    EXPECT_EQ(a->flags, static_cast<uint32_t>(IFA_F_PERMANENT));
  }
  {  // IFA_FLAGS (32 bits) wins over the 8-bit header field
    Request r = reply(RTM_NEWADDR, addr_header(AF_INET6, 5, 64), 1);
    r.add_address(IFA_ADDRESS, ip("2001:db8::1"));
    r.add_u32(IFA_FLAGS, IFA_F_NODAD | IFA_F_PERMANENT);
    auto a = netlink::parse_addr(*r.header());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->address, ip("2001:db8::1"));
    EXPECT_EQ(a->flags, static_cast<uint32_t>(IFA_F_NODAD | IFA_F_PERMANENT));
  }
  {  // a prefix longer than the address
    Request r = reply(RTM_NEWADDR, addr_header(AF_INET, 5, 33), 1);
    r.add_address(IFA_LOCAL, ip("198.18.0.1"));
    EXPECT_FALSE(netlink::parse_addr(*r.header()));
  }
  {  // no address at all
    Request r = reply(RTM_NEWADDR, addr_header(AF_INET, 5, 24), 1);
    EXPECT_FALSE(netlink::parse_addr(*r.header()));
  }
}

TEST(IoNetlink, ParsesNeigh) {
  ndmsg ndm{};
  ndm.ndm_family = AF_INET6;
  ndm.ndm_ifindex = 3;
  ndm.ndm_state = NUD_REACHABLE;
  Request r = reply(RTM_NEWNEIGH, ndm, 1);
  r.add_address(NDA_DST, ip("2001:db8::2"));
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  r.add_attr(NDA_LLADDR, mac, 6);
  auto n = netlink::parse_neigh(*r.header());
  ASSERT_TRUE(n);
  EXPECT_EQ(n->ifindex, 3);
  EXPECT_EQ(n->state, NUD_REACHABLE);
  EXPECT_EQ(n->dst, ip("2001:db8::2"));
  EXPECT_EQ(n->lladdr, std::vector<uint8_t>(mac, mac + 6));

  ndm.ndm_state = NUD_INCOMPLETE;
  Request inc = reply(RTM_NEWNEIGH, ndm, 1);
  inc.add_address(NDA_DST, ip("2001:db8::2"));
  auto i = netlink::parse_neigh(*inc.header());
  ASSERT_TRUE(i);
  EXPECT_TRUE(i->lladdr.empty());
}

// ---- helpers of io/route.h that need no kernel ----

TEST(RouteHelpers, NetworkAndContains) {
  InterfaceAddress a{2, ip("198.18.0.77"), 24, 0, 0};
  EXPECT_EQ(a.network(), ip("198.18.0.0"));
  EXPECT_TRUE(a.contains(ip("198.18.0.255")));
  EXPECT_FALSE(a.contains(ip("198.18.1.0")));
  EXPECT_FALSE(a.contains(ip("::ffff:198.18.0.1")));

  InterfaceAddress v6{2, ip("2001:db8::1"), 64, 0, 0};
  EXPECT_EQ(v6.network(), ip("2001:db8::"));
  EXPECT_TRUE(v6.contains(ip("2001:db8::ffff:1")));
  EXPECT_FALSE(v6.contains(ip("2001:db8:0:1::1")));

  InterfaceAddress all{2, ip("198.18.0.1"), 0, 0, 0}, host{2, ip("::1"), 128, 0, 0};
  EXPECT_EQ(all.network(), ip("0.0.0.0"));
  EXPECT_TRUE(all.contains(ip("203.0.113.9")));
  EXPECT_TRUE(host.contains(ip("::1")));
  EXPECT_FALSE(host.contains(ip("::2")));
}

TEST(RouteHelpers, PickSource) {
  std::vector<InterfaceAddress> addrs = {
      {2, ip("fe80::1"), 64, RT_SCOPE_LINK, IFA_F_PERMANENT},
      {2, ip("2001:db8::9"), 64, RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE},
      {2, ip("2001:db8::1"), 64, RT_SCOPE_UNIVERSE, IFA_F_PERMANENT},
      {2, ip("198.18.0.1"), 24, RT_SCOPE_UNIVERSE, IFA_F_PERMANENT},
  };
  using route_detail::pick_source;
  EXPECT_EQ(pick_source(addrs, ip("2001:db8::2")), ip("2001:db8::1"));
  EXPECT_EQ(pick_source(addrs, ip("fe80::2")), ip("fe80::1"));
  EXPECT_EQ(pick_source(addrs, ip("198.18.0.2")), ip("198.18.0.1"));
  addrs.pop_back();
  EXPECT_FALSE(pick_source(addrs, ip("198.18.0.2")));
  // Only a link-local address: used for a global destination rather than nothing.
  std::vector<InterfaceAddress> ll = {{2, ip("fe80::1"), 64, RT_SCOPE_LINK, 0}};
  EXPECT_EQ(pick_source(ll, ip("2001:db8::2")), ip("fe80::1"));
}

}  // namespace
}  // namespace gh
