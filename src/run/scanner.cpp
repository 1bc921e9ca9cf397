#include "run/scanner.h"

#include <fcntl.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "audit/audit_log.h"
#include "audit/run_record.h"
#include "audit/sha256.h"
#include "auth/scan_auth.h"
#include "core/error.h"
#include "core/signals.h"
#include "io/fd.h"
#include "io/privilege.h"
#include "output/jsonl_sink.h"
#include "output/reverse_dns.h"
#include "output/sink_registry.h"
#include "output/status_line.h"
#include "output/text_sink.h"
#include "output/xml_sink.h"
#include "policy/policy.h"
#include "policy/privilege_drop.h"
#include "run/os_hints.h"
#include "run/stage_plan.h"
#include "scan/connect_engine.h"
#include "scan/discovery.h"
#include "scan/engine.h"
#include "scan/port_stage.h"
#include "scan/probe_registry.h"
#include "scan/source_pool.h"
#include "scan/syn_engine.h"
#include "service/version_scan.h"
#include "store/db_sink.h"
#include "targets/permutation.h"
#include "targets/slice.h"

namespace gh {
namespace {

// -sL and --dry-run write a line per target or probe to stdout, possibly billions: a reader
// that went away (`| head`) must end the run, not leave it writing into a closed pipe (SIGPIPE is
// ignored, so a write just fails).
void write_listing(const std::string& text) {
  std::cout << text;
  if (!std::cout) throw RuntimeError("cannot write the listing to standard output (closed?)");
}

// -sL: print the targets, send nothing (nmap prints a report line per address).
int list_targets(const ScanConfig& config, const std::string& exclusion_note) {
  auto start = WallClock::now();
  const TargetSet& t = config.targets;
  std::string buf;
  for (uint64_t i = 0; i < t.size() && !stop_requested().load(); ++i) {
    buf += "Glasshouse scan report for ";
    buf += t.at(i).to_string();
    buf += '\n';
    if (buf.size() > (1 << 16)) {
      write_listing(buf);
      buf.clear();
    }
  }
  write_listing(buf);
  if (!exclusion_note.empty()) std::cout << "Glasshouse " << exclusion_note << '\n';
  double secs = std::chrono::duration<double>(WallClock::now() - start).count();
  std::cout << fmt::format(
      "Glasshouse done: {} IP address{} (0 hosts up) scanned in {:.2f} seconds\n", t.size(),
      t.size() == 1 ? "" : "es", secs);
  std::cout.flush();
  return stop_requested().load() ? 128 + stop_signal() : kExitOk;
}

// `names` (null with -n) is filled at the end of the scan, before the sinks print their tables.
// `resume` is set in a resumed run: the files are appended to, and -oJ starts with a "resume"
// record instead of a "scan" header.
std::vector<std::unique_ptr<Sink>> make_sinks(const OutputSpec& out, StatusLine*& status_ref,
                                              const ReverseNames* names,
                                              const std::optional<JsonlResume>& resume) {
  std::vector<std::unique_ptr<Sink>> sinks;
  TextOptions screen;
  if (names != nullptr) screen.host_name = [names](const IpAddress& a) { return names->name(a); };
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
  // Files: every registered kind whose path is set (output/sink_registry.h).
  SinkRequest req{out, {}, screen.host_name, resume};
  for (const SinkKind& kind : sink_kinds()) {
    const std::string& path = out.*kind.path;
    if (path.empty()) continue;
    req.path = path;
    bool append = resume.has_value() && kind.appends_on_resume;
    sinks.push_back(kind.make(open_output_file(path, kind.option, append), req));
  }
  return sinks;
}

// The policy gate, shared by a plan's stages: discovery's thread and the port stages' send
// threads ask it at once (PolicyGate itself is for one thread at a time: its per-host buckets).
class SharedGate : public ProbeGate {
 public:
  explicit SharedGate(ProbeGate& inner) : inner_(inner) {}
  Decision check(const Probe& probe, std::chrono::steady_clock::time_point now,
                 std::chrono::nanoseconds* retry_in) override {
    std::lock_guard lock(mu_);
    return inner_.check(probe, now, retry_in);
  }

 private:
  ProbeGate& inner_;
  std::mutex mu_;
};

// What the database sink records besides the results: what was scanned, the audit run id, the
// shard.
DbSinkOptions db_options(const ScanConfig& config, const std::string& run_id) {
  DbSinkOptions o;
  o.location = config.store.db;
  o.show = config.output.show;
  std::vector<std::string> ranges;
  for (const AddressRange& r : config.targets.ranges())
    ranges.push_back(r.first.to_string() + "-" + r.last.to_string());
  o.targets_key = targets_key_of(ranges, config.ports.tcp, config.ports.udp);
  o.audit_run = run_id;
  o.shard = static_cast<uint32_t>(config.shards.index);
  o.shards = static_cast<uint32_t>(config.shards.count);
  return o;
}

// --dry-run of a connect scan: the connections it would open, in probe order, one per line.
EngineReport dry_run_connect(const EngineContext& ctx) {
  EngineReport report;
  Permutation perm(ctx.space.size(), ctx.seed);
  Slice slice = Slice::shard(ctx.space.size(), ctx.config.shards.count, ctx.config.shards.index);
  std::string out;
  for (uint64_t k = 0; k < slice.size() && !ctx.stop.load(); ++k) {
    Probe p = ctx.space.at(perm.at(slice.position(k)));
    if (p.proto != Protocol::Tcp) continue;
    std::chrono::nanoseconds later{0};  // a dry run does not wait out the per-host cap
    if (ctx.gate != nullptr && ctx.gate->check(p, std::chrono::steady_clock::now(), &later) ==
                                   ProbeGate::Decision::Refuse) {
      ++report.refused;
      continue;
    }
    out += p.addr.is_v4() ? fmt::format("connect {}:{}\n", p.addr.to_string(), p.port)
                          : fmt::format("connect [{}]:{}\n", p.addr.to_string(), p.port);
    ++report.probes_sent;
    if (out.size() > (1 << 16)) {
      write_listing(out);
      out.clear();
    }
  }
  write_listing(out);
  report.interrupted = ctx.stop.load();
  return report;
}

std::string scan_type_name(ScanType t) {
  return std::string(scan_type_entry(t).name);
}

// Every scan type of the run, in stage order: {"syn"}; {"syn","udp"} for -sS -sU.
std::vector<std::string> scan_type_names(const ScanConfig& config) {
  std::vector<std::string> names{scan_type_name(config.type)};
  if (config.also_udp) names.push_back(scan_type_name(ScanType::Udp));
  return names;
}

// Output files, read back through descriptors opened before privileges are dropped, so that
// their SHA-256 can go into the audit log once the scan is over.
struct OutputFile {
  std::string path;
  FileDescriptor fd;
};

std::vector<OutputFile> open_for_hashing(const OutputSpec& out) {
  std::vector<OutputFile> files;
  for (const SinkKind& kind : sink_kinds()) {
    const std::string& path = out.*kind.path;
    if (!path.empty())
      files.push_back({path, FileDescriptor(::open(path.c_str(), O_RDONLY | O_CLOEXEC))});
  }
  return files;
}

void hash_outputs(const std::vector<OutputFile>& files, RunOutcome& outcome) {
  outcome.outputs.clear();
  for (const auto& f : files)
    outcome.outputs.emplace_back(f.path,
                                 f.fd ? sha256_of_fd(f.fd.get()) : std::optional<std::string>{});
}

void note_signature(RunFacts& facts, const auth::ScopeAuthorization& a, bool announce) {
  static constexpr const char* kNames[] = {"unsigned", "verified", "unknown-key", "invalid"};
  facts.scope_signature = kNames[static_cast<int>(a.check.status)];
  facts.scope_signer = a.check.signer;
  facts.scope_signer_key = a.check.signer_key;
  facts.announce = a.announcer != nullptr && announce;
}

int exit_status_of(const std::exception& e) {
  return dynamic_cast<const UsageError*>(&e) != nullptr ? kExitUsage : kExitRuntime;
}

// The "resume" record a resumed run's -oJ begins with (output/jsonl_sink.h).
JsonlResume jsonl_resume(const CheckpointSession& cp, const std::string& run_id) {
  const Checkpoint& c = *cp.resumed();
  JsonlResume r;
  r.run = run_id;
  r.resumes = c.meta.first_run;
  r.checkpoint = cp.path();
  r.saved = WallClock::time_point(std::chrono::milliseconds(c.meta.saved_ms));
  r.kept_bytes = c.meta.jsonl_offset;
  r.ports_written = c.meta.ports_written;
  r.open_ports = c.meta.open_ports;
  for (const PassCounts& p : c.progress.passes) {
    r.probes_sent += p.sent;
    r.replies += p.settled;
  }
  return r;
}

// A resumed run's restored table, passed again to the sinks that asked for it (Sink::rewind):
// each host's record, its stored verdicts, its kept no-response ports.
void replay_table(const ResultTable& table, const std::vector<Sink*>& sinks) {
  auto now = WallClock::now();
  for (const auto& [addr, host] : table.hosts()) {
    if (host.record)
      for (Sink* s : sinks) s->host(*host.record);
    PortResult r;
    r.addr = addr;
    r.seen = now;
    for (const ResultTable::Entry& e : host.entries) {
      r.port = e.port;
      r.proto = e.proto;
      r.state = e.state;
      r.reason = e.reason;
      r.reply_ttl = e.reply_ttl;
      for (Sink* s : sinks) s->port(r);
    }
    r.state = PortState::Filtered;
    r.reason = Reason::NoResponse;
    r.reply_ttl = 0;
    for (auto [proto, port] : host.silent_ports()) {
      r.proto = proto;
      r.port = port;
      for (Sink* s : sinks) s->port(r);
    }
  }
}

// Stages 2 to 5 of a run that policy allowed; fills `outcome` as it goes. `checkpoints` (null:
// none) saves the progress of a -sS scan and knows what a resumed one continues.
int scan_stages(const ScanConfig& config, PolicyPlan& plan, const std::string& engagement_id,
                const std::string& run_id, CheckpointSession* checkpoints,
                const auth::ProbeAnnouncer* announcer, PendingStore* history, RunOutcome& outcome) {
  // Least privilege: a root scan becomes config.policy.user, and every capability goes, once the
  // engine's sockets are open (both engines call ctx.after_sockets_open before their first probe
  // and before starting any thread). The status line starts afterwards: capabilities belong to
  // threads, and capset() changes only the calling one.
  bool ready_done = false;
  std::optional<StatusLine> status;
  StatusLine* status_ptr = nullptr;
  StatusLineOptions sopts;
  sopts.enabled = config.output.status_line && !config.dry_run;
  EngineCounters counters;
  auto start_status = [&] {
    if (status) return;
    status.emplace(counters, sopts);
    if (status->active()) status_ptr = &*status;
  };
  DbSink* history_sink = nullptr;  // settled before privileges are dropped
  auto ready = [&] {
    if (ready_done) return;
    ready_done = true;
    if (history_sink != nullptr) history_sink->settle();
    outcome.privileges = drop_privileges(config.policy.user).describe();
    start_status();
  };
  outcome.privileges = "not dropped: the engine did not call after_sockets_open";

  // Stage 2: -sL needs nothing but the target set.
  const ScanTypeEntry& type = scan_type_entry(config.type);
  if (type.engine == EngineKind::List) {
    ready();
    int rc = list_targets(config, plan.exclusion_note);
    outcome.exit_reason = rc == kExitOk ? "done" : "interrupted";
    return rc;
  }
  // Host discovery runs first unless -Pn (or a dry run, which sends nothing): a plan of stages
  // (run/stage_plan.h) whose port stages scan the hosts discovery streams, group by group.
  const bool discover = !config.discovery.skip && !config.dry_run;
  std::optional<ProbeSpace> space_store;  // -Pn: the one probe space of the port scan
  if (!discover) space_store.emplace(config.targets, config.ports);

  // Stage 3: outputs. Text goes to stdout (and -oN), JSON Lines to -oJ. They are opened before
  // privileges are dropped, and read back for their SHA-256 through descriptors opened now.
  ReverseNames names;
  bool resuming = checkpoints != nullptr && checkpoints->resumed() != nullptr;
  std::vector<std::unique_ptr<Sink>> sinks =
      config.dry_run
          ? std::vector<std::unique_ptr<Sink>>{}
          : make_sinks(config.output, status_ptr, config.no_resolve ? nullptr : &names,
                       resuming ? std::optional(jsonl_resume(*checkpoints, run_id)) : std::nullopt);
  // The history database, opened now too (a failure to open it is one warning, not the end of
  // the scan: store/db_sink.h).
  if (!config.dry_run && config.store.enabled) {
    if (config.store.db.empty())
      std::cerr << "glasshouse: note: no history database (HOME is not set; --db names one)\n";
    else {
      // Opening on its own thread since run_scan began: the sink settles before privileges are
      // dropped (ready()).
      auto sink = history != nullptr && history->valid()
                      ? make_db_sink(std::move(*history), db_options(config, run_id), std::cerr)
                      : make_db_sink(db_options(config, run_id), std::cerr);
      history_sink = sink.get();
      sinks.push_back(std::move(sink));
    }
  }
  std::vector<OutputFile> files =
      config.dry_run ? std::vector<OutputFile>{} : open_for_hashing(config.output);
  // The result model's memory. A resumed run starts from the checkpoint's table, and the sinks
  // go back to their marks (run/checkpoint_session.h): -oN, -oX and -oG are then written whole
  // from it at the end, and the database run gets its records again.
  ResultTable table(config.discovery.ping_only ? 0 : config.ports.size());
  std::vector<Sink*> replay;
  if (resuming) replay = checkpoints->restore_outputs(table, sinks);
  ScanInfo info;
  info.command_line = config.command_line;
  info.scan_type = scan_type_name(config.type);
  info.scan_types = scan_type_names(config);
  info.start = resuming ? checkpoints->first_start() : WallClock::now();
  info.targets = config.targets.size();
  info.ports = config.discovery.ping_only ? 0 : config.ports.size();
  info.engagement_id = engagement_id;
  info.tcp_ports = port_ranges(config.ports.tcp);
  info.udp_ports = port_ranges(config.ports.udp);
  info.verbosity = config.output.verbosity;
  for (auto& s : sinks) s->begin(info);
  if (!replay.empty()) replay_table(table, replay);
  JsonlSink* jsonl = nullptr;
  for (auto& s : sinks)
    if (auto* j = dynamic_cast<JsonlSink*>(s.get())) jsonl = j;
  if (checkpoints != nullptr) {
    for (auto& s : sinks) s->flush();
    checkpoints->outputs_started(info.start);
  }

  PolicyGate gate(std::move(plan.gate));
  std::mutex output_mu;
  auto last_flush = std::chrono::steady_clock::now();
  EngineReport report;
  ScanSummary summary;
  std::optional<PlanReport> found;
  SharedGate shared_gate(gate);  // discovery's thread and the port stages' send threads

  // Stage 4: run the engine behind the policy gate. Every verdict goes through the table first:
  // it is the last guard against reporting a port twice. A checkpoint sees the outputs flushed
  // with every verdict reported before it, and none after (output_mu).
  if (!discover && space_store->targets() <= 256)
    for (uint64_t i = 0; i < space_store->targets(); ++i) table.note_host(config.targets.at(i));
  counters.skipped = plan.skipped;
  uint64_t open_reported = 0;
  // An engine's context for one port scan: the whole -Pn scan, or one group of a plan.
  auto engine_context = [&](const ScanConfig& engine_config, const ProbeSpace& space) {
    EngineContext ctx{
        engine_config, space, config.seed, stop_requested(), counters, [&](const PortResult& r) {
          if (!ready_done) start_status();  // an engine that never called after_sockets_open
          std::lock_guard lock(output_mu);
          if (!table.add(r)) return;
          if (r.state == PortState::Open) ++open_reported;
          for (auto& s : sinks) s->port(r);
          if (config.service.os_hint) record_os_hint(r, table, sinks);  // -O/-A (run/os_hints.h)
          auto now = std::chrono::steady_clock::now();
          if (now - last_flush > std::chrono::seconds(1)) {
            for (auto& s : sinks) s->flush();
            last_flush = now;
          }
        }};
    ctx.on_host = [&](const HostResult& h) {
      std::lock_guard lock(output_mu);
      table.add_host(h);
      for (auto& s : sinks) s->host(h);
    };
    ctx.on_service = [&](const ServiceInfo& r) {
      std::lock_guard lock(output_mu);
      table.add_service(r);
      for (auto& s : sinks) s->service(r);
    };
    ctx.gate = discover ? static_cast<ProbeGate*>(&shared_gate) : &gate;
    ctx.announce = announcer;
    ctx.after_sockets_open = ready;
    return ctx;
  };
  // Progress of a -Pn scan: the engine's bitmap (scan/progress.h).
  auto save_engine_checkpoint = [&](const EngineProgress& progress) {
    std::lock_guard lock(output_mu);
    try {
      for (auto& s : sinks) s->flush();
    } catch (const std::exception& e) {
      std::cerr << "glasshouse: warning: no checkpoint: " << e.what() << '\n';
      return;  // the outputs may lack records the bitmap says were written
    }
    checkpoints->save(progress, {open_reported, jsonl != nullptr ? jsonl->ports_written() : 0},
                      stop_requested().load(), table, sinks);
  };

  if (auto note = os_hint_note(config)) std::cerr << "glasshouse: note: " << *note << '\n';
  // -sV's databases are read before anything is sent: a bad --service-probes file is bad input.
  std::optional<ProbeDb> service_db;
  if (config.service.enabled) {
    std::string loaded;
    service_db = load_service_db(config.service.probes_file, &loaded);
    if (config.output.verbosity > 0) std::cerr << "glasshouse: -sV probes: " << loaded << '\n';
  }

  auto close_outputs = [&] {
    if (status) status->stop();
    status_ptr = nullptr;
    summary.end = WallClock::now();
    summary.hosts_up = table.hosts_up();
    summary.open_ports = table.count(PortState::Open);
    // Names for the hosts that are up (nmap's default; -n skips it, and so does a stop request,
    // which wants the outputs closed at once).
    if (!config.no_resolve && !sinks.empty() && !stop_requested().load()) {
      std::vector<IpAddress> up;
      for (const auto& [addr, host] : table.hosts())
        if (host.answered) up.push_back(addr);
      names.resolve(up, std::chrono::seconds(3));
    }
    for (auto& s : sinks) s->end(table, summary);
    std::cout.flush();
    hash_outputs(files, outcome);
    outcome.open_ports = summary.open_ports;
    outcome.refused_probes = gate.stats().refused();
  };
  try {
    if (discover) {
      DiscoveryContext dctx{config, config.targets, config.seed, stop_requested()};
      dctx.privileged = can_open_raw_sockets();
      dctx.report_down = config.output.verbosity > 0;
      dctx.gate = &shared_gate;
      EngineCounters discovery_counters;  // the status line shows the port stage's when it runs
      dctx.counters = config.discovery.ping_only ? &counters : &discovery_counters;
      counters.total = config.targets.size();
      MacTable macs;
      std::vector<std::unique_ptr<PortStage>> stages;
      if (!config.discovery.ping_only)
        for (const ScanConfig& sc : stage_configs(config))  // one per scan type (-sS -sU: two)
          stages.push_back(std::make_unique<PortStage>(sc, &macs));
      PlanContext pc{config, dctx, macs};
      for (auto& st : stages) pc.port_stages.push_back(st.get());
      pc.announce = announcer;
      pc.ready = ready;
      pc.record_host = [&](const HostResult& h) {
        if (!ready_done) start_status();
        std::lock_guard lock(output_mu);
        table.add_host(h);
        for (auto& s : sinks) s->host(h);
        auto now = std::chrono::steady_clock::now();
        if (now - last_flush > std::chrono::seconds(1)) {
          for (auto& s : sinks) s->flush();
          last_flush = now;
        }
      };
      pc.scan_group = [&](PortStage& stage, const ScanConfig& group, const ProbeSpace& space) {
        EngineContext ctx = engine_context(group, space);
        ctx.macs = &macs;
        return stage.scan(ctx);
      };
      if (checkpoints != nullptr) {
        if (checkpoints->resumed() != nullptr)
          pc.finished = &checkpoints->engine_resume()->answered;
        pc.checkpoint = [&](std::span<const uint64_t> finished, bool force) {
          std::lock_guard lock(output_mu);
          try {
            for (auto& s : sinks) s->flush();
          } catch (const std::exception& e) {
            std::cerr << "glasshouse: warning: no checkpoint: " << e.what() << '\n';
            return;
          }
          EngineProgress p;
          p.slice_size = config.targets.size();
          p.answered = finished;
          checkpoints->save(p, {open_reported, jsonl != nullptr ? jsonl->ports_written() : 0},
                            force, table, sinks);
        };
      }
      found = run_stage_plan(pc);
      for (const auto& note : found->discovery.notes)
        std::cerr << "glasshouse: note: " << note << '\n';
      report = found->ports;
    } else {
      counters.total = space_store->size();
      if (config.dry_run) ready();            // a dry run opens no socket and needs no privilege
      if (space_store->size() == 0) ready();  // nothing to open
      // One engine run per stage (-sS -sU: the TCP ports of every target, then the UDP ones).
      // With two, every stage's sockets open before the privilege drop (scan/port_stage.h). The
      // checkpoint holds the stage under way and its engine's progress (scan/checkpoint.h): a
      // resumed run skips the stages before it, continues it, and runs the others afresh.
      const std::vector<ScanConfig> stage_list = stage_configs(config);
      const size_t first_stage = checkpoints != nullptr ? checkpoints->resumed_stage() : 0;
      std::vector<std::unique_ptr<PortStage>> opened;
      if (stage_list.size() > 1 && !config.dry_run && space_store->size() != 0) {
        for (const ScanConfig& sc : stage_list) {
          opened.push_back(std::make_unique<PortStage>(sc, nullptr));
          opened.back()->open(sc.targets, announcer);
        }
        ready();
      }
      for (size_t i = first_stage; i < stage_list.size(); ++i) {
        const ScanConfig& sc = stage_list[i];
        ProbeSpace space(sc.targets, sc.ports);
        if (space.size() == 0) continue;
        EngineContext ctx = engine_context(sc, space);
        if (checkpoints != nullptr) {
          if (i > first_stage) {
            // The stages before this one finished: saved as this stage with nothing of it done
            // yet, so that a stop from here on never redoes them.
            EngineProgress fresh;
            fresh.slice_size = Slice::shard(space.size(), sc.shards.count, sc.shards.index).size();
            std::vector<uint64_t> none((fresh.slice_size + 63) / 64, 0);
            fresh.answered = none;
            checkpoints->begin_stage(static_cast<uint32_t>(i));
            save_engine_checkpoint(fresh);
          }
          checkpoints->begin_stage(static_cast<uint32_t>(i));
          ctx.resume = i == first_stage ? checkpoints->engine_resume() : nullptr;
          ctx.checkpoint = save_engine_checkpoint;
        }
        EngineReport r;
        if (!opened.empty())
          r = opened[i]->scan(ctx);
        else if (scan_type_entry(sc.type).engine == EngineKind::Raw)
          r = run_syn_scan(ctx);
        else
          r = config.dry_run ? dry_run_connect(ctx) : run_connect_scan(ctx);
        add_report(report, r);
        if (r.interrupted) break;
      }
    }
    // Stage 4b: -sV on the open TCP and UDP ports and the open|filtered UDP ones
    // (service/version_scan.h, service/udp_version.h), behind the same gate. An open|filtered
    // port that answered is open now: the table's entry is replaced and its port record goes to
    // the sinks again (PortResult::previous), before its service record.
    if (service_db && !report.interrupted) {
      for (auto& s : sinks) s->flush();
      SweepStats sweep;
      for (const ServiceInfo& si : detect_services(config, *service_db, table, &gate,
                                                   stop_requested(), announcer, &sweep)) {
        std::lock_guard lock(output_mu);
        if (si.promoted) {
          PortResult pr{si.addr, si.proto,        si.port, PortState::Open, Reason::UdpResponse,
                        0,       WallClock::now()};
          pr.previous = PortState::OpenFiltered;
          pr.reply_ttl = si.reply_ttl;
          if (table.promote(pr))
            for (auto& s : sinks) s->port(pr);
        }
        table.add_service(si);  // -oX and -oG write services from the table
        for (auto& s : sinks) s->service(si);
      }
      if (sweep.cut != 0)
        std::cerr << fmt::format(
            "glasshouse: note: -sV: {} probe{} to open|filtered UDP ports not sent (the sweep's "
            "3 s start window had passed, or the stage ended); those ports may still hide a "
            "service\n",
            sweep.cut, sweep.cut == 1 ? "" : "s");
      if (sweep.unswept != 0)
        std::cerr << fmt::format(
            "glasshouse: note: -sV: {} open|filtered UDP port{} not swept (at most {} are); "
            "scan fewer ports or hosts with -sV to sweep them\n",
            sweep.unswept, sweep.unswept == 1 ? "" : "s", sweep.ports);
      if (config.output.verbosity > 0 && sweep.ports != 0)
        std::cerr << fmt::format(
            "glasshouse: -sV: {} open|filtered UDP port{} swept ({} datagrams), {} answered\n",
            sweep.ports, sweep.ports == 1 ? "" : "s", sweep.sent, sweep.promoted);
    }
  } catch (const std::exception& e) {
    // Close the outputs with what was found, then report the error.
    summary.exit_reason = e.what();
    close_outputs();
    if (checkpoints != nullptr) checkpoints->failed();
    throw;
  }

  // Stage 5: close every output with the summary, also after SIGINT/SIGTERM.
  summary.probes_sent = report.probes_sent;
  summary.replies = report.replies;
  summary.interrupted = report.interrupted;
  if (found) {
    summary.probes_sent += found->discovery.probes_sent;
    summary.replies += found->discovery.replies;
    summary.interrupted = summary.interrupted || found->interrupted;
    report.interrupted = summary.interrupted;
    report.probes_sent = summary.probes_sent;
    report.replies = summary.replies;
  }
  summary.retries = report.completeness.retries;
  summary.passes = report.completeness.passes;
  summary.loss = report.completeness.loss;
  summary.completeness = report.completeness.share;
  summary.exit_reason = report.interrupted ? "interrupted" : "done";
  close_outputs();
  outcome.probes_sent = report.probes_sent;
  outcome.replies = report.replies;
  outcome.load = report.load;
  // Discovery's own congestion control measured the load of its sweep (a -sn run has no other).
  if (found) merge_load(outcome.load, found->discovery.load);
  outcome.exit_reason = summary.exit_reason;
  const PolicyGate::Stats& st = gate.stats();
  if (st.refused() != 0)
    std::cerr << fmt::format(
        "glasshouse: warning: the policy gate refused {} probe{} ({} to excluded addresses, {} "
        "after the engagement window closed, {} outside the scope)\n",
        st.refused(), st.refused() == 1 ? "" : "s", st.refused_excluded, st.refused_window,
        st.refused_scope);
  if (checkpoints != nullptr) {
    if (report.interrupted)
      checkpoints->stopped();
    else
      checkpoints->completed();
  }
  if (report.interrupted) return 128 + (stop_signal() != 0 ? stop_signal() : SIGINT);
  return kExitOk;
}

}  // namespace

int run_scan(const ScanConfig& config, const ScanOrigin& origin) {
  // Stage 0: the audit log, first. An unauditable scan does not run: when the log cannot be
  // opened, or the start record cannot be written, the run ends before anything is sent.
  RunFacts facts;
  facts.run_id = new_run_id();
  facts.op = current_operator();
  facts.command = config.command_line;
  if (origin.resume != nullptr) facts.resumes = origin.resume->meta.first_run;
  facts.scan_type = scan_type_name(config.type);
  facts.scan_types = scan_type_names(config);
  for (const IpAddress& a : config.source_ips)  // -S: the addresses the probes leave from
    facts.source_ips += (facts.source_ips.empty() ? "" : ",") + a.to_string();
  // The history database opens meanwhile (store/db_sink.h). A refused scan opens it too (and
  // creates it, the first time), but records no run in it.
  PendingStore history;
  if (!config.dry_run && config.store.enabled && !config.store.db.empty())
    history = open_store_async(config.store.db);
  AuditLog audit = AuditLog::open(config.policy.audit_log);

  // Stage 1: policy. The scope (its window, targets, ports and limits) and the exclusions decide
  // what may be scanned; a refusal is recorded in the audit log, and nothing is sent.
  ScanConfig effective = config;
  std::optional<Scope> scope;
  PolicyPlan plan;
  std::unique_ptr<CheckpointSession> checkpoints;
  auth::ScopeAuthorization authorization;
  try {
    if (!config.policy.scope_file.empty()) {
      scope = load_scope(config.policy.scope_file);
      const Engagement& e = scope->engagement;
      facts.engagement = e.id;
      facts.authorized_by = e.authorized_by;
      facts.contact = e.contact;
      facts.scope_file = scope->source;
      facts.scope_sha256 = scope->sha256;
      facts.window = format_window(e);
      // The owner's signature (src/auth): checked against the trusted keys; the signer goes
      // into the audit record, also when the check refuses the scan.
      try {
        auth::authorize_scope(*scope, config.auth, authorization);
      } catch (...) {
        note_signature(facts, authorization, config.auth.announce);
        throw;
      }
      note_signature(facts, authorization, config.auth.announce);
    }
    plan = apply_policy(effective, scope ? &*scope : nullptr, WallClock::now());
    if (stages_need_raw(effective) && !effective.dry_run && !can_open_raw_sockets())
      throw RuntimeError(fmt::format(
          "{} needs raw sockets: run as root, give the binary the capability "
          "(sudo setcap cap_net_raw,cap_net_admin+eip $(command -v glasshouse)), or use -sT",
          scan_type_entry(scan_type_entry(effective.type).needs_raw ? effective.type
                                                                    : ScanType::Udp)
              .flag));
    // -S: every pool address must be ours, on the interface the targets' route leaves through
    // (scan/source_pool.h); refused here, before anything is sent. A resumed scan re-parses
    // its saved command line, so it runs with the pool it started with.
    if (!effective.source_ips.empty() && !effective.dry_run) {
      std::vector<IpAddress> firsts;
      for (Family f : {Family::V4, Family::V6})
        for (const AddressRange& r : effective.targets.ranges())
          if (r.first.family == f) {
            firsts.push_back(r.first);
            break;
          }
      check_source_pool(effective.source_ips, firsts, effective.interface);
    }
    // Where progress goes; a resumed scan must still be the scan it was (the scope was
    // re-checked above: its window may have closed).
    // A run with host discovery checkpoints one bit per target (run/stage_plan.h).
    checkpoints = CheckpointSession::prepare(effective, origin, facts.run_id);
  } catch (const std::exception& e) {
    try {
      audit.append(refused_record(facts, e.what(), exit_status_of(e), WallClock::now()));
    } catch (const std::exception& log_error) {
      throw RuntimeError(fmt::format("{} (and the audit log could not record the refusal: {})",
                                     e.what(), log_error.what()));
    }
    throw;
  }
  const PolicySpec& pol = effective.policy;
  facts.counted = true;
  facts.targets = exact_size(effective.targets);
  facts.ports = effective.ports.size();
  facts.excluded = pol.default_excluded + pol.system_excluded;
  facts.max_rate = effective.timing.max_rate;
  facts.max_host_rate = pol.max_host_rate;
  for (const auto& note : authorization.notes) std::cerr << "glasshouse: note: " << note << '\n';
  for (const auto& note : plan.notes) std::cerr << "glasshouse: note: " << note << '\n';
  if (scan_type_entry(effective.type).engine != EngineKind::List && !plan.exclusion_note.empty())
    std::cerr << "glasshouse: note: " << plan.exclusion_note << '\n';
  audit.append(start_record(facts, WallClock::now()));

  RunOutcome outcome;
  int status = kExitOk;
  try {
    status =
        scan_stages(effective, plan, scope ? scope->engagement.id : std::string(), facts.run_id,
                    checkpoints.get(), authorization.announcer.get(), &history, outcome);
  } catch (const std::exception& e) {
    outcome.exit_reason = e.what();
    outcome.status = exit_status_of(e);
    try {
      audit.append(end_record(facts, outcome, WallClock::now()));
    } catch (const std::exception& log_error) {
      throw RuntimeError(fmt::format("{} (and the audit log could not record the end: {})",
                                     e.what(), log_error.what()));
    }
    throw;
  }
  outcome.status = status;
  audit.append(end_record(facts, outcome, WallClock::now()));
  return status;
}

}  // namespace gh
