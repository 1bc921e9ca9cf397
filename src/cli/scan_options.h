// `glasshouse scan` options: nmap's spelling in, an immutable ScanConfig out.
#pragma once

#include <string>
#include <vector>

#include "scan/config.h"

namespace gh {

// Rewrites nmap's multi-letter single-dash options into the long forms CLI11 understands:
// -sS -> --syn, -sT -> --connect, -sL -> --list, -Pn -> --no-ping, -oN F -> --output-normal F,
// -oJ F -> --output-jsonl F, -iL F -> --input-list F, -p SPEC / -pSPEC -> --ports=SPEC, ...
// Throws UsageError for nmap options Glasshouse does not support yet, naming them.
std::vector<std::string> normalize_nmap_args(const std::vector<std::string>& args);

// Parses the arguments after "scan". Throws UsageError with a one-line message on any bad input.
// Returns false if help was printed (the caller exits 0).
struct ParsedScan {
  ScanConfig config;
  bool help_shown = false;
};
ParsedScan parse_scan_args(const std::vector<std::string>& args, bool raw_allowed);

// nmap time specs: "500ms", "30s", "5m", "2h", a bare number is seconds.
std::chrono::milliseconds parse_time_spec(const std::string& text, const std::string& option);

}  // namespace gh
