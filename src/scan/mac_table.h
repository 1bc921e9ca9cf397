// The link-layer addresses of on-link hosts, learnt from their ARP/NDP replies by the discovery
// stage and read by the transport when it frames the port stage's probes (scan/transport.h).
// No kernel round trip per host, no limit on how many: it holds only the hosts that answered
// (memory grows with the live hosts, not with the size of the network).
//
// Threads: put() from any thread (the discovery stage's), find() from any number of send
// threads at once. Sharded, a shared lock per shard: a lookup costs a hash and an uncontended
// shared lock.
#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "core/address.h"
#include "io/route.h"

namespace gh {

class MacTable {
 public:
  // Records (or updates) addr's MAC.
  void put(const IpAddress& addr, const MacAddress& mac) {
    Shard& s = shard(addr);
    std::unique_lock lock(s.mu);
    s.map[addr] = mac;
  }
  std::optional<MacAddress> find(const IpAddress& addr) const {
    const Shard& s = shard(addr);
    std::shared_lock lock(s.mu);
    auto it = s.map.find(addr);
    if (it == s.map.end()) return std::nullopt;
    return it->second;
  }
  size_t size() const {
    size_t n = 0;
    for (const Shard& s : shards_) {
      std::shared_lock lock(s.mu);
      n += s.map.size();
    }
    return n;
  }

 private:
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<IpAddress, MacAddress, IpAddressHash> map;
  };
  static constexpr size_t kShards = 64;
  Shard& shard(const IpAddress& a) { return shards_[IpAddressHash{}(a) % kShards]; }
  const Shard& shard(const IpAddress& a) const { return shards_[IpAddressHash{}(a) % kShards]; }
  std::array<Shard, kShards> shards_;
};

}  // namespace gh
