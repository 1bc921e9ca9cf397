// The immutable configuration of one `glasshouse scan` run, filled by the CLI (src/cli) and read
// by everything else. No module reads argv or the environment on its own.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth_spec.h"
#include "output/show_filter.h"
#include "scan/discovery_config.h"
#include "targets/ports.h"
#include "targets/target_set.h"

namespace gh {

// Values are not persisted (resume files use the registry's checkpoint codes).
enum class ScanType { Syn, Connect, List, Fin, Null, Xmas, Ack, Window, Maimon, Udp };

// nmap -T0..-T5 and the explicit options that override them.
struct Timing {
  int level = 3;                                // -T
  int max_retries = 10;                         // nmap's default for -T3
  std::chrono::milliseconds initial_rtt{1000};  // wait for replies after the last probe
  std::chrono::milliseconds max_rtt{10000};
  std::chrono::milliseconds scan_delay{0};  // between probes to one host (-T0/-T1)
  std::optional<std::chrono::milliseconds> host_timeout;
  double min_rate = 0;  // packets/s floor, 0 = none
  double max_rate = 0;  // packets/s cap, 0 = none
  // -T3/-T4: the raw engine's congestion control (scan/congestion.h) sets the rate, per path
  // and per host, below max_rate and above min_rate. Otherwise a fixed rate: max_rate or the
  // --scan-delay pacing, lowered only on our own kernel's drops (scan/rate_controller.h).
  bool adaptive = false;
  // Host discovery's fixed probe rate at the other levels (0 = none); at -T3/-T4 discovery runs
  // under the congestion control too, with max_rate as its ceiling (scan/discovery.h). The polite
  // levels (-T0..-T2, or any --scan-delay) send one discovery probe per scan delay, as nmap
  // serializes its probes there; --max-rate lowers that, --min-rate raises it.
  double discovery_rate() const {
    double r = max_rate;
    if (scan_delay.count() > 0) {
      const double paced = 1000.0 / static_cast<double>(scan_delay.count());
      r = r > 0 ? std::min(r, paced) : paced;
    }
    if (min_rate > 0 && r > 0) r = std::max(r, min_rate);
    return r;
  }
  // Fills the fields from a -T level (before explicit options are applied on top).
  static Timing for_level(int level);
};

struct OutputSpec {
  std::string normal_file;  // -oN
  std::string jsonl_file;   // -oJ
  ShowFilter show;          // --show
  bool open_only = false;   // --open: text table keeps only open ports
  int verbosity = 0;        // -v count
  bool reason = false;      // --reason: a REASON column in the text table
  bool status_line = true;  // only drawn when stderr is a terminal
  // nmap's XML and grepable formats (output/xml_sink.h, output/grepable_sink.h); -oA BASE sets
  // normal_file, xml_file and grepable_file to BASE.nmap, BASE.xml, BASE.gnmap.
  std::string xml_file;       // -oX
  std::string grepable_file;  // -oG
};

// Scanning within the law (src/policy, src/audit; README "Scope, audit log and least privilege"):
// the scope of authorization, exclusions, the per-host load cap, the audit log, and whom a root
// scan becomes once its sockets are open.
struct PolicySpec {
  std::string scope_file;           // --scope FILE, empty = none (loaded and enforced by run_scan)
  bool clip_to_scope = false;       // --clip-to-scope: scan the intersection instead of refusing
  bool ports_given = false;         // -p, -F or --top-ports named the ports
  double max_host_rate = 0;         // --max-host-rate: packets/s to any one address, 0 = no cap
  bool default_excludes = true;     // false with --no-default-excludes
  std::string system_exclude_file;  // where the system exclude file is looked for
  // Applied by parse_scan_args (already subtracted from `targets`):
  TargetSet excluded;         // every excluded range (the probe gate refuses these as well)
  u128 default_excluded = 0;  // target addresses the default exclusions took out
  u128 system_excluded = 0;   // target addresses the system exclude file took out
  std::string system_exclude_applied;  // the system exclude file, when it exists
  std::string audit_log;               // --audit-log, or the default location
  std::string user = "nobody";         // --user: who a root scan becomes once its sockets are open
};

// Splitting one scan over machines or runs (zmap's --shards/--shard), and continuing one.
struct ShardSpec {
  uint64_t count = 1;  // --shards N
  uint64_t index = 0;  // --shard I, 0 <= I < N
};

struct CheckpointSpec {
  std::string resume_file;  // --resume FILE: continue the scan saved there
  std::string file;         // --checkpoint FILE: where progress is saved (empty: the default)
  std::chrono::milliseconds interval{5000};  // --checkpoint-interval
  bool enabled = true;                       // false with --no-checkpoint
};

// The history of scans (src/store; README "History, diff and reports"): every scan is stored
// unless --no-db.
struct StoreSpec {
  std::string db;       // --db FILE or postgresql://...; the default (store/store.h) when not given
  bool enabled = true;  // false with --no-db
};

// Service and version detection (-sV, -A; src/service/version_scan.h).
struct ServiceSpec {
  bool enabled = false;     // -sV (or -A)
  int intensity = 7;        // --version-intensity 0-9; --version-light 2, --version-all 9
  std::string probes_file;  // --service-probes FILE (nmap's format); "none": ours only
  std::chrono::milliseconds port_budget{15000};  // --version-timeout: per port
  std::chrono::milliseconds stage_budget{0};     // --version-max-time: the stage (0: derived)
  bool os_hint = false;                          // -O (or -A): the SYN-ACK OS hint
};

struct ScanConfig {
  // The scan type; with -sU beside a TCP type (-sS -sU, -sT -sU, -sF -sU...), the TCP one.
  ScanType type = ScanType::Connect;
  // -sU beside a TCP scan type: a UDP port stage runs after the TCP one on every host (the UDP
  // ports in ports.udp, the TCP ones in ports.tcp). stage_configs() (scan/probe_registry.h)
  // splits such a config into one config per stage.
  bool also_udp = false;
  TargetSet targets;  // after --exclude / --excludefile
  PortList ports;
  Timing timing;
  OutputSpec output;
  uint64_t seed = 0;  // --seed; random when not given
  bool seed_given = false;
  bool no_ping = false;      // -Pn: no host discovery, every host is up
  bool no_resolve = false;   // -n
  bool dry_run = false;      // --dry-run
  std::string interface;     // -e, empty = from the routing table
  std::string command_line;  // argv joined, for outputs and the audit log
  PolicySpec policy;
  ShardSpec shards;
  CheckpointSpec checkpoint;
  int send_threads = 1;  // --send-threads
  StoreSpec store;
  // Signed scopes and announced probes (src/auth, docs/AUTHORIZATION.md).
  auth::AuthSpec auth;
  ServiceSpec service;
  DiscoverySpec discovery;  // -sn, -P*, --send-ip (scan/discovery_config.h)
  // --scanflags: the TCP flags of every probe of a raw TCP scan (net/tcp_flags.h), read by the
  // scan type's rules (-sS's when no other type is given); nullopt: the type's own flags.
  std::optional<uint8_t> scan_flags;
  // -S, --source-ip: our own addresses the raw port scans send from, one picked per (target,
  // port) (scan/source_pool.h); both families, sorted. Empty: the route's source address. Host
  // discovery keeps the route's address.
  std::vector<IpAddress> source_ips;
};

}  // namespace gh
