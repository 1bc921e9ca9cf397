// The history store: every scan's runs, hosts, ports and services, in SQLite (a file; the
// default) or PostgreSQL (`--db postgresql://...`, shards of one job writing to one store).
//
// Who calls what:
//   - the database sink (store/db_sink.h), during a scan: open() before privileges are dropped,
//     begin_run() once, write() at each flush (one transaction per batch), end_run() at the end;
//   - `glasshouse history / diff / report / merge` (cli/history_command.cpp): runs(), resolve(),
//     load(), previous().
// Several processes may write at once: SQLite runs in WAL mode and each batch takes the write
// lock for one short transaction (waiting up to busy_ms for another writer); PostgreSQL's
// transactions serialize them. Rows are upserted, so a batch written twice is harmless.
//
// Schema: versioned (table glasshouse_schema), migrated forward by open() under the schema lock
// (store/sql.h), one step per version; a database written by a newer Glasshouse is refused
// (StoreError Schema) rather than changed. Version 1: runs, hosts, ports. Version 2: runs gain
// the audit run id, what was scanned (targets_key), the shard, the counts; hosts gain MAC,
// vendor, latency, name; services (name, product, version, extra info, CPE, method, confidence,
// TLS) per port. runs.scan_type names every scan type of the run, joined with "+" in stage
// order ("syn+udp" for -sS -sU; join_scan_types in store/run_data.h); rows written before that
// hold the first type only ("syn") and load as that one type.
//
// Errors are StoreError (store/sql.h); a run id that does not exist is a UsageError.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/run_data.h"
#include "store/sql.h"

namespace gh {

class Store {
 public:
  static constexpr int kSchemaVersion = 2;

  // Opens the database at `location` (a file path or a PostgreSQL URL) and migrates it to
  // kSchemaVersion. `create`: a missing SQLite file is created; otherwise it is Unavailable.
  static Store open(const std::string& location, bool create, int busy_ms = 5000);
  // Takes an open connection and migrates it (tests build older schemas through it first).
  explicit Store(std::unique_ptr<SqlConnection> conn);

  // A new run (meta.id is ignored); returns its id. The run has no end until end_run().
  int64_t begin_run(const RunMeta& meta);
  // Adds or replaces hosts and ports (with their services) of `run`, in one transaction.
  void write(int64_t run, const std::vector<HostRecord>& hosts,
             const std::vector<PortRecord>& ports);
  // Records the end: meta.end, exit_reason and the counts.
  void end_run(int64_t run, const RunMeta& meta);
  // Removes a run's ports written after the `keep` first ones in write order (a resumed scan
  // redoes them), so the run continues where its checkpoint was.
  void truncate_ports(int64_t run, uint64_t keep);
  // Whether the store holds that run.
  bool has_run(int64_t run);

  // Runs, newest first; `limit` 0 for all.
  std::vector<RunMeta> runs(size_t limit = 0);
  // "last", "last~N" (N runs before the last), or a run id; UsageError when there is no such run.
  int64_t resolve(std::string_view ref);
  // The run with its hosts and ports; UsageError when there is no such run.
  RunData load(int64_t run);
  // The latest run before `run` that scanned the same targets and ports, if any.
  std::optional<int64_t> previous(int64_t run);

  int schema_version();
  SqlConnection& connection() { return *conn_; }
  std::string describe() const { return conn_->describe(); }

 private:
  void migrate();
  std::unique_ptr<SqlConnection> conn_;
};

// Brings a fresh or older database up to `version` (1..Store::kSchemaVersion); used by Store and
// by tests that need an old schema.
void migrate_schema(SqlConnection& conn, int version);

// Where the history goes when --db is not given: /var/lib/glasshouse/history.db for root, else
// $XDG_DATA_HOME/glasshouse/history.db or ~/.local/share/glasshouse/history.db ("" when neither
// is an absolute path). The environment values are passed in (tests).
std::string default_db_path(bool root, const char* xdg_data_home, const char* home);
// The database used when --db is not given: $GLASSHOUSE_DB when set and not empty (the lab tests
// point it into their work directory), else default_db_path for this process.
std::string default_db_location();

}  // namespace gh
