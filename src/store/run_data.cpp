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

void set_scan_types(RunMeta& meta, std::vector<std::string> types) {
  std::erase(types, std::string());
  meta.scan_type = types.empty() ? std::string() : types.front();
  meta.scan_types = std::move(types);
}

std::string join_scan_types(const std::vector<std::string>& types) {
  std::string out;
  for (const auto& t : types) out += (out.empty() ? "" : "+") + t;
  return out;
}

std::vector<std::string> split_scan_types(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t plus = text.find('+');
    std::string_view t = text.substr(0, plus);
    if (!t.empty()) out.emplace_back(t);
    if (plus == std::string_view::npos) break;
    text.remove_prefix(plus + 1);
  }
  return out;
}

std::vector<std::string> scan_types_of(const RunMeta& meta) {
  if (!meta.scan_types.empty()) return meta.scan_types;
  if (meta.scan_type.empty()) return {};
  return {meta.scan_type};
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
