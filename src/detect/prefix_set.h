// Address prefixes and small sets of them: the protected ("local") networks, the allowlist.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"

namespace gh::detect {

struct Prefix {
  IpAddress net;  // host bits cleared
  int len = 0;

  // "198.18.0.0/15", "2001:db8::/32", or a bare address (a /32 or /128). nullopt if malformed.
  static std::optional<Prefix> parse(std::string_view text);
  static Prefix host(const IpAddress& a) { return {a, a.bits()}; }
  static Prefix make(const IpAddress& a, int len);
  bool contains(const IpAddress& a) const;
  std::string to_string() const;
  friend bool operator==(const Prefix&, const Prefix&) = default;
};

class PrefixSet {
 public:
  void add(const Prefix& p);
  bool contains(const IpAddress& a) const;
  bool empty() const { return list_.empty(); }
  const std::vector<Prefix>& list() const { return list_; }
  std::string to_string() const;  // "a/n, b/m"

 private:
  std::vector<Prefix> list_;
};

}  // namespace gh::detect
