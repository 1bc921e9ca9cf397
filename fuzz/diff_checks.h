// What fuzz_diff_json and fuzz_diff_xml check about a result file the readers accepted
// (history/result_files.h): the diff, the report and the merge work on it without an error, and
// what they produce holds together. Any failed check is a crash (__builtin_trap).
#pragma once

#include <sstream>
#include <vector>

#include "core/error.h"
#include "history/diff.h"
#include "history/merge.h"
#include "history/report.h"
#include "history/result_files.h"

namespace gh::fuzz {

inline void check_run(const RunData& run) {
  // A run against itself: no change.
  if (!diff_runs(run, run).empty()) __builtin_trap();
  // Against nothing: every port appeared; both formats and the report render it.
  RunData none;
  RunDiff d = diff_runs(none, run);
  if (d.ports.size() != run.ports.size()) __builtin_trap();
  (void)format_diff_text(d);
  (void)format_diff_json(d);
  (void)render_report(run, &d);
  // What merge writes, the JSON Lines reader reads back: each port once.
  MergeResult m;
  try {
    m = merge_runs(std::vector<RunData>{run, run}, true);
  } catch (const UsageError&) {
    return;
  }
  if (m.run.ports.size() > run.ports.size()) __builtin_trap();
  std::ostringstream out;
  write_merged_jsonl(m, out);
  RunData back;
  try {
    back = read_jsonl_results(out.str(), "merged");
  } catch (const UsageError&) {
    __builtin_trap();  // our own output refused
  }
  if (back.ports.size() != m.run.ports.size()) __builtin_trap();
}

}  // namespace gh::fuzz
