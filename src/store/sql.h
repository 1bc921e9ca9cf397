// The two databases a store can live in, behind one small interface: SQLite (a file, the
// default) and PostgreSQL (`postgresql://...` or `postgres://...`, for shards writing to one
// store). store/store.cpp holds every query and the schema; a connection only runs SQL.
//
// SQL is written once, with `?` placeholders (rewritten to $1, $2... for PostgreSQL). Values go
// in as SqlParam (null, integer, real or text) and come back as text (nullopt for NULL), which
// both databases give for every type.
//
// Errors: every failure throws StoreError, whose kind says what the user should hear:
//   Unavailable  the database cannot be opened or reached (no such directory, server down)
//   Locked       another process holds the lock past the busy timeout (SQLITE_BUSY)
//   Corrupt      not a database, or a damaged one (SQLITE_CORRUPT, SQLITE_NOTADB)
//   Schema       a newer Glasshouse wrote it (schema version above ours)
//   Failed       anything else (a constraint, a lost connection, a full disk)
// The message is one line and never holds a password.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gh {

class StoreError : public std::runtime_error {
 public:
  enum class Kind { Unavailable, Locked, Corrupt, Schema, Failed };
  StoreError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

using SqlParam = std::variant<std::monostate, int64_t, double, std::string>;
using SqlRow = std::vector<std::optional<std::string>>;

enum class SqlDialect { Sqlite, Postgres };

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual SqlDialect dialect() const = 0;
  // Runs one or more statements without parameters (schema changes, PRAGMAs).
  virtual void exec(std::string_view sql) = 0;
  // Runs one statement; returns its rows (none for INSERT/UPDATE without RETURNING).
  virtual std::vector<SqlRow> query(std::string_view sql, const std::vector<SqlParam>& params) = 0;
  // A write transaction: SQLite takes the write lock at once (BEGIN IMMEDIATE), so two writers
  // wait for each other instead of failing half-way; PostgreSQL's BEGIN.
  virtual void begin_write() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  // Serializes schema migrations between processes: SQLite's write lock, a PostgreSQL advisory
  // lock. Held from lock_schema() to unlock_schema() (which also commits).
  virtual void lock_schema() = 0;
  virtual void unlock_schema() = 0;
  // What to show of where the database is (a path; a URL without its password).
  virtual std::string describe() const = 0;
  // How long a SQLite writer waits for another's lock before Locked (PostgreSQL: no effect).
  virtual void set_busy_timeout(int /*ms*/) {}
};

// True when `location` names a PostgreSQL server rather than a file.
bool is_postgres_url(std::string_view location);

// Opens `location`: a PostgreSQL URL or a file path. `create`: a missing SQLite file is created
// (mode 0600, its directory 0700 when missing); otherwise a missing file is Unavailable.
// SQLite connections use WAL and wait up to `busy_ms` for another writer's lock.
std::unique_ptr<SqlConnection> open_sqlite(const std::string& path, bool create, int busy_ms);
std::unique_ptr<SqlConnection> open_postgres(const std::string& url);

// `url` with any password replaced by "***" (for messages).
std::string redact_url(std::string_view url);

}  // namespace gh
