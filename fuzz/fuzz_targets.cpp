// libFuzzer target: target specifications, one per line as given on the command line, and the
// whole input as an -iL file (TargetSet::add_spec, TargetSet::add_stream). Host names resolve
// through a fake resolver: the fuzzer never reaches DNS. Bad specs must raise UsageError; any
// other exception, a crash or a hang is a bug. The set built must be consistent: at() and
// index_of() inverse of each other at both ends.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "targets/target_set.h"

namespace {

std::vector<gh::IpAddress> fake_resolver(const std::string& name) {
  if (name.size() % 3 == 0) return {};  // does not resolve
  auto a = gh::IpAddress::parse(name.size() % 2 ? "198.18.0.1" : "2001:db8::1");
  return {*a};
}

void check(const gh::TargetSet& set) {
  uint64_t n = set.size();
  if (n == 0) return;
  for (uint64_t i : {uint64_t{0}, n / 2, n - 1}) {
    gh::IpAddress a = set.at(i);
    if (!set.contains(a) || set.index_of(a) != i) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = gh::fuzz::text(data, size);
  {
    gh::TargetSet set;
    size_t start = 0;
    while (start <= in.size()) {
      size_t end = in.find('\n', start);
      if (end == std::string_view::npos) end = in.size();
      try {
        set.add_spec(in.substr(start, end - start), fake_resolver);
      } catch (const gh::UsageError&) {
      }
      start = end + 1;
    }
    check(set);
  }
  {
    gh::TargetSet set;
    std::istringstream file{std::string(in)};
    try {
      set.add_stream(file, "fuzz.txt", fake_resolver);
      check(set);
    } catch (const gh::UsageError&) {
    }
  }
  return 0;
}
