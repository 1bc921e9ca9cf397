// nmap's grepable output (-oG): one line per host and kind, tab-separated fields, as nmap writes it
// (nmap's output.cc):
//
//   # Glasshouse 0.1.0 scan initiated Thu Dec  3 18:15:51 2026 as: glasshouse scan ...
//   Host: 127.0.0.1 (localhost)	Status: Up
//   Host: 127.0.0.1 (localhost)	Ports: 22/closed/tcp//ssh///,
//   80/open/tcp//http//nginx 1.22.1/ Ignored State: filtered (997) # Glasshouse done at Thu Dec  3
//   18:15:51 2026 -- 1 IP address (1 host up) scanned in 0.45 seconds
//
// A port is port/state/protocol/owner/service/rpc info/version/ (version: "product version (extra
// info)"; "ssl|http" for a service behind TLS). Characters nmap cannot have in
// a field ("/", ",", tab, newline, control characters) are replaced. Hosts and ports come from
// the table at end(), which also runs on SIGINT/SIGTERM; which ports are listed follows -oX
// (output/port_listing.h). Down hosts are written with -v ("Status: Down").
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "output/sink.h"

namespace gh {

struct GrepableOptions {
  std::string name = "-oG";
  int verbosity = 0;
  bool open_only = false;
  ServiceNameFn service_name;
  std::function<std::string(const IpAddress&)> host_name;
};

class GrepableSink : public Sink {
 public:
  GrepableSink(std::unique_ptr<std::ostream> out, GrepableOptions opts);

  void begin(const ScanInfo& info) override;
  void port(const PortResult& r) override;
  void end(const ResultTable& table, const ScanSummary& summary) override;
  void flush() override;

 private:
  void write(std::string_view text);

  std::unique_ptr<std::ostream> out_;
  GrepableOptions opts_;
  ScanInfo info_;
};

}  // namespace gh
