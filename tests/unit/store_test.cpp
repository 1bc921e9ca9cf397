// The history store (src/store): schema creation and migration from an older version, WAL,
// concurrent writers (processes), corrupt, foreign and locked databases, run references, the
// database sink's behaviour when the database fails.
#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "output/result_table.h"
#include "store/db_sink.h"

namespace gh {
namespace {

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/gh-store-test-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

RunMeta meta(const std::string& key, const std::string& command = "glasshouse scan x") {
  RunMeta m;
  m.start = "2026-12-01T10:00:00.000Z";
  m.command = command;
  m.scan_type = "syn";
  m.targets = 4;
  m.ports = 100;
  m.targets_key = key;
  return m;
}

PortRecord port(const std::string& addr, uint16_t n, const std::string& state,
                const std::string& service = "") {
  PortRecord p;
  p.addr = addr;
  p.proto = "tcp";
  p.port = n;
  p.state = state;
  p.reason = state == "open" ? "syn-ack" : "reset";
  p.ttl = 64;
  p.seen = "2026-12-01T10:00:01.000Z";
  p.service.name = service;
  return p;
}

std::string pragma(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

TEST(Store, FreshDatabaseIsCurrentWalAndPrivate) {
  TempDir dir;
  std::string path = dir.file("sub/dir/h.db");
  Store s = Store::open(path, true);
  EXPECT_EQ(s.schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(pragma(path, "PRAGMA journal_mode"), "wal");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.file("sub/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(Store, MissingFileIsNotCreatedForReading) {
  TempDir dir;
  try {
    Store::open(dir.file("none.db"), false);
    FAIL() << "opened a missing database";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::Unavailable);
  }
}

TEST(Store, RunsRoundTripWithServices) {
  TempDir dir;
  Store s = Store::open(dir.file("h.db"), true);
  int64_t id = s.begin_run(meta("k1"));
  PortRecord ssh = port("198.18.0.2", 22, "open", "ssh");
  ssh.service.product = "OpenSSH";
  ssh.service.version = "9.2p1";
  ssh.service.extra_info = "protocol 2.0";
  ssh.service.cpe = {"cpe:/a:openbsd:openssh:9.2p1", "cpe:/o:linux:linux_kernel"};
  ssh.service.method = "probed";
  ssh.service.confidence = 10;
  PortRecord https = port("198.18.0.10", 443, "open", "https");
  https.service.tls = "TLSv1.3 CN=lab.example";
  HostRecord h{"198.18.0.2", "up", "syn-ack", "02:00:00:00:00:02", "Lab", 0.0012, "a.lab"};
  s.write(id, {h}, {https, ssh, port("198.18.0.2", 23, "closed")});
  RunMeta end = meta("k1");
  end.end = "2026-12-01T10:01:00.000Z";
  end.exit_reason = "done";
  end.open_ports = 2;
  end.hosts_up = 2;
  s.end_run(id, end);

  RunData d = s.load(id);
  EXPECT_EQ(d.meta.id, id);
  EXPECT_EQ(d.meta.exit_reason, "done");
  EXPECT_EQ(d.meta.open_ports, 2u);
  EXPECT_EQ(d.meta.targets_key, "k1");
  ASSERT_EQ(d.ports.size(), 3u);
  // Sorted numerically by address: .2 before .10.
  EXPECT_EQ(d.ports[0].addr, "198.18.0.2");
  EXPECT_EQ(d.ports[0].port, 22);
  EXPECT_EQ(d.ports[0].service, ssh.service);
  EXPECT_EQ(d.ports[1].port, 23);
  EXPECT_EQ(d.ports[1].state, "closed");
  EXPECT_EQ(d.ports[2].addr, "198.18.0.10");
  EXPECT_EQ(d.ports[2].service.tls, "TLSv1.3 CN=lab.example");
  ASSERT_EQ(d.hosts.size(), 1u);
  EXPECT_EQ(d.hosts[0].mac, "02:00:00:00:00:02");
  ASSERT_TRUE(d.hosts[0].latency.has_value());
  EXPECT_DOUBLE_EQ(*d.hosts[0].latency, 0.0012);

  // Written twice (a retried batch): still one row per port, the later verdict.
  s.write(id, {}, {port("198.18.0.2", 23, "open")});
  d = s.load(id);
  ASSERT_EQ(d.ports.size(), 3u);
  EXPECT_EQ(d.ports[1].state, "open");
}

TEST(Store, ResolvesRunReferences) {
  TempDir dir;
  Store s = Store::open(dir.file("h.db"), true);
  EXPECT_THROW(s.resolve("last"), UsageError);  // no runs yet
  int64_t a = s.begin_run(meta("k"));
  int64_t b = s.begin_run(meta("other"));
  int64_t c = s.begin_run(meta("k"));
  EXPECT_EQ(s.resolve("last"), c);
  EXPECT_EQ(s.resolve("last~0"), c);
  EXPECT_EQ(s.resolve("last~1"), b);
  EXPECT_EQ(s.resolve("last~2"), a);
  EXPECT_EQ(s.resolve(std::to_string(b)), b);
  for (const char* bad : {"last~3", "last~", "last~x", "last~-1", "0", "99", "abc", "", "1x"})
    EXPECT_THROW(s.resolve(bad), UsageError) << bad;
  EXPECT_THROW(s.load(99), UsageError);
  // The previous run of the same targets skips runs of other targets.
  EXPECT_EQ(s.previous(c), a);
  EXPECT_EQ(s.previous(a), std::nullopt);
  EXPECT_EQ(s.previous(b), std::nullopt);
  auto runs = s.runs();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].id, c);  // newest first
  EXPECT_EQ(s.runs(1).size(), 1u);
}

TEST(Store, MigratesFromVersionOne) {
  TempDir dir;
  std::string path = dir.file("old.db");
  {
    auto conn = open_sqlite(path, true, 1000);
    migrate_schema(*conn, 1);
    conn->exec(
        "INSERT INTO runs (id, started, command, scan_type, targets, ports, exit_reason, ended) "
        "VALUES (7, '2026-01-01T00:00:00.000Z', 'glasshouse scan -p 22 198.18.0.1', 'syn', 1, 1, "
        "'done', '2026-01-01T00:00:05.000Z');"
        "INSERT INTO hosts (run_id, addr, state, reason) VALUES (7, '198.18.0.1', 'up', "
        "'syn-ack');"
        "INSERT INTO ports (run_id, addr, proto, port, state, reason, ttl, seen) VALUES (7, "
        "'198.18.0.1', 'tcp', 22, 'open', 'syn-ack', 64, '2026-01-01T00:00:01.000Z')");
  }
  Store s(open_sqlite(path, false, 1000));
  EXPECT_EQ(s.schema_version(), 2);
  RunData d = s.load(7);
  EXPECT_EQ(d.meta.command, "glasshouse scan -p 22 198.18.0.1");
  EXPECT_EQ(d.meta.targets_key, "command:glasshouse scan -p 22 198.18.0.1");
  EXPECT_EQ(d.meta.open_ports, 1u);
  EXPECT_EQ(d.meta.hosts_up, 1u);
  ASSERT_EQ(d.ports.size(), 1u);
  EXPECT_EQ(d.ports[0].ttl, 64);
  EXPECT_EQ(d.ports[0].service, ServiceRecord{});
  EXPECT_EQ(d.meta.scan_types, std::vector<std::string>{"syn"});  // one type, as it was stored
  EXPECT_EQ(d.meta.scan_type, "syn");
  // New runs go after the old ones, with services.
  int64_t id = s.begin_run(meta("command:glasshouse scan -p 22 198.18.0.1"));
  EXPECT_GT(id, 7);
  s.write(id, {}, {port("198.18.0.1", 22, "open", "ssh")});
  EXPECT_EQ(s.load(id).ports[0].service.name, "ssh");
  EXPECT_EQ(s.previous(id), 7);
}

TEST(Store, RefusesANewerSchema) {
  TempDir dir;
  std::string path = dir.file("new.db");
  { Store::open(path, true).connection().exec("UPDATE glasshouse_schema SET version = 99"); }
  try {
    Store::open(path, false);
    FAIL() << "opened a newer schema";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::Schema);
    EXPECT_NE(std::string(e.what()).find("newer Glasshouse"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pragma(path, "SELECT version FROM glasshouse_schema"), "99");  // untouched
}

TEST(Store, CorruptAndForeignFilesAreRefused) {
  TempDir dir;
  std::string junk = dir.file("junk.db");
  {
    std::ofstream f(junk);
    f << std::string(8192, 'x');
  }
  try {
    Store::open(junk, false);
    FAIL() << "opened a file that is not a database";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::Corrupt) << e.what();
    EXPECT_NE(std::string(e.what()).find(junk), std::string::npos);
  }
  // A damaged database: a valid header, garbage pages.
  std::string damaged = dir.file("damaged.db");
  {
    Store s = Store::open(damaged, true);
    int64_t id = s.begin_run(meta("k"));
    std::vector<PortRecord> many;
    for (int p = 1; p <= 2000; ++p) many.push_back(port("198.18.0.1", p, "open", "x"));
    s.write(id, {}, many);
    s.connection().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 * 2);
    std::string garbage(4096 * 4, '\x5a');
    f.write(garbage.data(), garbage.size());
  }
  EXPECT_THROW(
      {
        Store s = Store::open(damaged, false);
        for (int64_t id = 1; id <= 1; ++id) s.load(id);
      },
      StoreError);
  // Somebody else's SQLite database is not written into.
  std::string foreign = dir.file("foreign.db");
  {
    auto c = open_sqlite(foreign, true, 100);
    c->exec("CREATE TABLE moz_places (id INTEGER)");
  }
  try {
    Store::open(foreign, false);
    FAIL() << "used a foreign database";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::Corrupt);
  }
}

TEST(Store, LockedDatabaseIsReportedNotWaitedForever) {
  TempDir dir;
  std::string path = dir.file("h.db");
  Store s = Store::open(path, true, 100);
  int64_t id = s.begin_run(meta("k"));
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  s.connection().set_busy_timeout(100);
  auto t0 = std::chrono::steady_clock::now();
  try {
    s.write(id, {}, {port("198.18.0.1", 22, "open")});
    FAIL() << "wrote through an exclusive lock";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::Locked) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  s.write(id, {}, {port("198.18.0.1", 22, "open")});
  EXPECT_EQ(s.load(id).ports.size(), 1u);
}

// Four processes each write a run of 500 ports in batches of 25, at the same time, through
// their own connections: every port of every run is there, none twice.
TEST(Store, ConcurrentWritersInSeparateProcesses) {
  TempDir dir;
  std::string path = dir.file("h.db");
  { Store::open(path, true); }
  constexpr int kWriters = 4, kPorts = 500, kBatch = 25;
  std::vector<pid_t> kids;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        Store s = Store::open(path, false, 10000);
        int64_t id = s.begin_run(meta("k", "writer " + std::to_string(w)));
        for (int b = 0; b < kPorts / kBatch; ++b) {
          std::vector<PortRecord> batch;
          for (int k = 0; k < kBatch; ++k)
            batch.push_back(port("198.18.0." + std::to_string(w + 1), b * kBatch + k + 1, "open"));
          s.write(id, {}, batch);
        }
        RunMeta end = meta("k");
        end.end = "2026-12-01T10:01:00.000Z";
        end.exit_reason = "done";
        s.end_run(id, end);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        rc = 1;
      }
      ::_exit(rc);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(k, &status, 0), k);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Store s = Store::open(path, false);
  auto runs = s.runs();
  ASSERT_EQ(runs.size(), static_cast<size_t>(kWriters));
  for (const RunMeta& r : runs) {
    RunData d = s.load(r.id);
    EXPECT_EQ(d.ports.size(), static_cast<size_t>(kPorts)) << r.command;
    EXPECT_EQ(d.meta.exit_reason, "done");
    for (size_t k = 0; k < d.ports.size(); ++k) EXPECT_EQ(d.ports[k].port, k + 1);
  }
}

TEST(Store, TruncatePortsKeepsTheFirstWritten) {
  TempDir dir;
  Store s = Store::open(dir.file("h.db"), true);
  int64_t id = s.begin_run(meta("k"));
  s.write(id, {}, {port("198.18.0.1", 80, "open", "http"), port("198.18.0.1", 22, "open")});
  s.write(id, {}, {port("198.18.0.1", 443, "open", "https")});
  s.truncate_ports(id, 2);
  RunData d = s.load(id);
  ASSERT_EQ(d.ports.size(), 2u);
  EXPECT_EQ(d.ports[0].port, 22);
  EXPECT_EQ(d.ports[1].port, 80);
  EXPECT_TRUE(d.meta.end.empty());
}

TEST(Store, DefaultPaths) {
  EXPECT_EQ(default_db_path(true, "/x", "/home/u"), "/var/lib/glasshouse/history.db");
  EXPECT_EQ(default_db_path(false, "/x", "/home/u"), "/x/glasshouse/history.db");
  EXPECT_EQ(default_db_path(false, nullptr, "/home/u"),
            "/home/u/.local/share/glasshouse/history.db");
  EXPECT_EQ(default_db_path(false, "relative", "/home/u"),
            "/home/u/.local/share/glasshouse/history.db");
  EXPECT_EQ(default_db_path(false, nullptr, nullptr), "");
}

TEST(Store, RedactsPasswords) {
  EXPECT_EQ(redact_url("postgresql://gh:s3cret@db.lab:5432/scans"),
            "postgresql://gh:***@db.lab:5432/scans");
  EXPECT_EQ(redact_url("postgresql://db.lab/scans?user=gh&password=s3cret&sslmode=require"),
            "postgresql://db.lab/scans?user=gh&password=***&sslmode=require");
  EXPECT_EQ(redact_url("postgresql://gh@db.lab/scans"), "postgresql://gh@db.lab/scans");
  EXPECT_TRUE(is_postgres_url("postgres://x"));
  EXPECT_FALSE(is_postgres_url("/var/lib/postgresql.db"));
}

PortResult verdict(const char* addr, uint16_t p, PortState s, Reason r) {
  PortResult v;
  v.addr = *IpAddress::parse(addr);
  v.port = p;
  v.state = s;
  v.reason = r;
  v.reply_ttl = 64;
  v.seen = WallClock::now();
  return v;
}

ScanInfo info() {
  ScanInfo i;
  i.command_line = "glasshouse scan -p 22,80 198.18.0.1-2";
  i.scan_type = "syn";
  i.start = WallClock::now();
  i.targets = 2;
  i.ports = 2;
  i.engagement_id = "ACME-1";
  return i;
}

TEST(DbSink, StoresWhatTheShowFilterAccepts) {
  TempDir dir;
  std::ostringstream err;
  DbSinkOptions o;
  o.location = dir.file("h.db");
  o.targets_key = "key";
  o.audit_run = "audit-1";
  auto sink = make_db_sink(o, err);
  ResultTable table(2);
  sink->begin(info());
  for (auto v : {verdict("198.18.0.1", 22, PortState::Open, Reason::SynAck),
                 verdict("198.18.0.1", 80, PortState::Closed, Reason::Reset),
                 verdict("198.18.0.2", 22, PortState::Filtered, Reason::NoResponse)}) {
    table.add(v);
    sink->port(v);
  }
  sink->flush();
  ScanSummary sum;
  sum.end = WallClock::now();
  sum.exit_reason = "done";
  sum.open_ports = 1;
  sum.hosts_up = 1;
  sink->end(table, sum);
  EXPECT_EQ(err.str(), "");
  Store s = Store::open(o.location, false);
  RunData d = s.load(s.resolve("last"));
  EXPECT_EQ(d.meta.engagement, "ACME-1");
  EXPECT_EQ(d.meta.audit_run, "audit-1");
  EXPECT_EQ(d.meta.exit_reason, "done");
  ASSERT_EQ(d.ports.size(), 1u);  // open only, as -oJ by default
  EXPECT_EQ(d.ports[0].port, 22);
  EXPECT_EQ(d.ports[0].service.name, "ssh");
  ASSERT_EQ(d.hosts.size(), 1u);  // the host that answered
  EXPECT_EQ(d.hosts[0].addr, "198.18.0.1");
}

TEST(DbSink, ARunOfTwoScanTypesNamesBoth) {
  TempDir dir;
  std::ostringstream err;
  DbSinkOptions o;
  o.location = dir.file("h.db");
  auto sink = make_db_sink(o, err);
  ScanInfo i = info();
  i.scan_types = {"syn", "udp"};  // -sS -sU
  sink->begin(i);
  ResultTable table(2);
  ScanSummary sum;
  sum.end = WallClock::now();
  sum.exit_reason = "done";
  sink->end(table, sum);
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(pragma(o.location, "SELECT scan_type FROM runs"), "syn+udp");
  Store s = Store::open(o.location, false);
  RunData d = s.load(s.resolve("last"));
  EXPECT_EQ(d.meta.scan_types, (std::vector<std::string>{"syn", "udp"}));
  EXPECT_EQ(d.meta.scan_type, "syn");
  EXPECT_EQ(s.runs()[0].scan_types, d.meta.scan_types);
}

TEST(RunData, ScanTypesJoinAndSplit) {
  EXPECT_EQ(join_scan_types({"syn", "udp"}), "syn+udp");
  EXPECT_EQ(join_scan_types({"udp"}), "udp");
  EXPECT_EQ(split_scan_types("connect+udp"), (std::vector<std::string>{"connect", "udp"}));
  EXPECT_EQ(split_scan_types("syn"), std::vector<std::string>{"syn"});
  EXPECT_TRUE(split_scan_types("").empty());
  RunMeta m;
  m.scan_type = "ack";  // a writer that filled only the first type
  EXPECT_EQ(scan_types_of(m), std::vector<std::string>{"ack"});
  set_scan_types(m, {"", "fin", "udp"});
  EXPECT_EQ(m.scan_type, "fin");
  EXPECT_EQ(scan_types_of(m), (std::vector<std::string>{"fin", "udp"}));
}

// A file that is not a database (the history must refuse it, not overwrite it).
std::string junk_database(TempDir& dir) {
  std::string junk = dir.file("junk.db");
  std::ofstream f(junk);
  f << "this is not a database, and it is long enough to have a header...........\n";
  return junk;
}

TEST(DbSink, CorruptDatabaseIsOneWarningAndTheScanGoesOn) {
  TempDir dir;
  std::string junk = junk_database(dir);
  std::ostringstream err;
  DbSinkOptions o;
  o.location = junk;
  auto sink = make_db_sink(o, err);
  ResultTable table(1);
  EXPECT_NO_THROW({
    sink->begin(info());
    sink->port(verdict("198.18.0.1", 22, PortState::Open, Reason::SynAck));
    sink->flush();
    sink->end(table, ScanSummary{});
  });
  std::string e = err.str();
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
  EXPECT_NE(e.find("not a Glasshouse database or is damaged"), std::string::npos) << e;
  EXPECT_NE(e.find(junk), std::string::npos);
  EXPECT_TRUE(sink->failed());
}

// The store opened on its own thread (a scan opens it while it writes its audit record): the
// records that came before the sink settled are kept and written, once.
TEST(DbSink, StoreOpenedOnItsOwnThreadKeepsEveryRecord) {
  TempDir dir;
  std::ostringstream err;
  DbSinkOptions o;
  o.location = dir.file("h.db");
  auto sink = make_db_sink(open_store_async(o.location), o, err);
  ResultTable table(2);
  sink->begin(info());
  auto first = verdict("198.18.0.1", 22, PortState::Open, Reason::SynAck);
  table.add(first);
  sink->port(first);  // perhaps before the store is open
  sink->settle();
  EXPECT_FALSE(sink->failed());
  EXPECT_NE(sink->run_id(), 0);
  auto second = verdict("198.18.0.1", 80, PortState::Open, Reason::SynAck);
  table.add(second);
  sink->port(second);
  ScanSummary sum;
  sum.end = WallClock::now();
  sum.exit_reason = "done";
  sink->end(table, sum);
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(sink->ports_written(), 2u);
  Store s = Store::open(o.location, false);
  RunData d = s.load(s.resolve("last"));
  ASSERT_EQ(d.ports.size(), 2u);
  EXPECT_EQ(d.ports[0].port + d.ports[1].port, 22 + 80);
  EXPECT_EQ(s.runs().size(), 1u);
}

TEST(DbSink, StoreThatFailsOnItsOwnThreadIsOneWarning) {
  TempDir dir;
  std::string junk = junk_database(dir);
  std::ostringstream err;
  DbSinkOptions o;
  o.location = junk;
  auto sink = make_db_sink(open_store_async(junk), o, err);
  ResultTable table(1);
  EXPECT_NO_THROW({
    sink->begin(info());
    sink->port(verdict("198.18.0.1", 22, PortState::Open, Reason::SynAck));
    sink->settle();
    sink->settle();
    sink->flush();
    sink->end(table, ScanSummary{});
  });
  std::string e = err.str();
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
  EXPECT_NE(e.find("not a Glasshouse database or is damaged"), std::string::npos) << e;
  EXPECT_TRUE(sink->failed());
  EXPECT_EQ(sink->ports_written(), 0u);
}

TEST(DbSink, LockedDuringTheScanKeepsRecordsForLater) {
  TempDir dir;
  std::string path = dir.file("h.db");
  std::ostringstream err;
  DbSinkOptions o;
  o.location = path;
  auto sink = make_db_sink(o, err);
  sink->begin(info());
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  sink->port(verdict("198.18.0.1", 22, PortState::Open, Reason::SynAck));
  auto t0 = std::chrono::steady_clock::now();
  sink->flush();  // waits a quarter of a second at most, keeps the record
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_FALSE(sink->failed());
  EXPECT_EQ(sink->ports_written(), 0u);
  sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  sink->port(verdict("198.18.0.1", 80, PortState::Open, Reason::SynAck));
  ResultTable table(2);
  ScanSummary sum;
  sum.exit_reason = "done";
  sink->end(table, sum);
  EXPECT_EQ(sink->ports_written(), 2u);
  Store s = Store::open(path, false);
  EXPECT_EQ(s.load(s.resolve("last")).ports.size(), 2u);
  EXPECT_NE(err.str().find("busy"), std::string::npos);
}

}  // namespace
}  // namespace gh
