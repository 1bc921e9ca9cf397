// Port number -> service name, and the frequency ranking behind -F and --top-ports.
//
// Sources, in order: the user's installed nmap-services (read at run time; its open-frequency
// column gives the ranking), then Glasshouse's own table data/services.tsv (IANA names with our
// own ranking; see docs/ARCHITECTURE.md). Nothing of nmap's is shipped.
#pragma once

#include <cstdint>
#include <memory>
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
  // virtualised machine each fresh 4 KiB page a table touches costs ~10 us (a 24-byte entry
  // with a double made loading a visible part of a small scan's start). The name is
  // text_.substr(name_ref >> 8, name_ref & 0xFF); names are at most 64 bytes and the names'
  // text under 16 MiB (parse() stops taking entries past it).
  struct Entry {
    uint32_t key = 0;       // port << 8 | proto
    uint32_t weight = 0;    // higher = more common; 0 = unranked
    uint32_t name_ref = 0;  // offset << 8 | size, into text_
  };
  // The names the table kept, one after the other (copied once out of the file parse() read):
  // the entries point into it. storage_ owns it.
  std::string_view text_;
  std::shared_ptr<const void> storage_;
  // Sorted by key, one entry per key (finish()): one allocation instead of a node per entry,
  // which made loading nmap-services a visible part of a small scan's start.
  std::vector<Entry> by_key_;
  static ServiceTable parse(std::string_view text, std::shared_ptr<const void> storage,
                            bool nmap_format);
  static ServiceTable parse(std::string text, bool nmap_format);
  std::string_view entry_name(const Entry& e) const {
    return text_.substr(e.name_ref >> 8, e.name_ref & 0xFF);
  }
  // After the entries were appended: sorts them by key (stably), and a port listed twice keeps
  // its more common entry (the first one on a tie).
  void finish();
  const Entry* find(uint32_t key) const;
  std::string source_;
};

}  // namespace gh
