// Output sinks: they receive the result model's records (output/result.h) as events and format
// them. The run layer (run/scanner.cpp) calls, from one thread at a time (under one lock), in this
// order:
//   begin(info)        once;
//   host(record)       for each host discovery settles (and again when more is known about it);
//   port(result)       for each port verdict as it is reached (open and closed ports as replies
//                      arrive; filtered ones at the end, after the last retry); with -sU -sV,
//                      once more after the -sV stage for an open|filtered UDP port that answered
//                      a -sV probe (result.previous set: the new verdict replaces the old one,
//                      and the table already holds it);
//   service(info)      with -sV, for each open TCP and UDP port, after the last port() but the
//                      promoted ones' (service/version_scan.h);
//   end(table, summary) once, also after SIGINT/SIGTERM, so that nothing found is lost. The
//                      table holds every record passed before (ports, silent ports, hosts,
//                      services): a sink that needs the whole picture writes from it.
// A sink that streams (JSON Lines) writes in the events; a sink that needs the whole picture (the
// nmap text table) writes in end(). Every sink flushes in end(). Sinks throw RuntimeError on I/O
// errors. host() and service() do nothing unless a sink overrides them.
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
  virtual void host(const HostResult& h) { (void)h; }
  virtual void port(const PortResult& r) = 0;
  // -sV's answer for an open port; sinks without service fields ignore it.
  virtual void service(const ServiceInfo&) {}
  virtual void end(const ResultTable& table, const ScanSummary& summary) = 0;
  // Push buffered bytes to the OS now (called periodically and from the signal path).
  virtual void flush() = 0;

  // Resuming a paused scan (run/checkpoint_session.h). At each checkpoint, after flush(), the
  // run layer saves mark() of every sink with a resume_key(), with the result table. A resumed
  // run calls rewind(mark) on the sink with the same key before begin(): the sink drops what it
  // wrote after the mark, and returns true when it wants the restored table's records passed
  // again (host() and port() right after begin()). Without a key (the default), nothing is
  // saved: the text, XML and grepable sinks write their files whole in end() from the table,
  // which the resumed run restores, so their files are simply rewritten (SinkKind); -oJ is cut
  // back to the checkpoint's jsonl_offset by the session itself (scan/checkpoint.h).
  virtual std::string_view resume_key() const { return {}; }
  virtual uint64_t mark() { return 0; }
  virtual bool rewind(uint64_t mark) {
    (void)mark;
    return false;
  }
};

}  // namespace gh
