// JSON Lines output (-oJ): one JSON object per line, every object tagged with "type".
//
//   {"type":"scan","version":"0.1.0","start":"2026-11-22T23:04:01.000Z","command":"glasshouse ...",
//    "scan_type":"syn","scan_types":["syn"],"targets":256,"ports":1000}            (begin, once)
//   {"type":"port","ip":"192.0.2.7","port":22,"proto":"tcp","state":"open","reason":"syn-ack",
//    "service":"ssh","ttl":64,"time":"2026-11-22T23:04:02.123Z"}                    (port, each)
//   {"type":"service","ip":"192.0.2.7","port":443,"proto":"tcp","name":"http",
//    "product":"nginx","version":"1.22.1","extra_info":"","cpe":["cpe:/a:igor_sysoev:nginx:1.22.1"],
//    "method":"probed","confidence":10,"tunnel_tls":true,
//    "tls":{"version":"TLSv1.3","cipher":"...","subject":"CN=...","issuer":"CN=...","sans":[...],
//           "not_before":"...","not_after":"...","self_signed":true,"key":"rsa 2048",
//           "sha256":"...","starttls":"smtp" (only after STARTTLS)},
//    "http":{"status":200,"server":"nginx/1.22.1","title":"...","location":""},      (HTTP only)
//    "ssh":{"protocol":"2.0","software":"OpenSSH_9.2p1 ...","key_type":"ssh-ed25519",
//           "fingerprint":"SHA256:..."},                                            (SSH only)
//    "probe":"GetRequest","note":"..."}             (-sV: service, each open TCP port, before end)
//   "method" is "probed" when a probe's reply matched (confidence 10 hard, 8 soft), "table" when
//   the name is only the port table's guess (confidence 3); "tls" is null without TLS;
//   hostname/ostype/devicetype/probe/note appear only when known.
//   {"type":"summary","end":"...","elapsed":12.345,"hosts_up":3,"probes_sent":256000,
//    "replies":2970,"open_ports":7,"ports_written":7,"interrupted":false,
//    "exit_reason":"done","retries":1204,"passes":3,"loss":0.00811,
//    "completeness":0.999987}                                                       (end, once)
//
// Field rules:
//   - "type" comes first; the other keys always appear, in the order above.
//   - "scan_types" lists every scan type of the run in stage order (-sS -sU: ["syn","udp"]);
//     "scan_type" (kept for older readers) is the first of them: the TCP type beside -sU.
//   - "ttl" is null when the verdict had no reply (no-response, connect() results).
//   - "time" / "start" / "end" are UTC, RFC 3339, millisecond precision.
//   - "elapsed" is seconds from start to end, 3 decimals.
//   - "loss" is the share of round trips the scan measured lost (from the answers its retries got,
//     scan/completeness.h); "completeness" the estimated share of responsive (open or closed)
//     ports found given that loss and the retries sent. Both null when no retry pass ran (-sT, or
//     --max-retries 0): one try measures nothing.
//   - "engagement" is appended to every record when ScanInfo.engagement_id is set.
//   - Strings are escaped by json_escape (output/json.h): the file is valid JSON (and ASCII apart
//     from well-formed UTF-8 passed through) whatever bytes the inputs hold.
//   - "previous_state" appears only on a port record written a second time with a new verdict:
//     -sU -sV found an open|filtered UDP port answering one of its probes (service/udp_version.h),
//     so after the -sV stage its record is written again, "state":"open",
//     "reason":"udp-response", "previous_state":"open|filtered", before its service record.
//     The later record of an (ip, proto, port) is the one that holds (the history readers and
//     merge take it). With the default filter (open) the earlier record was not written, and
//     this one is the port's only record.
// Port records are written only for states the ShowFilter accepts (open only by default). The
// engine reports filtered verdicts through port() too, so end() writes only the summary.
// Records go to the stream as they come; flush() and end() push them to the OS.
//
// A resumed scan (`glasshouse scan --resume FILE`, scan/checkpoint.h) appends to the file of the
// run it continues, after cutting it back to its size at the checkpoint: the port records written
// after the checkpoint, and the interrupted run's summary, are gone (the resumed run redoes those
// probes). Instead of a second "scan" header, the resumed run begins with
//
//   {"type":"resume","version":"0.1.0","start":"...","command":"glasshouse scan --resume F",
//    "scan_type":"syn","scan_types":["syn"],"targets":256,"ports":1000,"run":"<this run>",
//    "resumes":"<first run>",
//    "checkpoint":"F","saved":"...","kept_bytes":123456,"ports_written_before":812,
//    "open_ports_before":7,"probes_sent_before":120000,"replies_before":1500}
//
// "run" / "resumes" are audit-log run ids (this run, and the run that started the scan);
// "saved" is when the checkpoint was written; "kept_bytes" is the size the file was cut back to;
// the *_before counts are the whole scan's up to the checkpoint (ports_written_before = port
// records above this line). Each "resume" record left in the file starts the records of one run
// that continued the scan (the records of a resumed run stopped before its own first checkpoint
// are cut by the next resume, its "resume" record with them). The file has a single summary, the
// last line, written by the run that completed the scan (or by the last one stopped). Its
// counts ("elapsed", "probes_sent", "replies", "hosts_up", "open_ports", "ports_written",
// "retries") cover that run only, from the last "resume" record; add the *_before counts for the
// whole scan. "passes", "loss" and "completeness" describe the whole scan (the engine continues
// from the saved pass counts). Taken together, the port records of such a file are those of an
// uninterrupted scan, each port once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "output/sink.h"

namespace gh {

// What begin() writes in a resumed run's "resume" record (above).
struct JsonlResume {
  std::string run;              // this run's id
  std::string resumes;          // id of the run that started the scan
  std::string checkpoint;       // the resume file
  WallClock::time_point saved;  // when the checkpoint was written
  uint64_t kept_bytes = 0;      // size the file was cut back to
  uint64_t ports_written = 0;   // port records above the resume record
  uint64_t open_ports = 0;      // open verdicts before the checkpoint (all runs)
  uint64_t probes_sent = 0;     // probes sent before the checkpoint (all runs)
  uint64_t replies = 0;         // verdicts from replies before the checkpoint (all runs)
};

struct JsonlOptions {
  ShowFilter show;
  ServiceNameFn service_name;                        // empty: default_service_names()
  std::string name = "JSON Lines output";            // for error messages, e.g. the -oJ path
  std::optional<JsonlResume> resume = std::nullopt;  // set: a "resume" record, not "scan"
  // The regular file the stream writes, if any (used by the constructor that owns the stream):
  // after a failed write (a full disk) the sink cuts it back to its last whole line, so what was
  // written stays a valid JSON Lines document.
  std::string path = {};
};

class JsonlSink : public Sink {
 public:
  // Writes to `out`, which must outlive the sink.
  explicit JsonlSink(std::ostream& out, JsonlOptions opts = {});
  // Writes to a stream the sink owns (an opened std::ofstream for -oJ).
  explicit JsonlSink(std::unique_ptr<std::ostream> out, JsonlOptions opts = {});
  // Closes an owned stream; after a failed write, cuts opts.path back to its last whole line.
  ~JsonlSink() override;
  JsonlSink(const JsonlSink&) = delete;
  JsonlSink& operator=(const JsonlSink&) = delete;

  void begin(const ScanInfo& info) override;
  void port(const PortResult& r) override;
  // {"type":"host","ip":...,"state":"up"|"down","reason":...,"mac":...,"vendor":...,
  //  "latency":seconds|null,"ttl":...,"time":...}
  void host(const HostResult& h) override;
  void service(const ServiceInfo& s) override;
  void end(const ResultTable& table, const ScanSummary& summary) override;
  void flush() override;

  uint64_t ports_written() const { return ports_written_; }

 private:
  void write_line(std::string line);
  void check();

  std::unique_ptr<std::ostream> owned_;
  std::ostream& out_;
  JsonlOptions opts_;
  ScanInfo info_;
  uint64_t ports_written_ = 0;
  bool failed_ = false;
  int repair_fd_ = -1;  // opts.path, opened read-write by the owning constructor
};

}  // namespace gh
