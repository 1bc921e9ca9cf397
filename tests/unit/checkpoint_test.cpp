// Resume files (scan/checkpoint.h): round trip, every corruption rejected with one line, the
// fingerprint, atomic writes that leave the old file alone on failure, the key, the -oJ file of
// a resumed scan, and the "resume" record of the JSON Lines output.
#include "scan/checkpoint.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit/sha256.h"
#include "core/error.h"
#include "output/jsonl_sink.h"
#include "scan/probe_registry.h"
#include "targets/slice.h"

namespace gh {
namespace {

namespace fs = std::filesystem;

CheckpointKey test_key(uint8_t fill = 7) {
  CheckpointKey k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(fill + i);
  return k;
}

ScanConfig test_config() {
  ScanConfig c;
  c.type = ScanType::Syn;
  c.targets.add_spec("198.18.0.0/24");
  c.ports.tcp = {22, 80, 443, 8080, 8443};
  c.seed = 0x1234;
  c.shards.count = 3;
  c.shards.index = 1;
  c.discovery.skip = true;  // -Pn: the checkpoint holds the port scan's bitmap
  return c;
}

// An EngineProgress and the storage behind its spans.
struct Progress {
  uint64_t slice_size = 0;
  uint32_t pass = 0;
  uint64_t cursor = 0;
  std::vector<uint64_t> words;
  std::vector<PassCounts> passes;

  EngineProgress view() const { return EngineProgress{slice_size, pass, cursor, words, passes}; }
};

Progress test_progress(const ScanFingerprint& f) {
  Progress p;
  p.slice_size = Slice::shard(f.probes, f.shard_count, f.shard_index).size();
  p.words.assign((p.slice_size + 63) / 64, 0);
  for (uint64_t k = 0; k < p.slice_size; k += 3) p.words[k / 64] |= uint64_t{1} << (k % 64);
  p.pass = 1;
  p.cursor = p.slice_size;
  p.passes = {{p.slice_size, 300}, {120, 7}};
  return p;
}

CheckpointMeta test_meta(const ScanFingerprint& f) {
  CheckpointMeta m;
  m.first_run = "0123456789abcdef";
  m.run = "fedcba9876543210";
  m.saved_ms = 1790000000123;
  m.cwd = "/home/someone/scans";
  m.argv = {"-sS",    "-p",   "22,80,443,8080,8443", "-oJ",        "out.jsonl",
            "--seed", "4660", "198.18.0.0/24",       "with space", ""};
  m.fingerprint = f;
  m.has_jsonl = true;
  m.jsonl_offset = 4321;
  m.jsonl_head = sha256("{\"type\":\"scan\"}\n");
  m.open_ports = 17;
  m.ports_written = 99;
  m.start_ms = 1790000000000;
  m.marks = {{"db", 42}};
  m.table = std::string("GHTABLE1\0\x01", 10);
  return m;
}

std::string encoded() {
  ScanFingerprint f = fingerprint_of(test_config());
  return encode_checkpoint(test_meta(f), test_progress(f).view(), test_key());
}

// The UsageError message decode_checkpoint gives, or "" when it accepts the bytes.
std::string rejection(std::string_view bytes, const CheckpointKey& key = test_key()) {
  try {
    decode_checkpoint(bytes, key, "/x/r.resume");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, RoundTrip) {
  ScanFingerprint f = fingerprint_of(test_config());
  CheckpointMeta m = test_meta(f);
  Progress p = test_progress(f);
  std::string bytes = encode_checkpoint(m, p.view(), test_key());
  Checkpoint c = decode_checkpoint(bytes, test_key(), "r");
  EXPECT_EQ(c.meta.first_run, m.first_run);
  EXPECT_EQ(c.meta.run, m.run);
  EXPECT_EQ(c.meta.saved_ms, m.saved_ms);
  EXPECT_EQ(c.meta.cwd, m.cwd);
  EXPECT_EQ(c.meta.argv, m.argv);
  EXPECT_EQ(c.meta.fingerprint, f);
  EXPECT_EQ(c.meta.has_jsonl, true);
  EXPECT_EQ(c.meta.jsonl_offset, m.jsonl_offset);
  EXPECT_EQ(c.meta.jsonl_head, m.jsonl_head);
  EXPECT_EQ(c.meta.open_ports, 17u);
  EXPECT_EQ(c.meta.ports_written, 99u);
  EXPECT_EQ(c.meta.start_ms, m.start_ms);
  EXPECT_EQ(c.meta.marks, m.marks);
  EXPECT_EQ(c.meta.table, m.table);
  EXPECT_EQ(c.slice_size, p.slice_size);
  EXPECT_EQ(c.slice_size, 427u);  // positions 1, 4, 7, ... of 1280
  EXPECT_EQ(c.progress.pass, 1u);
  EXPECT_EQ(c.progress.cursor, p.cursor);
  EXPECT_EQ(c.progress.answered, p.words);
  ASSERT_EQ(c.progress.passes.size(), 2u);
  EXPECT_EQ(c.progress.passes[1].sent, 120u);
  EXPECT_EQ(c.progress.passes[1].settled, 7u);
  // Encoding is deterministic, and streaming gives the same bytes.
  std::string pieces;
  encode_checkpoint(m, p.view(), test_key(), [&](std::string_view s) { pieces.append(s); });
  EXPECT_EQ(pieces, bytes);
}

// Every checkpointed scan type's resume file loads (a -sU or -sF one was refused as "unknown
// scan type 16" when only codes 1-3 were accepted).
TEST(Checkpoint, EveryCheckpointedScanTypeRoundTrips) {
  int n = 0;
  for (const ScanTypeEntry& t : scan_types()) {
    if (!t.checkpointed) continue;
    ScanConfig c = test_config();
    c.type = t.type;
    if (t.type == ScanType::Udp) std::swap(c.ports.tcp, c.ports.udp);
    ScanFingerprint f = fingerprint_of(c);
    EXPECT_EQ(f.type, t.checkpoint_code);
    CheckpointMeta m = test_meta(f);
    Progress p = test_progress(f);
    EXPECT_EQ(rejection(encode_checkpoint(m, p.view(), test_key())), "") << t.flag;
    ++n;
  }
  EXPECT_GE(n, 8);  // -sS, -sU and the six flag scans at least
}

TEST(Checkpoint, RoundTripOfAnEmptyAndAWholeWordBitmap) {
  ScanConfig c = test_config();
  c.shards = {};
  c.targets = TargetSet();
  c.targets.add_spec("198.18.0.0/26");  // 64 x 5 ports = 320 = 5 words exactly
  ScanFingerprint f = fingerprint_of(c);
  Progress p = test_progress(f);
  ASSERT_EQ(p.slice_size, 320u);
  p.words.assign(5, ~uint64_t{0});
  Checkpoint d =
      decode_checkpoint(encode_checkpoint(test_meta(f), p.view(), test_key()), test_key(), "r");
  EXPECT_EQ(d.progress.answered, p.words);
  p.words.assign(5, 0);
  p.passes.clear();
  p.pass = 0;
  p.cursor = 0;
  d = decode_checkpoint(encode_checkpoint(test_meta(f), p.view(), test_key()), test_key(), "r");
  EXPECT_EQ(d.progress.cursor, 0u);
  EXPECT_TRUE(d.progress.passes.empty());
}

TEST(Checkpoint, EveryTruncationIsRejectedWithOneLine) {
  std::string bytes = encoded();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string why = rejection(bytes.substr(0, n));
    ASSERT_FALSE(why.empty()) << "accepted a file cut to " << n << " bytes";
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    EXPECT_NE(why.find("/x/r.resume"), std::string::npos) << why;
  }
  EXPECT_NE(rejection(bytes + "x").find("extra bytes"), std::string::npos);
  EXPECT_NE(rejection("").find("truncated"), std::string::npos);
}

TEST(Checkpoint, EveryFlippedBitIsRejected) {
  std::string bytes = encoded();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      std::string why = rejection(bad);
      ASSERT_FALSE(why.empty()) << "accepted a flipped bit " << bit << " at byte " << i;
      EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    }
  }
}

TEST(Checkpoint, RandomGarbageIsRejected) {
  std::string bytes = encoded();
  uint64_t x = 88172645463325252ull;
  for (int round = 0; round < 2000; ++round) {
    std::string bad = bytes;
    int edits = 1 + round % 8;
    for (int e = 0; e < edits; ++e) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      bad[x % bad.size()] = static_cast<char>(x >> 56);
    }
    if (bad == bytes) continue;
    EXPECT_FALSE(rejection(bad).empty()) << "round " << round;
  }
}

TEST(Checkpoint, SaysWhatIsWrong) {
  std::string bytes = encoded();
  EXPECT_NE(rejection("not a resume file at all, no no no no no").find("not a glasshouse resume"),
            std::string::npos);
  std::string damaged = bytes;
  damaged[100] ^= 1;
  EXPECT_NE(rejection(damaged).find("damaged (checksum mismatch)"), std::string::npos);
  // Another user's (or a forged) file: the checksum matches, the authentication code does not.
  EXPECT_NE(rejection(bytes, test_key(99)).find("authentication failed"), std::string::npos);
  std::string forged = bytes;
  forged[100] ^= 1;
  reseal_checkpoint(forged, test_key(99));
  EXPECT_NE(rejection(forged).find("authentication failed"), std::string::npos);
  std::string newer = bytes;
  newer[8] = 4;
  EXPECT_NE(rejection(newer).find("format version 4"), std::string::npos);
  std::string older = bytes;  // version 1 had no table: its -oX/-oG could not be rebuilt
  older[8] = 1;
  EXPECT_NE(rejection(older).find("format version 1"), std::string::npos);
  std::string longer = bytes;
  longer[16] ^= 8;
  EXPECT_NE(rejection(longer).find("header says"), std::string::npos);
}

// Files with valid checksums whose contents are wrong: each check behind the checksums.
TEST(Checkpoint, ContentsAreChecked) {
  ScanFingerprint f = fingerprint_of(test_config());
  auto reject = [&](CheckpointMeta m, Progress p) {
    return rejection(encode_checkpoint(m, p.view(), test_key()));
  };
  CheckpointMeta m = test_meta(f);
  Progress p = test_progress(f);
  ASSERT_EQ(reject(m, p), "");

  Progress q = p;
  q.cursor = p.slice_size + 1;
  EXPECT_NE(reject(m, q).find("cursor"), std::string::npos);
  q = p;
  q.words.back() |= uint64_t{1} << 63;  // 427 % 64 = 43: bit 63 of the last word is past the end
  EXPECT_NE(reject(m, q).find("beyond the last position"), std::string::npos);
  q = p;
  q.passes.assign(70000, PassCounts{});
  EXPECT_NE(reject(m, q).find("passes"), std::string::npos);
  // A bitmap for a different slice than the fingerprint's shard.
  q = p;
  q.slice_size = p.slice_size - 1;
  EXPECT_NE(reject(m, q).find("positions, but the shard has"), std::string::npos);

  CheckpointMeta n = m;
  n.run = "not-a-run-id";
  EXPECT_NE(reject(n, p).find("run id"), std::string::npos);
  n = m;
  n.cwd = "relative/dir";
  EXPECT_NE(reject(n, p).find("absolute"), std::string::npos);
  n = m;
  n.argv.clear();
  EXPECT_NE(reject(n, p).find("0 arguments"), std::string::npos);
  n = m;
  n.fingerprint.type = 9;
  EXPECT_NE(reject(n, p).find("scan type"), std::string::npos);
  n = m;
  n.fingerprint.shard_index = 3;
  EXPECT_NE(reject(n, p).find("shard"), std::string::npos);
  n = m;
  n.has_jsonl = false;
  EXPECT_NE(reject(n, p).find("-oJ"), std::string::npos);

  // The word count field itself, edited and resealed.
  std::string bytes = encode_checkpoint(m, p.view(), test_key());
  size_t at = bytes.size() - 64 - p.words.size() * 8 - 8;
  bytes[at] = static_cast<char>(bytes[at] + 1);
  reseal_checkpoint(bytes, test_key());
  EXPECT_NE(rejection(bytes).find("bitmap words"), std::string::npos);
}

// -Pn -sS -sU: two port stages; the progress is the second's (the first finished).
TEST(Checkpoint, StagesRoundTripAndAreChecked) {
  ScanFingerprint f = fingerprint_of(test_config());
  CheckpointMeta m = test_meta(f);
  m.stage_probes = {f.probes - 256, 256};
  m.stage = 1;
  ScanFingerprint stage = f;
  stage.probes = 256;
  Progress p = test_progress(stage);
  Checkpoint c = decode_checkpoint(encode_checkpoint(m, p.view(), test_key()), test_key(), "r");
  EXPECT_EQ(c.meta.stage_probes, m.stage_probes);
  EXPECT_EQ(c.meta.stage, 1u);
  EXPECT_EQ(c.slice_size, p.slice_size);
  EXPECT_EQ(c.progress.answered, p.words);
  // The first stage's slice size is not the second's.
  CheckpointMeta n = m;
  n.stage = 0;
  EXPECT_NE(rejection(encode_checkpoint(n, p.view(), test_key())).find("positions"),
            std::string::npos);
  n = m;
  n.stage_probes = {f.probes, 256};
  EXPECT_NE(rejection(encode_checkpoint(n, p.view(), test_key())).find("stages"),
            std::string::npos);
  n = m;
  n.stage = 2;
  EXPECT_THROW(encode_checkpoint(n, p.view(), test_key()), std::invalid_argument);
}

// A version-2 file (no stage fields: one stage, the whole scan) still loads.
TEST(Checkpoint, VersionTwoFilesStillLoad) {
  ScanFingerprint f = fingerprint_of(test_config());
  CheckpointMeta m = test_meta(f);
  Progress p = test_progress(f);
  std::string bytes = encode_checkpoint(m, p.view(), test_key());
  // Before slice_size: u32 nstages (1), u64 probes, u32 stage (0). After it: u32 pass, u64 cursor,
  // u32 npasses, npasses x 16, u64 words, the words, the 64-byte trailer.
  size_t slice_at =
      bytes.size() - 64 - p.words.size() * 8 - 8 - p.passes.size() * 16 - 4 - 8 - 4 - 8;
  bytes.erase(slice_at - 16, 16);
  bytes[8] = 2;
  uint64_t length = bytes.size();
  for (int i = 0; i < 8; ++i) bytes[16 + i] = static_cast<char>((length >> (8 * i)) & 0xff);
  reseal_checkpoint(bytes, test_key());
  Checkpoint c = decode_checkpoint(bytes, test_key(), "r");
  EXPECT_EQ(c.meta.stage_probes, std::vector<uint64_t>{f.probes});
  EXPECT_EQ(c.meta.stage, 0u);
  EXPECT_EQ(c.meta.table, m.table);
  EXPECT_EQ(c.slice_size, p.slice_size);
  EXPECT_EQ(c.progress.answered, p.words);
}

TEST(Checkpoint, EncoderRefusesABitmapOfTheWrongSize) {
  ScanFingerprint f = fingerprint_of(test_config());
  Progress p = test_progress(f);
  p.words.push_back(0);
  EXPECT_THROW(encode_checkpoint(test_meta(f), p.view(), test_key()), std::invalid_argument);
}

TEST(Checkpoint, FingerprintChangesWithEachComponent) {
  const ScanConfig base = test_config();
  const ScanFingerprint f = fingerprint_of(base);
  EXPECT_EQ(fingerprint_of(base).digest(), f.digest());
  EXPECT_EQ(fingerprint_difference(f, fingerprint_of(base)), "");

  auto differs = [&](const ScanConfig& c, std::string_view what) {
    ScanFingerprint g = fingerprint_of(c);
    EXPECT_NE(g.digest(), f.digest()) << what;
    EXPECT_NE(fingerprint_difference(f, g).find(what), std::string::npos)
        << fingerprint_difference(f, g);
  };
  ScanConfig c = base;
  c.type = ScanType::Connect;
  differs(c, "scan type");
  c = base;
  c.seed = base.seed + 1;
  differs(c, "seed");
  c = base;
  c.shards.count = 4;
  differs(c, "shard");
  c = base;
  c.shards.index = 2;
  differs(c, "shard");
  c = base;
  c.targets.add_spec("198.18.1.0");  // one more address
  differs(c, "targets");
  c = base;
  TargetSet one;
  one.add_spec("198.18.0.77");
  c.targets.subtract(one);  // an exclusion
  differs(c, "targets");
  c = base;
  c.targets = TargetSet();
  c.targets.add_spec("198.18.1.0/24");  // as many addresses, others
  differs(c, "targets");
  c = base;
  c.targets = TargetSet();
  c.targets.add_spec("2001:db8::/120");  // as many addresses, the other family
  differs(c, "targets");
  c = base;
  c.ports.tcp.back() = 8444;
  differs(c, "ports");
  c = base;
  c.ports.udp = {53};
  differs(c, "ports");
  // What does not define the probes does not count.
  c = base;
  c.timing.max_rate = 5;
  c.output.jsonl_file = "elsewhere.jsonl";
  EXPECT_EQ(fingerprint_of(c).digest(), f.digest());
}

// --- files ------------------------------------------------------------------------------------

class CheckpointFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gh-checkpoint-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  static void write(const std::string& path, std::string_view text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  std::string dir_;
};

TEST_F(CheckpointFiles, WriteThenRead) {
  ScanFingerprint f = fingerprint_of(test_config());
  std::string path = dir_ + "/a.resume";
  write_checkpoint_file(path, test_meta(f), test_progress(f).view(), test_key());
  EXPECT_EQ(names(), std::vector<std::string>{"a.resume"});  // no temporary file left
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Checkpoint c = read_checkpoint_file(path, test_key());
  EXPECT_EQ(c.meta.argv, test_meta(f).argv);
  // Replacing it.
  CheckpointMeta m = test_meta(f);
  m.jsonl_offset = 5;
  write_checkpoint_file(path, m, test_progress(f).view(), test_key());
  EXPECT_EQ(read_checkpoint_file(path, test_key()).meta.jsonl_offset, 5u);
  EXPECT_EQ(names(), std::vector<std::string>{"a.resume"});
}

TEST_F(CheckpointFiles, ReadErrorsAreUsageErrors) {
  EXPECT_THROW(read_checkpoint_file(dir_ + "/missing.resume", test_key()), UsageError);
  EXPECT_THROW(read_checkpoint_file(dir_, test_key()), UsageError);
  write(dir_ + "/empty", "");
  EXPECT_THROW(read_checkpoint_file(dir_ + "/empty", test_key()), UsageError);
}

// A write that fails half-way (the file size limit: EFBIG) leaves the previous checkpoint whole
// and no temporary file behind.
TEST_F(CheckpointFiles, FailedWriteLeavesTheOldFile) {
  ScanFingerprint f = fingerprint_of(test_config());
  std::string path = dir_ + "/a.resume";
  write_checkpoint_file(path, test_meta(f), test_progress(f).view(), test_key());
  std::string before;
  {
    std::ifstream in(path, std::ios::binary);
    before.assign(std::istreambuf_iterator<char>(in), {});
  }
  CheckpointMeta m = test_meta(f);
  m.jsonl_offset = 77;
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 100;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error;
  try {
    write_checkpoint_file(path, m, test_progress(f).view(), test_key());
  } catch (const RuntimeError& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(error.find("cannot save the resume file " + path), std::string::npos) << error;
  EXPECT_EQ(names(), std::vector<std::string>{"a.resume"});
  std::string after;
  {
    std::ifstream in(path, std::ios::binary);
    after.assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(after, before);
  EXPECT_EQ(read_checkpoint_file(path, test_key()).meta.jsonl_offset, 4321u);
}

TEST_F(CheckpointFiles, RenameOverADirectoryFailsCleanly) {
  ScanFingerprint f = fingerprint_of(test_config());
  fs::create_directory(dir_ + "/taken");
  EXPECT_THROW(
      write_checkpoint_file(dir_ + "/taken", test_meta(f), test_progress(f).view(), test_key()),
      RuntimeError);
  EXPECT_EQ(names(), std::vector<std::string>{"taken"});
  write(dir_ + "/plain", "x");
  EXPECT_THROW(write_checkpoint_file(dir_ + "/plain/a.resume", test_meta(f),
                                     test_progress(f).view(), test_key()),
               RuntimeError);
}

// Runs fn on a thread of its own without the capabilities that let root ignore file modes
// (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER), in its effective and permitted sets:
// capabilities belong to a thread, so the rest of the process keeps them. Root then meets file
// modes as any user does, and the test runs the same as root (CI) and as a user.
template <class Fn>
void without_file_capabilities(Fn fn) {
  std::thread t([&] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    ASSERT_EQ(::syscall(SYS_capget, &header, data), 0) << std::strerror(errno);
    for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER}) {
      data[cap / 32].effective &= ~(1u << (cap % 32));
      data[cap / 32].permitted &= ~(1u << (cap % 32));
    }
    ASSERT_EQ(::syscall(SYS_capset, &header, data), 0) << std::strerror(errno);
    fn();
  });
  t.join();
}

TEST_F(CheckpointFiles, UnwritableDirectory) {
  ScanFingerprint f = fingerprint_of(test_config());
  std::string path = dir_ + "/a.resume";
  write_checkpoint_file(path, test_meta(f), test_progress(f).view(), test_key());
  ::chmod(dir_.c_str(), 0500);
  without_file_capabilities([&] {
    CheckpointMeta m = test_meta(f);
    m.jsonl_offset = 1;
    EXPECT_THROW(write_checkpoint_file(path, m, test_progress(f).view(), test_key()), RuntimeError);
    EXPECT_EQ(read_checkpoint_file(path, test_key()).meta.jsonl_offset, 4321u);
    EXPECT_THROW(prepare_checkpoint_dir(dir_, false, std::nullopt), UsageError);
  });
  ::chmod(dir_.c_str(), 0700);
}

TEST_F(CheckpointFiles, KeyIsCreatedOnceAndChecked) {
  std::string path = dir_ + "/state/glasshouse/resume.key";
  EXPECT_THROW(load_checkpoint_key(path, false), UsageError);
  CheckpointKey k = load_checkpoint_key(path, true);
  EXPECT_EQ(load_checkpoint_key(path, true), k);
  EXPECT_EQ(load_checkpoint_key(path, false), k);
  EXPECT_NE(k, CheckpointKey{});
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::chmod(path.c_str(), 0644);
  EXPECT_THROW(load_checkpoint_key(path, false), UsageError);
  ::chmod(path.c_str(), 0600);
  { std::ofstream(path, std::ios::app) << "x"; }
  EXPECT_THROW(load_checkpoint_key(path, false), UsageError);
}

TEST_F(CheckpointFiles, KeyThroughALinkAndTheEnvironment) {
  std::string real = dir_ + "/..data-key";
  CheckpointKey k = load_checkpoint_key(real, true);
  std::string link = dir_ + "/key";
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  EXPECT_EQ(load_checkpoint_key(link, false), k);
  ::setenv(kResumeKeyEnv, link.c_str(), 1);
  EXPECT_EQ(checkpoint_key_path(), link);
  ::unsetenv(kResumeKeyEnv);
  EXPECT_NE(checkpoint_key_path(), link);
}

TEST_F(CheckpointFiles, DefaultPlaces) {
  EXPECT_EQ(default_checkpoint_dir(true, "/x", "/home/u"), "/var/lib/glasshouse/resume");
  EXPECT_EQ(default_checkpoint_key_path(true, nullptr, nullptr), "/var/lib/glasshouse/resume.key");
  EXPECT_EQ(default_checkpoint_dir(false, "/x", "/home/u"), "/x/glasshouse/resume");
  EXPECT_EQ(default_checkpoint_dir(false, nullptr, "/home/u"),
            "/home/u/.local/state/glasshouse/resume");
  EXPECT_EQ(default_checkpoint_dir(false, "relative", "/home/u"),
            "/home/u/.local/state/glasshouse/resume");
  EXPECT_EQ(default_checkpoint_dir(false, nullptr, nullptr), "");
}

// As root: the directory a root scan's checkpoints go to must be writable by the user the scan
// becomes (nobody); the default one is made so.
TEST_F(CheckpointFiles, DirectoryForTheDropUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::optional<FileWriter> nobody = checkpoint_writer("nobody");
  ASSERT_TRUE(nobody.has_value());
  EXPECT_EQ(nobody->user, "nobody");
  EXPECT_THROW(checkpoint_writer("no-such-user-here"), UsageError);
  EXPECT_THROW(checkpoint_writer("root"), UsageError);
  ::chmod(dir_.c_str(), 0711);
  std::string mine = dir_ + "/root-only";
  ::mkdir(mine.c_str(), 0700);
  try {
    prepare_checkpoint_dir(mine, false, nobody);
    ADD_FAILURE() << "accepted a directory nobody cannot write";
  } catch (const UsageError& e) {
    std::string why = e.what();
    EXPECT_NE(why.find(mine), std::string::npos) << why;
    EXPECT_NE(why.find("nobody"), std::string::npos) << why;
  }
  std::string made = dir_ + "/made/resume";
  prepare_checkpoint_dir(made, true, nobody);
  struct stat st {};
  ASSERT_EQ(::stat(made.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->uid);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(fs::is_empty(made));  // the probe file is gone
}

TEST_F(CheckpointFiles, JsonlOfAResumedScanIsCutBack) {
  std::string path = dir_ + "/out.jsonl";
  std::string head = "{\"type\":\"scan\",\"command\":\"glasshouse scan ...\"}\n";
  std::string kept = head + "{\"type\":\"port\",\"port\":22}\n";
  write(path, kept + "{\"type\":\"port\",\"port\":80}\n{\"type\":\"summary\"}\n");
  CheckpointMeta m;
  m.has_jsonl = true;
  m.jsonl_offset = kept.size();
  m.jsonl_head = sha256(head);
  {
    FileDescriptor fd = open_jsonl_for_resume(path, m);
    EXPECT_EQ(fs::file_size(path), kept.size());
    // A second resume of the same scan meanwhile is refused.
    try {
      open_jsonl_for_resume(path, m);
      ADD_FAILURE() << "a second resume was allowed";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("another glasshouse run"), std::string::npos);
    }
    ASSERT_TRUE(first_line_digest(fd.get()).has_value());
    EXPECT_EQ(*first_line_digest(fd.get()), sha256(head));
  }
  // Shorter than at the checkpoint, or another scan's file: refused, left alone.
  m.jsonl_offset = kept.size() + 1;
  EXPECT_THROW(open_jsonl_for_resume(path, m), UsageError);
  m.jsonl_offset = 10;
  m.jsonl_head = sha256("{\"type\":\"scan\",\"command\":\"another\"}\n");
  EXPECT_THROW(open_jsonl_for_resume(path, m), UsageError);
  EXPECT_EQ(fs::file_size(path), kept.size());
  EXPECT_THROW(open_jsonl_for_resume(dir_ + "/missing.jsonl", m), UsageError);
}

TEST(Checkpoint, ShellQuote) {
  EXPECT_EQ(shell_quote("/var/lib/glasshouse/resume/0123.resume"),
            "/var/lib/glasshouse/resume/0123.resume");
  EXPECT_EQ(shell_quote("/tmp/a b"), "'/tmp/a b'");
  EXPECT_EQ(shell_quote("/tmp/it's"), "'/tmp/it'\\''s'");
  EXPECT_EQ(shell_quote("/tmp/$x"), "'/tmp/$x'");
}

TEST(Checkpoint, JsonlResumeRecord) {
  std::ostringstream out;
  JsonlOptions opts;
  opts.show.closed = true;
  JsonlResume r;
  r.run = "1111111111111111";
  r.resumes = "2222222222222222";
  r.checkpoint = "/var/lib/glasshouse/resume/2222222222222222.resume";
  r.kept_bytes = 1234;
  r.ports_written = 10;
  r.open_ports = 3;
  r.probes_sent = 500;
  r.replies = 40;
  opts.resume = r;
  JsonlSink sink(out, opts);
  ScanInfo info;
  info.command_line = "glasshouse scan --resume x";
  info.scan_type = "syn";
  info.targets = 4;
  info.ports = 2;
  sink.begin(info);
  std::string line = out.str();
  EXPECT_EQ(line.rfind("{\"type\":\"resume\",", 0), 0u) << line;
  for (const char* part :
       {"\"command\":\"glasshouse scan --resume x\"", "\"run\":\"1111111111111111\"",
        "\"resumes\":\"2222222222222222\"", "\"kept_bytes\":1234", "\"ports_written_before\":10",
        "\"open_ports_before\":3", "\"probes_sent_before\":500", "\"replies_before\":40"})
    EXPECT_NE(line.find(part), std::string::npos) << part << " in " << line;
  EXPECT_EQ(line.find("\"type\":\"scan\""), std::string::npos);
}

TEST(Checkpoint, DiscoveryRunsSaveOneBitPerTarget) {
  // With host discovery the plan saves one bit per target (run/stage_plan.h), whatever the ports.
  ScanConfig c = test_config();
  c.discovery.skip = false;
  ScanFingerprint f = fingerprint_of(c);
  EXPECT_EQ(f.probes, 256u);
  EXPECT_EQ(f.shard_count, 1u);
  EXPECT_NE(f.digest(), fingerprint_of(test_config()).digest());
}

}  // namespace
}  // namespace gh
