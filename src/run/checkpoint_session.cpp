#include "run/checkpoint_session.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/paths.h"
#include "io/privilege.h"
#include "output/json.h"
#include "output/table_codec.h"
#include "scan/probe_registry.h"

namespace gh {

// --- one run's checkpoints --------------------------------------------------------------------

namespace {

std::string absolute_path(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  std::vector<char> buf(4096);
  if (::getcwd(buf.data(), buf.size()) == nullptr)
    throw system_error(errno, "cannot tell the current directory");
  return std::string(buf.data()) + "/" + path;
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::unique_ptr<CheckpointSession> CheckpointSession::prepare(const ScanConfig& config,
                                                              const ScanOrigin& origin,
                                                              const std::string& run_id) {
  const CheckpointSpec& spec = config.checkpoint;
  const Checkpoint* resume = origin.resume;
  if (!scan_type_entry(config.type).checkpointed || config.dry_run) {
    if (resume != nullptr)
      throw UsageError(fmt::format(
          "cannot resume {}: only raw scans (-sS, -sU, the flag scans) are checkpointed",
          origin.resume_path));
    return nullptr;
  }
  // -Pn with two stages (-sS -sU): each engine run's progress covers one stage; not saved.
  if (config.also_udp && config.discovery.skip) {
    if (resume != nullptr)
      throw UsageError(
          fmt::format("cannot resume {}: a -Pn scan with -sU beside a TCP type is not checkpointed",
                      origin.resume_path));
    return nullptr;
  }
  if (resume == nullptr && !spec.enabled) return nullptr;

  std::unique_ptr<CheckpointSession> s(new CheckpointSession);
  s->origin_ = origin;
  bool root = running_as_root();
  const char* xdg = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  // Problems with the default place only cost the ability to resume; with a place the user
  // named, they refuse the run.
  bool named = resume != nullptr || !spec.file.empty();
  try {
    s->key_ = load_checkpoint_key(checkpoint_key_path(), resume == nullptr);
    std::optional<FileWriter> writer = checkpoint_writer(config.policy.user);
    if (resume != nullptr) {
      s->path_ = origin.resume_path;  // a resumed run saves to the file it came from
    } else if (!spec.file.empty()) {
      s->path_ = absolute_path(spec.file);
    } else {
      std::string dir = default_checkpoint_dir(root, xdg, home);
      if (dir.empty()) throw UsageError("no place for checkpoints (HOME is not set)");
      s->path_ = dir + "/" + run_id + ".resume";
    }
    // A fresh scan must not overwrite a paused one.
    struct stat st {};
    if (resume == nullptr && ::lstat(s->path_.c_str(), &st) == 0)
      throw UsageError(fmt::format(
          "the checkpoint file {} exists already: continue that scan with glasshouse scan "
          "--resume {}, or remove the file",
          s->path_, shell_quote(s->path_)));
    prepare_checkpoint_dir(parent_dir(s->path_), !named, writer);
  } catch (const std::exception& e) {
    if (named) throw;
    std::cerr << "glasshouse: warning: this scan saves no checkpoints and cannot be resumed: "
              << e.what() << '\n';
    return nullptr;
  }

  ScanFingerprint now = fingerprint_of(config);
  CheckpointMeta& m = s->meta_;
  if (resume != nullptr) {
    std::string diff = fingerprint_difference(resume->meta.fingerprint, now);
    if (diff.empty() && resume->meta.fingerprint.digest() != now.digest())
      diff = "the scan changed since it started";
    if (!diff.empty()) throw UsageError(fmt::format("cannot resume {}: {}", s->path_, diff));
    m = resume->meta;
    s->base_ = Counts{resume->meta.open_ports, resume->meta.ports_written};
    s->resume_progress_ = resume->progress;
  } else {
    m.first_run = run_id;
    m.cwd = origin.cwd.empty() ? absolute_path(".") : origin.cwd;
    if (m.cwd.size() > 2 && m.cwd.ends_with("/.")) m.cwd.resize(m.cwd.size() - 2);
    m.argv = origin.argv;
  }
  m.run = run_id;
  m.fingerprint = now;
  m.has_jsonl = !config.output.jsonl_file.empty();
  if (m.has_jsonl) {
    const std::string& jsonl = config.output.jsonl_file;
    if (resume != nullptr) {
      if (!resume->meta.has_jsonl)
        throw UsageError(fmt::format("cannot resume {}: it names no -oJ file", s->path_));
      s->jsonl_ = open_jsonl_for_resume(jsonl, resume->meta);
    } else {
      // Locked before the sink truncates it: a resume of another scan into it may be under way.
      s->jsonl_.reset(::open(jsonl.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
      if (!s->jsonl_)
        throw UsageError(
            fmt::format("cannot write -oJ file \"{}\": {}", jsonl, std::strerror(errno)));
      struct stat st {};
      if (::fstat(s->jsonl_.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        // A pipe or a terminal cannot be cut back to a checkpoint.
        std::string why = fmt::format(
            "-oJ {} is not a regular file, so this scan saves no checkpoints and cannot be resumed",
            jsonl);
        if (named) throw UsageError(why);
        std::cerr << "glasshouse: warning: " << why << '\n';
        return nullptr;
      }
      lock_jsonl(s->jsonl_.get(), jsonl);
    }
  }
  if (resume != nullptr) {
    uint64_t done = 0;
    for (uint64_t w : resume->progress.answered) done += static_cast<uint64_t>(std::popcount(w));
    std::cerr << fmt::format(
        "glasshouse: note: resuming run {} (saved {}, {} of {} probes settled, pass {}): "
        "glasshouse scan {}\n",
        m.first_run,
        utc_timestamp(WallClock::time_point(std::chrono::milliseconds(resume->meta.saved_ms))),
        done, resume->slice_size, resume->progress.pass, fmt::join(m.argv, " "));
  }
  return s;
}

void CheckpointSession::outputs_started(WallClock::time_point start) {
  if (origin_.resume != nullptr) return;
  meta_.start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count();
  if (!jsonl_) return;
  if (auto d = first_line_digest(jsonl_.get())) meta_.jsonl_head = *d;
}

WallClock::time_point CheckpointSession::first_start() const {
  return WallClock::time_point(std::chrono::milliseconds(meta_.start_ms));
}

std::vector<Sink*> CheckpointSession::restore_outputs(
    ResultTable& table, const std::vector<std::unique_ptr<Sink>>& sinks) const {
  std::vector<Sink*> replay;
  if (origin_.resume == nullptr) return replay;
  const CheckpointMeta& saved = origin_.resume->meta;
  decode_table(saved.table, table, path_);
  for (const auto& s : sinks) {
    std::string_view key = s->resume_key();
    if (key.empty()) continue;
    uint64_t mark = 0;
    for (const auto& [k, v] : saved.marks)
      if (k == key) mark = v;
    if (s->rewind(mark)) replay.push_back(s.get());
  }
  return replay;
}

void CheckpointSession::save(const EngineProgress& progress, const Counts& counts, bool last,
                             const ResultTable& table,
                             const std::vector<std::unique_ptr<Sink>>& sinks) {
  // A large bitmap takes a while to write, and the engine's thread waits for it: keep that under
  // a tenth of its time. The last checkpoint (stopping) is always written.
  auto start = std::chrono::steady_clock::now();
  if (!last && saved_ && start - last_end_ < 10 * last_took_) return;
  try {
    meta_.saved_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    if (jsonl_) {
      struct stat st {};
      if (::fstat(jsonl_.get(), &st) != 0) throw system_error(errno, "cannot stat the -oJ file");
      meta_.jsonl_offset = static_cast<uint64_t>(st.st_size);
      meta_.ports_written = base_.ports_written + counts.ports_written;
    }
    meta_.open_ports = base_.open_ports + counts.open_ports;
    meta_.marks.clear();
    for (const auto& s : sinks)
      if (!s->resume_key().empty()) meta_.marks.emplace_back(s->resume_key(), s->mark());
    meta_.table = encode_table(table);
    write_checkpoint_file(path_, meta_, progress, key_);
    saved_ = true;
    last_end_ = std::chrono::steady_clock::now();
    last_took_ = last_end_ - start;
  } catch (const std::exception& e) {
    warn(e.what());
  }
}

bool CheckpointSession::file_exists() const {
  struct stat st {};
  return (saved_ || origin_.resume != nullptr) && ::lstat(path_.c_str(), &st) == 0;
}

void CheckpointSession::warn(const std::string& message) {
  if (message == last_warning_) return;
  last_warning_ = message;
  std::cerr << "glasshouse: warning: " << message << '\n';
}

void CheckpointSession::completed() {
  if (!saved_ && origin_.resume == nullptr) return;
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
    warn(fmt::format("the scan is complete, but its resume file {} could not be removed: {}", path_,
                     std::strerror(errno)));
}

void CheckpointSession::stopped() {
  if (file_exists())
    std::cerr << "glasshouse: paused; continue with: glasshouse scan --resume "
              << shell_quote(path_) << '\n';
}

void CheckpointSession::failed() {
  if (file_exists())
    std::cerr << "glasshouse: progress saved; continue with: glasshouse scan --resume "
              << shell_quote(path_) << '\n';
}

}  // namespace gh
