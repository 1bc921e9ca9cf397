// The database sink: every scan's results go into the history store (store/store.h) unless
// --no-db. It follows the sink contract (output/sink.h): begin, port for each verdict, end.
//
// What it stores: a run (command line, engagement, scan type, counts, what was scanned, the
// audit run id, the shard), the hosts that answered, and the ports whose state the run's --show
// accepts (open by default, as -oJ), each with its service.
//
// It never stops a scan. The store is opened before privileges are dropped (make_db_sink, or
// open_store_async and settle(): a root scan keeps the descriptors after becoming `nobody`). When
// the database cannot be opened (corrupt, locked past the wait, a PostgreSQL server that is down)
// or a write fails, the sink prints one line on `err` ("glasshouse: warning: history database ...:
// <why>; ...") and goes quiet; the scan and its other outputs carry on. Records are buffered and
// written in one transaction per flush(); a flush that finds the database locked keeps them for the
// next one (the engine is not held up: periodic flushes wait at most 250 ms for the lock, the last
// one in end() up to 10 s). So nothing the other outputs hold is missing from the database unless a
// warning said so.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "output/sink.h"
#include "store/store.h"

namespace gh {

// A store being opened (open_store_async), or one to open on first use (std::launch::deferred).
using PendingStore = std::future<Store>;

struct DbSinkOptions {
  std::string location;        // a file path or a PostgreSQL URL
  ShowFilter show;             // which port states are stored
  ServiceNameFn service_name;  // empty: default_service_names()
  std::string targets_key;     // targets_key_of(...) of the scan
  std::string audit_run;       // the audit log's run id
  uint32_t shard = 0, shards = 1;
  // A resumed scan continues the run its checkpoint names, after dropping the ports written
  // after the checkpoint: (run id, ports kept). nullopt: a new run.
  std::optional<std::pair<int64_t, uint64_t>> resume;
};

class DbSink : public Sink {
 public:
  DbSink(PendingStore pending, DbSinkOptions opts, std::ostream& err);

  // Waits for the store being opened, takes it (or prints the one warning that it could not
  // be), and starts the run begin() asked for. Idempotent. Not concurrently with the other
  // calls (the scan's output lock, or its one thread before the engine's threads start).
  void settle();

  void begin(const ScanInfo& info) override;
  void port(const PortResult& r) override;
  void end(const ResultTable& table, const ScanSummary& summary) override;
  void flush() override;
  // Resuming: the mark is the run being written (0: none); rewind(run) continues that run with
  // its ports dropped and asks for the restored table's records, so the run ends up holding
  // every port of the scan once, whatever was written or still pending when it stopped. A run
  // that is gone (or 0) starts a new run that gets the same records.
  std::string_view resume_key() const override { return "db"; }
  uint64_t mark() override {
    settle();
    return static_cast<uint64_t>(run_);
  }
  bool rewind(uint64_t mark) override;

  // The run being written (0 before begin() or when the database failed).
  int64_t run_id() const { return run_; }
  // Port records handed to the store so far (what a checkpoint records to resume from).
  uint64_t ports_written() const { return written_; }
  bool failed() const { return !pending_.valid() && !store_.has_value(); }

 private:
  void write_pending(int busy_ms);
  void give_up(const std::exception& e, std::string_view doing);
  void start_run();  // begin()'s database part

  PendingStore pending_;  // valid until settle() took it
  bool begun_ = false;    // begin() was called
  std::optional<Store> store_;
  DbSinkOptions opts_;
  std::ostream& err_;
  int64_t run_ = 0;
  RunMeta meta_;
  std::vector<PortRecord> pending_ports_;
  std::map<std::string, HostRecord> pending_hosts_;
  std::map<std::string, bool> hosts_seen_;  // addresses already sent as up
  uint64_t written_ = 0;
  bool warned_locked_ = false;
};

// Opens the store and wraps it in a sink. Never throws: when the store cannot be opened, the
// sink it returns only says so (one line on `err`, at once) and stores nothing.
std::unique_ptr<DbSink> make_db_sink(DbSinkOptions opts, std::ostream& err);

// The store being opened on a thread of its own: opening costs milliseconds (loading
// libsqlite3, mapping its shared memory and reading its WAL; a PostgreSQL server is dialled),
// which a scan spends on its audit start record and its sockets meanwhile. The thread only opens
// (Store::open with create); nothing is written before the sink settles.
PendingStore open_store_async(std::string location);
// As make_db_sink above, with the store `pending` opens. Returns at once: the sink settles (takes
// the store, or prints its one warning) on its first use that needs it (begin() if the store is
// open by then, else settle(), flush(), end(), mark(), rewind()). A scan calls settle() before
// it drops privileges, so that the store's files are opened with its first identity.
std::unique_ptr<DbSink> make_db_sink(PendingStore pending, DbSinkOptions opts, std::ostream& err);

// What a scan covers, as a short stable key: the same targets and ports give the same key, so
// `report` finds the previous run of the same targets.
std::string targets_key_of(const std::vector<std::string>& target_ranges,
                           const std::vector<uint16_t>& tcp, const std::vector<uint16_t>& udp);

}  // namespace gh
