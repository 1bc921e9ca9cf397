#include "store/run_data.h"

#include <algorithm>

#include "core/address.h"

namespace gh {

bool address_less(const std::string& a, const std::string& b) {
  auto pa = IpAddress::parse(a);
  auto pb = IpAddress::parse(b);
  if (pa && pb) return *pa < *pb;
  if (pa || pb) return pa.has_value();
  return a < b;
}

void sort_run(RunData& run) {
  std::stable_sort(
      run.hosts.begin(), run.hosts.end(),
      [](const HostRecord& x, const HostRecord& y) { return address_less(x.addr, y.addr); });
  std::stable_sort(run.ports.begin(), run.ports.end(),
                   [](const PortRecord& x, const PortRecord& y) {
                     if (x.addr != y.addr) return address_less(x.addr, y.addr);
                     if (x.proto != y.proto) return x.proto < y.proto;  // "tcp" < "udp"
                     return x.port < y.port;
                   });
}

}  // namespace gh
