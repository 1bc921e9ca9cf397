#include "output/jsonl_sink.h"
#include "output/service_format.h"

#include <chrono>

#include "core/error.h"
#include "output/json.h"

namespace gh {

JsonlSink::JsonlSink(std::ostream& out, JsonlOptions opts) : out_(out), opts_(std::move(opts)) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
}

JsonlSink::JsonlSink(std::unique_ptr<std::ostream> out, JsonlOptions opts)
    : owned_(std::move(out)), out_(*owned_), opts_(std::move(opts)) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
}

void JsonlSink::check() {
  if (!out_) throw RuntimeError("writing " + opts_.name + " failed");
}

void JsonlSink::write_line(std::string line) {
  line += '\n';
  out_.write(line.data(), static_cast<std::streamsize>(line.size()));
  check();
}

void JsonlSink::begin(const ScanInfo& info) {
  info_ = info;
  JsonObject o;
  o.str("type", opts_.resume ? "resume" : "scan")
      .str("version", GLASSHOUSE_VERSION)
      .str("start", utc_timestamp(info.start))
      .str("command", info.command_line)
      .str("scan_type", info.scan_type)
      .num("targets", info.targets)
      .num("ports", info.ports);
  if (const auto& r = opts_.resume) {
    o.str("run", r->run)
        .str("resumes", r->resumes)
        .str("checkpoint", r->checkpoint)
        .str("saved", utc_timestamp(r->saved))
        .num("kept_bytes", r->kept_bytes)
        .num("ports_written_before", r->ports_written)
        .num("open_ports_before", r->open_ports)
        .num("probes_sent_before", r->probes_sent)
        .num("replies_before", r->replies);
  }
  if (!info.engagement_id.empty()) o.str("engagement", info.engagement_id);
  write_line(o.done());
}

void JsonlSink::port(const PortResult& r) {
  if (!opts_.show.accepts(r.state)) return;
  JsonObject o;
  o.str("type", "port")
      .str("ip", r.addr.to_string())
      .num("port", r.port)
      .str("proto", to_string(r.proto))
      .str("state", to_string(r.state))
      .str("reason", to_string(r.reason))
      .str("service", opts_.service_name(r.proto, r.port));
  if (r.reply_ttl != 0) {
    o.num("ttl", r.reply_ttl);
  } else {
    o.null("ttl");
  }
  o.str("time", utc_timestamp(r.seen));
  if (!info_.engagement_id.empty()) o.str("engagement", info_.engagement_id);
  write_line(o.done());
  ++ports_written_;
}

void JsonlSink::service(const ServiceInfo& s) {
  write_line(service_json(s, info_.engagement_id));
}

void JsonlSink::end(const ResultTable&, const ScanSummary& summary) {
  std::chrono::duration<double> elapsed = summary.end - info_.start;
  JsonObject o;
  o.str("type", "summary")
      .str("end", utc_timestamp(summary.end))
      .num("elapsed", elapsed.count() < 0 ? 0.0 : elapsed.count())
      .num("hosts_up", summary.hosts_up)
      .num("probes_sent", summary.probes_sent)
      .num("replies", summary.replies)
      .num("open_ports", summary.open_ports)
      .num("ports_written", ports_written_)
      .boolean("interrupted", summary.interrupted)
      .str("exit_reason", summary.exit_reason)
      .num("retries", summary.retries)
      .num("passes", summary.passes);
  if (summary.loss)
    o.num("loss", *summary.loss, 5);
  else
    o.null("loss");
  if (summary.completeness)
    o.num("completeness", *summary.completeness, 6);
  else
    o.null("completeness");
  if (!info_.engagement_id.empty()) o.str("engagement", info_.engagement_id);
  write_line(o.done());
  flush();
}

void JsonlSink::flush() {
  out_.flush();
  check();
}

}  // namespace gh
