#include "scan/scanner.h"

#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "core/error.h"
#include "core/signals.h"
#include "io/privilege.h"
#include "output/jsonl_sink.h"
#include "output/status_line.h"
#include "output/text_sink.h"
#include "scan/connect_engine.h"
#include "scan/engine.h"
#include "scan/syn_engine.h"
#include "targets/permutation.h"

namespace gh {
namespace {

std::unique_ptr<std::ostream> open_output(const std::string& path, const char* option) {
  auto f = std::make_unique<std::ofstream>(path, std::ios::out | std::ios::trunc);
  if (!*f) throw UsageError(fmt::format("cannot write {} file \"{}\"", option, path));
  return f;
}

// -sL: print the targets, send nothing (nmap prints a report line per address).
int list_targets(const ScanConfig& config) {
  auto start = WallClock::now();
  const TargetSet& t = config.targets;
  std::string buf;
  for (uint64_t i = 0; i < t.size() && !stop_requested().load(); ++i) {
    buf += "Glasshouse scan report for ";
    buf += t.at(i).to_string();
    buf += '\n';
    if (buf.size() > (1 << 16)) {
      std::cout << buf;
      buf.clear();
    }
  }
  std::cout << buf;
  double secs = std::chrono::duration<double>(WallClock::now() - start).count();
  std::cout << fmt::format(
      "Glasshouse done: {} IP address{} (0 hosts up) scanned in {:.2f} seconds\n", t.size(),
      t.size() == 1 ? "" : "es", secs);
  std::cout.flush();
  return stop_requested().load() ? 128 + stop_signal() : kExitOk;
}

std::vector<std::unique_ptr<Sink>> make_sinks(const OutputSpec& out, StatusLine*& status_ref) {
  std::vector<std::unique_ptr<Sink>> sinks;
  TextOptions screen;
  screen.open_only = out.open_only;
  screen.reason = out.reason;
  screen.verbosity = out.verbosity;
  screen.live_line = [&status_ref](std::string_view line) {
    if (status_ref != nullptr) {
      status_ref->print_above(std::cout, line);
    } else {
      std::cout << line << '\n';
      std::cout.flush();
    }
  };
  sinks.push_back(std::make_unique<TextSink>(std::cout, screen));
  if (!out.normal_file.empty()) {
    TextOptions file = screen;
    file.file = true;
    file.live_line = nullptr;
    file.name = out.normal_file;
    sinks.push_back(std::make_unique<TextSink>(open_output(out.normal_file, "-oN"), file));
  }
  if (!out.jsonl_file.empty()) {
    JsonlOptions j;
    j.show = out.show;
    j.name = out.jsonl_file;
    sinks.push_back(std::make_unique<JsonlSink>(open_output(out.jsonl_file, "-oJ"), j));
  }
  return sinks;
}

// --dry-run of a connect scan: the connections it would open, in probe order, one per line.
EngineReport dry_run_connect(const EngineContext& ctx) {
  EngineReport report;
  Permutation perm(ctx.space.size(), ctx.seed);
  std::string out;
  for (uint64_t i = 0; i < ctx.space.size() && !ctx.stop.load(); ++i) {
    Probe p = ctx.space.at(perm.at(i));
    if (p.proto != Protocol::Tcp) continue;
    out += p.addr.is_v4() ? fmt::format("connect {}:{}\n", p.addr.to_string(), p.port)
                          : fmt::format("connect [{}]:{}\n", p.addr.to_string(), p.port);
    ++report.probes_sent;
    if (out.size() > (1 << 16)) {
      std::cout << out;
      out.clear();
    }
  }
  std::cout << out;
  report.interrupted = ctx.stop.load();
  return report;
}

const char* scan_type_name(ScanType t) {
  switch (t) {
    case ScanType::Syn:
      return "syn";
    case ScanType::Connect:
      return "connect";
    case ScanType::List:
      return "list";
  }
  return "?";
}

}  // namespace

int run_scan(const ScanConfig& config) {
  // Stage 1: -sL needs nothing but the target set.
  if (config.type == ScanType::List) return list_targets(config);

  // Stage 2: refuse what cannot work before any output is opened.
  if (config.type == ScanType::Syn && !config.dry_run && !can_open_raw_sockets())
    throw RuntimeError(
        "-sS needs raw sockets: run as root, give the binary the capability "
        "(sudo setcap cap_net_raw,cap_net_admin+eip $(command -v glasshouse)), or use -sT");
  ProbeSpace space(config.targets, config.ports);

  // Stage 3: outputs. Text goes to stdout (and -oN), JSON Lines to -oJ.
  StatusLine* status_ptr = nullptr;
  std::vector<std::unique_ptr<Sink>> sinks =
      config.dry_run ? std::vector<std::unique_ptr<Sink>>{} : make_sinks(config.output, status_ptr);
  ScanInfo info;
  info.command_line = config.command_line;
  info.scan_type = scan_type_name(config.type);
  info.start = WallClock::now();
  info.targets = space.targets();
  info.ports = space.ports();
  for (auto& s : sinks) s->begin(info);

  // Stage 4: run the engine. Every verdict goes through the table first: it is the last guard
  // against reporting a port twice.
  ResultTable table(space.ports());
  if (space.targets() <= 256)
    for (uint64_t i = 0; i < space.targets(); ++i) table.note_host(config.targets.at(i));
  EngineCounters counters;
  counters.total = space.size();
  auto last_flush = std::chrono::steady_clock::now();
  EngineContext ctx{
      config, space, config.seed, stop_requested(), counters, [&](const PortResult& r) {
        if (!table.add(r)) return;
        for (auto& s : sinks) s->port(r);
        auto now = std::chrono::steady_clock::now();
        if (now - last_flush > std::chrono::seconds(1)) {
          for (auto& s : sinks) s->flush();
          last_flush = now;
        }
      }};
  StatusLineOptions sopts;
  sopts.enabled = config.output.status_line && !config.dry_run;
  StatusLine status(counters, sopts);
  if (status.active()) status_ptr = &status;

  EngineReport report;
  ScanSummary summary;
  try {
    if (config.type == ScanType::Syn)
      report = run_syn_scan(ctx);
    else if (config.dry_run)
      report = dry_run_connect(ctx);
    else
      report = run_connect_scan(ctx);
  } catch (const std::exception& e) {
    // Close the outputs with what was found, then report the error.
    status.stop();
    status_ptr = nullptr;
    summary.end = WallClock::now();
    summary.exit_reason = e.what();
    summary.hosts_up = table.hosts_up();
    summary.open_ports = table.count(PortState::Open);
    for (auto& s : sinks) s->end(table, summary);
    throw;
  }
  status.stop();
  status_ptr = nullptr;

  // Stage 5: close every output with the summary, also after SIGINT/SIGTERM.
  summary.end = WallClock::now();
  summary.hosts_up = table.hosts_up();
  summary.probes_sent = report.probes_sent;
  summary.replies = report.replies;
  summary.open_ports = table.count(PortState::Open);
  summary.interrupted = report.interrupted;
  summary.exit_reason = report.interrupted ? "interrupted" : "done";
  for (auto& s : sinks) s->end(table, summary);
  std::cout.flush();
  if (report.interrupted) return 128 + (stop_signal() != 0 ? stop_signal() : SIGINT);
  return kExitOk;
}

}  // namespace gh
