// A small, strict JSON reader for the audit log's records (RFC 8259; depth-limited, never throws).
// Writing uses output/json.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gh {

struct JsonMember;

struct JsonValue {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool boolean = false;
  std::string text;                 // a string's decoded contents, or a number as written
  std::vector<JsonValue> items;     // Array
  std::vector<JsonMember> members;  // Object, in order

  // The member named `key` of an object (the first one), or null.
  const JsonValue* get(std::string_view key) const;
  bool is_string() const { return type == Type::String; }
  // A non-negative integer number that fits in 64 bits.
  std::optional<uint64_t> as_u64() const;
};

// One member of an object. A struct of its own rather than std::pair, which libstdc++ refuses to
// instantiate for the incomplete JsonValue under clang (the fuzz build).
struct JsonMember {
  std::string first;  // the key
  JsonValue second;
};

// Parses one JSON text (surrounding whitespace allowed). nullopt with `error` set when malformed.
std::optional<JsonValue> parse_json(std::string_view text, std::string* error = nullptr);

}  // namespace gh
