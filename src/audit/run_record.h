// What the audit log says about a `glasshouse scan` run: who ran what, under which
// authorization, against how much, and what came of it. One run writes a "start" record before
// its first probe and an "end" record after its outputs are closed, or a single "refused" record
// when policy or an error stops it before it starts. Records of one run share a random "run" id.
//
// Fields (a record only carries those that apply):
//   event          "start" | "end" | "refused"
//   time           RFC 3339 UTC, milliseconds
//   run            16 hex digits, shared by a run's records
//   user uid host pid      the operator: login name of the real uid, host name; sudo_user when
//                          root was reached through sudo
//   command        the full command line
//   resumes        run id of the run that started the scan this run continues (--resume)
//   engagement authorized_by contact scope_file scope_sha256 window   from --scope
//   scope_signature scope_signer scope_signer_key announce          the scope's signature:
//                  "verified" | "unsigned" | "unknown-key" | "invalid", the signer's key
//                  fingerprint (sha256:...), the trusted key file; announce: --announce
//   scan_type scan_types targets ports excluded max_rate max_host_rate   what was to be scanned;
//                  scan_types lists every scan type of the run in stage order (["syn","udp"]
//                  for -sS -sU), scan_type (kept for older readers) is the first of them
//   privileges     what the process kept (end records)
//   probes_sent replies open_ports refused_probes                    what was done (end)
//   outputs        [{"file":..., "sha256":...}] for -oN / -oJ (end)
//   load           the evidence of non-impairment (end, raw port scans and raw host discovery at
//                  -T3/-T4, the stages merged: merge_load in core/load_evidence.h; a -sn run
//                  carries its discovery sweep's):
//                  {"max_rate", "max_host_rate" (pps over one control period), "max_rtt_inflation"
//                  (ratio to the host's baseline RTT), "max_rtt_inflation_ms", "backoffs" and
//                  "backoffs_loss|rtt|icmp|kernel", "hosts_backed_off", "hosts_impaired",
//                  "impairment" (true when a host's signal persisted after its back-off)}
//   exit status    why it ended ("done", "interrupted", an error, the refusal) and the exit status
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/address.h"
#include "core/load_evidence.h"
#include "output/result.h"

namespace gh {

struct Operator {
  std::string user;  // login name of the real uid (its number when it has none)
  uint32_t uid = 0;
  std::string sudo_user;  // $SUDO_USER when running as root through sudo
  std::string host;
  int64_t pid = 0;
};
Operator current_operator();

// A fresh run id: 16 random hex digits.
std::string new_run_id();

struct RunFacts {
  std::string run_id;
  Operator op;
  std::string command;
  std::string resumes;                  // --resume: run id of the run that started the scan
  std::string scan_type;                // the first scan type (the TCP one beside -sU)
  std::vector<std::string> scan_types;  // every scan type, in stage order ({"syn","udp"})
  std::string source_ips;  // -S: the pool of source addresses, comma-separated (empty: none)
  // From --scope (empty when none).
  std::string engagement, authorized_by, contact, scope_file, scope_sha256, window;
  // The scope's signature (src/auth/signed_scope.h), and --announce.
  std::string scope_signature, scope_signer, scope_signer_key;
  bool announce = false;
  // Known once the targets are final.
  bool counted = false;
  u128 targets = 0;
  uint64_t ports = 0;
  u128 excluded = 0;  // addresses the default and system exclusions took out
  double max_rate = 0, max_host_rate = 0;
};

struct RunOutcome {
  uint64_t probes_sent = 0;
  uint64_t replies = 0;
  uint64_t open_ports = 0;
  uint64_t refused_probes = 0;
  std::vector<std::pair<std::string, std::optional<std::string>>> outputs;  // file, sha256
  std::string privileges;
  LoadEvidence load;  // written when load.measured
  std::string exit_reason;
  int status = 0;
};

// The JSON object ("{...}") to pass to AuditLog::append.
std::string start_record(const RunFacts& f, WallClock::time_point now);
std::string end_record(const RunFacts& f, const RunOutcome& o, WallClock::time_point now);
std::string refused_record(const RunFacts& f, std::string_view reason, int status,
                           WallClock::time_point now);

// `glasshouse audit show`: the runs in a log as a table, one row per run (its start, or its
// refusal), completed by its end record; then, for each run whose end record has load evidence,
// one "load:" line saying what it measured. Lines that are not records are skipped (verify
// names them).
std::string audit_runs_table(std::string_view contents);

}  // namespace gh
