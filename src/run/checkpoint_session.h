// One run's checkpoints (the run layer's side of pause and resume): where the resume file goes,
// whether a resumed scan is still the scan it was, the -oJ file locked and cut back, and the
// "continue with" lines. The file format, its key and its directory are scan/checkpoint.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "io/fd.h"
#include "output/result_table.h"
#include "output/sink.h"
#include "scan/checkpoint.h"
#include "scan/config.h"
#include "scan/progress.h"

namespace gh {

// How a scan was asked for: what its checkpoints need to re-create it, and what it resumes.
struct ScanOrigin {
  std::vector<std::string> argv;       // the arguments after "scan" of the run that started it
  std::string cwd;                     // its working directory (empty: the current one)
  const Checkpoint* resume = nullptr;  // --resume: what to continue from
  std::string resume_path;             // --resume: that file, absolute
};

// One run's checkpoints, from run_scan's policy stage to its end (run/scanner.cpp):
//
//   prepare()          stage 1, before the audit start record: key, directory, the fingerprint
//                      check of a resumed scan, the -oJ file locked (and, resuming, cut back)
//   restore_outputs()  a resumed run, before the sinks' begin(): the table and the sinks' marks
//   outputs_started()  after the sinks' begin(): a fresh run notes the -oJ header's digest
//   save()             from the engine's thread (EngineContext::checkpoint), outputs flushed,
//                      with the result table and the sinks' marks
//   completed()        the scan finished: its resume file is removed
//   stopped()          SIGINT/SIGTERM: "glasshouse: paused; continue with: ..." on stderr
class CheckpointSession {
 public:
  // What the scanner counted in this run up to a checkpoint.
  struct Counts {
    uint64_t open_ports = 0;     // open verdicts reported
    uint64_t ports_written = 0;  // port records in the -oJ file
  };

  // Null when this run saves no progress: -sT, -sL, --dry-run, --no-checkpoint, or a default
  // location that cannot be used (one warning line then says why; the scan goes on). Throws
  // UsageError to refuse the run: an explicit --checkpoint FILE that exists already (a paused
  // scan: continue it with --resume) or whose directory the scan's user cannot write; a resumed
  // scan whose definition changed or whose -oJ file is not the one the checkpoint saw.
  static std::unique_ptr<CheckpointSession> prepare(const ScanConfig& config,
                                                    const ScanOrigin& origin,
                                                    const std::string& run_id);

  const std::string& path() const { return path_; }
  // The checkpoint this run continues, or null.
  const Checkpoint* resumed() const { return origin_.resume; }
  const EngineResume* engine_resume() const {
    return origin_.resume != nullptr ? &resume_progress_ : nullptr;
  }
  // A -Pn run with two port stages (-sS -sU, scan/checkpoint.h): the stage a resumed run
  // continues (engine_resume() is its progress; the stages before it finished), 0 otherwise.
  uint32_t resumed_stage() const {
    return origin_.resume != nullptr ? origin_.resume->meta.stage : 0;
  }
  // The port stage under way: the progress save() is given from now on is that stage's.
  void begin_stage(uint32_t stage) { meta_.stage = stage; }
  // After the sinks' begin(): a fresh run notes the -oJ header's digest and its start time.
  void outputs_started(WallClock::time_point start);
  // The first run's start: what a resumed run's outputs give as the scan's start.
  WallClock::time_point first_start() const;
  // `last`: the scan is stopping (always written). Otherwise skipped while the time since the
  // previous write is under ten times what that write took (a huge bitmap or table). The table
  // and the sinks' marks (Sink::mark, by resume_key) go in with the progress.
  void save(const EngineProgress& progress, const Counts& counts, bool last,
            const ResultTable& table, const std::vector<std::unique_ptr<Sink>>& sinks);
  // A resumed run, before the sinks' begin(): their rewind() to the saved marks, and the saved
  // table into `table`. Returns the sinks that want the table's records passed again.
  std::vector<Sink*> restore_outputs(ResultTable& table,
                                     const std::vector<std::unique_ptr<Sink>>& sinks) const;
  void completed();
  void stopped();
  // The run failed: when a resume file exists, says how to continue from it.
  void failed();

 private:
  CheckpointSession() = default;
  bool file_exists() const;
  void warn(const std::string& message);

  std::string path_;
  ScanOrigin origin_;
  CheckpointKey key_{};
  CheckpointMeta meta_;
  EngineResume resume_progress_;
  FileDescriptor jsonl_;  // the -oJ file, locked; its size is the checkpoint's offset
  Counts base_;           // the resumed checkpoint's counts (zero for a fresh scan)
  bool saved_ = false;
  std::chrono::steady_clock::time_point last_end_{};
  std::chrono::steady_clock::duration last_took_{};
  std::string last_warning_;
};

}  // namespace gh
