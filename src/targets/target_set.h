// The set of addresses a scan covers, as sorted disjoint ranges with an index.
//
// A target list of millions of addresses is never expanded: memory grows with the number of
// disjoint ranges, not addresses. Address number i (0 <= i < size()) is computed by a binary
// search over the ranges' cumulative sizes. Ranges are kept per family; IPv4 ranges come first
// (IpAddress ordering). Overlapping specs are merged, so every address appears once.
#pragma once

#include <atomic>
#include <cstdint>
#include <istream>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"

namespace gh {

struct AddressRange {
  IpAddress first;  // inclusive
  IpAddress last;   // inclusive, same family as first
  u128 size() const { return last.value - first.value + 1; }
  friend bool operator==(const AddressRange&, const AddressRange&) = default;
};

// Resolves a host name to its addresses (forward lookup, done once per name). Injected so that
// tests need no DNS. The default uses getaddrinfo.
using Resolver = std::vector<IpAddress> (*)(const std::string& name);
std::vector<IpAddress> resolve_with_getaddrinfo(const std::string& name);

class TargetSet {
 public:
  TargetSet() = default;
  TargetSet(const TargetSet& other);
  TargetSet(TargetSet&& other) noexcept;
  TargetSet& operator=(const TargetSet& other);
  TargetSet& operator=(TargetSet&& other) noexcept;

  // Adds one nmap target spec. Accepted forms:
  //   198.18.0.1   2001:db8::1            single addresses
  //   198.18.0.0/24   2001:db8::/120       CIDR blocks (host bits are ignored, as nmap does)
  //   10.0.0-3.1-254   10.0.*.1,3,5        nmap octet ranges (lists, ranges, '*')
  //   10.0.0.1-10.0.0.50                   dash ranges between two full addresses (either family)
  //   host.example   host.example/28       host names, resolved once with the resolver
  // Throws UsageError naming the spec on anything else (including a reversed range, a bad octet,
  // a prefix length out of range, a name that does not resolve).
  void add_spec(std::string_view spec, Resolver resolver = resolve_with_getaddrinfo);
  // Adds whitespace-separated specs from a stream (nmap -iL: '#' starts a comment to line end).
  // `source` names the file in errors.
  void add_stream(std::istream& in, std::string_view source,
                  Resolver resolver = resolve_with_getaddrinfo);
  void add_range(AddressRange r);

  // Removes every address of `other` from this set.
  void subtract(const TargetSet& other);
  // Keeps only addresses also in `other`.
  void intersect(const TargetSet& other);

  uint64_t size() const;  // number of addresses; saturates at UINT64_MAX
  bool empty() const {
    flush();
    return ranges_.empty();
  }
  IpAddress at(uint64_t index) const;  // precondition: index < size()
  bool contains(const IpAddress& a) const;
  // Position of `a` in index order, or UINT64_MAX when absent. Inverse of at().
  uint64_t index_of(const IpAddress& a) const;
  const std::vector<AddressRange>& ranges() const {
    flush();
    return ranges_;
  }
  bool has_v4() const;
  bool has_v6() const;

 private:
  // Adds only append to pending_ (cheap for any number of single addresses); the first read after
  // them merges pending_ into ranges_ once. Reads normalize under mu_, so a const TargetSet may be
  // read from several threads at once; mutators need exclusive access, as for any container.
  void flush() const {
    if (dirty_.load(std::memory_order_acquire)) normalize();
  }
  // Sorts pending_, merges overlapping and adjacent ranges, rebuilds the cumulative index.
  void normalize() const;
  void replace_with(std::vector<AddressRange> sorted);  // new contents, normalized on next read
  mutable std::mutex mu_;
  mutable std::atomic<bool> dirty_{false};  // pending_ holds ranges not yet in ranges_
  mutable std::vector<AddressRange> pending_;
  mutable std::vector<AddressRange> ranges_;
  mutable std::vector<uint64_t> cumulative_;  // cumulative_[k] = addresses in ranges_[0..k)
};

}  // namespace gh
