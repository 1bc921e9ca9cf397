// `glasshouse merge`: the result files of one scan's shards (--shards N --shard I, on several
// machines or pods) joined into one result, each port once.
//
// Shards of one scan have disjoint probes, so their port records never overlap; a port found in
// two files (the same shard twice, or a retried pod) is kept once. When the records disagree the
// most informative verdict wins (open, then closed, then the rest, as nmap ranks them) and a note
// says so. The files must describe one scan: the same scan types (all of them: a -sS -sU file
// and a -sS file differ), target and port counts, and the
// same command line apart from --shard and where the run writes (-oJ and the other
// outputs, --audit-log, --db, --checkpoint); otherwise UsageError naming the two files that differ
// (--allow-mixed joins them anyway). Shards missing from a --shards N set are named in a note.
//
// The result is written as our JSON Lines (output/jsonl_sink.h): one "scan" header (the first
// file's, with "scan_types" naming every scan type of the run as -oJ does, "scan_type" the first,
// "merged" naming the inputs and "shards" the shard count), the port records in
// address/protocol/port order, and one "summary" whose counts are the sums of the inputs'
// (hosts_up and open_ports recounted from the merged records).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "store/run_data.h"

namespace gh {

struct MergeResult {
  RunData run;
  std::vector<std::string> inputs;  // the files, in order
  uint64_t duplicates = 0;          // port records dropped because another file had the port
  uint64_t replies = 0;             // summed from the inputs' summaries
  bool interrupted = false;         // any input stopped early
  std::vector<std::string> notes;   // conflicts, missing shards
};

MergeResult merge_runs(const std::vector<RunData>& runs, bool allow_mixed);
void write_merged_jsonl(const MergeResult& m, std::ostream& out);

// "--shards 4 --shard 2" (or --shard=2) in a command line: {2, 4}; {0, 1} when absent.
std::pair<uint32_t, uint32_t> shard_of_command(const std::string& command);

}  // namespace gh
