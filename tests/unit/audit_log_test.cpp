// The audit log: appending, the hash chain, and tamper detection (edit, delete, reorder, insert,
// truncate), concurrent appends, the JSON reader it relies on, and the runs table.
#include "audit/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/json_read.h"
#include "audit/run_record.h"
#include "audit/sha256.h"
#include "core/error.h"
#include "output/json.h"

namespace gh {
namespace {

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/gh-audit-test-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream b;
  b << in.rdbuf();
  return b.str();
}

void spit(const std::string& path, const std::string& s) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << s;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

std::string record(int n, const std::string& tag = "") {
  return JsonObject()
      .str("event", "start")
      .num("n", n)
      .str("command", "glasshouse scan x")
      .str("tag", tag)
      .done();
}

// A log of n records, as text.
std::string log_of(const TempDir& dir, int n) {
  std::string path = dir.file("log-" + std::to_string(n) + ".jsonl");
  AuditLog log = AuditLog::open(path);
  for (int i = 1; i <= n; ++i) log.append(record(i, path));  // records differ between logs
  return slurp(path);
}

TEST(AuditSha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuditLog, AppendsAChainThatVerifies) {
  TempDir dir;
  std::string path = dir.file("sub/dir/audit.jsonl");  // directories are created
  AuditLog log = AuditLog::open(path);
  std::string h1 = log.append(record(1));
  std::string h2 = log.append(record(2));
  std::string text = slurp(path);
  auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("{\"seq\":1,\"prev\":\"" + std::string(kAuditGenesis) + "\",", 0), 0u);
  EXPECT_NE(lines[1].find("\"prev\":\"" + h1 + "\""), std::string::npos);
  auto v = verify_audit_log(text);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 2u);
  EXPECT_EQ(v.head, h2);
  // The record's own fields survive, and the line is valid JSON.
  auto json = parse_json(lines[1]);
  ASSERT_TRUE(json);
  EXPECT_EQ(json->get("n")->text, "2");
  EXPECT_EQ(json->get("hash")->text, h2);
  // A second writer (a later scan) continues the same chain.
  AuditLog again = AuditLog::open(path);
  again.append(record(3));
  v = verify_audit_log(slurp(path));
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 3u);
  EXPECT_TRUE(verify_audit_log("").ok);
}

TEST(AuditLog, DetectsAnEditedLine) {
  TempDir dir;
  auto lines = lines_of(log_of(dir, 5));
  auto edited = lines;
  size_t at = edited[2].find("glasshouse scan x");
  edited[2].replace(at, 17, "glasshouse scan y");
  auto v = verify_audit_log(join(edited));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 3u);
  EXPECT_NE(v.problem.find("edited"), std::string::npos) << v.problem;
}

TEST(AuditLog, DetectsAnEditWhoseHashWasRecomputed) {
  TempDir dir;
  auto lines = lines_of(log_of(dir, 5));
  // Rewrite record 3 with other contents, chained to record 2, with a correct hash of its own.
  auto rec2 = check_audit_line(lines[1]);
  auto forged = lines;
  forged[2] = make_audit_line(
      JsonObject().str("event", "start").num("n", 3).str("command", "something else").done(), 3,
      rec2.hash);
  auto v = verify_audit_log(join(forged));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 3u) << v.problem;
}

TEST(AuditLog, DetectsARemovedLine) {
  TempDir dir;
  auto lines = lines_of(log_of(dir, 5));
  for (size_t removed = 0; removed < 4; ++removed) {  // all but the last (see truncation)
    auto cut = lines;
    cut.erase(cut.begin() + static_cast<long>(removed));
    auto v = verify_audit_log(join(cut));
    EXPECT_FALSE(v.ok) << removed;
    EXPECT_EQ(v.bad_line, removed + 1) << v.problem;
  }
}

TEST(AuditLog, DetectsReorderedAndInsertedLines) {
  TempDir dir;
  auto lines = lines_of(log_of(dir, 5));
  auto swapped = lines;
  std::swap(swapped[1], swapped[3]);
  auto v = verify_audit_log(join(swapped));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 2u) << v.problem;

  auto dup = lines;
  dup.insert(dup.begin() + 2, lines[1]);  // a replayed record
  v = verify_audit_log(join(dup));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 3u) << v.problem;

  auto junk = lines;
  junk.insert(junk.begin() + 4, "{\"event\":\"start\"}");
  v = verify_audit_log(join(junk));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 5u) << v.problem;

  // Records from another log spliced in.
  TempDir other;
  auto foreign = lines_of(log_of(other, 5));
  auto mixed = lines;
  mixed[3] = foreign[3];
  v = verify_audit_log(join(mixed));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 3u) << v.problem;  // record 3 is not what record 4 chained to
}

TEST(AuditLog, DetectsTruncation) {
  TempDir dir;
  std::string text = log_of(dir, 5);
  auto lines = lines_of(text);
  // Cut inside the last record.
  auto v = verify_audit_log(text.substr(0, text.size() - 10));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 5u);
  EXPECT_NE(v.problem.find("incomplete"), std::string::npos) << v.problem;
  // Only the newline missing.
  v = verify_audit_log(text.substr(0, text.size() - 1));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 5u);
  // Records cut from the front.
  v = verify_audit_log(join({lines.begin() + 2, lines.end()}));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 1u);
  EXPECT_NE(v.problem.find("removed"), std::string::npos) << v.problem;
  // Whole records cut from the end: the chain alone cannot tell, the head hash kept outside can.
  auto full = verify_audit_log(text);
  ASSERT_TRUE(full.ok);
  std::string shorter = join({lines.begin(), lines.end() - 2});
  EXPECT_TRUE(verify_audit_log(shorter).ok);
  v = verify_audit_log(shorter, full.head);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_line, 0u);
  EXPECT_NE(v.problem.find("truncated"), std::string::npos) << v.problem;
  EXPECT_TRUE(verify_audit_log(text, full.head).ok);
  // A head from the middle still verifies: the log only grew after it.
  EXPECT_TRUE(verify_audit_log(text, check_audit_line(lines[2]).hash).ok);
}

TEST(AuditLog, RefusesToAppendToADamagedLog) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  {
    AuditLog log = AuditLog::open(path);
    log.append(record(1));
    log.append(record(2));
  }
  std::string text = slurp(path);
  spit(path, text.substr(0, text.size() - 5));  // a write cut short
  AuditLog log = AuditLog::open(path);
  EXPECT_THROW(log.append(record(3)), RuntimeError);
  spit(path, text + "not a record\n");
  EXPECT_THROW(log.append(record(3)), RuntimeError);
  spit(path, text);
  EXPECT_NO_THROW(log.append(record(3)));
  EXPECT_TRUE(verify_audit_log(slurp(path)).ok);
}

TEST(AuditLog, LongLastLinesAreFound) {
  TempDir dir;
  std::string path = dir.file("long.jsonl");
  AuditLog log = AuditLog::open(path);
  log.append(JsonObject().str("command", std::string(100000, 'x')).done());
  log.append(record(2));
  log.append(JsonObject().str("command", std::string(20000, 'y')).done());
  log.append(record(4));
  auto v = verify_audit_log(slurp(path));
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 4u);
}

TEST(AuditLog, ConcurrentWritersKeepOneChain) {
  TempDir dir;
  std::string path = dir.file("shared.jsonl");
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      AuditLog log = AuditLog::open(path);  // its own open file description: its own flock
      for (int i = 0; i < 50; ++i) log.append(record(w * 1000 + i));
    });
  for (auto& t : writers) t.join();
  auto v = verify_audit_log(slurp(path));
  EXPECT_TRUE(v.ok) << v.bad_line << ": " << v.problem;
  EXPECT_EQ(v.records, 200u);
}

TEST(AuditLog, OnlyRegularFilesAndWritablePlaces) {
  EXPECT_THROW(AuditLog::open("/dev/null"), RuntimeError);
  EXPECT_THROW(AuditLog::open(""), RuntimeError);
  EXPECT_THROW(AuditLog::open("/proc/version/audit.jsonl"), RuntimeError);
}

TEST(AuditLog, DefaultLocations) {
  EXPECT_EQ(default_audit_log_path(true, "/x", "/home/u"), "/var/log/glasshouse/audit.jsonl");
  EXPECT_EQ(default_audit_log_path(false, "/state", "/home/u"), "/state/glasshouse/audit.jsonl");
  EXPECT_EQ(default_audit_log_path(false, nullptr, "/home/u"),
            "/home/u/.local/state/glasshouse/audit.jsonl");
  EXPECT_EQ(default_audit_log_path(false, "relative", "/home/u"),
            "/home/u/.local/state/glasshouse/audit.jsonl");
  EXPECT_EQ(default_audit_log_path(false, nullptr, nullptr), "");
}

TEST(AuditJson, ReadsWhatTheWriterWrites) {
  std::string hostile = std::string("a\"b\\c\n\x01\xff") + "\xe2\x80\xa8" + "\xf0\x9f\x98\x80";
  std::string text = JsonObject()
                         .str("s", hostile)
                         .num("n", uint64_t{18446744073709551615u})
                         .num("d", 2.5)
                         .boolean("b", true)
                         .null("z")
                         .raw("a", "[1,{\"k\":[]}]")
                         .done();
  auto v = parse_json(text);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->get("n")->as_u64(), 18446744073709551615u);
  EXPECT_EQ(v->get("d")->text, "2.500");
  EXPECT_TRUE(v->get("b")->boolean);
  EXPECT_EQ(v->get("z")->type, JsonValue::Type::Null);
  EXPECT_EQ(v->get("a")->items.size(), 2u);
  std::string s = v->get("s")->text;
  EXPECT_EQ(s.substr(0, 7), "a\"b\\c\n\x01");
  EXPECT_NE(s.find("\xf0\x9f\x98\x80"), std::string::npos);  // the emoji survives
  for (const char* bad : {"", "{", "{\"a\":}", "{\"a\":1,}", "[1 2]", "\"\x01\"", "01", "{} x",
                          "{\"a\":tru}", "\"\\x\"", "-", "1.",
                          "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                          "[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                          "]]]]]"}) {
    std::string err;
    EXPECT_FALSE(parse_json(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  EXPECT_EQ(parse_json("\"\\ud83d\\ude00\"")->text, "\xf0\x9f\x98\x80");
}

TEST(AuditRecords, StartEndAndRefusedMakeOneRowEach) {
  TempDir dir;
  std::string path = dir.file("runs.jsonl");
  AuditLog log = AuditLog::open(path);
  RunFacts f;
  f.run_id = "00000000000000aa";
  f.op = Operator{"jane", 1000, "", "scanbox", 42};
  f.command = "glasshouse scan -sS -p 80 198.19.0.0/24 --scope acme.toml";
  f.scan_type = "syn";
  f.engagement = "ACME-2026-11";
  f.authorized_by = "Jane Roe";
  f.scope_file = "acme.toml";
  f.scope_sha256 = std::string(64, 'a');
  f.counted = true;
  f.targets = 128;
  f.ports = 1;
  auto now = WallClock::now();
  log.append(start_record(f, now));
  RunOutcome o;
  o.probes_sent = 130;
  o.open_ports = 3;
  o.outputs = {{"out.jsonl", std::string(64, 'b')}, {"out.txt", std::nullopt}};
  o.exit_reason = "done";
  o.privileges = "dropped to nobody";
  log.append(end_record(f, o, now));
  RunFacts g = f;
  g.run_id = "00000000000000bb";
  g.counted = false;
  log.append(refused_record(g, "refused: 1 of 2 targets are outside the scope", 2, now));
  std::string text = slurp(path);
  ASSERT_TRUE(verify_audit_log(text).ok);
  auto lines = lines_of(text);
  auto end = parse_json(lines[1]);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->get("event")->text, "end");
  EXPECT_EQ(end->get("engagement")->text, "ACME-2026-11");
  EXPECT_EQ(end->get("probes_sent")->text, "130");
  EXPECT_EQ(end->get("outputs")->items.at(0).get("sha256")->text, std::string(64, 'b'));
  EXPECT_EQ(end->get("outputs")->items.at(1).get("sha256")->type, JsonValue::Type::Null);
  EXPECT_EQ(end->get("status")->text, "0");
  std::string table = audit_runs_table(text);
  auto rows = lines_of(table);
  ASSERT_EQ(rows.size(), 3u) << table;
  EXPECT_NE(rows[0].find("ENGAGEMENT"), std::string::npos);
  EXPECT_NE(rows[1].find("jane@scanbox"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find("130"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find("done"), std::string::npos) << rows[1];
  EXPECT_NE(rows[2].find("refused: 1 of 2"), std::string::npos) << rows[2];
}

TEST(AuditRecords, StartRecordNamesEveryScanType) {
  RunFacts f;
  f.run_id = "00000000000000cc";
  f.op = Operator{"jane", 1000, "", "scanbox", 42};
  f.command = "glasshouse scan -sS -sU -p 53 198.19.0.1";
  f.scan_type = "syn";
  f.scan_types = {"syn", "udp"};
  auto now = WallClock::now();
  auto start = parse_json(start_record(f, now));
  ASSERT_TRUE(start);
  EXPECT_EQ(start->get("scan_type")->text, "syn");
  const JsonValue* types = start->get("scan_types");
  ASSERT_NE(types, nullptr);
  ASSERT_EQ(types->items.size(), 2u);
  EXPECT_EQ(types->items[0].text, "syn");
  EXPECT_EQ(types->items[1].text, "udp");
  auto refused = parse_json(refused_record(f, "refused: outside the scope", 2, now));
  ASSERT_TRUE(refused);
  ASSERT_NE(refused->get("scan_types"), nullptr);
  EXPECT_EQ(refused->get("scan_types")->items.size(), 2u);
  // `audit show` names both.
  TempDir dir;
  std::string path = dir.file("runs.jsonl");
  AuditLog log = AuditLog::open(path);
  log.append(start_record(f, now));
  std::string table = audit_runs_table(slurp(path));
  EXPECT_NE(table.find("syn+udp"), std::string::npos) << table;
}

}  // namespace
}  // namespace gh
