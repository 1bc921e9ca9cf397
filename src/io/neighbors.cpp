#include "io/neighbors.h"

#include <linux/neighbour.h>
#include <sys/socket.h>

#include <thread>
#include <unordered_set>

namespace gh {
namespace {

using Clock = std::chrono::steady_clock;

// One pass over the neighbour table: moves resolved addresses from `pending` into `out`, and
// drops failed ones from `pending`.
void read_table(netlink::NetlinkSocket& nl, int ifindex,
                std::unordered_set<IpAddress, IpAddressHash>& pending, NeighborMap& out) {
  ndmsg all{};
  all.ndm_family = AF_UNSPEC;
  netlink::Request req(RTM_GETNEIGH, NLM_F_DUMP, all);
  nl.transact(req, [&](const nlmsghdr& m) {
    auto n = netlink::parse_neigh(m);
    if (!n || n->ifindex != ifindex || !n->dst) return;
    auto it = pending.find(*n->dst);
    if (it == pending.end()) return;
    if (neighbor_usable(*n)) {
      MacAddress mac{};
      std::copy(n->lladdr.begin(), n->lladdr.end(), mac.begin());
      out.emplace(*n->dst, mac);
      pending.erase(it);
    } else if (n->state & NUD_FAILED) {
      pending.erase(it);
    }
  });
}

}  // namespace

bool neighbor_usable(const netlink::NeighMessage& n) {
  constexpr uint16_t kNudValid =
      NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;
  return (n.state & kNudValid) && n.lladdr.size() == 6;
}

netlink::NetlinkSocket::Result request_neighbor_resolution(netlink::NetlinkSocket& nl, int ifindex,
                                                           const IpAddress& addr) {
  ndmsg ndm{};
  ndm.ndm_family = static_cast<uint8_t>(addr.is_v4() ? AF_INET : AF_INET6);
  ndm.ndm_ifindex = ifindex;
  ndm.ndm_state = NUD_NONE;
  ndm.ndm_flags = NTF_USE;
  netlink::Request req(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK, ndm);
  req.add_address(NDA_DST, addr);
  return nl.transact(req);
}

NeighborMap resolve_neighbors(int ifindex, std::span<const IpAddress> addresses,
                              std::chrono::milliseconds timeout) {
  NeighborMap out;
  std::unordered_set<IpAddress, IpAddressHash> pending(addresses.begin(), addresses.end());
  netlink::NetlinkSocket nl;
  read_table(nl, ifindex, pending, out);
  // A refusal (EPERM without CAP_NET_ADMIN) leaves the table as it is: we wait for what is there.
  for (const auto& a : pending) request_neighbor_resolution(nl, ifindex, a);
  auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(2);
  while (!pending.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
    read_table(nl, ifindex, pending, out);
  }
  return out;
}

}  // namespace gh
