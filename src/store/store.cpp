#include "store/store.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.h"

namespace gh {
namespace {

// One step of the schema per version. `{serial}` is the auto-increment key of each dialect and
// `{real}` a double; every other piece of SQL is the same in SQLite and PostgreSQL.
const std::vector<std::vector<std::string>>& migrations() {
  static const std::vector<std::vector<std::string>> steps = {
      // Version 1: runs, hosts, ports.
      {
          "CREATE TABLE glasshouse_schema (version INTEGER NOT NULL)",
          "INSERT INTO glasshouse_schema (version) VALUES (0)",
          "CREATE TABLE runs (id {serial}, started TEXT NOT NULL, ended TEXT, command TEXT NOT "
          "NULL, engagement TEXT NOT NULL DEFAULT '', scan_type TEXT NOT NULL, targets BIGINT NOT "
          "NULL DEFAULT 0, ports BIGINT NOT NULL DEFAULT 0, exit_reason TEXT)",
          "CREATE TABLE hosts (run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, addr "
          "TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', PRIMARY KEY "
          "(run_id, addr))",
          "CREATE TABLE ports (run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, addr "
          "TEXT NOT NULL, proto TEXT NOT NULL, port INTEGER NOT NULL, state TEXT NOT NULL, reason "
          "TEXT NOT NULL DEFAULT '', ttl INTEGER, seen TEXT, PRIMARY KEY (run_id, addr, proto, "
          "port))",
      },
      // Version 2: what each run scanned (to find earlier runs of the same targets), its audit
      // run id, shard and counts; host details; services; the write order of ports (resume).
      {
          "ALTER TABLE runs ADD COLUMN audit_run TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE runs ADD COLUMN targets_key TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE runs ADD COLUMN scanner TEXT NOT NULL DEFAULT 'glasshouse'",
          "ALTER TABLE runs ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
          "ALTER TABLE runs ADD COLUMN shards INTEGER NOT NULL DEFAULT 1",
          "ALTER TABLE runs ADD COLUMN hosts_up BIGINT NOT NULL DEFAULT 0",
          "ALTER TABLE runs ADD COLUMN open_ports BIGINT NOT NULL DEFAULT 0",
          "ALTER TABLE runs ADD COLUMN probes_sent BIGINT NOT NULL DEFAULT 0",
          // Runs stored before version 2 knew only their command line.
          "UPDATE runs SET targets_key = 'command:' || command",
          "UPDATE runs SET open_ports = (SELECT COUNT(*) FROM ports p WHERE p.run_id = runs.id "
          "AND p.state = 'open'), hosts_up = (SELECT COUNT(*) FROM hosts h WHERE h.run_id = "
          "runs.id AND h.state = 'up')",
          "CREATE INDEX runs_by_targets ON runs (targets_key, id)",
          "ALTER TABLE hosts ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE hosts ADD COLUMN vendor TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE hosts ADD COLUMN latency {real}",
          "ALTER TABLE hosts ADD COLUMN hostname TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE ports ADD COLUMN seq BIGINT NOT NULL DEFAULT 0",
          "CREATE TABLE services (run_id BIGINT NOT NULL, addr TEXT NOT NULL, proto TEXT NOT "
          "NULL, port INTEGER NOT NULL, name TEXT NOT NULL DEFAULT '', product TEXT NOT NULL "
          "DEFAULT '', version TEXT NOT NULL DEFAULT '', extra_info TEXT NOT NULL DEFAULT '', cpe "
          "TEXT NOT NULL DEFAULT '', method TEXT NOT NULL DEFAULT '', confidence INTEGER NOT NULL "
          "DEFAULT 0, tls TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, addr, proto, port), "
          "FOREIGN KEY (run_id, addr, proto, port) REFERENCES ports (run_id, addr, proto, port) "
          "ON DELETE CASCADE)",
      },
  };
  return steps;
}

std::string dialect_sql(std::string sql, SqlDialect d) {
  auto replace = [&](std::string_view from, std::string_view to) {
    for (auto at = sql.find(from); at != std::string::npos; at = sql.find(from, at + to.size()))
      sql.replace(at, from.size(), to);
  };
  replace("{serial}",
          d == SqlDialect::Sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY");
  replace("{real}", "DOUBLE PRECISION");
  return sql;
}

std::string text(const std::optional<std::string>& v) {
  return v.value_or("");
}

int64_t integer(const std::optional<std::string>& v) {
  if (!v) return 0;
  int64_t n = 0;
  std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

// The schema version, 0 for a database without Glasshouse's tables. A SQLite file holding
// other tables is someone else's database: refused, not written into.
int read_version(SqlConnection& c) {
  bool ours = false;
  if (c.dialect() == SqlDialect::Sqlite) {
    auto rows = c.query("SELECT name FROM sqlite_master WHERE type = 'table'", {});
    for (const auto& r : rows)
      if (text(r[0]) == "glasshouse_schema") ours = true;
    if (!ours && !rows.empty())
      throw StoreError(
          StoreError::Kind::Corrupt,
          fmt::format("{} is not a Glasshouse database (it holds other tables)", c.describe()));
  } else {
    // A scan of pg_tables, not to_regclass(): the name lookup's cache keeps a miss from before
    // the schema lock was taken (an advisory lock does not refresh it), and a shard that waited
    // for another's migration would then try to create the tables again.
    auto rows = c.query(
        "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = "
        "'glasshouse_schema'",
        {});
    ours = !rows.empty();
  }
  if (!ours) return 0;
  auto rows = c.query("SELECT version FROM glasshouse_schema", {});
  if (rows.size() != 1)
    throw StoreError(StoreError::Kind::Corrupt,
                     fmt::format("{}: the schema version table is damaged", c.describe()));
  return static_cast<int>(integer(rows[0][0]));
}

const char* kRunColumns =
    "id, started, ended, command, engagement, scan_type, targets, ports, exit_reason, audit_run, "
    "targets_key, scanner, shard, shards, hosts_up, open_ports, probes_sent";

RunMeta run_from_row(const SqlRow& r) {
  RunMeta m;
  m.id = integer(r[0]);
  m.source = "db";
  m.start = text(r[1]);
  m.end = text(r[2]);
  m.command = text(r[3]);
  m.engagement = text(r[4]);
  set_scan_types(m, split_scan_types(text(r[5])));
  m.targets = integer(r[6]);
  m.ports = integer(r[7]);
  m.exit_reason = text(r[8]);
  m.audit_run = text(r[9]);
  m.targets_key = text(r[10]);
  m.scanner = text(r[11]);
  m.shard = static_cast<uint32_t>(integer(r[12]));
  m.shards = static_cast<uint32_t>(integer(r[13]));
  m.hosts_up = integer(r[14]);
  m.open_ports = integer(r[15]);
  m.probes_sent = integer(r[16]);
  return m;
}

// Runs `fn` inside a write transaction, rolled back when it throws.
template <typename Fn>
void in_transaction(SqlConnection& c, Fn&& fn) {
  c.begin_write();
  try {
    fn();
    c.commit();
  } catch (...) {
    c.rollback();
    throw;
  }
}

std::string join_cpe(const std::vector<std::string>& cpe) {
  std::string out;
  for (const auto& c : cpe) out += (out.empty() ? "" : " ") + c;
  return out;
}

}  // namespace

void migrate_schema(SqlConnection& conn, int version) {
  if (version < 1 || version > Store::kSchemaVersion)
    throw StoreError(StoreError::Kind::Failed, fmt::format("no schema version {}", version));
  conn.lock_schema();
  try {
    int have = read_version(conn);
    if (have > Store::kSchemaVersion)
      throw StoreError(StoreError::Kind::Schema,
                       fmt::format("{} was written by a newer Glasshouse (schema version {}; this "
                                   "one knows up to {}): use a newer glasshouse or another --db",
                                   conn.describe(), have, Store::kSchemaVersion));
    for (int v = have + 1; v <= version; ++v) {
      for (const auto& sql : migrations()[v - 1]) conn.exec(dialect_sql(sql, conn.dialect()));
      conn.query("UPDATE glasshouse_schema SET version = ?", {int64_t{v}});
    }
    conn.unlock_schema();
  } catch (...) {
    conn.rollback();
    throw;
  }
}

Store::Store(std::unique_ptr<SqlConnection> conn) : conn_(std::move(conn)) {
  migrate();
}

Store Store::open(const std::string& location, bool create, int busy_ms) {
  if (is_postgres_url(location)) return Store(open_postgres(location));
  return Store(open_sqlite(location, create, busy_ms));
}

void Store::migrate() {
  // The usual case, a current schema, needs no write lock.
  if (read_version(*conn_) == kSchemaVersion) return;
  migrate_schema(*conn_, kSchemaVersion);
}

int Store::schema_version() {
  return read_version(*conn_);
}

int64_t Store::begin_run(const RunMeta& m) {
  auto rows = conn_->query(
      "INSERT INTO runs (started, command, engagement, scan_type, targets, ports, audit_run, "
      "targets_key, scanner, shard, shards) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
      {m.start, m.command, m.engagement, join_scan_types(scan_types_of(m)),
       static_cast<int64_t>(m.targets), static_cast<int64_t>(m.ports), m.audit_run, m.targets_key,
       m.scanner.empty() ? std::string("glasshouse") : m.scanner, int64_t{m.shard},
       int64_t{m.shards}});
  if (rows.empty()) throw StoreError(StoreError::Kind::Failed, "no id for the new run");
  return integer(rows[0][0]);
}

// GCC 12 at -O2 warns that a std::variant holding a string "may be used uninitialized" when one
// holding a number is copied into the parameter list (a false positive of its variant analysis).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
void Store::write(int64_t run, const std::vector<HostRecord>& hosts,
                  const std::vector<PortRecord>& ports) {
  if (hosts.empty() && ports.empty()) return;
  in_transaction(*conn_, [&] {
    for (const HostRecord& h : hosts) {
      SqlParam latency = h.latency ? SqlParam(*h.latency) : SqlParam();
      conn_->query(
          "INSERT INTO hosts (run_id, addr, state, reason, mac, vendor, latency, hostname) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, addr) DO UPDATE SET state = "
          "excluded.state, reason = excluded.reason, mac = excluded.mac, vendor = "
          "excluded.vendor, latency = excluded.latency, hostname = excluded.hostname",
          {run, h.addr, h.state, h.reason, h.mac, h.vendor, latency, h.hostname});
    }
    int64_t seq = 0;
    if (!ports.empty())
      seq = integer(
          conn_->query("SELECT COALESCE(MAX(seq), 0) FROM ports WHERE run_id = ?", {run})[0][0]);
    for (const PortRecord& p : ports) {
      SqlParam ttl = p.ttl >= 0 ? SqlParam(int64_t{p.ttl}) : SqlParam();
      conn_->query(
          "INSERT INTO ports (run_id, addr, proto, port, state, reason, ttl, seen, seq) VALUES "
          "(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, addr, proto, port) DO UPDATE SET "
          "state = excluded.state, reason = excluded.reason, ttl = excluded.ttl, seen = "
          "excluded.seen",
          {run, p.addr, p.proto, int64_t{p.port}, p.state, p.reason, ttl, p.seen, ++seq});
      const ServiceRecord& s = p.service;
      if (s == ServiceRecord{}) continue;
      conn_->query(
          "INSERT INTO services (run_id, addr, proto, port, name, product, version, extra_info, "
          "cpe, method, confidence, tls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
          "(run_id, addr, proto, port) DO UPDATE SET name = excluded.name, product = "
          "excluded.product, version = excluded.version, extra_info = excluded.extra_info, cpe = "
          "excluded.cpe, method = excluded.method, confidence = excluded.confidence, tls = "
          "excluded.tls",
          {run, p.addr, p.proto, int64_t{p.port}, s.name, s.product, s.version, s.extra_info,
           join_cpe(s.cpe), s.method, int64_t{s.confidence}, s.tls});
    }
  });
}

#pragma GCC diagnostic pop

void Store::end_run(int64_t run, const RunMeta& m) {
  conn_->query(
      "UPDATE runs SET ended = ?, exit_reason = ?, hosts_up = ?, open_ports = ?, probes_sent = ? "
      "WHERE id = ?",
      {m.end, m.exit_reason, static_cast<int64_t>(m.hosts_up), static_cast<int64_t>(m.open_ports),
       static_cast<int64_t>(m.probes_sent), run});
}

void Store::truncate_ports(int64_t run, uint64_t keep) {
  in_transaction(*conn_, [&] {
    conn_->query(
        "DELETE FROM services WHERE run_id = ? AND EXISTS (SELECT 1 FROM ports p WHERE "
        "p.run_id = services.run_id AND p.addr = services.addr AND p.proto = services.proto AND "
        "p.port = services.port AND p.seq > ?)",
        {run, static_cast<int64_t>(keep)});
    conn_->query("DELETE FROM ports WHERE run_id = ? AND seq > ?",
                 {run, static_cast<int64_t>(keep)});
    conn_->query("UPDATE runs SET ended = NULL, exit_reason = NULL WHERE id = ?", {run});
  });
}

bool Store::has_run(int64_t run) {
  return !conn_->query("SELECT 1 FROM runs WHERE id = ?", {run}).empty();
}

std::vector<RunMeta> Store::runs(size_t limit) {
  std::string sql = fmt::format("SELECT {} FROM runs ORDER BY id DESC", kRunColumns);
  if (limit != 0) sql += fmt::format(" LIMIT {}", limit);
  std::vector<RunMeta> out;
  for (const auto& r : conn_->query(sql, {})) out.push_back(run_from_row(r));
  return out;
}

int64_t Store::resolve(std::string_view ref) {
  auto bad = [&] {
    return UsageError(fmt::format("unknown run \"{}\" in {} (glasshouse history lists the runs)",
                                  ref, describe()));
  };
  int64_t back = -1;
  if (ref == "last") {
    back = 0;
  } else if (ref.starts_with("last~")) {
    std::string_view n = ref.substr(5);
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), back);
    if (ec != std::errc() || p != n.data() + n.size() || back < 0) throw bad();
  }
  if (back >= 0) {
    auto rows = conn_->query("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", {back});
    if (rows.empty()) throw bad();
    return integer(rows[0][0]);
  }
  int64_t id = 0;
  auto [p, ec] = std::from_chars(ref.data(), ref.data() + ref.size(), id);
  if (ec != std::errc() || p != ref.data() + ref.size() || id <= 0) throw bad();
  if (conn_->query("SELECT id FROM runs WHERE id = ?", {id}).empty()) throw bad();
  return id;
}

RunData Store::load(int64_t run) {
  RunData d;
  auto meta = conn_->query(fmt::format("SELECT {} FROM runs WHERE id = ?", kRunColumns), {run});
  if (meta.empty()) throw UsageError(fmt::format("unknown run \"{}\" in {}", run, describe()));
  d.meta = run_from_row(meta[0]);
  for (const auto& r : conn_->query(
           "SELECT addr, state, reason, mac, vendor, latency, hostname FROM hosts WHERE run_id = ?",
           {run})) {
    HostRecord h{text(r[0]), text(r[1]),   text(r[2]), text(r[3]),
                 text(r[4]), std::nullopt, text(r[6])};
    if (r[5]) h.latency = std::stod(*r[5]);
    d.hosts.push_back(std::move(h));
  }
  for (const auto& r : conn_->query(
           "SELECT p.addr, p.proto, p.port, p.state, p.reason, p.ttl, p.seen, s.name, s.product, "
           "s.version, s.extra_info, s.cpe, s.method, s.confidence, s.tls FROM ports p LEFT JOIN "
           "services s ON s.run_id = p.run_id AND s.addr = p.addr AND s.proto = p.proto AND "
           "s.port = p.port WHERE p.run_id = ?",
           {run})) {
    PortRecord p;
    p.addr = text(r[0]);
    p.proto = text(r[1]);
    p.port = static_cast<uint16_t>(integer(r[2]));
    p.state = text(r[3]);
    p.reason = text(r[4]);
    p.ttl = r[5] ? static_cast<int>(integer(r[5])) : -1;
    p.seen = text(r[6]);
    p.service.name = text(r[7]);
    p.service.product = text(r[8]);
    p.service.version = text(r[9]);
    p.service.extra_info = text(r[10]);
    std::string cpe = text(r[11]);
    for (size_t at = 0; at < cpe.size();) {
      size_t sp = cpe.find(' ', at);
      if (sp == std::string::npos) sp = cpe.size();
      if (sp > at) p.service.cpe.push_back(cpe.substr(at, sp - at));
      at = sp + 1;
    }
    p.service.method = text(r[12]);
    p.service.confidence = static_cast<int>(integer(r[13]));
    p.service.tls = text(r[14]);
    d.ports.push_back(std::move(p));
  }
  sort_run(d);
  return d;
}

std::optional<int64_t> Store::previous(int64_t run) {
  auto rows = conn_->query(
      "SELECT id FROM runs WHERE targets_key = (SELECT targets_key FROM runs WHERE id = ?) AND "
      "id < ? AND targets_key <> '' ORDER BY id DESC LIMIT 1",
      {run, run});
  if (rows.empty()) return std::nullopt;
  return integer(rows[0][0]);
}

std::string default_db_path(bool root, const char* xdg_data_home, const char* home) {
  if (root) return "/var/lib/glasshouse/history.db";
  if (xdg_data_home != nullptr && xdg_data_home[0] == '/')
    return std::string(xdg_data_home) + "/glasshouse/history.db";
  if (home != nullptr && home[0] == '/')
    return std::string(home) + "/.local/share/glasshouse/history.db";
  return {};
}

}  // namespace gh

namespace gh {

std::string default_db_location() {
  if (const char* env = std::getenv("GLASSHOUSE_DB"); env != nullptr && env[0] != '\0') return env;
  return default_db_path(::geteuid() == 0, std::getenv("XDG_DATA_HOME"), std::getenv("HOME"));
}

}  // namespace gh
