// MAC address to vendor name, from the IEEE registration authority's public listings as Debian's
// `ieee-data` package installs them (/usr/share/ieee-data/oui.csv, mam.csv, oui36.csv: MA-L,
// MA-M and MA-S blocks of 24, 28 and 36 bits), read at run time; nothing is shipped with
// Glasshouse. GLASSHOUSE_IEEE_DATA names another directory (tests).
//
//   vendor(mac)   the organization of the longest matching block; "Unknown" when no block
//                 matches (locally administered addresses, 02:..., never do), and when the
//                 registry is not installed. loaded() tells the two apart; missing_note() is the
//                 one line to say so.
// The files are mapped once, on first use, and nothing else is done until a MAC is asked for:
// the first few lookups each read the files once, line by line, for the three blocks that could
// hold that MAC (a one-host scan asks for one MAC: ~2 ms, where indexing the ~50k lines first
// took most of a one-host discovery); from the kIndexAfter-th lookup on (a LAN sweep), every
// block's line is indexed once and looked up by binary search. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mapped_file.h"

namespace gh {

class MacVendors {
 public:
  static const MacVendors& instance();
  // Maps the CSV files of `dir` (missing files are skipped).
  explicit MacVendors(const std::string& dir);

  std::string vendor(const std::array<uint8_t, 6>& mac) const;
  bool loaded() const { return !files_.empty(); }
  std::string missing_note() const;
  size_t size() const;  // blocks in the registry (indexes it)

  // One registry line ("MA-L,002272,American Micro-Fuel Device Corp.,...") into `out`; false
  // for the header, a malformed line or an unknown registry. Quoted fields ("A, Inc.") allowed.
  static bool parse_line(std::string_view line, uint64_t& key, std::string& name);

 private:
  static constexpr unsigned kIndexAfter = 8;
  static constexpr uint64_t kNone = ~uint64_t{0};
  // The key of a registry line without parsing its name; false where parse_line is false (a
  // name of blanks only is left to vendor(), which then tries the shorter blocks).
  static bool line_key(std::string_view line, uint64_t& key);
  // Calls fn(key, place) for every block line of every file, in file order; place: the file's
  // index << 32 | the line's offset. The first line of a key is the block's.
  template <typename Fn>
  void each_block(Fn&& fn) const;
  void build_index() const;  // with mu_ held
  std::string name_at(uint64_t place) const;

  // key: bits << 48 | prefix (the top `bits` bits of the MAC, right-aligned).
  std::vector<MappedFile> files_;
  std::string dir_;
  mutable std::mutex mu_;
  mutable std::vector<std::pair<uint64_t, uint64_t>> index_;  // (key, place), sorted
  mutable bool indexed_ = false;
  mutable unsigned lookups_ = 0;
};

}  // namespace gh
