#include "cli/audit_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "audit/audit_log.h"
#include "audit/run_record.h"
#include "core/error.h"

namespace gh {
namespace {

std::string read_log(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeError("cannot read the audit log \"" + path + "\"");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw RuntimeError("cannot read the audit log \"" + path + "\"");
  return buf.str();
}

std::string verdict_line(const std::string& path, const AuditVerdict& v) {
  if (v.ok)
    return fmt::format("{}: {} record{}, chain intact; head {}", path, v.records,
                       v.records == 1 ? "" : "s", v.head);
  if (v.bad_line == 0) return fmt::format("{}: BAD: {}", path, v.problem);
  return fmt::format("{}: BAD at line {}: {}", path, v.bad_line, v.problem);
}

}  // namespace

int run_audit_command(const std::vector<std::string>& args) {
  CLI::App app{"glasshouse audit: check and read the scan audit log", "glasshouse audit"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.require_subcommand(1);
  std::string file, head;
  CLI::App* verify = app.add_subcommand(
      "verify", "Check the hash chain: exit 1 naming the first edited, removed or reordered line");
  verify->add_option("file", file, "The audit log (default: where scan writes it)");
  verify->add_option("--head", head,
                     "A head hash printed by an earlier verify: it must still be in the log "
                     "(detects records cut off the end)");
  CLI::App* show = app.add_subcommand("show", "Print the runs in the log as a table");
  show->add_option("file", file, "The audit log (default: where scan writes it)");
  app.footer(
      fmt::format("Default log: {} for root, else $XDG_STATE_HOME/glasshouse/audit.jsonl or "
                  "~/.local/state/glasshouse/audit.jsonl.",
                  default_audit_log_path(true, nullptr, nullptr)));
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.empty()) msg = e.get_name();
    throw UsageError("audit: " + msg + " (glasshouse audit --help)");
  }
  if (!head.empty() &&
      (head.size() != 64 || head.find_first_not_of("0123456789abcdef") != std::string::npos))
    throw UsageError("--head must be a SHA-256 in hex (64 lower-case digits), as verify prints it");
  if (file.empty()) {
    file = default_audit_log_path(::geteuid() == 0, std::getenv("XDG_STATE_HOME"),
                                  std::getenv("HOME"));
    if (file.empty()) throw UsageError("no default audit log (HOME is not set): name the file");
  }
  std::string contents = read_log(file);
  AuditVerdict v = verify_audit_log(contents, head);
  if (show->parsed()) {
    std::cout << audit_runs_table(contents) << '\n';
  }
  std::cout << verdict_line(file, v) << '\n';
  std::cout.flush();
  return v.ok ? kExitOk : kExitRuntime;
}

}  // namespace gh
