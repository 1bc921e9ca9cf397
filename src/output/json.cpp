#include "output/json.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <iterator>

namespace gh {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_u_escape(std::string& out, unsigned cp) {
  out += "\\u";
  out += kHex[(cp >> 12) & 0xF];
  out += kHex[(cp >> 8) & 0xF];
  out += kHex[(cp >> 4) & 0xF];
  out += kHex[cp & 0xF];
}

bool is_cont(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence starting at s[i] (2..4), or 0 if it is ill-formed; in
// that case *bad is set to the length of the maximal ill-formed prefix to replace (>= 1).
size_t utf8_sequence(std::string_view s, size_t i, size_t* bad) {
  auto at = [&](size_t k) -> int {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1;
  };
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len;
  int lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    *bad = 1;  // a stray continuation byte, C0, C1, F5..FF
    return 0;
  }
  int b1 = at(1);
  if (b1 < lo || b1 > hi) {
    *bad = 1;
    return 0;
  }
  for (size_t k = 2; k < len; ++k) {
    int b = at(k);
    if (b < 0 || !is_cont(static_cast<unsigned char>(b))) {
      *bad = k;
      return 0;
    }
  }
  return len;
}

}  // namespace

void json_escape_to(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            append_u_escape(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    size_t bad = 0;
    size_t len = utf8_sequence(s, i, &bad);
    if (len == 0) {
      out += "\\ufffd";
      i += bad;
      continue;
    }
    // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
    if (len == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
      append_u_escape(out, 0x2028u + (static_cast<unsigned char>(s[i + 2]) & 1u));
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
}

std::string json_escape(std::string_view s) {
  std::string out;
  json_escape_to(out, s);
  return out;
}

std::string json_string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += json_quote(items[i]);
  }
  return out + "]";
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  json_escape_to(out, s);
  out += '"';
  return out;
}

std::string utc_timestamp(WallClock::time_point t) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(t.time_since_epoch()).count();
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int millis = static_cast<int>(ms - secs * 1000);
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

void JsonObject::key(std::string_view k) {
  if (buf_.size() > 1) buf_ += ',';
  buf_ += '"';
  json_escape_to(buf_, k);
  buf_ += "\":";
}

JsonObject& JsonObject::str(std::string_view k, std::string_view value) {
  key(k);
  buf_ += '"';
  json_escape_to(buf_, value);
  buf_ += '"';
  return *this;
}

JsonObject& JsonObject::num(std::string_view k, uint64_t value) {
  key(k);
  fmt::format_to(std::back_inserter(buf_), "{}", value);
  return *this;
}

JsonObject& JsonObject::num(std::string_view k, int64_t value) {
  key(k);
  fmt::format_to(std::back_inserter(buf_), "{}", value);
  return *this;
}

JsonObject& JsonObject::num(std::string_view k, double value, int decimals) {
  key(k);
  if (!std::isfinite(value)) {
    buf_ += "null";
  } else {
    fmt::format_to(std::back_inserter(buf_), "{:.{}f}", value, decimals < 0 ? 0 : decimals);
  }
  return *this;
}

JsonObject& JsonObject::boolean(std::string_view k, bool value) {
  key(k);
  buf_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::null(std::string_view k) {
  key(k);
  buf_ += "null";
  return *this;
}

JsonObject& JsonObject::raw(std::string_view k, std::string_view json) {
  key(k);
  buf_ += json;
  return *this;
}

std::string JsonObject::done() {
  std::string out;
  out.swap(buf_);
  out.push_back('}');
  buf_.assign(1, '{');
  return out;
}

}  // namespace gh
