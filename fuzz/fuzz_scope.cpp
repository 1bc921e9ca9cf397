// libFuzzer target: the scope file (TOML, parse_scope) and the exclude file (load_exclude_file).
// Malformed input raises ScopeRefused / UsageError naming the place; anything else (another
// exception, a crash, a hang) is a bug. The first byte picks the parser.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_util.h"
#include "policy/exclusions.h"
#include "policy/scope.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 16384) return 0;
  bool exclude = data[0] & 1;
  ++data;
  --size;
  if (!exclude) {
    try {
      gh::Scope s = gh::parse_scope(gh::fuzz::text(data, size), "fuzz.toml");
      (void)s.authorized.size();
    } catch (const gh::UsageError&) {
    }
  } else {
    gh::fuzz::MemFile file(data, size);
    try {
      auto set = gh::load_exclude_file(file.path());
      if (!set) __builtin_trap();  // the file exists
      (void)set->size();
    } catch (const gh::UsageError&) {
    }
  }
  return 0;
}
