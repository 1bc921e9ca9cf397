#include "output/jsonl_sink.h"
#include "output/service_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"
#include "output/json.h"

namespace gh {

JsonlSink::JsonlSink(std::ostream& out, JsonlOptions opts) : out_(out), opts_(std::move(opts)) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
}

JsonlSink::JsonlSink(std::unique_ptr<std::ostream> out, JsonlOptions opts)
    : owned_(std::move(out)), out_(*owned_), opts_(std::move(opts)) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
  // Opened now: a root scan may have become another user by the time a write fails.
  if (!opts_.path.empty()) repair_fd_ = ::open(opts_.path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
}

namespace {

// Cuts the regular file open as `fd` back to just after its last newline (a record a failed
// write left half-written goes; whole records stay). Best effort: the write error is what gets
// reported.
void cut_to_last_line(int fd) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  off_t end = st.st_size;
  char buf[4096];
  while (end > 0) {
    off_t start = end > static_cast<off_t>(sizeof buf) ? end - static_cast<off_t>(sizeof buf) : 0;
    ssize_t n = ::pread(fd, buf, static_cast<size_t>(end - start), start);
    if (n <= 0) break;
    const void* nl = ::memrchr(buf, '\n', static_cast<size_t>(n));
    if (nl != nullptr) {
      end = start + (static_cast<const char*>(nl) - buf) + 1;
      break;
    }
    end = start;
  }
  if (end < st.st_size && ::ftruncate(fd, end) == 0) ::fsync(fd);
}

}  // namespace

JsonlSink::~JsonlSink() {
  if (repair_fd_ < 0) return;
  // The run may end on another sink's error with records still buffered here: the last flush
  // can fail half-way too (the same full disk).
  owned_->flush();
  if (!*owned_) failed_ = true;
  owned_.reset();
  if (failed_) cut_to_last_line(repair_fd_);
  ::close(repair_fd_);
}

void JsonlSink::check() {
  if (out_) return;
  int err = errno;
  failed_ = true;
  cut_to_last_line(repair_fd_);
  throw RuntimeError("writing " + opts_.name + " failed" +
                     (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
}

void JsonlSink::write_line(std::string line) {
  line += '\n';
  errno = 0;  // check() names errno only if this write set it
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
      .raw("scan_types",
           json_string_array(info.scan_types.empty() ? std::vector<std::string>{info.scan_type}
                                                     : info.scan_types))
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
  // A port reported again with a new verdict (-sV: an open|filtered UDP port that answered):
  // this record supersedes an earlier one of the same (ip, proto, port), if one was written.
  if (r.previous) o.str("previous_state", to_string(*r.previous));
  if (!info_.engagement_id.empty()) o.str("engagement", info_.engagement_id);
  write_line(o.done());
  ++ports_written_;
}

void JsonlSink::host(const HostResult& h) {
  JsonObject o;
  o.str("type", "host")
      .str("ip", h.addr.to_string())
      .str("state", to_string(h.state))
      .str("reason", to_string(h.reason));
  if (h.mac) {
    const auto& m = *h.mac;
    o.str("mac", fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3],
                             m[4], m[5]));
    o.str("vendor", h.vendor.empty() ? "Unknown" : h.vendor);
  } else {
    o.null("mac");
    o.null("vendor");
  }
  if (h.latency) {
    o.num("latency", std::chrono::duration<double>(*h.latency).count(), 6);
  } else {
    o.null("latency");
  }
  if (h.reason_ttl != 0) {
    o.num("ttl", h.reason_ttl);
  } else {
    o.null("ttl");
  }
  o.str("time", utc_timestamp(h.seen));
  if (!info_.engagement_id.empty()) o.str("engagement", info_.engagement_id);
  if (h.os_hint) {
    // -O/-A: a labelled hint with its evidence (scan/os_hint.h), not an OS fingerprint.
    const SynAckFacts& f = h.os_hint->facts;
    JsonObject hint;
    hint.str("name", h.os_hint->name).str("evidence", h.os_hint->evidence);
    hint.num("ttl", f.ttl).num("window", f.window).num("port", f.port);
    if (f.mss != 0) {
      hint.num("mss", f.mss);
    } else {
      hint.null("mss");
    }
    if (f.wscale >= 0) {
      hint.num("wscale", static_cast<int>(f.wscale));
    } else {
      hint.null("wscale");
    }
    o.raw("os_hint", hint.done());
  }
  write_line(o.done());
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
  errno = 0;
  out_.flush();
  check();
}

}  // namespace gh
