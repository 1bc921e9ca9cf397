// libFuzzer target: the nmap XML reader of `glasshouse diff`, `report` and `merge`
// (read_nmap_xml, libxml2 without the network, DTDs or entities). Bad input may only raise
// UsageError; what is accepted goes through fuzz/diff_checks.h.
#include <cstddef>
#include <cstdint>

#include "diff_checks.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(gh::fuzz::text(data, size));
  try {
    gh::RunData run = gh::read_nmap_xml(in, "fuzz.xml");
    // No entity is ever expanded from a file (real-entity.xml names /etc/passwd).
    if (run.meta.command.find("root:") != std::string::npos) __builtin_trap();
    for (const auto& p : run.ports)
      if (p.service.name.find("root:") != std::string::npos) __builtin_trap();
    gh::fuzz::check_run(run);
  } catch (const gh::UsageError&) {
  }
  return 0;
}
