// The link-layer addresses of many on-link hosts at once, for a SYN scan of a local network.
//
// A raw-socket sender must put each on-link target's own MAC in its frames. This asks the kernel
// to resolve every address (RTM_NEWNEIGH with NTF_USE, the same request lookup_route() uses for
// one next hop: the kernel runs its own ARP/NDP, we send nothing ourselves), then reads the
// neighbour table until every address is resolved or failed, or `timeout` passes. Hosts that do
// not answer ARP/NDP are simply absent from the result: they are down, or not there.
//
// The kernel's neighbour table holds about 1,024 entries before it starts refusing new ones
// (gc_thresh3), so callers keep batches below kMaxNeighbors.
#pragma once

#include <chrono>
#include <span>
#include <unordered_map>

#include "core/address.h"
#include "io/netlink.h"
#include "io/route.h"

namespace gh {

inline constexpr size_t kMaxNeighbors = 512;

using NeighborMap = std::unordered_map<IpAddress, MacAddress, IpAddressHash>;

// Whether a neighbour entry's link-layer address may be used: the kernel's NUD_VALID states
// (STALE and DELAY included: the kernel re-checks them in the background) and a 6-byte address.
bool neighbor_usable(const netlink::NeighMessage& n);

// Asks the kernel to resolve `addr` on `ifindex`: RTM_NEWNEIGH with NTF_USE makes neigh_add()
// create the entry if needed (NLM_F_CREATE) and call neigh_event_send() on it, which starts the
// kernel's own ARP/NDP solicitation. No state or link-layer address is written. Returns the
// kernel's answer (EPERM without CAP_NET_ADMIN).
netlink::NetlinkSocket::Result request_neighbor_resolution(netlink::NetlinkSocket& nl, int ifindex,
                                                           const IpAddress& addr);

// Needs CAP_NET_ADMIN to ask for resolution; without it, returns what the table already holds.
NeighborMap resolve_neighbors(int ifindex, std::span<const IpAddress> addresses,
                              std::chrono::milliseconds timeout);

}  // namespace gh
