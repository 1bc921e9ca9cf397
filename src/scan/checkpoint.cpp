#include "scan/checkpoint.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/paths.h"
#include "io/privilege.h"
#include "scan/probe_registry.h"
#include "targets/probe_space.h"
#include "targets/slice.h"

namespace gh {
namespace {

constexpr std::string_view kMagic = "GHRESUME";
constexpr size_t kHeaderSize = 24;   // magic, version, reserved, length
constexpr size_t kTrailerSize = 64;  // SHA-256, HMAC-SHA-256
constexpr uint32_t kMaxArgs = 1 << 16;
constexpr uint32_t kMaxString = 1 << 20;
constexpr uint32_t kMaxPasses = 1 << 16;
constexpr uint32_t kMaxMarks = 64;
constexpr uint32_t kMaxStages = 16;

// --- little-endian encoding --------------------------------------------------------------------

void put_u8(std::string& out, uint8_t v) {
  out += static_cast<char>(v);
}
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_bytes(std::string& out, const Sha256Digest& d) {
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// A bounds-checked cursor over a decoded file; every read past the end throws.
class Reader {
 public:
  Reader(std::string_view data, std::string_view name) : data_(data), name_(name) {}
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  uint32_t u32() {
    std::string_view b = take(4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  uint64_t u64() {
    std::string_view b = take(8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  Sha256Digest digest() {
    std::string_view b = take(32);
    Sha256Digest d{};
    std::memcpy(d.data(), b.data(), d.size());
    return d;
  }
  std::string str(const char* what) {
    uint32_t n = u32();
    if (n > kMaxString) fail(fmt::format("{} is {} bytes long", what, n));
    return std::string(take(n));
  }
  std::string bytes(size_t n) { return std::string(take(n)); }
  size_t left() const { return data_.size() - pos_; }
  [[noreturn]] void fail(std::string_view what) const {
    throw UsageError(fmt::format("resume file {} is malformed: {}", name_, what));
  }

 private:
  std::string_view take(size_t n) {
    if (n > left()) fail("it ends in the middle of a field");
    std::string_view b = data_.substr(pos_, n);
    pos_ += n;
    return b;
  }
  std::string_view data_;
  std::string_view name_;
  size_t pos_ = 0;
};

// --- SHA-256 and HMAC-SHA-256 (audit/sha256.h, OpenSSL) ----------------------------------------

// The checksum and the HMAC of the same bytes.
class Sealer {
 public:
  explicit Sealer(const CheckpointKey& key) : mac_(key) {}
  void update(std::string_view d) {
    plain_.update(d);
    mac_.update(d);
  }
  // SHA-256, then HMAC: the 64 trailer bytes.
  std::string trailer() {
    std::string out;
    put_bytes(out, plain_.finish());
    put_bytes(out, mac_.finish());
    return out;
  }

 private:
  Sha256Stream plain_;
  HmacSha256Stream mac_;
};

uint8_t type_code(ScanType t) {
  return scan_type_entry(t).checkpoint_code;
}

void put_u128_be(std::string& out, u128 v) {
  for (int i = 15; i >= 0; --i) out += static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
}

bool is_run_id(std::string_view s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string errno_text(int err) {
  return std::strerror(err);
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category());
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Whether the current credentials can create and remove a file in `dir`; 0 or an errno value.
int try_create_in(const std::string& dir) {
  std::string probe = fmt::format("{}/.glasshouse-probe-{}", dir, ::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno;
  ::close(fd);
  if (::unlink(probe.c_str()) != 0) return errno;
  return 0;
}

// try_create_in as `writer` sees the filesystem, in this thread: its filesystem uid and gid
// become the writer's (setfsuid/setfsgid are per thread; with a filesystem uid other than 0 the
// kernel also lifts the capabilities that bypass file permissions) and come back afterwards.
// One difference from becoming the user: this process's supplementary groups still count, which
// can only make a directory look writable that the writer cannot write (then the first save
// warns, as for any failed save). Returns -1 when the identity could not be switched.
int try_create_with_fs_identity(const std::string& dir, const FileWriter& writer) {
  const auto old_gid = static_cast<gid_t>(::setfsgid(writer.gid));
  const auto old_uid = static_cast<uid_t>(::setfsuid(writer.uid));
  int err = -1;
  // setfsuid reports the previous value, never an error: asking again tells whether it took.
  if (static_cast<uid_t>(::setfsuid(writer.uid)) == writer.uid &&
      static_cast<gid_t>(::setfsgid(writer.gid)) == writer.gid)
    err = try_create_in(dir);
  ::setfsuid(old_uid);
  ::setfsgid(old_gid);
  return err;
}

}  // namespace

// --- fingerprint ------------------------------------------------------------------------------

Sha256Digest ScanFingerprint::digest() const {
  std::string enc = "glasshouse scan fingerprint 1\n";
  put_u8(enc, type);
  put_u64(enc, seed);
  put_u64(enc, shard_count);
  put_u64(enc, shard_index);
  put_u64(enc, probes);
  put_bytes(enc, targets);
  put_bytes(enc, ports);
  return sha256(enc);
}

ScanFingerprint fingerprint_of(const ScanConfig& config) {
  ScanFingerprint f;
  f.type = type_code(config.type);
  f.seed = config.seed;
  f.shard_count = config.shards.count;
  f.shard_index = config.shards.index;
  f.probes = ProbeSpace(config.targets, config.ports).size();
  if (!config.discovery.skip) {
    // A plan with host discovery saves one bit per target, set once the host's records (host
    // and ports) are written (run/stage_plan.h); the port scans of each group are redone.
    f.probes = config.targets.size();
    f.shard_count = 1;
    f.shard_index = 0;
  }
  std::string t;
  put_u64(t, config.targets.ranges().size());
  for (const AddressRange& r : config.targets.ranges()) {
    put_u8(t, static_cast<uint8_t>(r.first.family));
    put_u128_be(t, r.first.value);
    put_u128_be(t, r.last.value);
  }
  f.targets = sha256(t);
  std::string p;
  for (const auto* list : {&config.ports.tcp, &config.ports.udp}) {
    put_u64(p, list->size());
    for (uint16_t port : *list) {
      put_u8(p, static_cast<uint8_t>(port >> 8));
      put_u8(p, static_cast<uint8_t>(port & 0xff));
    }
  }
  f.ports = sha256(p);
  return f;
}

std::vector<uint64_t> checkpoint_stage_probes(const ScanConfig& config) {
  ScanFingerprint f = fingerprint_of(config);
  if (!config.discovery.skip) return {f.probes};
  std::vector<uint64_t> stages;
  for (const ScanConfig& sc : stage_configs(config))
    stages.push_back(ProbeSpace(sc.targets, sc.ports).size());
  if (stages.size() <= 1) return {f.probes};
  return stages;
}

std::string fingerprint_difference(const ScanFingerprint& saved, const ScanFingerprint& now) {
  std::string what;
  if (saved.type != now.type)
    what = "the scan type";
  else if (saved.targets != now.targets)
    return "the targets changed since the scan started (an --excludefile, the system exclude "
           "file, the --scope file or the addresses of a host name)";
  else if (saved.ports != now.ports)
    return "the ports changed since the scan started (the --scope file?)";
  else if (saved.seed != now.seed)
    what = "the seed";
  else if (saved.shard_count != now.shard_count || saved.shard_index != now.shard_index)
    what = "the shard";
  else if (saved.probes != now.probes)
    what = "the number of probes";
  return what.empty() ? what : what + " changed since the scan started";
}

// --- encoding ---------------------------------------------------------------------------------

void encode_checkpoint(const CheckpointMeta& meta, const EngineProgress& progress,
                       const CheckpointKey& key, const std::function<void(std::string_view)>& out) {
  uint64_t words = progress.slice_size / 64 + (progress.slice_size % 64 != 0);
  if (progress.answered.size() != words)
    throw std::invalid_argument("checkpoint: the answered bitmap does not match the slice size");
  std::string head;
  head.append(kMagic);
  put_u32(head, kCheckpointVersion);
  put_u32(head, 0);
  put_u64(head, 0);  // the length, filled in below
  put_str(head, meta.first_run);
  put_str(head, meta.run);
  put_u64(head, static_cast<uint64_t>(meta.saved_ms));
  put_str(head, meta.cwd);
  put_u32(head, static_cast<uint32_t>(meta.argv.size()));
  for (const auto& a : meta.argv) put_str(head, a);
  const ScanFingerprint& f = meta.fingerprint;
  put_u8(head, f.type);
  put_u64(head, f.seed);
  put_u64(head, f.shard_count);
  put_u64(head, f.shard_index);
  put_u64(head, f.probes);
  put_bytes(head, f.targets);
  put_bytes(head, f.ports);
  put_u8(head, meta.has_jsonl ? 1 : 0);
  put_u64(head, meta.jsonl_offset);
  put_bytes(head, meta.jsonl_head);
  put_u64(head, meta.open_ports);
  put_u64(head, meta.ports_written);
  put_u64(head, static_cast<uint64_t>(meta.start_ms));
  put_u32(head, static_cast<uint32_t>(meta.marks.size()));
  for (const auto& [k, v] : meta.marks) {
    put_str(head, k);
    put_u64(head, v);
  }
  put_u64(head, meta.table.size());
  head.append(meta.table);
  std::vector<uint64_t> stages = meta.stage_probes;
  if (stages.empty()) stages.push_back(f.probes);
  if (meta.stage >= stages.size())
    throw std::invalid_argument("checkpoint: the stage under way is not one of the stages");
  put_u32(head, static_cast<uint32_t>(stages.size()));
  for (uint64_t n : stages) put_u64(head, n);
  put_u32(head, meta.stage);
  put_u64(head, progress.slice_size);
  put_u32(head, progress.pass);
  put_u64(head, progress.cursor);
  put_u32(head, static_cast<uint32_t>(progress.passes.size()));
  for (const PassCounts& p : progress.passes) {
    put_u64(head, p.sent);
    put_u64(head, p.settled);
  }
  put_u64(head, words);
  uint64_t length = head.size() + words * 8 + kTrailerSize;
  for (int i = 0; i < 8; ++i) head[16 + i] = static_cast<char>((length >> (8 * i)) & 0xff);

  Sealer seal(key);
  seal.update(head);
  out(head);
  // The bitmap in chunks, so a large one is never copied whole.
  std::string chunk;
  constexpr size_t kChunkWords = 8192;
  for (size_t i = 0; i < progress.answered.size(); i += kChunkWords) {
    size_t n = std::min(kChunkWords, progress.answered.size() - i);
    chunk.clear();
    if constexpr (std::endian::native == std::endian::little) {
      chunk.append(reinterpret_cast<const char*>(progress.answered.data() + i), n * 8);
    } else {
      for (size_t k = 0; k < n; ++k) put_u64(chunk, progress.answered[i + k]);
    }
    seal.update(chunk);
    out(chunk);
  }
  out(seal.trailer());
}

std::string encode_checkpoint(const CheckpointMeta& meta, const EngineProgress& progress,
                              const CheckpointKey& key) {
  std::string out;
  encode_checkpoint(meta, progress, key, [&out](std::string_view piece) { out.append(piece); });
  return out;
}

void reseal_checkpoint(std::string& bytes, const CheckpointKey& key) {
  if (bytes.size() < kHeaderSize + kTrailerSize)
    throw std::invalid_argument("reseal_checkpoint: too short");
  size_t body = bytes.size() - kTrailerSize;
  Sealer seal(key);
  seal.update(std::string_view(bytes).substr(0, body));
  bytes.replace(body, kTrailerSize, seal.trailer());
}

Checkpoint decode_checkpoint(std::string_view bytes, const CheckpointKey& key,
                             std::string_view name) {
  auto bad = [&](std::string_view what) {
    return UsageError(fmt::format("resume file {} {}", name, what));
  };
  size_t prefix = std::min(bytes.size(), kMagic.size());
  if (bytes.substr(0, prefix) != kMagic.substr(0, prefix))
    throw bad("is not a glasshouse resume file");
  if (bytes.size() < kHeaderSize + kTrailerSize)
    throw bad(fmt::format("is truncated ({} bytes)", bytes.size()));
  Reader header(bytes.substr(kMagic.size(), kHeaderSize - kMagic.size()), name);
  uint32_t version = header.u32();
  uint32_t reserved = header.u32();
  uint64_t length = header.u64();
  if (version < kCheckpointOldestVersion || version > kCheckpointVersion)
    throw bad(fmt::format("has format version {}; this glasshouse reads versions {} to {}", version,
                          kCheckpointOldestVersion, kCheckpointVersion));
  if (length != bytes.size())
    throw bad(fmt::format("is truncated or has extra bytes ({} bytes; its header says {})",
                          bytes.size(), length));
  size_t body_size = bytes.size() - kTrailerSize;
  Sealer seal(key);
  seal.update(bytes.substr(0, body_size));
  std::string expect = seal.trailer();
  std::string_view trailer = bytes.substr(body_size);
  if (trailer.substr(0, 32) != std::string_view(expect).substr(0, 32))
    throw bad("is damaged (checksum mismatch)");
  if (!same_bytes_constant_time(trailer.substr(32), std::string_view(expect).substr(32)))
    throw bad(
        "was not written by a glasshouse scan of this user on this host, or was altered "
        "(authentication failed)");
  if (reserved != 0) throw bad("is malformed: a reserved field is set");

  Reader r(bytes.substr(kHeaderSize, body_size - kHeaderSize), name);
  Checkpoint c;
  CheckpointMeta& m = c.meta;
  m.first_run = r.str("the first run id");
  m.run = r.str("the run id");
  if (!is_run_id(m.first_run) || !is_run_id(m.run)) r.fail("a run id is not 16 hex digits");
  m.saved_ms = static_cast<int64_t>(r.u64());
  m.cwd = r.str("the working directory");
  if (m.cwd.empty() || m.cwd[0] != '/') r.fail("the working directory is not an absolute path");
  uint32_t argc = r.u32();
  if (argc == 0 || argc > kMaxArgs) r.fail(fmt::format("{} arguments", argc));
  for (uint32_t i = 0; i < argc; ++i) m.argv.push_back(r.str("an argument"));
  ScanFingerprint& f = m.fingerprint;
  f.type = r.u8();
  f.seed = r.u64();
  f.shard_count = r.u64();
  f.shard_index = r.u64();
  f.probes = r.u64();
  f.targets = r.digest();
  f.ports = r.digest();
  // Any scan type of the registry (-sS 1, -sT 2, the flag scans 10-15, -sU 16), not only the
  // first three: a -sU or -sF resume file must load.
  if (scan_type_by_code(f.type) == nullptr) r.fail(fmt::format("unknown scan type {}", f.type));
  if (f.shard_count == 0 || f.shard_index >= f.shard_count) r.fail("bad shard numbers");
  if (f.probes == 0 || f.probes >= (uint64_t{1} << 63)) r.fail("bad number of probes");
  uint8_t has_jsonl = r.u8();
  if (has_jsonl > 1) r.fail("bad -oJ flag");
  m.has_jsonl = has_jsonl == 1;
  m.jsonl_offset = r.u64();
  m.jsonl_head = r.digest();
  m.open_ports = r.u64();
  m.ports_written = r.u64();
  if (!m.has_jsonl && (m.jsonl_offset != 0 || m.ports_written != 0))
    r.fail("-oJ counts without an -oJ file");
  m.start_ms = static_cast<int64_t>(r.u64());
  uint32_t nmarks = r.u32();
  if (nmarks > kMaxMarks) r.fail(fmt::format("{} output marks", nmarks));
  for (uint32_t i = 0; i < nmarks; ++i) {
    std::string k = r.str("an output's name");
    m.marks.emplace_back(std::move(k), r.u64());
  }
  uint64_t table = r.u64();
  if (table > r.left()) r.fail(fmt::format("a result table of {} bytes", table));
  m.table = r.bytes(static_cast<size_t>(table));
  if (version >= 3) {
    uint32_t nstages = r.u32();
    if (nstages == 0 || nstages > kMaxStages) r.fail(fmt::format("{} port stages", nstages));
    uint64_t total = 0;
    for (uint32_t i = 0; i < nstages; ++i) {
      uint64_t n = r.u64();
      if (n > f.probes - total) r.fail("the stages have more probes than the scan");
      total += n;
      m.stage_probes.push_back(n);
    }
    if (total != f.probes) r.fail("the stages' probes do not add up to the scan's");
    m.stage = r.u32();
    if (m.stage >= nstages) r.fail(fmt::format("stage {} of {}", m.stage, nstages));
  } else {
    m.stage_probes = {f.probes};  // version 2: one stage
  }

  c.slice_size = r.u64();
  uint64_t stage_slice = Slice::shard(m.stage_probes[m.stage], f.shard_count, f.shard_index).size();
  if (c.slice_size != stage_slice)
    r.fail(fmt::format("{} positions, but the shard has {}", c.slice_size, stage_slice));
  EngineResume& p = c.progress;
  p.pass = r.u32();
  p.cursor = r.u64();
  if (p.cursor > c.slice_size)
    r.fail(fmt::format("cursor {} beyond the {} positions", p.cursor, c.slice_size));
  uint32_t npasses = r.u32();
  if (npasses > kMaxPasses) r.fail(fmt::format("{} passes", npasses));
  for (uint32_t i = 0; i < npasses; ++i) {
    PassCounts pc;
    pc.sent = r.u64();
    pc.settled = r.u64();
    p.passes.push_back(pc);
  }
  uint64_t words = r.u64();
  uint64_t expected = c.slice_size / 64 + (c.slice_size % 64 != 0);
  if (words != expected)
    r.fail(fmt::format("{} bitmap words for {} positions (expected {})", words, c.slice_size,
                       expected));
  if (r.left() != words * 8)
    r.fail(fmt::format("{} bytes left for {} bitmap words", r.left(), words));
  p.answered.resize(words);
  for (uint64_t i = 0; i < words; ++i) p.answered[i] = r.u64();
  if (c.slice_size % 64 != 0 && words != 0 && (p.answered.back() >> (c.slice_size % 64)) != 0)
    r.fail("bits set beyond the last position");
  return c;
}

// --- files ------------------------------------------------------------------------------------

void write_checkpoint_file(const std::string& path, const CheckpointMeta& meta,
                           const EngineProgress& progress, const CheckpointKey& key) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = fmt::format("{}/.{}.{}.tmp", dir, base, ::getpid());
  auto fail = [&](int err) {
    return RuntimeError(fmt::format("cannot save the resume file {}: {}", path, errno_text(err)));
  };
  FileDescriptor fd(
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && errno == EEXIST) {  // left by a crashed run that had our pid
    ::unlink(tmp.c_str());
    fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  }
  if (!fd) throw fail(errno);
  try {
    encode_checkpoint(meta, progress, key,
                      [&fd](std::string_view piece) { write_all(fd.get(), piece); });
    if (::fsync(fd.get()) != 0) throw std::system_error(errno, std::generic_category());
    int raw = fd.release();
    if (::close(raw) != 0 && errno != EINTR)
      throw std::system_error(errno, std::generic_category());
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw std::system_error(errno, std::generic_category());
  } catch (const std::system_error& e) {
    ::unlink(tmp.c_str());
    throw fail(e.code().value());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  // The rename is durable once the directory is.
  FileDescriptor d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d || ::fsync(d.get()) != 0) throw fail(errno);
}

Checkpoint read_checkpoint_file(const std::string& path, const CheckpointKey& key) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw UsageError(fmt::format("cannot read resume file {}: {}", path, errno_text(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw UsageError(fmt::format("resume file {} is not a regular file", path));
  std::string bytes;
  bytes.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw UsageError(fmt::format("cannot read resume file {}: {}", path, errno_text(errno)));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  return decode_checkpoint(bytes, key, path);
}

std::string default_checkpoint_dir(bool root, const char* xdg_state_home, const char* home) {
  return state_path(root, xdg_state_home, home, "/var/lib/glasshouse/resume", "resume");
}

std::string default_checkpoint_key_path(bool root, const char* xdg_state_home, const char* home) {
  std::string dir = default_checkpoint_dir(root, xdg_state_home, home);
  return dir.empty() ? dir : dir + ".key";
}

std::string checkpoint_key_path() {
  const char* set = std::getenv(kResumeKeyEnv);
  if (set != nullptr && set[0] != '\0') return set;
  return default_checkpoint_key_path(running_as_root(), std::getenv("XDG_STATE_HOME"),
                                     std::getenv("HOME"));
}

CheckpointKey load_checkpoint_key(const std::string& path, bool create) {
  if (path.empty())
    throw UsageError("no place for the resume key (HOME is not set): give --no-checkpoint");
  // Symbolic links are followed (a Kubernetes Secret's files are links); what counts is that the
  // file reached is ours and private, checked below.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd && errno == ENOENT && create) {
    // Parents readable by others when root: the drop user must reach the resume directory.
    make_parent_dirs(path, running_as_root() ? 0755 : 0700, "resume key");
    std::string tmp = fmt::format("{}.{}.tmp", path, ::getpid());
    ::unlink(tmp.c_str());
    FileDescriptor out(
        ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!out) throw system_error(errno, "cannot create the resume key " + path);
    CheckpointKey k{};
    size_t got = 0;
    while (got < k.size()) {
      ssize_t n = ::getrandom(k.data() + got, k.size() - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::unlink(tmp.c_str());
        throw system_error(errno, "getrandom");
      }
      got += static_cast<size_t>(n);
    }
    try {
      write_all(out.get(), {reinterpret_cast<const char*>(k.data()), k.size()});
      if (::fsync(out.get()) != 0) throw std::system_error(errno, std::generic_category());
    } catch (const std::system_error& e) {
      ::unlink(tmp.c_str());
      throw system_error(e.code().value(), "cannot write the resume key " + path);
    }
    out.reset();
    // link() does not replace: when another run created the key meanwhile, theirs wins.
    int link_err = ::link(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
    ::unlink(tmp.c_str());
    if (link_err != 0 && link_err != EEXIST)
      throw system_error(link_err, "cannot create the resume key " + path);
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
  if (!fd) {
    if (errno == ENOENT)
      throw UsageError(fmt::format(
          "no resume key {}: resume files can only be continued by the user who started the "
          "scan, on the same host",
          path));
    throw UsageError(fmt::format("cannot read the resume key {}: {}", path, errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw UsageError(fmt::format("the resume key {} is not a regular file", path));
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
    throw UsageError(fmt::format(
        "the resume key {} must be owned by uid {} and readable by no one else (chmod 600)", path,
        ::geteuid()));
  if (st.st_size != static_cast<off_t>(CheckpointKey{}.size()))
    throw UsageError(
        fmt::format("the resume key {} is not {} bytes long", path, CheckpointKey{}.size()));
  CheckpointKey k{};
  if (::pread(fd.get(), k.data(), k.size(), 0) != static_cast<ssize_t>(k.size()))
    throw UsageError(fmt::format("cannot read the resume key {}", path));
  return k;
}

std::optional<FileWriter> checkpoint_writer(const std::string& drop_user) {
  if (!running_as_root()) return std::nullopt;
  UnprivilegedUser u = lookup_unprivileged_user(drop_user);
  return FileWriter{u.name, u.uid, u.gid};
}

void prepare_checkpoint_dir(const std::string& dir, bool create,
                            const std::optional<FileWriter>& writer) {
  if (create) {
    make_parent_dirs(dir, running_as_root() ? 0755 : 0700, "checkpoint");
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      throw system_error(errno, "cannot create the checkpoint directory " + dir);
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw UsageError(fmt::format("the checkpoint directory {} is not a directory", dir));
    // A root scan writes its checkpoints after it has become the drop user.
    if (writer && st.st_uid == 0 && ::chown(dir.c_str(), writer->uid, writer->gid) != 0)
      throw system_error(errno,
                         "cannot give the checkpoint directory " + dir + " to " + writer->user);
  }
  int err = 0;
  if (!writer) {
    err = try_create_in(dir);
  } else if (create && (err = try_create_with_fs_identity(dir, *writer)) >= 0) {
    // The default location: checked in this thread with the writer's filesystem identity (no
    // fork: a forked child cost a small scan's start ~5 ms).
  } else {
    // Try it as the writer, in a child that becomes that user exactly as drop_privileges does.
    pid_t pid = ::fork();
    if (pid < 0) throw system_error(errno, "fork");
    if (pid == 0) {
      if (switch_to_user(writer->uid, writer->gid) != 0) ::_exit(255);
      ::_exit(try_create_in(dir) & 0xff);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) throw system_error(errno, "waitpid");
    }
    err = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
    if (err == 255) throw RuntimeError("cannot check the checkpoint directory as " + writer->user);
  }
  if (err == 0) return;
  if (writer)
    throw UsageError(fmt::format(
        "the checkpoint directory {} is not writable by {}, whom the scan becomes once its "
        "sockets are open ({}): give --checkpoint FILE in a directory {} can write, or "
        "--no-checkpoint",
        dir, writer->user, errno_text(err), writer->user));
  throw UsageError(fmt::format(
      "cannot write in the checkpoint directory {} ({}): give --checkpoint FILE elsewhere, or "
      "--no-checkpoint",
      dir, errno_text(err)));
}

std::optional<Sha256Digest> first_line_digest(int fd) {
  std::string head;
  char buf[65536];
  for (off_t off = 0; head.size() < (size_t{16} << 20);) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    std::string_view got(buf, static_cast<size_t>(n));
    size_t nl = got.find('\n');
    if (nl != std::string_view::npos) {
      head.append(got.substr(0, nl + 1));
      return sha256(head);
    }
    head.append(got);
    off += n;
  }
  return std::nullopt;
}

void lock_jsonl(int fd, const std::string& path) {
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK)
      throw UsageError(fmt::format(
          "the -oJ file {} is being written by another glasshouse run (is this scan already "
          "being resumed?)",
          path));
    throw system_error(errno, "cannot lock the -oJ file " + path);
  }
}

FileDescriptor open_jsonl_for_resume(const std::string& path, const CheckpointMeta& meta) {
  FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT)
      throw UsageError(fmt::format(
          "the -oJ file {} of the paused scan is missing: cannot resume without the results it "
          "held",
          path));
    throw UsageError(fmt::format("cannot open the -oJ file {}: {}", path, errno_text(errno)));
  }
  lock_jsonl(fd.get(), path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw UsageError(fmt::format("the -oJ file {} is not a regular file", path));
  if (static_cast<uint64_t>(st.st_size) < meta.jsonl_offset)
    throw UsageError(fmt::format(
        "the -oJ file {} is shorter ({} bytes) than at the checkpoint ({} bytes): it was changed "
        "since, cannot resume",
        path, st.st_size, meta.jsonl_offset));
  auto head = first_line_digest(fd.get());
  if (!head || *head != meta.jsonl_head)
    throw UsageError(fmt::format(
        "the -oJ file {} does not start with this scan's header line: it was replaced since the "
        "checkpoint, cannot resume",
        path));
  if (::ftruncate(fd.get(), static_cast<off_t>(meta.jsonl_offset)) != 0)
    throw system_error(errno, "cannot truncate the -oJ file " + path);
  return fd;
}

std::string shell_quote(std::string_view path) {
  bool plain = !path.empty() && std::all_of(path.begin(), path.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_./-+=:,@%").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(path);
  std::string out = "'";
  for (char c : path) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace gh
