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
#include <unordered_map>
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
  // Trivially copyable (the name is a slice of text_), so sorting 27,000 of them moves no
  // strings.
  struct Entry {
    uint32_t key = 0;          // proto << 16 | port
    uint32_t order = 0;        // its place in the file (the first of a port's entries wins a tie)
    uint32_t name_offset = 0;  // the name is text_.substr(name_offset, name_size)
    uint32_t name_size = 0;
    double frequency = 0;  // higher = more common
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
    return text_.substr(e.name_offset, e.name_size);
  }
  // After the entries were appended: sorts them by key, and a port listed twice keeps its more
  // common entry (the first one on a tie).
  void finish();
  const Entry* find(uint32_t key) const;
  std::string source_;
};

}  // namespace gh
