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
#include "io/route.h"

namespace gh {

inline constexpr size_t kMaxNeighbors = 512;

using NeighborMap = std::unordered_map<IpAddress, MacAddress, IpAddressHash>;

// Needs CAP_NET_ADMIN to ask for resolution; without it, returns what the table already holds.
NeighborMap resolve_neighbors(int ifindex, std::span<const IpAddress> addresses,
                              std::chrono::milliseconds timeout);

}  // namespace gh
