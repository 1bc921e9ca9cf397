#include "scan/source_pool.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "io/route.h"
#include "targets/target_set.h"

namespace gh {
namespace {

std::vector<IpAddress> no_names(const std::string& name) {
  throw UsageError("-S takes addresses, not host names: \"" + name + "\"");
}

constexpr uint64_t kTagSource = 0x5350;  // "SP": none of the cookie's tags (net/cookie.cpp)

}  // namespace

std::vector<IpAddress> parse_source_pool(std::string_view spec) {
  TargetSet set;
  size_t start = 0;
  for (;;) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view part = spec.substr(start, comma - start);
    if (part.empty()) throw UsageError(fmt::format("-S: an empty address in \"{}\"", spec));
    try {
      set.add_spec(part, no_names);
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("-S: {}", e.what()));
    }
    if (comma == spec.size()) break;
    start = comma + 1;
  }
  std::vector<IpAddress> out;
  size_t v4 = 0, v6 = 0;
  for (const AddressRange& r : set.ranges()) {
    const bool is4 = r.first.is_v4();
    const size_t limit = is4 ? kMaxSources : kMaxSources6;
    size_t& n = is4 ? v4 : v6;
    // last - first (not size(), which wraps to 0 for ::/0) bounds the range before it is walked.
    if (r.last.value - r.first.value >= limit - n)
      throw UsageError(fmt::format("-S: at most {} {} source addresses (\"{}\")", limit,
                                   is4 ? "IPv4" : "IPv6", spec));
    for (u128 v = r.first.value;; ++v) {
      out.push_back(IpAddress{r.first.family, v});
      ++n;
      if (v == r.last.value) break;
    }
  }
  return out;
}

std::vector<IpAddress> sources_of_family(std::span<const IpAddress> pool, Family f) {
  std::vector<IpAddress> out;
  for (const IpAddress& a : pool)
    if (a.family == f) out.push_back(a);
  return out;
}

net::SipHash24 source_pool_key(uint64_t k0, uint64_t k1) {
  // Its own key, derived from the scan's: the slot never reveals a cookie's hash.
  const net::SipHash24 derive(k0, k1);
  const uint64_t w0[1] = {kTagSource << 48 | 0};
  const uint64_t w1[1] = {kTagSource << 48 | 1};
  return net::SipHash24(derive.words(w0, 1), derive.words(w1, 1));
}

size_t source_slot(const net::SipHash24& key, const IpAddress& dst, uint16_t port, size_t count) {
  if (count <= 1) return 0;
  const uint64_t w[3] = {static_cast<uint64_t>(dst.value >> 64), static_cast<uint64_t>(dst.value),
                         static_cast<uint64_t>(dst.family) << 32 | port};
  const uint64_t h = key.words(w, 3);
  // Lemire's multiply-shift onto [0, count): count is small (<= kMaxSources).
  return static_cast<size_t>(((h >> 32) * count) >> 32);
}

void check_sources_assigned(std::span<const IpAddress> sources, std::span<const IpAddress> assigned,
                            std::string_view ifname) {
  for (const IpAddress& a : sources)
    if (std::find(assigned.begin(), assigned.end(), a) == assigned.end())
      throw UsageError(fmt::format(
          "-S {}: not an address of interface {}, which the route to the targets leaves "
          "through (we only send from our own addresses: add it with ip addr add)",
          a.to_string(), ifname));
}

std::vector<IpAddress> pool_for_path(std::span<const IpAddress> pool, Family f, int ifindex,
                                     std::string_view ifname) {
  if (pool.empty()) return {};
  std::vector<IpAddress> mine = sources_of_family(pool, f);
  const char* fam = f == Family::V4 ? "IPv4" : "IPv6";
  if (mine.empty())
    throw UsageError(fmt::format("-S has no {} address, and {} targets are scanned", fam, fam));
  std::vector<IpAddress> assigned;
  for (const InterfaceAddress& a : interface_addresses(ifindex)) assigned.push_back(a.address);
  check_sources_assigned(mine, assigned, ifname);
  return mine;
}

void check_source_pool(std::span<const IpAddress> pool, const std::vector<IpAddress>& first_targets,
                       std::string_view iface) {
  if (pool.empty()) return;
  for (const IpAddress& first : first_targets) {
    Route r = lookup_path(first, iface);
    pool_for_path(pool, first.family, r.ifindex, r.ifname);
  }
}

}  // namespace gh
