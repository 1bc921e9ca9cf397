// `glasshouse scan`: parse the options, then run the scan (src/run/scanner.h).
#pragma once

#include <string>
#include <vector>

namespace gh {

// Returns the process exit status. Throws UsageError / RuntimeError for main() to report.
int run_scan_command(const std::vector<std::string>& args);

}  // namespace gh
