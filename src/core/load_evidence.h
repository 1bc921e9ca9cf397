// What a scan measured about the load it put on its targets: the evidence of non-impairment that
// the audit log's "end" record carries (audit/run_record.h) and `glasshouse audit show` prints.
// Filled by the congestion control (scan/congestion.h) of the raw port engine and of host
// discovery (scan/discovery.h) at -T3/-T4; `measured` is false when nothing was measured (other
// timing levels, the connect engine, dry runs, unprivileged discovery).
#pragma once

#include <cstdint>

namespace gh {

struct LoadEvidence {
  bool measured = false;
  double max_rate = 0;       // highest send rate of the whole scan over one control period, pps
  double max_host_rate = 0;  // highest rate sent to any one host over one control period, pps
  // The largest RTT inflation seen on any host: its smoothed RTT under load over its baseline
  // (the lowest smoothed RTT it showed), as a ratio and in milliseconds.
  double max_rtt_inflation = 1;
  double max_rtt_inflation_ms = 0;
  // Back-offs taken, by cause.
  uint64_t backoffs_loss = 0;     // probes went unanswered above the path's or a host's normal
  uint64_t backoffs_rtt = 0;      // RTT rose well above its baseline (queueing)
  uint64_t backoffs_icmp = 0;     // ICMP errors rose above their baseline
  uint64_t backoffs_kernel = 0;   // our own machine: receive-ring drops, send-queue stalls
  uint64_t hosts_backed_off = 0;  // hosts whose own rate was lowered for a signal of theirs
  // Hosts whose signal persisted after the back-off (three control periods in a row): the
  // scanner could not confirm that they were not impaired.
  uint64_t hosts_impaired = 0;
  uint64_t backoffs() const {
    return backoffs_loss + backoffs_rtt + backoffs_icmp + backoffs_kernel;
  }
};

// The evidence of a run whose stages each measured their own (host discovery and a port stage
// each run a congestion control): the larger of each maximum (rates, inflation), the sum of
// each count (back-offs by cause; a host backed off in two stages counts twice). A side that
// measured nothing changes nothing.
inline void merge_load(LoadEvidence& total, const LoadEvidence& more) {
  if (!more.measured) return;
  if (!total.measured) {
    total = more;
    return;
  }
  total.max_rate = total.max_rate > more.max_rate ? total.max_rate : more.max_rate;
  total.max_host_rate =
      total.max_host_rate > more.max_host_rate ? total.max_host_rate : more.max_host_rate;
  if (more.max_rtt_inflation > total.max_rtt_inflation)
    total.max_rtt_inflation = more.max_rtt_inflation;
  if (more.max_rtt_inflation_ms > total.max_rtt_inflation_ms)
    total.max_rtt_inflation_ms = more.max_rtt_inflation_ms;
  total.backoffs_loss += more.backoffs_loss;
  total.backoffs_rtt += more.backoffs_rtt;
  total.backoffs_icmp += more.backoffs_icmp;
  total.backoffs_kernel += more.backoffs_kernel;
  total.hosts_backed_off += more.hosts_backed_off;
  total.hosts_impaired += more.hosts_impaired;
}

}  // namespace gh
