// glasshouse: a port scanner and port-scan detector.
//
// main() is the table of contents: install the stop handlers, pick the subcommand, and turn every
// error into one line on stderr and an exit status (2: bad input, 1: failure while running).
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "cli/audit_command.h"
#include "cli/history_command.h"
#include "cli/scan_command.h"
#include "cli/scope_command.h"
#include "cli/watch_command.h"
#include "core/error.h"
#include "core/signals.h"

namespace {

constexpr std::string_view kUsage =
    "usage: glasshouse <command> [options]\n"
    "\n"
    "commands:\n"
    "  scan    find open, closed and filtered ports (nmap-style options; scan --help)\n"
    "  watch   detect port scans on an interface or in a pcap file (watch --help)\n"
    "  audit   verify the scan audit log's hash chain, or show its runs (audit --help)\n"
    "  scope   sign scopes of authorization as the network's owner: keygen, sign, verify\n"
    "  history list the scans recorded in the history database (history --help)\n"
    "  diff    what changed between two scans: run ids, last, or result files (diff --help)\n"
    "  report  one self-contained HTML page about a scan (report --help)\n"
    "  merge   join the result files of a scan's shards, each port once (merge --help)\n"
    "\n"
    "  glasshouse --version   print the version\n";

}  // namespace

int main(int argc, char** argv) {
  // Stage 1: a stop flag for SIGINT/SIGTERM, so every run can flush what it found and exit.
  gh::install_stop_handlers();
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    // Stage 2: dispatch to the subcommand; each parses its own options into an immutable config.
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
      std::fputs(kUsage.data(), args.empty() ? stderr : stdout);
      return args.empty() ? gh::kExitUsage : gh::kExitOk;
    }
    if (args[0] == "--version" || args[0] == "version") {
      std::printf("glasshouse %s\n", GLASSHOUSE_VERSION);
      return gh::kExitOk;
    }
    if (args[0] == "scan") return gh::run_scan_command({args.begin() + 1, args.end()});
    if (args[0] == "watch") return gh::run_watch_command(argc - 1, argv + 1);
    if (args[0] == "audit") return gh::run_audit_command({args.begin() + 1, args.end()});
    if (args[0] == "scope") return gh::run_scope_command({args.begin() + 1, args.end()});
    // The history of scans (src/store, src/history).
    if (args[0] == "history") return gh::run_history_command({args.begin() + 1, args.end()});
    if (args[0] == "diff") return gh::run_diff_command({args.begin() + 1, args.end()});
    if (args[0] == "report") return gh::run_report_command({args.begin() + 1, args.end()});
    if (args[0] == "merge") return gh::run_merge_command({args.begin() + 1, args.end()});
    throw gh::UsageError("unknown command \"" + args[0] +
                         "\": use scan, watch, audit, scope, history, diff, report or merge "
                         "(glasshouse --help)");
  } catch (const gh::UsageError& e) {
    std::fprintf(stderr, "glasshouse: %s\n", e.what());
    return gh::kExitUsage;
  } catch (const std::exception& e) {
    // RuntimeError and anything unexpected: one line, never a stack trace.
    std::fprintf(stderr, "glasshouse: %s\n", e.what());
    return gh::kExitRuntime;
  }
}
