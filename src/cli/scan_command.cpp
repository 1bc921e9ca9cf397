#include "cli/scan_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "cli/scan_options.h"
#include "core/error.h"
#include "io/privilege.h"
#include "run/checkpoint_session.h"
#include "run/scanner.h"
#include "service/services.h"
#include "store/sql.h"

namespace gh {
namespace {

// The FILE of `--resume FILE` / `--resume=FILE` when the arguments name one; refuses any other
// option beside it (a resumed scan keeps the options it was started with).
std::optional<std::string> resume_request(const std::vector<std::string>& args) {
  bool asked = false;
  for (const auto& a : args)
    if (a == "--resume" || a.rfind("--resume=", 0) == 0) asked = true;
  if (!asked) return std::nullopt;
  std::optional<std::string> file;
  if (args.size() == 2 && args[0] == "--resume") file = args[1];
  if (args.size() == 1 && args[0].rfind("--resume=", 0) == 0) file = args[0].substr(9);
  if (!file)
    throw UsageError(args.size() == 1 && args[0] == "--resume"
                         ? "--resume needs the resume FILE"
                         : "--resume FILE takes no other option: a resumed scan keeps the options "
                           "it was started with");
  if (file->empty()) throw UsageError("--resume needs the resume FILE");
  return file;
}

int resume_scan(const std::string& file) {
  std::string path = file;
  if (path[0] != '/') {
    std::vector<char> buf(4096);
    if (::getcwd(buf.data(), buf.size()) == nullptr)
      throw system_error(errno, "cannot tell the current directory");
    path = std::string(buf.data()) + "/" + path;
  }
  CheckpointKey key = load_checkpoint_key(checkpoint_key_path(), false);
  Checkpoint checkpoint = read_checkpoint_file(path, key);
  const CheckpointMeta& m = checkpoint.meta;
  // The scan's own directory: its relative paths (-oJ, -iL, --excludefile, ...) mean what they
  // meant when it started.
  if (::chdir(m.cwd.c_str()) != 0)
    throw UsageError(
        fmt::format("cannot resume {}: cannot enter {}, where the scan was started: {}", path,
                    m.cwd, std::strerror(errno)));
  ParsedScan parsed;
  try {
    parsed = parse_scan_args(m.argv, /*raw_allowed=*/true);  // only -sS scans are checkpointed
  } catch (const UsageError& e) {
    throw UsageError(
        fmt::format("cannot resume {}: its options no longer parse: {}", path, e.what()));
  }
  if (parsed.help_shown) return kExitOk;
  ScanConfig& c = parsed.config;
  c.seed = m.fingerprint.seed;  // a random seed was drawn when the scan started
  c.seed_given = true;
  c.checkpoint.resume_file = path;
  c.checkpoint.file = path;
  c.command_line = "glasshouse scan --resume " + file;
  ScanOrigin origin;
  origin.argv = m.argv;
  origin.cwd = m.cwd;
  origin.resume = &checkpoint;
  origin.resume_path = path;
  return run_scan(c, origin);
}

}  // namespace

int run_scan_command(const std::vector<std::string>& args) {
  if (auto file = resume_request(args)) return resume_scan(*file);
  // The services table (27,000 lines of nmap-services, ~3 ms) loads on a thread of its own while
  // the options are parsed; the default ports wait for it there. A table that fails to load is
  // loaded again, and its error reported, by that first use.
  std::thread services([] {
    try {
      ServiceTable::instance();
    } catch (const std::exception&) {
    }
  });
  struct Join {
    std::thread& t;
    ~Join() { t.join(); }
  } join{services};
  ParsedScan parsed = parse_scan_args(args, can_open_raw_sockets());
  if (parsed.help_shown) return kExitOk;
  std::string line = "glasshouse scan";
  // A PostgreSQL URL's password stays out of the outputs, the audit log and the history.
  for (const auto& a : args)
    line += " " + (is_postgres_url(a) || a.starts_with("--db=") ? redact_url(a) : a);
  parsed.config.command_line = line;
  ScanOrigin origin;
  origin.argv = args;
  return run_scan(parsed.config, origin);
}

}  // namespace gh
