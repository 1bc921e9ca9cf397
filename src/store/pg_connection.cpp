// SqlConnection over libpq (store/sql.h), for `--db postgresql://...`. libpq is loaded on the
// first PostgreSQL connection (core/dynlib.h), not at start: it pulls in Kerberos, LDAP and
// GnuTLS, which no other command needs.
#include <libpq-fe.h>

#include <fmt/format.h>

#include "core/dynlib.h"
#include "core/error.h"
#include "store/sql.h"

namespace gh {

bool is_postgres_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string redact_url(std::string_view url) {
  // scheme://user:password@host/... -> scheme://user:***@host/...; password=... in the query too.
  std::string out(url);
  auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    auto at = out.find('@', scheme + 3);
    auto slash = out.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      auto colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  auto pw = out.find("password=");
  if (pw != std::string::npos) {
    auto end = out.find('&', pw);
    out.replace(pw + 9, (end == std::string::npos ? out.size() : end) - pw - 9, "***");
  }
  return out;
}

namespace {

// The libpq functions this file calls, resolved once.
struct Pq {
  DynLib lib{"libpq.so.5", "libpq5", "--db postgresql://..."};
#define GH_PQ(name) decltype(&::name) name = lib.fn<decltype(::name)>(#name)
  GH_PQ(PQconnectdb);
  GH_PQ(PQstatus);
  GH_PQ(PQerrorMessage);
  GH_PQ(PQfinish);
  GH_PQ(PQexec);
  GH_PQ(PQexecParams);
  GH_PQ(PQresultStatus);
  GH_PQ(PQresultErrorMessage);
  GH_PQ(PQclear);
  GH_PQ(PQntuples);
  GH_PQ(PQnfields);
  GH_PQ(PQgetisnull);
  GH_PQ(PQgetvalue);
  GH_PQ(PQgetlength);
  GH_PQ(PQtransactionStatus);
#undef GH_PQ
};

// Loaded on first use; a missing libpq is one line (StoreError Unavailable), and the next
// connection tries again.
const Pq& pq() {
  static const Pq* api = [] {
    try {
      return new Pq();
    } catch (const RuntimeError& e) {
      throw StoreError(StoreError::Kind::Unavailable, e.what());
    }
  }();
  return *api;
}

// One line from libpq's messages, which span several ("...\nDETAIL: ...").
std::string one_line(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// `?` placeholders to $1, $2...; quoted strings are left alone.
std::string number_placeholders(std::string_view sql) {
  std::string out;
  int n = 0;
  bool quoted = false;
  for (char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted)
      out += fmt::format("${}", ++n);
    else
      out += c;
  }
  return out;
}

class PgConnection final : public SqlConnection {
 public:
  PgConnection(std::string where, PGconn* conn) : where_(std::move(where)), conn_(conn) {}
  ~PgConnection() override { pq().PQfinish(conn_); }

  SqlDialect dialect() const override { return SqlDialect::Postgres; }
  std::string describe() const override { return where_; }

  void exec(std::string_view sql) override {
    std::string s(sql);
    check(pq().PQexec(conn_, s.c_str()), "changing the schema");
  }

  std::vector<SqlRow> query(std::string_view sql, const std::vector<SqlParam>& params) override {
    std::string s = number_placeholders(sql);
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const SqlParam& p = params[i];
      if (std::holds_alternative<int64_t>(p))
        text[i] = std::to_string(std::get<int64_t>(p));
      else if (std::holds_alternative<double>(p))
        text[i] = fmt::format("{}", std::get<double>(p));
      else if (std::holds_alternative<std::string>(p))
        text[i] = std::get<std::string>(p);
      if (!std::holds_alternative<std::monostate>(p)) values[i] = text[i].c_str();
    }
    PGresult* res = pq().PQexecParams(conn_, s.c_str(), static_cast<int>(params.size()), nullptr,
                                      values.data(), nullptr, nullptr, 0);
    check_status(res, "running a query");
    std::vector<SqlRow> rows;
    int nrows = pq().PQntuples(res), ncols = pq().PQnfields(res);
    for (int r = 0; r < nrows; ++r) {
      SqlRow row(ncols);
      for (int c = 0; c < ncols; ++c)
        if (!pq().PQgetisnull(res, r, c))
          row[c] = std::string(pq().PQgetvalue(res, r, c), pq().PQgetlength(res, r, c));
      rows.push_back(std::move(row));
    }
    pq().PQclear(res);
    return rows;
  }

  void begin_write() override { exec("BEGIN"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override {
    if (pq().PQtransactionStatus(conn_) != PQTRANS_IDLE)
      pq().PQclear(pq().PQexec(conn_, "ROLLBACK"));
  }
  // Every shard of a job may start at once: one migrates, the others wait (a transaction-level
  // advisory lock, released at COMMIT). The key is arbitrary but fixed: "glasshouse".
  void lock_schema() override {
    exec("BEGIN");
    exec("SELECT pg_advisory_xact_lock(7165426765)");
  }
  void unlock_schema() override { commit(); }

 private:
  void check(PGresult* res, std::string_view doing) {
    check_status(res, doing);
    pq().PQclear(res);
  }
  void check_status(PGresult* res, std::string_view doing) {
    ExecStatusType st = pq().PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
    std::string msg = one_line(pq().PQresultErrorMessage(res));
    if (msg.empty()) msg = one_line(pq().PQerrorMessage(conn_));
    pq().PQclear(res);
    StoreError::Kind k = pq().PQstatus(conn_) == CONNECTION_BAD ? StoreError::Kind::Unavailable
                                                                : StoreError::Kind::Failed;
    throw StoreError(k, fmt::format("PostgreSQL {}: {} while {}", where_, msg, doing));
  }

  std::string where_;
  PGconn* conn_;
};

}  // namespace

std::unique_ptr<SqlConnection> open_postgres(const std::string& url) {
  std::string where = redact_url(url);
  // connect_timeout: a server that is down or unreachable is one line after a few seconds, not
  // a hang. A URL that sets its own timeout keeps it (libpq takes the last value).
  std::string conninfo = url;
  if (conninfo.find("connect_timeout=") == std::string::npos)
    conninfo +=
        (conninfo.find('?') == std::string::npos ? "?" : "&") + std::string("connect_timeout=5");
  PGconn* conn = pq().PQconnectdb(conninfo.c_str());
  if (conn == nullptr)
    throw StoreError(StoreError::Kind::Unavailable, "cannot allocate a PostgreSQL connection");
  if (pq().PQstatus(conn) != CONNECTION_OK) {
    std::string msg = one_line(pq().PQerrorMessage(conn));
    pq().PQfinish(conn);
    throw StoreError(StoreError::Kind::Unavailable,
                     fmt::format("cannot reach PostgreSQL at {}: {}", where, msg));
  }
  auto c = std::make_unique<PgConnection>(where, conn);
  c->exec("SET client_min_messages TO warning");
  return c;
}

}  // namespace gh
