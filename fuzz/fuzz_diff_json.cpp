// libFuzzer target: the JSON Lines reader of `glasshouse diff`, `report` and `merge`
// (read_jsonl_results), and read_result_file's choice of format on the same bytes as a file.
// Bad input may only raise UsageError; what is accepted goes through fuzz/diff_checks.h.
#include <cstddef>
#include <cstdint>

#include "diff_checks.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(gh::fuzz::text(data, size));
  try {
    gh::fuzz::check_run(gh::read_jsonl_results(in, "fuzz.jsonl"));
  } catch (const gh::UsageError&) {
  }
  gh::fuzz::MemFile file(data, size);
  try {
    (void)gh::read_result_file(file.path());
  } catch (const gh::UsageError&) {
  }
  return 0;
}
