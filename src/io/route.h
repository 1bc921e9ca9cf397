// How to reach a destination, asked of the kernel over rtnetlink (no libnl).
//
// lookup_route() answers the questions a raw-socket sender has before its first packet: which
// interface, which source address, which link-layer header (our MAC, the next hop's MAC), and how
// large a frame may be. It asks the kernel in this order:
//   1. RTM_GETROUTE for the destination (with RTA_OIF when an interface is forced with -e):
//      output interface, preferred source, gateway. No route (or an unreachable/blackhole/
//      prohibit route) -> RuntimeError "no route to X".
//   2. When the reply has no preferred source: the interface's first usable address of the
//      family (RTM_GETADDR).
//   3. RTM_GETLINK on the interface: name, MAC, MTU, ARPHRD_* type.
//   4. For an Ethernet interface, the next hop's MAC (next hop = gateway, else the destination)
//      from the neighbour table (RTM_GETNEIGH). If the entry is missing or not usable, the kernel
//      is asked to resolve it with RTM_NEWNEIGH + NTF_USE, which makes it run its own ARP/NDP for
//      that address (and send nothing else), and the table is polled until `resolve_timeout`.
//      Failure -> RuntimeError naming the next hop and the interface. NTF_USE needs
//      CAP_NET_ADMIN; without it the lookup still succeeds when the entry is already resolved.
//      A `resolve_timeout` of 0 only reads the table: nothing is solicited, and a next hop that
//      is not already there raises RuntimeError (what a dry run wants).
//      The kernel solicits as it always does (for IPv4, up to mcast_solicit ARP requests a
//      second apart; these go on after we stop waiting), and sends an IPv6 neighbour
//      solicitation only from a link-local address that has finished DAD.
//
// Everything is asked of the network namespace of the calling thread. Nothing here sends a packet
// itself; only step 4 can make the kernel send ARP/NDP solicitations.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"

namespace gh {

using MacAddress = std::array<uint8_t, 6>;

struct Route {
  int ifindex = 0;
  std::string ifname;
  IpAddress source;                  // the address to put in our packets
  std::optional<IpAddress> gateway;  // set when the destination is not on-link
  MacAddress src_mac{};              // the interface's MAC; zeros when it has none (lo, tun)
  // The destination MAC for our frames. Set for Ethernet (resolved) and loopback (zeros, since
  // Linux frames loopback traffic as Ethernet with zero MACs); nullopt for links without an
  // Ethernet header (ARPHRD_NONE tun devices, whose frames start at the IP header) and others.
  std::optional<MacAddress> next_hop_mac;
  int mtu = 0;            // IP packet size limit: the link MTU, lowered by a route MTU if any
  uint16_t arp_type = 0;  // ARPHRD_*
  bool loopback = false;  // the route leaves through a loopback device (e.g. our own address)
};

// `iface` forces the output interface (-e): an unknown name raises UsageError. Throws
// RuntimeError when there is no route or the next hop cannot be resolved in `resolve_timeout`.
Route lookup_route(const IpAddress& dst, std::string_view iface = {},
                   std::chrono::milliseconds resolve_timeout = std::chrono::milliseconds(1000));

// Steps 1 to 3 of lookup_route, and step 4 only when the next hop is a gateway: for an on-link
// destination next_hop_mac stays nullopt and nothing is solicited (host discovery finds the
// on-link MACs itself, from its own ARP/NDP replies: scan/discovery.h).
Route lookup_path(const IpAddress& dst, std::string_view iface = {},
                  std::chrono::milliseconds resolve_timeout = std::chrono::milliseconds(1000));

struct InterfaceAddress {
  int ifindex = 0;
  IpAddress address;   // the local address (the local end for point-to-point links)
  int prefix_len = 0;  // the on-link prefix: 24 for 198.18.0.1/24
  uint8_t scope = 0;   // RT_SCOPE_*: 0 universe (global), 253 link, 254 host
  uint32_t flags = 0;  // IFA_F_* (tentative, deprecated, ...)

  // The address with its host bits cleared: 198.18.0.0 for 198.18.0.1/24.
  IpAddress network() const;
  // Whether `a` is of this family and inside address/prefix_len.
  bool contains(const IpAddress& a) const;
};

// The addresses configured on one interface, both families, in the kernel's order.
std::vector<InterfaceAddress> interface_addresses(int ifindex);

// Every address/prefix configured on every local interface (loopback included), both families,
// in the kernel's order. For telling local traffic from foreign (the port-scan detector).
std::vector<InterfaceAddress> local_networks();

namespace route_detail {
// Step 2 above: the first address of dst's family in `addresses` that is not tentative or failed
// DAD, preferring one whose scope suits dst (link scope for IPv6 link-local destinations, global
// otherwise), then any of the family. nullopt when there is none.
std::optional<IpAddress> pick_source(const std::vector<InterfaceAddress>& addresses,
                                     const IpAddress& dst);
}  // namespace route_detail

}  // namespace gh
