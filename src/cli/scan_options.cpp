#include "cli/scan_options.h"
#include "cli/cli_checks.h"
#include "cli/service_options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>

#include <fmt/format.h>

#include "audit/audit_log.h"
#include "cli/auth_options.h"
#include "cli/discovery_options.h"
#include "core/error.h"
#include "net/tcp_flags.h"
#include "net/udp_payloads.h"
#include "policy/exclusions.h"
#include "policy/scope.h"
#include "scan/probe_registry.h"
#include "scan/source_pool.h"
#include "service/services.h"
#include "store/store.h"

namespace gh {

Timing Timing::for_level(int level) {
  using std::chrono::milliseconds;
  Timing t;
  t.level = level;
  // nmap's templates (man nmap, "Timing and Performance"). -T3 (the default) and -T4 have no
  // fixed rate: the SYN engine's congestion control ramps up and backs off per path and per
  // host (scan/congestion.h). -T0..-T2 keep their fixed polite pacing; -T5 sends as fast as
  // this machine can, backing off only on its own kernel's drops.
  switch (level) {
    case 0:
      t.scan_delay = milliseconds(300000);
      t.initial_rtt = milliseconds(5000);
      t.max_retries = 10;
      t.max_rate = 0;
      break;
    case 1:
      t.scan_delay = milliseconds(15000);
      t.initial_rtt = milliseconds(5000);
      t.max_retries = 10;
      t.max_rate = 0;
      break;
    case 2:
      t.scan_delay = milliseconds(400);
      t.initial_rtt = milliseconds(1000);
      t.max_retries = 10;
      t.max_rate = 0;
      break;
    case 3:
      t.initial_rtt = milliseconds(1000);
      t.max_retries = 10;
      t.max_rate = 0;
      t.adaptive = true;
      break;
    case 4:
      t.initial_rtt = milliseconds(500);
      t.max_rtt = milliseconds(1250);
      t.max_retries = 6;
      t.max_rate = 0;
      t.adaptive = true;
      break;
    case 5:
      t.initial_rtt = milliseconds(250);
      t.max_rtt = milliseconds(300);
      t.max_retries = 2;
      t.max_rate = 0;
      break;
    default:
      throw UsageError("invalid timing level -T" + std::to_string(level) + ": use -T0 to -T5");
  }
  return t;
}

std::chrono::milliseconds parse_time_spec(const std::string& text, const std::string& option) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string unit(ptr, text.data() + text.size());
  double scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m")
    scale = 60000;
  else if (unit == "h")
    scale = 3600000;
  if (ec != std::errc() || ptr == text.data() || scale == 0 || value < 0 || value > 1e9)
    throw UsageError("invalid time \"" + text + "\" for " + option +
                     ": use a number with ms, s, m or h (e.g. 500ms, 30s)");
  return std::chrono::milliseconds(static_cast<int64_t>(value * scale));
}

namespace {
std::string scan_type_flags_text();
}  // namespace

std::vector<std::string> normalize_nmap_args(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto takes_value = [&](const std::string& long_name) {
      if (i + 1 >= args.size()) throw UsageError("option " + a + " needs a value");
      out.push_back(long_name);
      out.push_back(args[++i]);
    };
    if (a.size() < 2 || a[0] != '-' || a[1] == '-') {
      out.push_back(a);
      continue;
    }
    if (auto d = normalize_discovery_arg(a)) {  // -sn, -Pn, -P* (cli/discovery_options.h)
      out.insert(out.end(), d->begin(), d->end());
      continue;
    }
    if (const ScanTypeEntry* t = a.rfind("-s", 0) == 0 ? scan_type_by_flag(a) : nullptr)
      out.push_back(std::string(t->long_flag));
    else if (a == "-sV")
      out.push_back("--service-version");
    else if (a == "-A")
      out.push_back("--aggressive");
    else if (a == "-O")
      out.push_back("--os-hint");
    else if (a.rfind("-s", 0) == 0 && a.size() > 2)
      throw UsageError("scan type " + a + " is not supported: use " + scan_type_flags_text());
    else if (a == "-oN")
      takes_value("--output-normal");
    else if (a == "-oJ")
      takes_value("--output-jsonl");
    else if (a == "-oX")
      takes_value("--output-xml");
    else if (a == "-oG")
      takes_value("--output-grepable");
    else if (a == "-oA")
      takes_value("--output-all");
    else if (a == "-oS")
      throw UsageError("output format -oS is not supported: use -oN, -oX, -oG, -oA or -oJ");
    else if (a == "-iL")
      takes_value("--input-list");
    else if (a == "-iR")
      throw UsageError("-iR (random targets) is not supported");
    else if (a == "-p")
      takes_value("--ports");
    else if (a.rfind("-p", 0) == 0)
      out.push_back("--ports=" + a.substr(2));
    else if (a == "-4" || a == "-6")
      continue;  // both families are handled automatically
    else
      out.push_back(a);
  }
  return out;
}

namespace {

// "-sS, -sT, -sL, -sF, ...": every scan type of the registry.
std::string scan_type_flags_text() {
  std::string text;
  for (const auto& t : scan_types()) text += (text.empty() ? "" : ", ") + std::string(t.flag);
  return text;
}

void load_list(TargetSet& set, const std::string& path, const std::string& option) {
  if (path == "-") {
    set.add_stream(std::cin, "stdin");
    return;
  }
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read " + option + " file \"" + path + "\"");
  set.add_stream(in, path);
}

}  // namespace

ParsedScan parse_scan_args(const std::vector<std::string>& raw_args, bool raw_allowed) {
  std::vector<std::string> args = normalize_nmap_args(raw_args);
  ParsedScan parsed;
  ScanConfig& c = parsed.config;

  CLI::App app{"glasshouse scan: find open, closed and filtered TCP and UDP ports",
               "glasshouse scan"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.footer(
      "Targets: addresses, CIDR blocks (198.18.0.0/24, 2001:db8::/120), octet ranges "
      "(198.18.0-3.1-254), dash ranges (198.18.0.1-198.18.0.50), host names.\n"
      "Ports: 22,80,443  1-1024  -p- (all)  1024-  http,ssh  T:22,U:53  worms.\n"
      "Host discovery first, as nmap: ARP/ND on the local network, else -PE -PS443 -PA80 -PP "
      "(root) or connect() to 80 and 443; -Pn skips it, -sn stops after it.\n"
      "nmap spellings: -sS -sT -sU -sL -sF -sN -sX -sA -sW -sM --scanflags -sn -Pn -PR -PE -PP -PM "
      "-PS -PA -PU -sV -A -O -oN FILE -oX FILE -oG FILE -oA BASE -oJ FILE "
      "-iL FILE -T0..-T5.\n"
      "Never probed: " +
      std::string(default_exclusions_text()) +
      " (--no-default-excludes), and the ranges in /etc/glasshouse/exclude.conf.\n"
      "Ctrl-C pauses a raw scan (-sS, -sU, -sS -sU, -sF -sN -sX -sA -sW -sM; progress is also "
      "saved every 5 s): glasshouse scan --resume FILE continues it; -sT and -sL scans are not "
      "checkpointed.\n"
      "Every run is recorded in a hash-chained audit log (glasshouse audit --help).");

  bool fast = false;
  std::vector<char> type_chosen(scan_types().size(), 0);
  std::vector<std::string> targets, excludes;
  std::string ports_spec, input_list, exclude_file, show = "open", host_timeout, scan_delay,
                                                    initial_rtt, max_rtt;
  int timing_level = 3, top_n = 0, max_retries = -1;
  double min_rate = -1, max_rate = -1;
  int64_t seed = -1;
  double max_host_rate = -1;
  bool no_default_excludes = false;
  int64_t shards = 1, shard = 0;
  std::string checkpoint_interval;
  bool no_checkpoint = false;
  std::string udp_payloads;
  std::string scanflags;

  for (size_t i = 0; i < scan_types().size(); ++i) {
    const ScanTypeEntry& t = scan_types()[i];
    app.add_flag_callback(
        std::string(t.long_flag), [&type_chosen, i] { type_chosen[i] = 1; }, std::string(t.help));
  }
  CLI::Option* scanflags_opt =
      app.add_option("--scanflags", scanflags,
                     "TCP flags for the probes (URG,ACK,PSH,RST,SYN,FIN in any order, or 0-255), "
                     "read as the scan type reads its replies (-sS when none is given)");
  app.add_flag("--no-ping", c.no_ping, "-Pn: skip host discovery, treat every host as up");
  DiscoveryArgs discovery_args;
  add_discovery_options(app, discovery_args);
  app.add_flag("-n,--no-resolve", c.no_resolve, "Never do reverse DNS lookups");
  app.add_option("--ports", ports_spec, "-p: ports to scan (default: the 1,000 most common)");
  app.add_flag("-F", fast, "Fast mode: the 100 most common ports");
  app.add_option("--top-ports", top_n, "The N most common ports")->check(whole_number(1));
  app.add_option("--input-list", input_list, "-iL: read targets from FILE (- for stdin)");
  one_value_per_use(
      app.add_option("--exclude", excludes, "Targets to leave out (comma-separated, repeatable)"))
      ->delimiter(',');
  app.add_option("--excludefile", exclude_file, "Targets to leave out, from FILE");
  app.add_option("--udp-payloads", udp_payloads,
                 "-sU: an nmap-payloads file to add to ours (default: nmap's, when installed; "
                 "none: ours only)");
  app.add_option("-T", timing_level, "Timing template 0-5 (higher is faster)");
  app.add_option("--max-retries", max_retries, "Retransmissions per probe")
      ->check(CLI::Range(0, 50));
  app.add_option("--host-timeout", host_timeout, "Give up on a host after this long (e.g. 30m)");
  app.add_option("--scan-delay", scan_delay, "Wait this long between probes (e.g. 1s)");
  app.add_option("--initial-rtt-timeout", initial_rtt, "Wait for replies this long (e.g. 500ms)");
  app.add_option("--max-rtt-timeout", max_rtt, "Never wait longer than this for a reply");
  app.add_option("--min-rate", min_rate, "Send at least this many packets per second")
      ->check(packet_rate());
  app.add_option("--max-rate,--rate", max_rate, "Send at most this many packets per second")
      ->check(packet_rate());
  app.add_option("--output-normal", c.output.normal_file, "-oN: nmap-style text to FILE");
  app.add_option("--output-jsonl", c.output.jsonl_file, "-oJ: JSON Lines to FILE");
  // nmap's XML and grepable formats, and all three of nmap's at once (results developer).
  std::string output_all;
  app.add_option("--output-xml", c.output.xml_file, "-oX: nmap XML to FILE");
  app.add_option("--output-grepable", c.output.grepable_file, "-oG: nmap grepable output to FILE");
  app.add_option("--output-all", output_all,
                 "-oA BASE: BASE.nmap, BASE.xml and BASE.gnmap (normal, XML, grepable)");
  app.add_option("--show", show, "States to write: open,closed,filtered or all (default open)");
  app.add_flag("--open", c.output.open_only, "Only show open ports in the text report");
  app.add_flag("-v", c.output.verbosity, "Verbose: print open ports as they are found");
  app.add_flag("--reason", c.output.reason, "Show the reason for each port's state");
  app.add_option("--seed", seed, "Seed of the probe order (same seed, same order)")
      ->check(whole_number(0));
  app.add_flag("--dry-run", c.dry_run, "Print the packets that would be sent and send nothing");
  app.add_option("-e,--interface", c.interface, "Send through this interface");
  std::string source_ips;
  app.add_option("-S,--source-ip", source_ips,
                 "Send the raw port scans' probes from these addresses of ours (ADDR, RANGE or "
                 "CIDR, comma-separated; each assigned to the outgoing interface): one per "
                 "(target, port); K addresses make -sU about K times faster against Linux");
  app.add_flag(
      "--no-status", [&c](int64_t) { c.output.status_line = false; },
      "Do not draw the status line on stderr");
  app.add_option("--scope", c.policy.scope_file,
                 "Authorization scope (TOML): refuse targets, ports and times outside it");
  app.add_flag("--clip-to-scope", c.policy.clip_to_scope,
               "Scan only the part of the targets inside --scope instead of refusing");
  app.add_option("--max-host-rate", max_host_rate,
                 "Send at most this many packets per second to any one address")
      ->check(packet_rate());
  app.add_flag("--no-default-excludes", no_default_excludes,
               "Also probe 0.0.0.0/8, multicast and 240.0.0.0/4 (never probed by default)");
  app.add_option("--audit-log", c.policy.audit_log,
                 "Append this run's audit records to FILE (default: /var/log/glasshouse/ for "
                 "root, ~/.local/state/glasshouse/ otherwise)");
  app.add_option("--user", c.policy.user,
                 "Run as this user once the raw sockets are open, when started as root "
                 "(default: nobody)");
  app.add_option("--shards", shards,
                 "Split the scan into N disjoint shards (same --seed on every machine)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  app.add_option("--shard", shard, "Scan shard I of --shards N (0-based)")->check(whole_number(0));
  app.add_option("--send-threads", c.send_threads,
                 "Raw scans (-sS, -sU, the flag scans): send threads (default 1)")
      ->check(CLI::Range(1, 64));
  app.add_option("--resume", c.checkpoint.resume_file,
                 "Continue the scan saved in FILE (by SIGINT or a checkpoint), appending to its "
                 "outputs; no other option goes with it");
  app.add_option("--checkpoint", c.checkpoint.file,
                 "Raw scans (-sS, -sU, -sS -sU, -sF -sN -sX -sA -sW -sM): save progress to FILE "
                 "every --checkpoint-interval and on SIGINT (default: "
                 "/var/lib/glasshouse/resume/RUN.resume as root, ~/.local/state/glasshouse/resume/ "
                 "otherwise); -sT and -sL scans are not checkpointed");
  app.add_option("--checkpoint-interval", checkpoint_interval,
                 "Raw scans: how often to save progress (default 5s)");
  app.add_flag("--no-checkpoint", no_checkpoint, "Do not save progress");
  // The history database (src/store).
  bool no_db = false;
  app.add_option("--db", c.store.db,
                 "Record the scan in this history database: a file, or postgresql://... "
                 "(default: ~/.local/share/glasshouse/history.db; root: /var/lib/glasshouse)");
  app.add_flag("--no-db", no_db, "Do not record the scan in the history database");
  ServiceArgs service_args;
  service_args.add(app);
  app.add_option("targets", targets, "Targets to scan");
  add_auth_options(app, c);  // --owner-key, --require-signed, --announce (src/auth)

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    parsed.help_shown = true;
    return parsed;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.empty()) msg = e.get_name();
    throw UsageError(msg);
  }

  // One scan type, or -sU beside one TCP type (nmap's -sS -sU): a TCP and a UDP port stage.
  std::optional<ScanType> chosen;
  bool udp_chosen = false;
  for (size_t i = 0; i < scan_types().size(); ++i) {
    if (type_chosen[i] == 0) continue;
    if (scan_types()[i].type == ScanType::Udp) {
      udp_chosen = true;
      continue;
    }
    if (chosen)
      throw UsageError("choose one scan type (and -sU beside a TCP one): " +
                       scan_type_flags_text());
    chosen = scan_types()[i].type;
  }
  if (udp_chosen && chosen == ScanType::List)
    throw UsageError("-sL lists the targets: it does not go with -sU");
  if (udp_chosen && !chosen)
    chosen = ScanType::Udp;
  else if (udp_chosen)
    c.also_udp = true;
  c.type = chosen.value_or(raw_allowed ? ScanType::Syn : ScanType::Connect);
  if (scanflags_opt->count() > 0 && c.type == ScanType::Udp)
    throw UsageError("--scanflags sets TCP flags: add a TCP scan type beside -sU (-sS -sU)");
  if (scanflags_opt->count() > 0) {
    c.scan_flags = net::parse_tcp_flags(scanflags);
    if (!c.scan_flags)
      throw UsageError("--scanflags \"" + scanflags +
                       "\": unknown flags; use URG, ACK, PSH, RST, SYN, FIN (ECE, CWR) in any "
                       "order, e.g. SYNFIN or URG,PSH,FIN, or a number 0-255");
    if (!chosen) c.type = ScanType::Syn;  // nmap: --scanflags alone is read as a SYN scan
    if (scan_type_entry(c.type).engine != EngineKind::Raw)
      throw UsageError(
          "--scanflags needs a raw TCP scan type (-sS, -sF, -sN, -sX, -sA, -sW or "
          "-sM), not " +
          std::string(scan_type_entry(c.type).flag));
  }

  finish_discovery_options(discovery_args, chosen.has_value() && *chosen != ScanType::List, c);

  if (!output_all.empty()) {
    // -oA BASE: nmap's three formats; an explicit -oN/-oX/-oG beside it is a contradiction.
    for (std::string* f : {&c.output.normal_file, &c.output.xml_file, &c.output.grepable_file})
      if (!f->empty())
        throw UsageError(
            "-oA writes BASE.nmap, BASE.xml and BASE.gnmap: give -oN, -oX or -oG without it");
    c.output.normal_file = output_all + ".nmap";
    c.output.xml_file = output_all + ".xml";
    c.output.grepable_file = output_all + ".gnmap";
  }
  c.timing = Timing::for_level(timing_level);
  if (max_retries >= 0) c.timing.max_retries = max_retries;
  if (!host_timeout.empty())
    c.timing.host_timeout = parse_time_spec(host_timeout, "--host-timeout");
  if (!scan_delay.empty()) c.timing.scan_delay = parse_time_spec(scan_delay, "--scan-delay");
  if (!initial_rtt.empty())
    c.timing.initial_rtt = parse_time_spec(initial_rtt, "--initial-rtt-timeout");
  if (!max_rtt.empty()) c.timing.max_rtt = parse_time_spec(max_rtt, "--max-rtt-timeout");
  if (max_rate >= 0) c.timing.max_rate = max_rate;
  if (min_rate >= 0) c.timing.min_rate = min_rate;
  if (c.timing.max_rate > 0 && c.timing.min_rate > c.timing.max_rate)
    throw UsageError("--min-rate is above --max-rate");
  if (c.timing.min_rate > 0) c.timing.scan_delay = std::chrono::milliseconds(0);

  c.output.show = parse_show(show);

  // Targets: command line and -iL, minus --exclude and --excludefile.
  for (const auto& t : targets) c.targets.add_spec(t);
  if (!input_list.empty()) load_list(c.targets, input_list, "-iL");
  if (c.targets.empty()) throw UsageError("no targets given (see glasshouse scan --help)");
  TargetSet excluded;
  for (const auto& e : excludes)
    if (!e.empty()) excluded.add_spec(e);
  if (!exclude_file.empty()) load_list(excluded, exclude_file, "--excludefile");
  if (!excluded.empty()) c.targets.subtract(excluded);
  if (c.targets.empty()) throw UsageError("every target is excluded: nothing to scan");
  // Addresses never probed (policy/exclusions.h): the defaults unless turned off, and the
  // system-wide exclude file whenever it exists.
  PolicySpec& pol = c.policy;
  pol.default_excludes = !no_default_excludes;
  const char* exclude_conf = std::getenv(kSystemExcludeEnv);
  pol.system_exclude_file =
      exclude_conf != nullptr && exclude_conf[0] != '\0' ? exclude_conf : kSystemExcludeFile;
  Exclusions ex = apply_exclusions(c.targets, pol.default_excludes, pol.system_exclude_file);
  pol.excluded = std::move(ex.never);
  pol.default_excluded = ex.default_skipped;
  pol.system_excluded = ex.system_skipped;
  pol.system_exclude_applied = ex.system_file;
  if (c.targets.empty()) {
    std::string why;
    if (ex.default_skipped != 0)
      why = fmt::format("{} by the default exclusions: {}; --no-default-excludes to scan them",
                        count_text(ex.default_skipped), default_exclusions_text());
    if (ex.system_skipped != 0)
      why += fmt::format("{}{} by {}", why.empty() ? "" : "; ", count_text(ex.system_skipped),
                         ex.system_file);
    throw UsageError("nothing to scan: every target is excluded, " + why);
  }

  const ServiceTable& services = ServiceTable::instance();
  int port_choices = !ports_spec.empty() + fast + (top_n > 0);
  if (port_choices > 1) throw UsageError("choose one of -p, -F and --top-ports");
  pol.ports_given = port_choices > 0;
  // -p without T:/U: and --top-ports apply to every protocol scanned (nmap: -sS -sU -p 53 scans
  // TCP and UDP 53; --top-ports 100 the 100 most common of each).
  const bool udp_scan = c.type == ScanType::Udp || c.also_udp;
  const PortProtocols protocols = c.also_udp ? PortProtocols::Both
                                  : udp_scan ? PortProtocols::Udp
                                             : PortProtocols::Tcp;
  if (!ports_spec.empty())
    c.ports = parse_port_spec(ports_spec, services, protocols);
  else if (fast)
    c.ports = top_ports(100, services, protocols);
  else
    c.ports = top_ports(top_n > 0 ? static_cast<size_t>(top_n) : 1000, services, protocols);
  if (!c.ports.udp.empty() && !udp_scan && c.type != ScanType::List)
    throw UsageError("UDP ports (U:) need a UDP scan: add -sU");
  if (udp_scan && !c.also_udp && c.ports.udp.empty())
    throw UsageError("-sU: no UDP port to scan (T: ports need a TCP scan type)");
  if (!udp_payloads.empty() && !udp_scan) throw UsageError("--udp-payloads needs -sU");
  if (udp_scan) net::UdpPayloads::configure(udp_payloads);  // a bad file: exit 2 here

  if (!source_ips.empty()) {
    // -S (scan/source_pool.h); that each is ours is checked against the route before sending.
    c.source_ips = parse_source_pool(source_ips);
    const bool raw_ports = scan_type_entry(c.type).engine == EngineKind::Raw || c.also_udp;
    if (!raw_ports || c.discovery.ping_only || (c.type == ScanType::Connect && c.also_udp))
      throw UsageError(
          "-S is for the raw port scans (-sS, the flag scans, -sU), not -sT, -sL or -sn");
  }
  if (max_host_rate > 0) pol.max_host_rate = max_host_rate;
  if (pol.audit_log.empty())
    pol.audit_log = default_audit_log_path(::geteuid() == 0, std::getenv("XDG_STATE_HOME"),
                                           std::getenv("HOME"));
  if (pol.clip_to_scope && pol.scope_file.empty())
    throw UsageError("--clip-to-scope needs --scope FILE");
  finish_auth_options(c);

  if (shard >= shards)
    throw UsageError(fmt::format("--shard {} is out of range: with --shards {} it is 0 to {}",
                                 shard, shards, shards - 1));
  c.shards.count = static_cast<uint64_t>(shards);
  c.shards.index = static_cast<uint64_t>(shard);
  if (shards > 1 && seed < 0)
    throw UsageError("--shards needs --seed: every shard must walk the same permutation");
  if (!checkpoint_interval.empty()) {
    c.checkpoint.interval = parse_time_spec(checkpoint_interval, "--checkpoint-interval");
    if (c.checkpoint.interval.count() <= 0)
      throw UsageError("--checkpoint-interval must be positive");
  }
  c.checkpoint.enabled = !no_checkpoint;
  if (no_checkpoint && (!c.checkpoint.file.empty() || !checkpoint_interval.empty()))
    throw UsageError("--no-checkpoint contradicts --checkpoint and --checkpoint-interval");
  if (!scan_type_entry(c.type).checkpointed &&
      (!c.checkpoint.file.empty() || !checkpoint_interval.empty()))
    throw UsageError(
        "--checkpoint and --checkpoint-interval are for raw scans (-sS, -sU, the flag scans): a "
        "-sT scan is not checkpointed and cannot be resumed (nor is -sL)");
  if (c.also_udp && c.no_ping && (!c.checkpoint.file.empty() || !checkpoint_interval.empty()))
    throw UsageError(
        "--checkpoint and --checkpoint-interval: a -Pn scan with -sU beside a TCP scan type is "
        "not checkpointed (without -Pn it is)");

  if (no_db && !c.store.db.empty()) throw UsageError("--no-db contradicts --db");
  c.store.enabled = !no_db;
  if (c.store.enabled && c.store.db.empty()) c.store.db = default_db_location();
  service_args.apply(c);

  if (seed >= 0) {
    c.seed = static_cast<uint64_t>(seed);
    c.seed_given = true;
  } else {
    c.seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  return parsed;
}

}  // namespace gh
