#include "policy/exclusions.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "core/error.h"
#include "policy/scope.h"

namespace gh {

const TargetSet& default_exclusions() {
  static const TargetSet set = [] {
    TargetSet s;
    for (const char* spec : {"0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "ff00::/8"})
      s.add_spec(spec, nullptr);
    return s;
  }();
  return set;
}

const char* default_exclusions_text() {
  return "0.0.0.0/8, multicast 224.0.0.0/4, reserved 240.0.0.0/4 (with 255.255.255.255), IPv6 "
         "multicast ff00::/8";
}

std::optional<TargetSet> load_exclude_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw system_error(errno, "cannot read the exclude file " + path);
  }
  std::ifstream in(path);
  if (!in) throw system_error(errno, "cannot read the exclude file " + path);
  TargetSet set;
  set.add_stream(in, path, nullptr);  // names "file:line" in its errors
  return set;
}

Exclusions apply_exclusions(TargetSet& targets, bool defaults,
                            const std::string& system_file_path) {
  Exclusions ex;
  auto remove = [&](const TargetSet& excluded) {
    TargetSet hit = targets;
    hit.intersect(excluded);
    u128 n = exact_size(hit);
    if (n != 0) targets.subtract(excluded);
    for (const auto& r : excluded.ranges()) ex.never.add_range(r);
    return n;
  };
  if (defaults) ex.default_skipped = remove(default_exclusions());
  if (!system_file_path.empty()) {
    if (auto sys = load_exclude_file(system_file_path)) {
      ex.system_file = system_file_path;
      ex.system_skipped = remove(*sys);
    }
  }
  return ex;
}

}  // namespace gh
