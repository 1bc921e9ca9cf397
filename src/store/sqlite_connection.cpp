// SqlConnection over libsqlite3 (store/sql.h).
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "core/dynlib.h"
#include "core/error.h"
#include "core/paths.h"
#include "store/sql.h"

namespace gh {
namespace {

// libsqlite3 is loaded when the first database opens (core/dynlib.h), on the thread that opens
// the history while a scan writes its audit record (store/db_sink.h), not by every start.
struct Sqlite {
  DynLib lib{"libsqlite3.so.0", "libsqlite3-0", "the history database"};
  GH_DYNLIB_FN(sqlite3_bind_double);
  GH_DYNLIB_FN(sqlite3_bind_int64);
  GH_DYNLIB_FN(sqlite3_bind_null);
  GH_DYNLIB_FN(sqlite3_bind_text);
  GH_DYNLIB_FN(sqlite3_busy_timeout);
  GH_DYNLIB_FN(sqlite3_clear_bindings);
  GH_DYNLIB_FN(sqlite3_close_v2);
  GH_DYNLIB_FN(sqlite3_column_bytes);
  GH_DYNLIB_FN(sqlite3_column_count);
  GH_DYNLIB_FN(sqlite3_column_text);
  GH_DYNLIB_FN(sqlite3_column_type);
  GH_DYNLIB_FN(sqlite3_db_config);
  GH_DYNLIB_FN(sqlite3_errmsg);
  GH_DYNLIB_FN(sqlite3_errstr);
  GH_DYNLIB_FN(sqlite3_exec);
  GH_DYNLIB_FN(sqlite3_extended_result_codes);
  GH_DYNLIB_FN(sqlite3_file_control);
  GH_DYNLIB_FN(sqlite3_finalize);
  GH_DYNLIB_FN(sqlite3_get_autocommit);
  GH_DYNLIB_FN(sqlite3_open_v2);
  GH_DYNLIB_FN(sqlite3_prepare_v2);
  GH_DYNLIB_FN(sqlite3_reset);
  GH_DYNLIB_FN(sqlite3_step);
};

const Sqlite& sqlite() {
  static const Sqlite* api = new Sqlite();
  return *api;
}

StoreError::Kind kind_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreError::Kind::Locked;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StoreError::Kind::Corrupt;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return StoreError::Kind::Unavailable;
    default:
      return StoreError::Kind::Failed;
  }
}

class SqliteConnection final : public SqlConnection {
 public:
  SqliteConnection(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : cache_) sqlite().sqlite3_finalize(stmt);
    sqlite().sqlite3_close_v2(db_);
  }

  SqlDialect dialect() const override { return SqlDialect::Sqlite; }
  std::string describe() const override { return path_; }

  [[noreturn]] void fail(int rc, std::string_view doing) const {
    StoreError::Kind k = kind_of(rc);
    const char* msg = sqlite().sqlite3_errmsg(db_);
    if (k == StoreError::Kind::Corrupt)
      throw StoreError(
          k, fmt::format("{} is not a Glasshouse database or is damaged ({})", path_, msg));
    if (k == StoreError::Kind::Locked)
      throw StoreError(
          k, fmt::format("{} is locked by another process ({} while {})", path_, msg, doing));
    throw StoreError(k, fmt::format("{}: {} while {}", path_, msg, doing));
  }

  void exec(std::string_view sql) override {
    std::string s(sql);
    int rc = sqlite().sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(rc, "changing the schema");
  }

  std::vector<SqlRow> query(std::string_view sql, const std::vector<SqlParam>& params) override {
    sqlite3_stmt* stmt = prepare(sql);
    sqlite().sqlite3_reset(stmt);
    sqlite().sqlite3_clear_bindings(stmt);
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const SqlParam& p = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<int64_t>(p))
        rc = sqlite().sqlite3_bind_int64(stmt, idx, std::get<int64_t>(p));
      else if (std::holds_alternative<double>(p))
        rc = sqlite().sqlite3_bind_double(stmt, idx, std::get<double>(p));
      else if (std::holds_alternative<std::string>(p))
        rc = sqlite().sqlite3_bind_text(stmt, idx, std::get<std::string>(p).data(),
                                        static_cast<int>(std::get<std::string>(p).size()),
                                        SQLITE_TRANSIENT);
      else
        rc = sqlite().sqlite3_bind_null(stmt, idx);
      if (rc != SQLITE_OK) fail(rc, "binding a value");
    }
    std::vector<SqlRow> rows;
    for (;;) {
      int rc = sqlite().sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        sqlite().sqlite3_reset(stmt);
        fail(rc, "running a query");
      }
      int n = sqlite().sqlite3_column_count(stmt);
      SqlRow row(n);
      for (int c = 0; c < n; ++c) {
        if (sqlite().sqlite3_column_type(stmt, c) == SQLITE_NULL) continue;
        const unsigned char* t = sqlite().sqlite3_column_text(stmt, c);
        row[c] =
            std::string(reinterpret_cast<const char*>(t), sqlite().sqlite3_column_bytes(stmt, c));
      }
      rows.push_back(std::move(row));
    }
    sqlite().sqlite3_reset(stmt);
    return rows;
  }

  void begin_write() override { exec("BEGIN IMMEDIATE"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override {
    if (sqlite().sqlite3_get_autocommit(db_) == 0)
      sqlite().sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void lock_schema() override { begin_write(); }
  void set_busy_timeout(int ms) override { sqlite().sqlite3_busy_timeout(db_, ms); }
  void unlock_schema() override { commit(); }

 private:
  sqlite3_stmt* prepare(std::string_view sql) {
    std::string key(sql);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc =
        sqlite().sqlite3_prepare_v2(db_, key.c_str(), static_cast<int>(key.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) fail(rc, "preparing a query");
    cache_.emplace(key, stmt);
    return stmt;
  }

  std::string path_;
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

std::unique_ptr<SqlConnection> open_sqlite(const std::string& path, bool create, int busy_ms) {
  if (create) {
    make_parent_dirs(path, 0700, "database");
    // Created here with mode 0600 (SQLite would use 0644): the history says what was scanned.
    // Its -wal and -shm files take the database's mode.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
      throw StoreError(StoreError::Kind::Unavailable,
                       fmt::format("cannot open the database {}: {}", path, std::strerror(errno)));
    ::close(fd);
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite().sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite().sqlite3_errmsg(db) : sqlite().sqlite3_errstr(rc);
    sqlite().sqlite3_close_v2(db);
    throw StoreError(StoreError::Kind::Unavailable,
                     fmt::format("cannot open the database {}: {}", path, msg));
  }
  auto conn = std::make_unique<SqliteConnection>(path, db);
  sqlite().sqlite3_busy_timeout(db, busy_ms);
  sqlite().sqlite3_extended_result_codes(db, 1);
  // The WAL file is kept at close rather than deleted: a root scan has dropped to `nobody` by
  // then, and could not remove it from a root-owned directory.
  int persist = 1;
  sqlite().sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  // Nor is it copied into the database at close: that checkpoint synced both files (1-2 ms at
  // the end of every scan). The WAL is checkpointed when it grows past SQLite's 1,000 pages,
  // during a later commit; readers see it meanwhile. synchronous=NORMAL (below) already says
  // that the last commits may be lost on a power failure (the audit log is what is synced).
  sqlite().sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  // Reading the journal mode is the first read of the file: a file that is not a database fails
  // here (Corrupt), before anything is written to it.
  auto rows = conn->query("PRAGMA journal_mode=WAL", {});
  if (rows.empty() || !rows[0][0] || *rows[0][0] != "wal")
    throw StoreError(StoreError::Kind::Failed,
                     fmt::format("{}: cannot switch the database to WAL mode", path));
  conn->exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY");
  return conn;
}

}  // namespace gh
