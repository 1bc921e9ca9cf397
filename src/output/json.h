// Small JSON writing helpers: string escaping, UTC timestamps, and a one-line object builder.
//
// Escaping always yields valid JSON from arbitrary bytes:
//   "  \  and control characters U+0000..U+001F  -> \"  \\  \b \f \n \r \t or \u00XX
//   DEL (0x7F), U+2028, U+2029                    -> \u007f \u2028 \u2029 (safe to embed in JS)
//   well-formed UTF-8                             -> passed through unchanged
//   bytes that are not well-formed UTF-8          -> \ufffd (U+FFFD), one per maximal ill-formed
//                                                    subsequence, as Unicode recommends
//                                                    (overlong forms, surrogates and code points
//                                                    above U+10FFFF are ill-formed)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "output/result.h"

namespace gh {

// Appends the escaped contents of s (without surrounding quotes) to out.
void json_escape_to(std::string& out, std::string_view s);
// The escaped contents of s, without surrounding quotes.
std::string json_escape(std::string_view s);
// s as a JSON string literal, with quotes.
std::string json_quote(std::string_view s);
// A JSON array of string literals: ["syn","udp"] ([] when empty).
std::string json_string_array(const std::vector<std::string>& items);

// "2026-11-22T23:04:02.123Z": UTC, millisecond precision (truncated), RFC 3339.
std::string utc_timestamp(WallClock::time_point t);

// Builds one JSON object on one line, keys in insertion order:
//   std::string line = JsonObject().str("ip", ip).num("port", 22).boolean("x", true).done();
class JsonObject {
 public:
  JsonObject& str(std::string_view key, std::string_view value);
  JsonObject& num(std::string_view key, uint64_t value);
  JsonObject& num(std::string_view key, int64_t value);
  JsonObject& num(std::string_view key, int value) { return num(key, static_cast<int64_t>(value)); }
  JsonObject& num(std::string_view key, unsigned value) {
    return num(key, static_cast<uint64_t>(value));
  }
  // Finite values with up to `decimals` digits after the point; NaN and infinities as null.
  JsonObject& num(std::string_view key, double value, int decimals = 3);
  JsonObject& boolean(std::string_view key, bool value);
  JsonObject& null(std::string_view key);
  // A value that is already JSON text (an array, a nested object).
  JsonObject& raw(std::string_view key, std::string_view json);
  // The object text, "{...}" (no newline). The builder is left empty.
  std::string done();

 private:
  void key(std::string_view k);
  std::string buf_ = "{";
};

}  // namespace gh
