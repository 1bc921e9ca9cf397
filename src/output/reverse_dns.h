// Reverse DNS for the hosts of a report, as nmap does for the hosts that are up (-n turns it off).
//
// Bounded: the lookups run in parallel and the whole batch gets a time budget; a name that is not
// back by then is simply not shown. Quiet: no query is made for addresses whose reverse zones
// cannot hold public records (RFC 6303 and special-purpose ranges: benchmarking 198.18.0.0/15,
// documentation, unspecified, multicast, reserved), so scanning a lab sends nothing to a resolver.
// Loopback is named "localhost" without asking anyone.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/address.h"

namespace gh {

// Whether a PTR query for `a` could be answered by public DNS at all.
bool reverse_lookup_useful(const IpAddress& a);

class ReverseNames {
 public:
  // The injected lookup (getnameinfo with NI_NAMEREQD by default); returns "" when none.
  using Lookup = std::string (*)(const IpAddress&);
  static std::string getnameinfo_lookup(const IpAddress& a);

  // Looks up every address (at most `max_lookups`) within `budget`.
  void resolve(const std::vector<IpAddress>& addresses, std::chrono::milliseconds budget,
               Lookup lookup = &getnameinfo_lookup, size_t max_lookups = 4096);
  // The name found for `a`, or "".
  std::string name(const IpAddress& a) const;

 private:
  std::unordered_map<IpAddress, std::string, IpAddressHash> names_;
};

}  // namespace gh
