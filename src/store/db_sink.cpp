#include "store/db_sink.h"

#include <chrono>

#include <fmt/format.h>

#include "audit/sha256.h"
#include "output/json.h"
#include "output/result_table.h"

namespace gh {
namespace {

constexpr int kFlushWaitMs = 250;         // periodic flushes: the engine thread waits at most this
constexpr int kFinalWaitMs = 10000;       // the last flush, in end()
constexpr size_t kMaxPending = 1u << 20;  // records kept while the database stays locked

}  // namespace

DbSink::DbSink(PendingStore pending, DbSinkOptions opts, std::ostream& err)
    : pending_(std::move(pending)), opts_(std::move(opts)), err_(err) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
}

void DbSink::settle() {
  if (pending_.valid()) {
    try {
      store_.emplace(pending_.get());
    } catch (const std::exception& e) {
      err_ << fmt::format(
          "glasshouse: warning: history database: {}; this run is not recorded in it (the other "
          "outputs are written; --no-db turns the database off)\n",
          e.what());
      err_.flush();
      pending_ports_.clear();
      pending_hosts_.clear();
      return;
    }
  }
  if (begun_ && store_ && run_ == 0) start_run();
}

void DbSink::give_up(const std::exception& e, std::string_view doing) {
  err_ << fmt::format(
      "glasshouse: warning: history database: {}; {} (the other outputs are complete; --no-db "
      "turns the database off)\n",
      e.what(), doing);
  err_.flush();
  store_.reset();
  pending_ports_.clear();
  pending_hosts_.clear();
}

void DbSink::begin(const ScanInfo& info) {
  meta_.start = utc_timestamp(info.start);
  meta_.command = info.command_line;
  meta_.engagement = info.engagement_id;
  set_scan_types(
      meta_, info.scan_types.empty() ? std::vector<std::string>{info.scan_type} : info.scan_types);
  meta_.targets = info.targets;
  meta_.ports = info.ports;
  meta_.targets_key = opts_.targets_key;
  meta_.audit_run = opts_.audit_run;
  meta_.shard = opts_.shard;
  meta_.shards = opts_.shards;
  begun_ = true;
  // An open that is done (or deferred: the synchronous make_db_sink) is taken now; one still
  // under way when the scan settles the sink.
  if (pending_.valid() && pending_.wait_for(std::chrono::seconds(0)) == std::future_status::timeout)
    return;
  settle();
}

void DbSink::start_run() {
  try {
    store_->connection().set_busy_timeout(kFinalWaitMs);
    if (opts_.resume && store_->has_run(opts_.resume->first)) {
      run_ = opts_.resume->first;
      store_->truncate_ports(run_, opts_.resume->second);
      written_ = opts_.resume->second;
    } else {
      run_ = store_->begin_run(meta_);
    }
  } catch (const std::exception& e) {
    run_ = 0;
    give_up(e, "this run is not recorded in it");
  }
}

bool DbSink::rewind(uint64_t mark) {
  settle();
  if (mark != 0) opts_.resume = std::pair(static_cast<int64_t>(mark), uint64_t{0});
  return true;
}

void DbSink::port(const PortResult& r) {
  if (!pending_.valid() && !store_) return;  // no database: nothing is kept
  std::string addr = r.addr.to_string();
  if (ResultTable::is_host_reply(r.reason) && !hosts_seen_.contains(addr)) {
    hosts_seen_[addr] = true;
    pending_hosts_[addr] =
        HostRecord{addr, "up", std::string(to_string(r.reason)), "", "", std::nullopt, ""};
  }
  if (!opts_.show.accepts(r.state)) return;
  PortRecord p;
  p.addr = std::move(addr);
  p.proto = std::string(to_string(r.proto));
  p.port = r.port;
  p.state = std::string(to_string(r.state));
  p.reason = std::string(to_string(r.reason));
  p.ttl = r.reply_ttl != 0 ? r.reply_ttl : -1;
  p.seen = utc_timestamp(r.seen);
  p.service.name = std::string(opts_.service_name(r.proto, r.port));
  if (p.service.name == "unknown") p.service.name.clear();
  if (!p.service.name.empty()) {
    p.service.method = "table";
    p.service.confidence = 3;
  }
  pending_ports_.push_back(std::move(p));
  if (pending_ports_.size() > kMaxPending)
    give_up(std::runtime_error(fmt::format("{} results waiting for a lock that is not released",
                                           pending_ports_.size())),
            "this run's records stop here");
}

void DbSink::write_pending(int busy_ms) {
  if (!store_ || run_ == 0) return;
  if (pending_ports_.empty() && pending_hosts_.empty()) return;
  std::vector<HostRecord> hosts;
  for (auto& [a, h] : pending_hosts_) hosts.push_back(h);
  try {
    store_->connection().set_busy_timeout(busy_ms);
    store_->write(run_, hosts, pending_ports_);
    written_ += pending_ports_.size();
    pending_ports_.clear();
    pending_hosts_.clear();
  } catch (const StoreError& e) {
    // Locked during the scan: keep the records for the next flush.
    if (e.kind() == StoreError::Kind::Locked && busy_ms < kFinalWaitMs) {
      if (!warned_locked_)
        err_ << "glasshouse: note: history database is busy; its records are kept for later\n";
      warned_locked_ = true;
      return;
    }
    give_up(e, fmt::format("{} results of this run are not in it", pending_ports_.size()));
  } catch (const std::exception& e) {
    give_up(e, fmt::format("{} results of this run are not in it", pending_ports_.size()));
  }
}

void DbSink::flush() {
  settle();
  write_pending(kFlushWaitMs);
}

void DbSink::end(const ResultTable& table, const ScanSummary& summary) {
  settle();
  // Every host that answered, whether or not its ports were stored.
  for (const auto& [addr, host] : table.hosts()) {
    if (!host.answered) continue;
    std::string a = addr.to_string();
    if (!hosts_seen_.contains(a)) pending_hosts_[a] = HostRecord{a, "up", "", "", "", {}, ""};
  }
  write_pending(kFinalWaitMs);
  if (!store_ || run_ == 0) return;
  meta_.end = utc_timestamp(summary.end);
  meta_.exit_reason = summary.exit_reason.empty() ? "done" : summary.exit_reason;
  meta_.hosts_up = summary.hosts_up;
  meta_.open_ports = summary.open_ports;
  meta_.probes_sent = summary.probes_sent;
  try {
    store_->end_run(run_, meta_);
  } catch (const std::exception& e) {
    give_up(e, "this run's end is not recorded in it");
  }
}

std::unique_ptr<DbSink> make_db_sink(DbSinkOptions opts, std::ostream& err) {
  std::string location = opts.location;
  return make_db_sink(std::async(std::launch::deferred,
                                 [location] { return Store::open(location, true, kFinalWaitMs); }),
                      std::move(opts), err);
}

PendingStore open_store_async(std::string location) {
  return std::async(std::launch::async, [location = std::move(location)] {
    return Store::open(location, true, kFinalWaitMs);
  });
}

std::unique_ptr<DbSink> make_db_sink(PendingStore pending, DbSinkOptions opts, std::ostream& err) {
  return std::make_unique<DbSink>(std::move(pending), std::move(opts), err);
}

std::string targets_key_of(const std::vector<std::string>& target_ranges,
                           const std::vector<uint16_t>& tcp, const std::vector<uint16_t>& udp) {
  std::string text;
  for (const auto& r : target_ranges) text += r + ",";
  text += "|T";
  for (uint16_t p : tcp) text += fmt::format(",{}", p);
  text += "|U";
  for (uint16_t p : udp) text += fmt::format(",{}", p);
  return sha256_hex(text).substr(0, 32);
}

}  // namespace gh
