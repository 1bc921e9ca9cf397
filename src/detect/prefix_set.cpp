#include "detect/prefix_set.h"

#include <charconv>

namespace gh::detect {

namespace {
u128 mask_for(int bits, int len) {
  if (len <= 0) return 0;
  u128 all = bits == 32 ? u128{0xFFFFFFFFu} : ~u128{0};
  return (all << (bits - len)) & all;
}
}  // namespace

Prefix Prefix::make(const IpAddress& a, int len) {
  Prefix p;
  p.len = len;
  p.net = a;
  p.net.value &= mask_for(a.bits(), len);
  return p;
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  size_t slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int len = addr->bits();
  if (slash != std::string_view::npos) {
    std::string_view l = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), len);
    if (ec != std::errc() || p != l.data() + l.size() || l.empty() || len < 0 || len > addr->bits())
      return std::nullopt;
  }
  return make(*addr, len);
}

bool Prefix::contains(const IpAddress& a) const {
  return a.family == net.family && (a.value & mask_for(a.bits(), len)) == net.value;
}

std::string Prefix::to_string() const {
  return net.to_string() + "/" + std::to_string(len);
}

void PrefixSet::add(const Prefix& p) {
  for (const auto& q : list_)
    if (q == p) return;
  list_.push_back(p);
}

bool PrefixSet::contains(const IpAddress& a) const {
  for (const auto& p : list_)
    if (p.contains(a)) return true;
  return false;
}

std::string PrefixSet::to_string() const {
  std::string s;
  for (const auto& p : list_) {
    if (!s.empty()) s += ", ";
    s += p.to_string();
  }
  return s;
}

}  // namespace gh::detect
