// JSON Lines output (-oJ): one JSON object per line, every object tagged with "type".
//
//   {"type":"scan","version":"0.1.0","start":"2026-11-22T23:04:01.000Z","command":"glasshouse ...",
//    "scan_type":"syn","targets":256,"ports":1000}                                 (begin, once)
//   {"type":"port","ip":"192.0.2.7","port":22,"proto":"tcp","state":"open","reason":"syn-ack",
//    "service":"ssh","ttl":64,"time":"2026-11-22T23:04:02.123Z"}                    (port, each)
//   {"type":"summary","end":"...","elapsed":12.345,"hosts_up":3,"probes_sent":256000,
//    "replies":2970,"open_ports":7,"ports_written":7,"interrupted":false,
//    "exit_reason":"done","retries":1204,"passes":3,"loss":0.00811,
//    "completeness":0.999987}                                                       (end, once)
//
// Field rules:
//   - "type" comes first; the other keys always appear, in the order above.
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
// Port records are written only for states the ShowFilter accepts (open only by default). The
// engine reports filtered verdicts through port() too, so end() writes only the summary.
// Records go to the stream as they come; flush() and end() push them to the OS.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "output/sink.h"

namespace gh {

struct JsonlOptions {
  ShowFilter show;
  ServiceNameFn service_name;              // empty: default_service_names()
  std::string name = "JSON Lines output";  // for error messages, e.g. the -oJ path
};

class JsonlSink : public Sink {
 public:
  // Writes to `out`, which must outlive the sink.
  explicit JsonlSink(std::ostream& out, JsonlOptions opts = {});
  // Writes to a stream the sink owns (an opened std::ofstream for -oJ).
  explicit JsonlSink(std::unique_ptr<std::ostream> out, JsonlOptions opts = {});

  void begin(const ScanInfo& info) override;
  void port(const PortResult& r) override;
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
};

}  // namespace gh
