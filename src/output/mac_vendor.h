// MAC address to vendor name, from the IEEE registration authority's public listings as Debian's
// `ieee-data` package installs them (/usr/share/ieee-data/oui.csv, mam.csv, oui36.csv: MA-L,
// MA-M and MA-S blocks of 24, 28 and 36 bits), read at run time; nothing is shipped with
// Glasshouse. GLASSHOUSE_IEEE_DATA names another directory (tests).
//
//   vendor(mac)   the organization of the longest matching block; "Unknown" when no block
//                 matches (locally administered addresses, 02:..., never do), and when the
//                 registry is not installed. loaded() tells the two apart; missing_note() is the
//                 one line to say so.
// Loaded once, on first use (about 50k lines, a few tens of ms); thread-safe afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gh {

class MacVendors {
 public:
  static const MacVendors& instance();
  // Loads the CSV files of `dir` (missing files are skipped).
  explicit MacVendors(const std::string& dir);

  std::string vendor(const std::array<uint8_t, 6>& mac) const;
  bool loaded() const { return !blocks_.empty(); }
  std::string missing_note() const;
  size_t size() const { return blocks_.size(); }

  // One registry line ("MA-L,002272,American Micro-Fuel Device Corp.,...") into `out`; false
  // for the header, a malformed line or an unknown registry. Quoted fields ("A, Inc.") allowed.
  static bool parse_line(std::string_view line, uint64_t& key, std::string& name);

 private:
  // key: bits << 48 | prefix (the top `bits` bits of the MAC, right-aligned)
  std::unordered_map<uint64_t, std::string> blocks_;
  std::string dir_;
};

}  // namespace gh
