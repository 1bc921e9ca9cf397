#include "io/route.h"

#include "io/neighbors.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "io/neighbors.h"
#include "io/netlink.h"

namespace gh {

namespace {

using netlink::NetlinkSocket;
using netlink::Request;
using Clock = std::chrono::steady_clock;

int family_of(const IpAddress& a) {
  return a.is_v4() ? AF_INET : AF_INET6;
}

u128 host_mask(int bits, int prefix_len) {
  int host = bits - std::clamp(prefix_len, 0, bits);
  if (host <= 0) return 0;
  if (host >= 128) return ~u128{0};
  return (u128{1} << host) - 1;
}

// Runs a dump, parsing each message with `parse`, and starts over (at most 3 times in all) when
// the kernel says a concurrent change made it inconsistent.
template <class T, class Parse>
std::vector<T> dump(NetlinkSocket& nl, Request& req, Parse parse, const std::string& what) {
  for (int attempt = 1;; ++attempt) {
    std::vector<T> out;
    auto r = nl.transact(req, [&](const nlmsghdr& m) {
      if (auto v = parse(m)) out.push_back(std::move(*v));
    });
    if (r.error != 0) throw system_error(r.error, what);
    if (!r.interrupted || attempt == 3) return out;
  }
}

std::string with_text(const std::string& message, const std::string& kernel_text) {
  return kernel_text.empty() ? message : message + " (" + kernel_text + ")";
}

netlink::LinkMessage get_link(NetlinkSocket& nl, int ifindex, std::string_view name) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  Request req(RTM_GETLINK, 0, ifi);
  std::string n(name);
  if (!name.empty()) req.add_attr(IFLA_IFNAME, n.c_str(), n.size() + 1);
  std::optional<netlink::LinkMessage> link;
  auto r = nl.transact(req, [&](const nlmsghdr& m) {
    if (!link) link = netlink::parse_link(m);
  });
  std::string what = name.empty() ? "interface #" + std::to_string(ifindex) : "interface " + n;
  if (r.error == ENODEV && !name.empty()) throw UsageError("no interface named '" + n + "'");
  if (r.error != 0) throw system_error(r.error, with_text("looking up " + what, r.error_text));
  if (!link) throw RuntimeError("the kernel did not describe " + what);
  return *link;
}

netlink::RouteMessage get_route(NetlinkSocket& nl, const IpAddress& dst, int oif,
                                std::string_view iface) {
  rtmsg rtm{};
  rtm.rtm_family = static_cast<unsigned char>(family_of(dst));
  rtm.rtm_dst_len = static_cast<unsigned char>(dst.bits());
  Request req(RTM_GETROUTE, 0, rtm);
  req.add_address(RTA_DST, dst);
  if (oif != 0) req.add_u32(RTA_OIF, static_cast<uint32_t>(oif));
  std::optional<netlink::RouteMessage> route;
  auto r = nl.transact(req, [&](const nlmsghdr& m) {
    if (!route) route = netlink::parse_route(m);
  });
  std::string what = "no route to " + dst.to_string();
  if (!iface.empty()) what += " via " + std::string(iface);
  if (r.error != 0)
    throw RuntimeError(with_text(what + ": " + std::strerror(r.error), r.error_text));
  if (!route) throw RuntimeError(what + ": the kernel gave no usable answer");
  switch (route->type) {
    case RTN_UNICAST:
    case RTN_LOCAL:
    case RTN_BROADCAST:
    case RTN_MULTICAST:
    case RTN_ANYCAST:
      break;
    default:  // unreachable, blackhole, prohibit, throw, nat, ...
      throw RuntimeError(what + " (route type " + std::to_string(route->type) + ")");
  }
  if (route->oif <= 0) throw RuntimeError(what + ": the route has no output interface");
  return *route;
}

// The neighbour entry for `addr` on `ifindex`, or nullopt when the table has none.
std::optional<netlink::NeighMessage> get_neigh(NetlinkSocket& nl, int ifindex,
                                               const IpAddress& addr) {
  auto matches = [&](const std::optional<netlink::NeighMessage>& n) {
    return n && n->ifindex == ifindex && n->dst == addr;
  };
  ndmsg ndm{};
  ndm.ndm_family = static_cast<uint8_t>(family_of(addr));
  ndm.ndm_ifindex = ifindex;
  Request req(RTM_GETNEIGH, 0, ndm);
  req.add_address(NDA_DST, addr);
  std::optional<netlink::NeighMessage> found;
  auto r = nl.transact(req, [&](const nlmsghdr& m) {
    if (auto n = netlink::parse_neigh(m); matches(n)) found = std::move(n);
  });
  if (r.error == ENOENT) return std::nullopt;
  if (r.error == EOPNOTSUPP || r.error == EINVAL) {
    // Kernels before 5.0 only dump the table.
    ndmsg all{};
    all.ndm_family = ndm.ndm_family;
    Request dump_req(RTM_GETNEIGH, NLM_F_DUMP, all);
    auto entries = dump<netlink::NeighMessage>(
        nl, dump_req, [](const nlmsghdr& m) { return netlink::parse_neigh(m); },
        "reading the neighbour table");
    for (auto& n : entries)
      if (n.ifindex == ifindex && n.dst == addr) return n;
    return std::nullopt;
  }
  if (r.error != 0)
    throw system_error(r.error, with_text("reading the neighbour table", r.error_text));
  return found;
}

bool usable(const std::optional<netlink::NeighMessage>& n) {
  return n && neighbor_usable(*n);
}

MacAddress to_mac(const std::vector<uint8_t>& bytes) {
  MacAddress mac{};
  if (bytes.size() == mac.size()) std::copy(bytes.begin(), bytes.end(), mac.begin());
  return mac;
}

MacAddress resolve_next_hop(NetlinkSocket& nl, const netlink::LinkMessage& link,
                            const IpAddress& next_hop, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto n = get_neigh(nl, link.ifindex, next_hop);
  if (usable(n)) return to_mac(n->lladdr);

  std::string what = "cannot resolve the link-layer address of next hop " + next_hop.to_string() +
                     " on " + link.name;
  if (timeout <= std::chrono::milliseconds(0))
    throw RuntimeError(what + ": not in the neighbour table (resolution not requested)");
  auto r = request_neighbor_resolution(nl, link.ifindex, next_hop);
  if (r.error != 0) {
    std::string why = std::strerror(r.error);
    if (r.error == EPERM || r.error == EACCES)
      why += "; asking the kernel to resolve it needs CAP_NET_ADMIN";
    throw RuntimeError(with_text(what + ": " + why, r.error_text));
  }

  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    n = get_neigh(nl, link.ifindex, next_hop);
    if (usable(n)) return to_mac(n->lladdr);
    // NTF_USE left the entry INCOMPLETE, so FAILED now means the kernel gave up on it.
    if (n && (n->state & NUD_FAILED))
      throw RuntimeError(what + ": no " +
                         (next_hop.is_v4() ? "ARP reply" : "neighbour advertisement"));
    auto now = Clock::now();
    if (now >= deadline)
      throw RuntimeError(what + " within " + std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

std::vector<InterfaceAddress> all_addresses(NetlinkSocket& nl) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  Request req(RTM_GETADDR, NLM_F_DUMP, ifa);
  return dump<InterfaceAddress>(
      nl, req,
      [](const nlmsghdr& m) -> std::optional<InterfaceAddress> {
        auto a = netlink::parse_addr(m);
        if (!a) return std::nullopt;
        return InterfaceAddress{a->ifindex, a->address, a->prefix_len, a->scope, a->flags};
      },
      "reading interface addresses");
}

std::vector<InterfaceAddress> addresses_of(NetlinkSocket& nl, int ifindex) {
  auto all = all_addresses(nl);
  std::erase_if(all, [&](const InterfaceAddress& a) { return a.ifindex != ifindex; });
  return all;
}

}  // namespace

IpAddress InterfaceAddress::network() const {
  return {address.family, address.value & ~host_mask(address.bits(), prefix_len)};
}

bool InterfaceAddress::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  u128 keep = ~host_mask(address.bits(), prefix_len);
  return (a.value & keep) == (address.value & keep);
}

namespace route_detail {

std::optional<IpAddress> pick_source(const std::vector<InterfaceAddress>& addresses,
                                     const IpAddress& dst) {
  bool link_local_dst = dst.is_v6() && (dst.value >> 118) == (0xfe80 >> 6);  // fe80::/10
  uint8_t wanted_scope = link_local_dst ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const InterfaceAddress* fallback = nullptr;
  for (const auto& a : addresses) {
    if (a.address.family != dst.family) continue;
    if (a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) continue;
    if (a.scope == wanted_scope) return a.address;
    if (!fallback) fallback = &a;
  }
  if (fallback) return fallback->address;
  return std::nullopt;
}

}  // namespace route_detail

namespace {
Route lookup(const IpAddress& dst, std::string_view iface,
             std::chrono::milliseconds resolve_timeout, bool resolve_on_link) {
  if (!iface.empty() && iface.size() >= IFNAMSIZ)
    throw UsageError("interface name too long: '" + std::string(iface) + "'");
  NetlinkSocket nl;
  int oif = iface.empty() ? 0 : get_link(nl, 0, iface).ifindex;
  auto rt = get_route(nl, dst, oif, iface);
  auto link = get_link(nl, rt.oif, {});

  Route route;
  route.ifindex = link.ifindex;
  route.ifname = link.name;
  route.gateway = rt.gateway;
  route.arp_type = link.type;
  route.loopback = link.type == ARPHRD_LOOPBACK || (link.flags & IFF_LOOPBACK);
  route.mtu = static_cast<int>(link.mtu);
  if (rt.mtu != 0 && rt.mtu < link.mtu) route.mtu = static_cast<int>(rt.mtu);
  route.src_mac = to_mac(link.address);

  if (rt.prefsrc) {
    route.source = *rt.prefsrc;
  } else {
    auto src = route_detail::pick_source(addresses_of(nl, link.ifindex), dst);
    if (!src)
      throw RuntimeError("interface " + link.name + " has no " + (dst.is_v4() ? "IPv4" : "IPv6") +
                         " address to reach " + dst.to_string() + " from");
    route.source = *src;
  }

  if (route.loopback) {
    route.next_hop_mac = MacAddress{};
  } else if (link.type == ARPHRD_ETHER && (resolve_on_link || rt.gateway)) {
    IpAddress next_hop = rt.gateway.value_or(dst);
    route.next_hop_mac = resolve_next_hop(nl, link, next_hop, resolve_timeout);
  }
  return route;
}
}  // namespace

Route lookup_route(const IpAddress& dst, std::string_view iface,
                   std::chrono::milliseconds resolve_timeout) {
  return lookup(dst, iface, resolve_timeout, true);
}

Route lookup_path(const IpAddress& dst, std::string_view iface,
                  std::chrono::milliseconds resolve_timeout) {
  return lookup(dst, iface, resolve_timeout, false);
}

std::vector<InterfaceAddress> interface_addresses(int ifindex) {
  NetlinkSocket nl;
  return addresses_of(nl, ifindex);
}

std::vector<InterfaceAddress> local_networks() {
  NetlinkSocket nl;
  return all_addresses(nl);
}

}  // namespace gh
