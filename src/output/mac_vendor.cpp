#include "output/mac_vendor.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace gh {
namespace {

constexpr const char* kDefaultDir = "/usr/share/ieee-data";

// Splits one CSV line (RFC 4180 quoting) into fields.
std::vector<std::string> csv_fields(std::string_view line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        f.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        f.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      f.emplace_back();
    } else if (c != '\r') {
      f.back() += c;
    }
  }
  return f;
}

uint64_t mac_value(const std::array<uint8_t, 6>& mac) {
  uint64_t v = 0;
  for (uint8_t b : mac) v = v << 8 | b;
  return v;
}

// The table key of a registry ("MA-L", "MA-M", "MA-S") and its assignment in hex ("002272"):
// the prefix length in bits above the prefix. False for another registry or a malformed
// assignment.
bool block_key(std::string_view registry, std::string_view hex, uint64_t& key) {
  const int bits = registry == "MA-L" ? 24 : registry == "MA-M" ? 28 : registry == "MA-S" ? 36 : 0;
  if (bits == 0 || hex.size() != static_cast<size_t>(bits / 4)) return false;
  uint64_t prefix = 0;
  for (char c : hex) {
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (v < 0) return false;
    prefix = prefix << 4 | static_cast<uint64_t>(v);
  }
  key = uint64_t(bits) << 48 | prefix;
  return true;
}

}  // namespace

bool MacVendors::parse_line(std::string_view line, uint64_t& key, std::string& name) {
  auto f = csv_fields(line);
  if (f.size() < 3) return false;
  uint64_t k = 0;
  if (!block_key(f[0], f[1], k)) return false;
  name = f[2];
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
  if (name.empty()) return false;
  key = k;
  return true;
}

MacVendors::MacVendors(const std::string& dir) : dir_(dir) {
  for (const char* file : {"oui.csv", "mam.csv", "oui36.csv"}) {
    auto f = map_whole_file(dir + "/" + file);
    if (f && !f->text.empty()) files_.push_back(std::move(*f));
  }
}

template <typename Fn>
void MacVendors::each_block(Fn&& fn) const {
  for (size_t i = 0; i < files_.size(); ++i) {
    const std::string_view all = files_[i].text;
    for (size_t at = 0; at < all.size();) {
      size_t end = all.find('\n', at);
      if (end == std::string_view::npos) end = all.size();
      uint64_t key = 0;
      if (line_key(all.substr(at, end - at), key)) fn(key, uint64_t{i} << 32 | at);
      at = end + 1;
    }
  }
}

void MacVendors::build_index() const {
  index_.reserve(64 * 1024);
  each_block([this](uint64_t key, uint64_t place) { index_.emplace_back(key, place); });
  // By key, then by place: the first line of a key comes first.
  std::sort(index_.begin(), index_.end());
  indexed_ = true;
}

size_t MacVendors::size() const {
  std::lock_guard lock(mu_);
  if (!indexed_) build_index();
  size_t n = 0;
  for (size_t i = 0; i < index_.size(); ++i)
    if (i == 0 || index_[i].first != index_[i - 1].first) ++n;
  return n;
}

std::string MacVendors::name_at(uint64_t place) const {
  const std::string_view text = files_[place >> 32].text;
  const size_t at = place & 0xffffffffu;
  size_t end = text.find('\n', at);
  if (end == std::string_view::npos) end = text.size();
  uint64_t key = 0;
  std::string name;
  return parse_line(text.substr(at, end - at), key, name) ? name : std::string();
}

bool MacVendors::line_key(std::string_view line, uint64_t& key) {
  // "MA-L,002272,Name,...": the registry and the assignment are never quoted; the name must
  // not be empty (parse_line decides exactly when the name is asked for).
  const size_t c1 = line.find(',');
  if (c1 == std::string_view::npos) return false;
  const size_t c2 = line.find(',', c1 + 1);
  if (c2 == std::string_view::npos || c2 + 1 >= line.size()) return false;
  const char first = line[c2 + 1];
  if (first == ',' || first == '\r') return false;
  return block_key(line.substr(0, c1), line.substr(c1 + 1, c2 - c1 - 1), key);
}

const MacVendors& MacVendors::instance() {
  static const MacVendors v([] {
    const char* env = std::getenv("GLASSHOUSE_IEEE_DATA");
    return std::string(env != nullptr && env[0] != '\0' ? env : kDefaultDir);
  }());
  return v;
}

std::string MacVendors::vendor(const std::array<uint8_t, 6>& mac) const {
  const uint64_t v = mac_value(mac);
  // The blocks that could hold it, longest first: 36, 28 and 24 bits.
  const uint64_t keys[3] = {uint64_t{36} << 48 | v >> 12, uint64_t{28} << 48 | v >> 20,
                            uint64_t{24} << 48 | v >> 24};
  uint64_t place[3] = {kNone, kNone, kNone};
  {
    std::lock_guard lock(mu_);
    if (!indexed_ && ++lookups_ >= kIndexAfter) build_index();
    if (indexed_) {
      for (int i = 0; i < 3; ++i) {
        auto it = std::lower_bound(index_.begin(), index_.end(), std::pair{keys[i], uint64_t{0}});
        if (it != index_.end() && it->first == keys[i]) place[i] = it->second;
      }
    } else {
      each_block([&](uint64_t key, uint64_t at) {
        for (int i = 0; i < 3; ++i)
          if (key == keys[i] && place[i] == kNone) place[i] = at;
      });
    }
  }
  for (uint64_t p : place) {
    if (p == kNone) continue;
    if (std::string name = name_at(p); !name.empty()) return name;
  }
  return "Unknown";
}

std::string MacVendors::missing_note() const {
  return "MAC vendors are unknown: the IEEE registry was not found in " + dir_ +
         " (apt-get install ieee-data)";
}

}  // namespace gh
