// `glasshouse watch`: capture -> decode -> detect -> report (and block), as a daemon.
//
// Stages, in order:
//   1. Open the capture (a live interface or a pcap file) and learn the protected networks.
//   2. Open the outputs: --alerts (JSON Lines, appended), stderr lines, syslog.
//   3. With --block, create the nftables table (deleted again on every way out) and open the
//      challenge socket (AF_PACKET on the capture interface); with -r, --block is a dry run:
//      nothing is blocked or sent, challenges are simulated (counted) and records say what would
//      have been done.
//   4. Loop: frames -> PacketEvents -> Challenger (answers to challenges) -> Detector; alert
//      records -> Responder (block / challenge / report, response.h) -> outputs.
//      SIGINT/SIGTERM stop the loop; SIGHUP reopens --alerts (for log rotation); SIGUSR1 prints
//      the counters, as --stats N does every N seconds.
//   5. Close open alerts ("end" records), remove the table, print the final counters.
#pragma once

#include <cstdint>
#include <string>

#include "auth/watch_auth.h"
#include "detect/blocker.h"
#include "detect/capture.h"
#include "detect/challenge.h"
#include "detect/detector.h"
#include "detect/prefix_set.h"

namespace gh::detect {

struct WatchOptions {
  std::string interface;  // -i: live
  std::string read_file;  // -r: offline
  PrefixSet local;        // --local; empty = ask the kernel (live) / required (offline)
  std::string alerts_path;
  bool syslog = false;
  bool quiet = false;  // no human lines on stderr (the JSON records still go to --alerts)
  DetectConfig detect;
  bool block = false;
  BlockConfig block_cfg;  // allow, block_for, max_blocked, block_internal (local, self and
                          // gateways are filled in)
  // --cpu-reserve: with --block (live), the share of one CPU reserved for the packet loop under
  // SCHED_DEADLINE (runtime per 1 ms period); 0: an ordinary task (the default: no measured gain,
  // docs/BENCHMARKS.md).
  double cpu_reserve = 0;
  bool challenge = true;  // with --block: challenge unverified sources (--no-challenge: never)
  ChallengeConfig challenge_cfg;
  // With --block (live, challenging): the kernel's fast path (kernel_fastpath.h); off with
  // --no-kernel-fastpath, or when the BPF programs cannot be loaded (one line says why).
  bool kernel_fastpath = true;
  int64_t stats_interval_us = 0;
  LiveOptions live;    // filter, snaplen, promiscuous (interface copied from `interface`)
  std::string filter;  // --filter: replaces the default BPF filter (live and offline)
  // watch --owner-key --scope (auth/watch_auth.h): the owner's signed scopes; empty: none.
  std::vector<auth::WatchedEngagement> engagements;
};

// Runs until the input ends (file) or a stop signal (live). Returns the exit code. Throws
// UsageError / RuntimeError for the caller to print.
int run_watch(WatchOptions opt);

}  // namespace gh::detect
