#include "cli/scan_command.h"

#include "cli/scan_options.h"
#include "core/error.h"
#include "io/privilege.h"
#include "scan/scanner.h"

namespace gh {

int run_scan_command(const std::vector<std::string>& args) {
  ParsedScan parsed = parse_scan_args(args, can_open_raw_sockets());
  if (parsed.help_shown) return kExitOk;
  std::string line = "glasshouse scan";
  for (const auto& a : args) line += " " + a;
  parsed.config.command_line = line;
  return run_scan(parsed.config);
}

}  // namespace gh
