// `glasshouse audit`: read the scan audit log (src/audit/audit_log.h).
//
//   glasshouse audit verify [FILE] [--head HASH]   check the hash chain; exit 1 naming the first
//                                                   bad line, 0 with the record count and head hash
//   glasshouse audit show [FILE]                    the runs as a table, then the chain's state
//
// FILE defaults to the log `glasshouse scan` writes to by default.
#pragma once

#include <string>
#include <vector>

namespace gh {

// args: what follows "audit". Returns the exit status; throws UsageError / RuntimeError.
int run_audit_command(const std::vector<std::string>& args);

}  // namespace gh
