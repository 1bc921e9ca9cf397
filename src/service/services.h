// Port number -> service name, and the frequency ranking behind -F and --top-ports.
//
// Sources, in order: the user's installed nmap-services (read at run time; its open-frequency
// column gives the ranking), then Glasshouse's own table data/services.tsv (IANA names with our
// own ranking; see docs/ARCHITECTURE.md). Nothing of nmap's is shipped.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace gh {

class ServiceTable {
 public:
  // Loads the best available table: $GLASSHOUSE_NMAP_SERVICES, /usr/share/nmap/nmap-services,
  // /usr/local/share/nmap/nmap-services, then our own data/services.tsv (installed, or from the
  // source tree), then a small built-in list so that lookups never fail.
  static const ServiceTable& instance();
  // Parses nmap-services format ("name port/proto frequency ..."); '#' comments.
  static ServiceTable from_nmap_services(std::istream& in);
  static ServiceTable from_nmap_services(std::string text);
  // Parses our own format: "name<TAB>port/proto<TAB>rank" (rank 1 = most common; 0 = unranked).
  static ServiceTable from_glasshouse_tsv(std::istream& in);
  static ServiceTable from_glasshouse_tsv(std::string text);

  // Service name for a port, or "unknown".
  std::string_view name(Protocol proto, uint16_t port) const;
  // Ports with this service name (e.g. "http" -> 80, 8008? as listed). Empty if the name is
  // unknown.
  std::vector<uint16_t> ports_for_name(Protocol proto, std::string_view name) const;
  // The n most common ports for proto, most common first (fewer if the table knows fewer).
  std::vector<uint16_t> top_ports(Protocol proto, size_t n) const;
  // Where the table came from (a path, or "built-in"), for docs and -v.
  const std::string& source() const { return source_; }

 private:
  // 12 bytes and trivially copyable: nmap-services has 27,000 entries, and on the project's
  // virtualised machine each fresh 4 KiB page a table touches costs ~12 us (a 24-byte entry
  // with a double made loading a visible part of a small scan's start). The name is
  // names.substr(name_ref >> 8, name_ref & 0xFF) of its Part; names are at most 64 bytes and
  // a source's text under 16 MiB (entries past it are not taken).
  struct Entry {
    uint32_t key = 0;       // port << 8 | proto
    uint32_t weight = 0;    // higher = more common; 0 = unranked
    uint32_t name_ref = 0;  // offset << 8 | size, into Part::names
  };
  // One protocol's entries, sorted by key, one per key (finish()), and their names, copied out
  // of the text they were read from (a mapped file cut short while the scan still prints names,
  // edited in place, would otherwise be a SIGBUS).
  struct Part {
    std::vector<Entry> by_key;
    std::string names;
    const Entry* find(uint32_t key) const;
    std::string_view name(const Entry& e) const {
      return std::string_view(names).substr(e.name_ref >> 8, e.name_ref & 0xFF);
    }
    // After the entries were appended: sorts them by key (stably), and a port listed twice
    // keeps its more common entry (the first one on a tie).
    void finish();
  };
  // Each protocol's part is read on its first use: a TCP scan never reads nmap-services' 19,000
  // UDP entries (~70% of the table). A file source is mapped again for each part (and a part
  // of a file gone meanwhile is empty); a text source (the tests) is kept.
  struct Lazy {
    std::once_flag once[2];
    Part parts[2];  // TCP, UDP
  };
  std::string path_;                         // a file source, or empty
  std::shared_ptr<const std::string> text_;  // a text source (when path_ is empty)
  bool nmap_format_ = true;
  std::shared_ptr<Lazy> lazy_ = std::make_shared<Lazy>();  // shared: the table stays movable
  std::string source_;

  static ServiceTable from_text(std::string text, bool nmap_format);
  // The part of `proto`, read from the source on first use.
  const Part& part(Protocol proto) const;
  // Reads one protocol's entries from text into `into`; returns its well-formed lines and the
  // lines of other protocols (so that a source with none can be told from one without this
  // protocol's).
  static size_t parse(std::string_view text, bool nmap_format, Protocol proto, Part& into);
};

}  // namespace gh
