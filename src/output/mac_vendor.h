// MAC address to vendor name, from the IEEE registration authority's public listings as Debian's
// `ieee-data` package installs them (/usr/share/ieee-data/oui.csv, mam.csv, oui36.csv: MA-L,
// MA-M and MA-S blocks of 24, 28 and 36 bits), read at run time; nothing is shipped with
// Glasshouse. GLASSHOUSE_IEEE_DATA names another directory (tests).
//
//   vendor(mac)   the organization of the longest matching block; "Unknown" when no block
//                 matches (locally administered addresses, 02:..., never do), and when the
//                 registry is not installed. loaded() tells the two apart; missing_note() is the
//                 one line to say so.
// Loaded once, on first use (about 50k lines: the files are read whole and each block's line
// indexed; a name is parsed when vendor() asks for it); thread-safe afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  // The key of a registry line without parsing its name; false where parse_line is false (a
  // name of blanks only is left to vendor(), which then tries the shorter blocks).
  static bool line_key(std::string_view line, uint64_t& key);
  // key: bits << 48 | prefix (the top `bits` bits of the MAC, right-aligned); value: the file's
  // index in texts_ << 32 | the line's offset in it. The first line of a key wins.
  std::unordered_map<uint64_t, uint64_t> blocks_;
  std::vector<std::string> texts_;
  std::string dir_;
};

}  // namespace gh
