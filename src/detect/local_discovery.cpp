#include "detect/local_discovery.h"

#include <net/if.h>

#include <algorithm>

#include "core/error.h"
#include "io/netlink.h"

namespace gh::detect {

namespace {

bool is_loopback(const IpAddress& a) {
  return a.is_v4() ? (a.v4_value() >> 24) == 127 : a.value == 1;
}
bool is_link_local_v6(const IpAddress& a) {
  return a.is_v6() && (static_cast<uint64_t>(a.value >> 118) == (0xFE80u >> 6));
}
bool is_multicast(const IpAddress& a) {
  return a.is_v4() ? (a.v4_value() >> 28) == 0xE : (a.value >> 120) == 0xFF;
}

}  // namespace

LocalView discover_local(const std::string& iface) {
  int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (ifindex == 0) throw UsageError("no such interface: " + iface);
  bool loopback_capture = iface == "lo";

  LocalView view;
  netlink::NetlinkSocket sock;
  for (int attempt = 0; attempt < 3; ++attempt) {
    view = LocalView{};
    rtmsg rt{};
    rt.rtm_family = AF_UNSPEC;
    netlink::Request req(RTM_GETROUTE, NLM_F_DUMP, rt);
    auto res = sock.transact(req, [&](const nlmsghdr& msg) {
      auto r = netlink::parse_route(msg);
      if (!r) return;
      if (r->gateway &&
          std::find(view.gateways.begin(), view.gateways.end(), *r->gateway) == view.gateways.end())
        view.gateways.push_back(*r->gateway);
      if (!r->dst) return;
      const IpAddress& dst = *r->dst;
      if (r->type == RTN_LOCAL && !is_multicast(dst)) view.self.add(Prefix::make(dst, r->dst_len));
      if (is_multicast(dst) || is_link_local_v6(dst)) return;
      if (is_loopback(dst) && !loopback_capture) return;
      if (r->type == RTN_LOCAL) {
        view.local.add(Prefix::make(dst, r->dst_len));
      } else if (r->type == RTN_UNICAST && r->dst_len > 0 && r->oif != 0 && r->oif != ifindex &&
                 r->table == RT_TABLE_MAIN && !r->gateway) {
        // A network reached through another of our interfaces: one we are the way into.
        char name[IF_NAMESIZE] = {};
        if (if_indextoname(static_cast<unsigned>(r->oif), name) && std::string(name) == "lo")
          return;
        view.local.add(Prefix::make(dst, r->dst_len));
      }
    });
    if (res.error != 0) throw system_error(res.error, "cannot read the routing table");
    if (!res.interrupted) break;
  }
  return view;
}

}  // namespace gh::detect
