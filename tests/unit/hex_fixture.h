// Byte-array fixtures written as hex text, for the packet tests.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace gh::test {

// Hex text to bytes; anything but 0-9 and a-f (spaces, separators) is ignored, so fixtures can be
// laid out field by field.
inline std::vector<uint8_t> hex(std::string_view s) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : s) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

}  // namespace gh::test
