// -S, --source-ip: the pool of our own addresses raw probes leave from (masscan's --source-ip
// range, zmap's -S range), and the one rule that picks a probe's source address from it.
//
// Why: a target's kernel rate-limits the ICMP errors that tell a UDP port closed per destination
// of the error, i.e. per scanner address (Linux: net/ipv4/icmp.c icmpv4_xrlim_allow keys its
// inet_peer bucket on the ICMP's daddr; burst 6, then one per icmp_ratelimit = 1 s; IPv6 alike),
// under a global icmp_msgs_per_sec cap (1,000/s, burst 50). K source addresses are K buckets.
//
// Rules:
//   * the pool is parsed from "ADDR|RANGE|CIDR[,...]" (no host names); the addresses are kept
//     sorted and unique (both families may be mixed) and there are at most kMaxSources of IPv4
//     and kMaxSources6 of IPv6 (the receive filter lists each one);
//   * every address must be assigned to this machine, on the interface the route to the targets
//     leaves through (check_sources_assigned(), at the transport's open()): we never send from an
//     address we do not own, so replies come back to us and the kernel answers ARP/NDP for it;
//   * a probe's source is pool[source_slot(key, target, port, K)] of its family: a keyed hash of
//     (target, port), so every attempt (retry) of a probe leaves from the same address and a reply
//     is validated without state (probe modules: scan/path_templates.h). With one address the
//     slot is always 0 and nothing differs from a scan without -S.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "net/siphash.h"

namespace gh {

inline constexpr size_t kMaxSources = 128;  // IPv4 addresses in one pool
inline constexpr size_t kMaxSources6 = 16;  // IPv6 addresses in one pool

// Parses the value of -S. Throws UsageError (one line naming the bad part) on a host name, a bad
// spec, an empty list or too many addresses.
std::vector<IpAddress> parse_source_pool(std::string_view spec);

// The pool's addresses of one family, in the pool's order.
std::vector<IpAddress> sources_of_family(std::span<const IpAddress> pool, Family f);

// Which of `count` addresses the probe to (dst, port) leaves from: uniform in [0, count), a keyed
// hash (domain-separated from the cookies that share the scan's keys). 0 when count <= 1.
size_t source_slot(const net::SipHash24& key, const IpAddress& dst, uint16_t port, size_t count);

// The pool's key, from the scan's module keys (k0, k1).
net::SipHash24 source_pool_key(uint64_t k0, uint64_t k1);

// Throws UsageError unless every address of `sources` is in `assigned` (the addresses of the
// interface `ifname`, which names it in the message).
void check_sources_assigned(std::span<const IpAddress> sources, std::span<const IpAddress> assigned,
                            std::string_view ifname);

// The pool's addresses of family f for a path through interface (ifindex, ifname), each checked
// to be assigned to it (asks the kernel: RTM_GETADDR). Empty when `pool` is. Throws UsageError
// when the pool has no address of family f (the targets have some), or one is not assigned there.
std::vector<IpAddress> pool_for_path(std::span<const IpAddress> pool, Family f, int ifindex,
                                     std::string_view ifname);

// The run layer's check before anything is sent (so that a refusal is an audit "refused"
// record): for each family of `targets`, the route to its first target (-e `iface`), then
// pool_for_path(). No-op for an empty pool. Sends nothing (rtnetlink questions only).
void check_source_pool(std::span<const IpAddress> pool, const std::vector<IpAddress>& first_targets,
                       std::string_view iface);

}  // namespace gh
