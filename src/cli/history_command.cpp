#include "cli/history_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "core/error.h"
#include "history/diff.h"
#include "history/merge.h"
#include "history/report.h"
#include "history/result_files.h"
#include "output/json.h"
#include "store/store.h"

namespace gh {
namespace {

// Parses `args` with `app`; false when help was printed.
bool parse(CLI::App& app, const std::vector<std::string>& args, std::string_view cmd) {
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return false;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.empty()) msg = e.get_name();
    throw UsageError(fmt::format("{}: {} (glasshouse {} --help)", cmd, msg, cmd));
  }
  return true;
}

std::string db_location(const std::string& given) {
  if (!given.empty()) return given;
  std::string d = default_db_location();
  if (d.empty()) throw UsageError("no default history database (HOME is not set): use --db");
  return d;
}

// Opens the store for reading. Bad input (a damaged file, a newer schema, no database at all)
// is a UsageError; a lock or an unreachable server stays a RuntimeError.
Store open_store(const std::string& location) {
  if (!is_postgres_url(location)) {
    struct stat st {};
    if (::stat(location.c_str(), &st) != 0)
      throw UsageError(fmt::format(
          "no history database at {} (scans write one unless --no-db; --db names another)",
          location));
  }
  try {
    return Store::open(location, false);
  } catch (const StoreError& e) {
    if (e.kind() == StoreError::Kind::Corrupt || e.kind() == StoreError::Kind::Schema)
      throw UsageError(e.what());
    throw RuntimeError(e.what());
  }
}

// Turns StoreErrors met while reading into the errors main() reports.
template <typename Fn>
auto reading(Fn&& fn) {
  try {
    return fn();
  } catch (const StoreError& e) {
    if (e.kind() == StoreError::Kind::Corrupt || e.kind() == StoreError::Kind::Schema)
      throw UsageError(e.what());
    throw RuntimeError(e.what());
  }
}

bool looks_like_run_ref(const std::string& ref) {
  if (ref == "last" || ref.starts_with("last~")) return true;
  return !ref.empty() && ref.find_first_not_of("0123456789") == std::string::npos;
}

// A run named on the command line: a result file when such a file exists (or the name cannot
// be a run), else a run of the store (opened on first use).
class Sides {
 public:
  explicit Sides(std::string db) : db_(std::move(db)) {}
  RunData load(const std::string& ref) {
    struct stat st {};
    if (!looks_like_run_ref(ref) || ::stat(ref.c_str(), &st) == 0) return read_result_file(ref);
    return reading([&] { return store().load(store().resolve(ref)); });
  }
  Store& store() {
    if (!store_) store_.emplace(open_store(db_location(db_)));
    return *store_;
  }
  bool has_store() const { return store_.has_value(); }

 private:
  std::string db_;
  std::optional<Store> store_;
};

std::string short_time(const std::string& t) {
  // 2026-11-22T23:04:01.000Z -> 2026-11-22 23:04:01
  if (t.size() >= 19) return t.substr(0, 10) + " " + t.substr(11, 8);
  return t.empty() ? "-" : t;
}

}  // namespace

int run_history_command(const std::vector<std::string>& args) {
  CLI::App app{"glasshouse history: the scans recorded in the history database",
               "glasshouse history"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  std::string db;
  size_t limit = 0;
  bool json = false;
  app.add_option("--db", db, "The history database: a file or postgresql://... (default: scan's)");
  app.add_option("-n,--limit", limit, "Only the N newest runs");
  app.add_flag("--json", json, "One JSON object per run (JSON Lines)");
  if (!parse(app, args, "history")) return kExitOk;
  Store store = open_store(db_location(db));
  std::vector<RunMeta> runs = reading([&] { return store.runs(limit); });
  if (json) {
    for (const RunMeta& r : runs)
      std::cout << JsonObject()
                       .num("run", r.id)
                       .str("start", r.start)
                       .str("end", r.end)
                       .str("scan_type", r.scan_type)
                       .raw("scan_types", json_string_array(scan_types_of(r)))
                       .str("engagement", r.engagement)
                       .num("targets", r.targets)
                       .num("ports", r.ports)
                       .num("hosts_up", r.hosts_up)
                       .num("open_ports", r.open_ports)
                       .num("shard", r.shard)
                       .num("shards", r.shards)
                       .str("exit_reason", r.exit_reason)
                       .str("audit_run", r.audit_run)
                       .str("command", r.command)
                       .done()
                << '\n';
    return kExitOk;
  }
  if (runs.empty()) {
    std::cout << "no runs in " << store.describe() << '\n';
    return kExitOk;
  }
  // The TYPE column is as wide as its longest entry ("connect+udp"), at least 7.
  size_t type_width = 7;
  for (const RunMeta& r : runs)
    type_width = std::max(type_width, join_scan_types(scan_types_of(r)).size());
  std::cout << fmt::format("{:>5}  {:<19}  {:<{}}  {:>8}  {:>5}  {:>4}  {:<12}  {:<11}  {}\n",
                           "RUN", "START (UTC)", "TYPE", type_width, "TARGETS", "PORTS", "UP",
                           "OPEN", "EXIT", "COMMAND");
  for (const RunMeta& r : runs) {
    std::string exit = r.end.empty() ? "unfinished" : r.exit_reason;
    if (exit.size() > 11) exit = exit.substr(0, 10) + "~";
    std::string open = std::to_string(r.open_ports);
    if (r.shards > 1) open += fmt::format(" [{}/{}]", r.shard, r.shards);
    std::string eng = r.engagement.empty() ? "" : " [" + r.engagement + "]";
    std::cout << fmt::format("{:>5}  {:<19}  {:<{}}  {:>8}  {:>5}  {:>4}  {:<12}  {:<11}  {}{}\n",
                             r.id, short_time(r.start), join_scan_types(scan_types_of(r)),
                             type_width, r.targets, r.ports, r.hosts_up, open, exit, r.command,
                             eng);
  }
  return kExitOk;
}

int run_diff_command(const std::vector<std::string>& args) {
  CLI::App app{"glasshouse diff: what changed between two scans", "glasshouse diff"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  std::string db, a, b;
  bool json = false;
  app.add_option("a", a, "The earlier run: a run id, last, last~N, or a result file")->required();
  app.add_option("b", b, "The later run (as A)")->required();
  app.add_option("--db", db, "The history database: a file or postgresql://... (default: scan's)");
  app.add_flag("--json", json, "One JSON object instead of text");
  app.footer("Exit status: 0 whether or not anything changed; 2 for a bad run or file.");
  if (!parse(app, args, "diff")) return kExitOk;
  Sides sides(db);
  RunData ra = sides.load(a);
  RunData rb = sides.load(b);
  RunDiff d = diff_runs(ra, rb);
  std::cout << (json ? format_diff_json(d) : format_diff_text(d));
  std::cout.flush();
  return kExitOk;
}

int run_report_command(const std::vector<std::string>& args) {
  CLI::App app{"glasshouse report: one self-contained HTML page about a scan", "glasshouse report"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  std::string db, run = "last", since, out;
  bool no_since = false;
  app.add_option("run", run, "The run: a run id, last (default), last~N, or a result file");
  app.add_option("-o,--output", out, "Where to write the page")->required();
  app.add_option("--db", db, "The history database: a file or postgresql://... (default: scan's)");
  app.add_option("--since", since,
                 "Compare with this run or file (default: the previous run of the same targets)");
  app.add_flag("--no-since", no_since, "No comparison with an earlier run");
  if (!parse(app, args, "report")) return kExitOk;
  Sides sides(db);
  RunData current = sides.load(run);
  std::optional<RunDiff> changes;
  std::optional<RunMeta> previous;
  if (!no_since) {
    std::optional<RunData> before;
    if (!since.empty()) {
      before = sides.load(since);
    } else if (current.meta.id != 0) {
      auto prev = reading([&] { return sides.store().previous(current.meta.id); });
      if (prev) before = reading([&] { return sides.store().load(*prev); });
    }
    if (before) changes = diff_runs(*before, current);
  }
  std::string html = render_report(current, changes ? &*changes : nullptr);
  std::ofstream f(out, std::ios::out | std::ios::trunc | std::ios::binary);
  if (!f) throw UsageError(fmt::format("cannot write the report \"{}\"", out));
  f << html;
  f.close();
  if (!f) throw RuntimeError(fmt::format("cannot write the report \"{}\"", out));
  std::cerr << fmt::format(
      "glasshouse: report of {} written to {}{}\n", run_label(current.meta), out,
      changes ? fmt::format(" (changes since {})", run_label(changes->a)) : std::string());
  return kExitOk;
}

int run_merge_command(const std::vector<std::string>& args) {
  CLI::App app{"glasshouse merge: join the result files of a scan's shards, each port once",
               "glasshouse merge"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  std::vector<std::string> files;
  std::string out;
  bool allow_mixed = false;
  app.add_option("files", files, "Result files of the shards (JSON Lines or nmap XML)")->required();
  app.add_option("-o,--output", out, "Where the merged JSON Lines go (- for stdout)")->required();
  app.add_flag("--allow-mixed", allow_mixed,
               "Merge files of different scans (other targets, ports or scan types)");
  if (!parse(app, args, "merge")) return kExitOk;
  std::vector<RunData> runs;
  for (const auto& f : files) runs.push_back(read_result_file(f));
  MergeResult m = merge_runs(runs, allow_mixed);
  for (const auto& note : m.notes) std::cerr << "glasshouse: note: " << note << '\n';
  if (out == "-") {
    write_merged_jsonl(m, std::cout);
    std::cout.flush();
  } else {
    std::ofstream f(out, std::ios::out | std::ios::trunc | std::ios::binary);
    if (!f) throw UsageError(fmt::format("cannot write merge output \"{}\"", out));
    write_merged_jsonl(m, f);
    f.close();
    if (!f) throw RuntimeError(fmt::format("cannot write merge output \"{}\"", out));
  }
  std::cerr << fmt::format(
      "glasshouse: merged {} file{}: {} port record{} ({} duplicate{} "
      "dropped), {} host{} up\n",
      files.size(), files.size() == 1 ? "" : "s", m.run.ports.size(),
      m.run.ports.size() == 1 ? "" : "s", m.duplicates, m.duplicates == 1 ? "" : "s",
      m.run.meta.hosts_up, m.run.meta.hosts_up == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace gh
