// Output sinks. The scanner calls, from one thread, in this order:
//   begin(info)  once;
//   port(result) for each verdict as it is reached (open and closed ports as replies arrive;
//                filtered ones at the end, after the last retry);
//   service(info) with -sV, for each open TCP port, after the last port() (service/version_scan.h);
//   end(table, summary) once, also after SIGINT/SIGTERM, so that nothing found is lost.
// A sink that streams (JSON Lines) writes in port(); a sink that needs the whole picture (the nmap
// text table) writes in end(). Every sink flushes in end(). Sinks throw RuntimeError on I/O errors.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "output/result.h"
#include "output/result_table.h"
#include "output/show_filter.h"

namespace gh {

// Service name for a port ("ssh", "unknown"); the view must stay valid for the whole scan.
using ServiceNameFn = std::function<std::string_view(Protocol, uint16_t)>;
// ServiceTable::instance().name. Sinks use it when given an empty ServiceNameFn.
ServiceNameFn default_service_names();

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void begin(const ScanInfo& info) = 0;
  virtual void port(const PortResult& r) = 0;
  // -sV's answer for an open port; sinks without service fields ignore it.
  virtual void service(const ServiceInfo&) {}
  virtual void end(const ResultTable& table, const ScanSummary& summary) = 0;
  // Push buffered bytes to the OS now (called periodically and from the signal path).
  virtual void flush() = 0;
};

}  // namespace gh
