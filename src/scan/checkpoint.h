// Pause and resume of a SYN scan: the resume file (also called the checkpoint).
//
// A -sS scan saves its progress (scan/progress.h) every --checkpoint-interval, and once more when
// SIGINT/SIGTERM stops it early; `glasshouse scan --resume FILE` continues it. A connect scan
// (-sT) is not checkpointed. The file holds everything needed to continue exactly where the
// outputs stopped:
//
//   * the scan's command line and working directory, so `--resume FILE` alone re-creates the
//     configuration (re-parsed, then checked against the fingerprint below);
//   * a fingerprint of what defines the probes and their order: scan type, the targets after
//     every exclusion (and --clip-to-scope), the ports, the seed, the shard. Resuming is refused
//     when any of it differs now (an edited --excludefile, the system exclude file, the scope, a
//     host name that resolves differently);
//   * the run id of the run that started the scan, for the audit log;
//   * the size of the -oJ file when the checkpoint was taken (outputs flushed first), and the
//     SHA-256 of its first line: resuming truncates the file back to that size and appends, so the
//     records written after the checkpoint, whose probes the saved bitmap will redo, are dropped;
//   * the engine's progress: slice size, pass, cursor, per-pass counts, the answered bitmap;
//   * for the other outputs: the first run's start time, each resumable sink's mark (the
//     database run it writes) and the result table (output/table_codec.h), from which a resumed
//     run writes -oN, -oX and -oG whole and the database run again.
//
// Why any checkpoint of a scan is a safe place to continue from: when it is taken, every set bit's
// verdict has already been passed to the sinks and flushed, and the -oJ size recorded then holds
// exactly those records. Cutting the file back to that size and re-sending every probe whose bit
// is clear reproduces an uninterrupted scan: no port twice, none missing. This holds after
// SIGKILL or a crash (the last checkpoint is at most one interval old), and for an older
// checkpoint of the same scan as well.
//
// A -Pn run with two port stages (-sS -sU: every target's TCP ports, then their UDP ports, one
// engine run each) saves which stage is under way (the stages before it finished: their records
// are in the outputs and the table) and that stage's progress; the resumed run skips the finished
// stages and continues the one under way.
//
// Format (version 3, every integer little-endian; version 2 had no stages: one stage, the whole
// probe space, still read; version 1 had no start, marks or table):
//
//   "GHRESUME" | u32 version | u32 0 | u64 length of the whole file
//   str first_run | str run | i64 saved (Unix ms) | str cwd | u32 argc | str argv[argc]
//   u8 scan type | u64 seed | u64 shards | u64 shard | u64 probes | [32] targets | [32] ports
//   u8 has_jsonl | u64 jsonl_offset | [32] jsonl_head | u64 open_ports | u64 ports_written
//   i64 start (Unix ms) | u32 nmarks | nmarks x (str key, u64 mark) | u64 n | [n] table
//   u32 nstages | nstages x u64 stage probes (they add up to probes) | u32 stage under way
//   u64 slice_size (of the stage under way's shard) | u32 pass | u64 cursor | u32 npasses | npasses
//   x (u64 sent, u64 settled) u64 nwords | nwords x u64 answered [32] SHA-256 of everything before
//   | [32] HMAC-SHA-256 of everything before
//
// (str: u32 length, then the bytes.) The SHA-256 tells a damaged file; the HMAC, keyed with a
// secret only the user who ran the scan can read (resume.key, created on first use), tells a file
// written by someone else. That matters because a root scan writes its checkpoints after it has
// become `nobody`, into a directory `nobody` owns: any other process running as `nobody` could
// write there, and a resume file is a command line that root re-runs (its -oJ path is truncated).
// The scan process keeps the key in memory; after the drop it is not dumpable, so other `nobody`
// processes cannot read it.
//
// Writes are atomic: a temporary file in the same directory, fsync, rename over the final name,
// fsync of the directory. Reading checks the size, magic, version, checksum, HMAC and every count,
// and reports any problem as one UsageError line, never a crash.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/sha256.h"
#include "io/fd.h"
#include "scan/config.h"
#include "scan/progress.h"

namespace gh {

inline constexpr uint32_t kCheckpointVersion = 3;
// The oldest version still read.
inline constexpr uint32_t kCheckpointOldestVersion = 2;

// What defines a scan's probes and their order.
struct ScanFingerprint {
  uint8_t type = 0;  // the scan type's checkpoint_code (scan/probe_registry.cpp: 1 syn, 16 udp...)
  uint64_t seed = 0;
  uint64_t shard_count = 1;
  uint64_t shard_index = 0;
  uint64_t probes = 0;     // size of the probe space (targets x ports)
  Sha256Digest targets{};  // of the ranges after exclusions
  Sha256Digest ports{};    // of the TCP and UDP port lists
  // SHA-256 over the canonical encoding of all of the above.
  Sha256Digest digest() const;
  friend bool operator==(const ScanFingerprint&, const ScanFingerprint&) = default;
};

ScanFingerprint fingerprint_of(const ScanConfig& config);
// The probe count of each port stage a checkpoint of `config` covers: one (fingerprint.probes)
// unless the run is -Pn with two scan types, whose stages (scan/probe_registry.h stage_configs)
// each run the engine once over every target.
std::vector<uint64_t> checkpoint_stage_probes(const ScanConfig& config);
// What differs between a saved fingerprint and the current one, in words for an error message
// ("the targets (...)"); empty when they are equal.
std::string fingerprint_difference(const ScanFingerprint& saved, const ScanFingerprint& now);

// Everything in a checkpoint but the engine's progress.
struct CheckpointMeta {
  std::string first_run;          // run id of the run that started the scan
  std::string run;                // run id of the run that wrote this checkpoint
  int64_t saved_ms = 0;           // when it was written, Unix time in milliseconds
  std::string cwd;                // working directory of the first run (relative paths in argv)
  std::vector<std::string> argv;  // the first run's arguments after "scan"
  ScanFingerprint fingerprint;
  bool has_jsonl = false;      // the scan writes -oJ
  uint64_t jsonl_offset = 0;   // size of the -oJ file at the checkpoint
  Sha256Digest jsonl_head{};   // SHA-256 of its first line, newline included
  uint64_t open_ports = 0;     // open verdicts reported before the checkpoint, all runs
  uint64_t ports_written = 0;  // port records in the -oJ file before jsonl_offset
  // Version 2: what the other outputs need to survive a resume (run/checkpoint_session.h).
  int64_t start_ms = 0;  // when the first run started (Unix ms): the outputs' start time
  // Sink::mark() of each sink that has one, by Sink::resume_key() ("db": the database run).
  std::vector<std::pair<std::string, uint64_t>> marks;
  std::string table;  // the result table as output/table_codec.h encodes it
  // Version 3: the port stages of a -Pn run with two scan types (-sS -sU), each stage's probe
  // count in stage order, and the stage under way (the progress is that stage's; the ones before
  // it finished). Empty `stage_probes`: one stage, the whole fingerprint.probes (written as such).
  std::vector<uint64_t> stage_probes;
  uint32_t stage = 0;
};

struct Checkpoint {
  CheckpointMeta meta;
  uint64_t slice_size = 0;
  EngineResume progress;
};

// The HMAC key (resume.key).
using CheckpointKey = std::array<uint8_t, 32>;

// Encodes a checkpoint in pieces, in order, to `out` (the file writer streams the bitmap instead
// of copying it). Throws std::invalid_argument when progress.answered does not hold
// (slice_size + 63) / 64 words.
void encode_checkpoint(const CheckpointMeta& meta, const EngineProgress& progress,
                       const CheckpointKey& key, const std::function<void(std::string_view)>& out);
std::string encode_checkpoint(const CheckpointMeta& meta, const EngineProgress& progress,
                              const CheckpointKey& key);

// Decodes and checks a whole file's bytes. `name` (the path) starts every error message. Throws
// UsageError.
Checkpoint decode_checkpoint(std::string_view bytes, const CheckpointKey& key,
                             std::string_view name);

// Recomputes the trailing SHA-256 and HMAC of an encoded checkpoint after its body was edited
// (tests that check the validation behind the checksums). `bytes` must be at least 88 bytes long.
void reseal_checkpoint(std::string& bytes, const CheckpointKey& key);

// Writes the checkpoint to `path` atomically (temporary file in the same directory, fsync,
// rename, fsync of the directory). On failure the temporary file is removed, whatever was at
// `path` is left as it was, and RuntimeError names the file and the cause.
void write_checkpoint_file(const std::string& path, const CheckpointMeta& meta,
                           const EngineProgress& progress, const CheckpointKey& key);
// Reads and decodes `path`. Throws UsageError (unreadable, or any check failing).
Checkpoint read_checkpoint_file(const std::string& path, const CheckpointKey& key);

// Where checkpoints and the key live by default: /var/lib/glasshouse/resume/<run-id>.resume and
// /var/lib/glasshouse/resume.key for root, ${XDG_STATE_HOME:-$HOME/.local/state}/glasshouse/...
// otherwise. Empty when there is no such place (no HOME).
std::string default_checkpoint_dir(bool root, const char* xdg_state_home, const char* home);
std::string default_checkpoint_key_path(bool root, const char* xdg_state_home, const char* home);
// The key path for this process: $GLASSHOUSE_RESUME_KEY when set (a key shared by the machines
// or pods that may continue each other's scans, e.g. a Kubernetes Secret mounted with mode 0400),
// else the default for root or not.
inline constexpr const char* kResumeKeyEnv = "GLASSHOUSE_RESUME_KEY";
std::string checkpoint_key_path();

// Loads the key at `path`, creating it (32 random bytes, mode 0600, missing directories made)
// when `create` is set and it does not exist. The key must be a regular file owned by the
// effective user that no one else can read or write. Throws UsageError (no key, not ours, wrong
// size) or RuntimeError (cannot create).
CheckpointKey load_checkpoint_key(const std::string& path, bool create);

// Who will write the checkpoints: the user a root scan drops to, or nullopt for this process as
// it is (a scan that does not switch users).
struct FileWriter {
  std::string user;
  uint32_t uid = 0;
  uint32_t gid = 0;
};
// The drop user of a root scan (policy/privilege_drop.h), or nullopt when not running as root.
// Throws UsageError when the user does not exist.
std::optional<FileWriter> checkpoint_writer(const std::string& drop_user);

// Creates the default checkpoint directory when it is missing (0700; as root, owned by the
// writer), then checks that the writer can create and remove files in `dir`. Throws UsageError
// naming the directory and the user when it cannot. A directory the user named (create false)
// is checked in a child that becomes the writer; the default one in this thread with the
// writer's filesystem uid and gid (setfsuid), which does not drop this process's supplementary
// groups: a miss there costs only the ability to resume, and the first save says so.
void prepare_checkpoint_dir(const std::string& dir, bool create,
                            const std::optional<FileWriter>& writer);

// The -oJ file of a scan being resumed, checked and cut back to the checkpoint: it must exist,
// be at least jsonl_offset bytes long and start with the same first line; it is locked (flock,
// exclusive) against a second resume of the same scan and truncated to jsonl_offset. Returns the
// open, locked descriptor (keep it open for the whole run). Throws UsageError.
FileDescriptor open_jsonl_for_resume(const std::string& path, const CheckpointMeta& meta);
// Locks the -oJ file of a fresh checkpointed scan (the same lock). Throws UsageError when another
// glasshouse run holds it.
void lock_jsonl(int fd, const std::string& path);
// SHA-256 of the first line of what `fd` holds (read with pread), newline included.
std::optional<Sha256Digest> first_line_digest(int fd);

// `path` with every character a POSIX shell would interpret quoted ('...'), for the
// "continue with:" line.
std::string shell_quote(std::string_view path);

}  // namespace gh
