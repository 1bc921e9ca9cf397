// nmap XML (-oX), valid against nmap's DTD (/usr/share/nmap/nmap.dtd, xmloutputversion 1.05), so
// that the tools that read nmap's XML read ours: ndiff, python-libnmap, Metasploit's db_import,
// DefectDojo, Zenmap (docs/XML.md says which fields each needs, and why the document names
// itself as it does).
//
//   begin()  the prolog, the "Glasshouse <version> scan initiated" comment, <nmaprun ...>,
//            <scaninfo> per protocol, <verbose>, <debugging>; flushed, so that a checkpoint's
//            mark (the file's size) is always just after it.
//   end()    one <host> per host (up hosts; down ones too with -v), from the table: <status>,
//            <address> (and the MAC with its vendor), <hostnames>, <ports> with <extraports> for
//            the summarized states (output/port_listing.h) and <port>/<state>/<service>/<cpe>
//            for the listed ones, <times>; then <runstats> with <finished> and <hosts>, and
//            </nmaprun>. It is also called on the stop path (SIGINT/SIGTERM) and after an engine
//            error, so the file is a complete document then too (exit="error" with the reason).
//
// Text from the network (banners, certificate names) is escaped: & < > " and control
// characters as character references or U+FFFD (XML 1.0 allows no other control characters),
// bytes that are not UTF-8 as U+FFFD.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "output/sink.h"

namespace gh {

struct XmlOptions {
  std::string name = "-oX";    // for error messages: the path
  int verbosity = 0;           // -v: more ports listed, down hosts written
  bool open_only = false;      // --open
  ServiceNameFn service_name;  // the table guess for ports without a found service
  // The host's name from reverse DNS, "" when none. Empty function: none (-n).
  std::function<std::string(const IpAddress&)> host_name;
};

class XmlSink : public Sink {
 public:
  XmlSink(std::unique_ptr<std::ostream> out, XmlOptions opts);

  void begin(const ScanInfo& info) override;
  void port(const PortResult& r) override;
  void end(const ResultTable& table, const ScanSummary& summary) override;
  void flush() override;

 private:
  void write(std::string_view text);
  std::string host_element(const IpAddress& addr, const ResultTable::Host& host,
                           const ResultTable& table, const ScanSummary& summary) const;

  std::unique_ptr<std::ostream> out_;
  XmlOptions opts_;
  ScanInfo info_;
};

// Escapes text for an XML attribute value or character data (see the file comment).
std::string xml_escape(std::string_view s);
// nmap's time strings: "Thu Dec  3 18:15:51 2026" (local time, as ctime).
std::string nmap_time(WallClock::time_point t);
// "22,80,1000-2000" from ports in any order (nmap's <scaninfo services>).
std::string port_ranges(std::vector<uint16_t> ports);

}  // namespace gh
