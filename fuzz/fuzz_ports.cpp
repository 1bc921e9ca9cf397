// libFuzzer target: port specifications (-p, parse_port_spec) with the built-in service table.
// Bad specs raise UsageError; anything else (another exception, a crash) is a bug. A parsed list
// must be sorted and unique per protocol.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_util.h"
#include "service/services.h"
#include "targets/ports.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  static const gh::ServiceTable& services = gh::ServiceTable::instance();
  try {
    gh::PortList ports = gh::parse_port_spec(gh::fuzz::text(data, size), services);
    for (const auto* list : {&ports.tcp, &ports.udp})
      if (std::adjacent_find(list->begin(), list->end(),
                             [](uint16_t a, uint16_t b) { return a >= b; }) != list->end())
        __builtin_trap();
  } catch (const gh::UsageError&) {
  }
  return 0;
}
