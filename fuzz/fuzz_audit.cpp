// libFuzzer target: audit log lines and whole logs (check_audit_line, verify_audit_log,
// audit_runs_table), through the JSON reader (parse_json). Never throws on any input: every
// exception, crash or hang is a bug. A line the checker accepts must carry a 64-hex hash.
#include <cstddef>
#include <cstdint>

#include "audit/audit_log.h"
#include "audit/json_read.h"
#include "audit/run_record.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = gh::fuzz::text(data, size);
  std::string error;
  (void)gh::parse_json(in, &error);
  gh::AuditLineCheck line = gh::check_audit_line(in);
  if (line.ok && line.hash.size() != 64) __builtin_trap();
  gh::AuditVerdict v = gh::verify_audit_log(in);
  if (v.ok && v.bad_line != 0) __builtin_trap();
  (void)gh::audit_runs_table(in);
  return 0;
}
