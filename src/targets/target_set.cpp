#include "targets/target_set.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "core/error.h"

namespace gh {
namespace {

// An octet spec such as "*.*.*.1" would need 16M ranges; refuse anything above this many.
constexpr uint64_t kMaxOctetRanges = 4'194'304;
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr u128 kU128Max = ~u128{0};
constexpr u128 kV4Max = 0xFFFFFFFFu;

using NameCache = std::unordered_map<std::string, std::vector<IpAddress>>;

// ---------------------------------------------------------------------------------------------
// Range arithmetic

// Addresses in r, saturating at UINT64_MAX (AddressRange::size() wraps to 0 for ::/0).
uint64_t saturating_size(const AddressRange& r) {
  u128 span = r.last.value - r.first.value;  // size - 1, cannot overflow
  return span >= kU64Max ? kU64Max : static_cast<uint64_t>(span) + 1;
}

uint64_t saturating_add(uint64_t a, uint64_t b) {
  return a > kU64Max - b ? kU64Max : a + b;
}

bool valid_address(const IpAddress& a) {
  return (a.family == Family::V4 && a.value <= kV4Max) || a.family == Family::V6;
}

bool by_first(const AddressRange& a, const AddressRange& b) {
  return a.first < b.first || (a.first == b.first && a.last < b.last);
}

// True when b (which does not start before a) overlaps a or starts right after it.
bool touches(const AddressRange& a, const AddressRange& b) {
  if (a.first.family != b.first.family) return false;
  return b.first.value <= a.last.value || b.first.value - a.last.value == 1;
}

// ---------------------------------------------------------------------------------------------
// Error messages

// The spec as it appears in a message: quoted, non-printable bytes escaped, long specs cut.
std::string quoted(std::string_view s, size_t max_len = 120) {
  std::string out = "\"";
  size_t n = std::min(s.size(), max_len);
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max_len) out += "...";
  out += '"';
  return out;
}

[[noreturn]] void fail(std::string_view spec, const std::string& why) {
  throw UsageError("invalid target " + quoted(spec) + ": " + why);
}

// ---------------------------------------------------------------------------------------------
// Spec parsing. Every parser appends the spec's ranges to `out` and throws before appending
// anything if the spec is bad.

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_digit);
}

void add_cidr(std::string_view spec, const IpAddress& a, std::optional<int> prefix,
              std::vector<AddressRange>& out) {
  if (!prefix) {
    out.push_back({a, a});
    return;
  }
  int bits = a.bits();
  if (*prefix > bits)
    fail(spec, "prefix length /" + std::to_string(*prefix) + " out of range for IPv" +
                   (a.is_v4() ? "4 (0-32)" : "6 (0-128)"));
  int host_bits = bits - *prefix;
  u128 host_mask = host_bits == 0     ? u128{0}
                   : host_bits == 128 ? kU128Max
                                      : (u128{1} << host_bits) - 1;
  IpAddress first{a.family, a.value & ~host_mask};
  IpAddress last{a.family, first.value | host_mask};
  out.push_back({first, last});
}

void add_dash_range(std::string_view spec, const IpAddress& a, const IpAddress& b,
                    std::vector<AddressRange>& out) {
  if (a.family != b.family) fail(spec, "range mixes IPv4 and IPv6 addresses");
  if (b < a) fail(spec, "reversed range (" + a.to_string() + " is after " + b.to_string() + ")");
  out.push_back({a, b});
}

// One side of a dash range: a bare address or a bracketed IPv6 literal.
IpAddress parse_range_end(std::string_view spec, std::string_view text, const char* which) {
  std::optional<IpAddress> a;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    a = IpAddress::parse(text.substr(1, text.size() - 2));
    if (a && !a->is_v6()) fail(spec, "brackets are only for IPv6 addresses");
  } else {
    a = IpAddress::parse(text);
  }
  if (!a) fail(spec, std::string(which) + " of range " + quoted(text, 60) + " is not an address");
  return *a;
}

// Anything with ':' or brackets: an IPv6 address, CIDR block or dash range.
void parse_v6_form(std::string_view spec, std::string_view base, std::optional<int> prefix,
                   std::vector<AddressRange>& out) {
  size_t dash = base.find('-');
  if (dash != std::string_view::npos) {
    if (prefix) fail(spec, "an address range cannot have a prefix length");
    if (base.find('-', dash + 1) != std::string_view::npos)
      fail(spec, "more than one '-' in address range");
    IpAddress a = parse_range_end(spec, base.substr(0, dash), "start");
    IpAddress b = parse_range_end(spec, base.substr(dash + 1), "end");
    add_dash_range(spec, a, b, out);
    return;
  }
  bool bracketed = base.front() == '[';
  if (bracketed) {
    if (base.size() < 3 || base.back() != ']') fail(spec, "unbalanced '['");
    base = base.substr(1, base.size() - 2);
  }
  if (base.find_first_of("[]") != std::string_view::npos) fail(spec, "misplaced bracket");
  if (base.find('%') != std::string_view::npos) fail(spec, "IPv6 zone ids are not supported");
  auto a = IpAddress::parse(base);
  if (!a) fail(spec, "invalid IPv6 address");
  if (!a->is_v6()) fail(spec, "brackets are only for IPv6 addresses");
  add_cidr(spec, *a, prefix, out);
}

std::string clip(std::string_view s) {
  return quoted(s, 20);
}

int parse_octet_value(std::string_view spec, std::string_view t) {
  if (t.empty() || !all_digits(t)) fail(spec, "bad octet value " + clip(t));
  std::string shown = t.size() > 20 ? std::string(t.substr(0, 20)) + "..." : std::string(t);
  if (t.size() > 3) fail(spec, "octet " + shown + " out of range 0-255");
  int v = 0;
  for (char c : t) v = v * 10 + (c - '0');
  if (v > 255) fail(spec, "octet " + shown + " out of range 0-255");
  // "010" is octal to inet_aton and decimal to nmap; refuse to guess.
  if (t.size() > 1 && t[0] == '0') fail(spec, "octet " + shown + " has a leading zero");
  return v;
}

using OctetSet = std::array<bool, 256>;

// One octet of an nmap octet spec: a comma list of N, N-M, -M, N-, '*'.
OctetSet parse_octet(std::string_view spec, std::string_view text, int position) {
  OctetSet set{};
  if (text.empty()) fail(spec, "octet " + std::to_string(position) + " is empty");
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (item.empty()) fail(spec, "empty item in octet list " + clip(text));
    int lo, hi;
    if (item == "*") {
      lo = 0;
      hi = 255;
    } else if (size_t dash = item.find('-'); dash == std::string_view::npos) {
      lo = hi = parse_octet_value(spec, item);
    } else {
      if (item.find('-', dash + 1) != std::string_view::npos || item.size() == 1)
        fail(spec, "bad octet range " + clip(item));
      lo = dash == 0 ? 0 : parse_octet_value(spec, item.substr(0, dash));
      hi = dash + 1 == item.size() ? 255 : parse_octet_value(spec, item.substr(dash + 1));
      if (lo > hi)
        fail(spec, "reversed octet range " + std::to_string(lo) + "-" + std::to_string(hi));
    }
    for (int v = lo; v <= hi; ++v) set[static_cast<size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

// Expands four octet sets into the fewest ranges: the octets after the last one that is not
// 0-255 only widen ranges, so only the last partial octet's runs and the values of the octets
// before it multiply the range count.
void expand_octets(std::string_view spec, const std::array<OctetSet, 4>& octets,
                   std::vector<AddressRange>& out) {
  auto full = [](const OctetSet& s) {
    return std::all_of(s.begin(), s.end(), [](bool b) { return b; });
  };
  int last_partial = 3;
  while (last_partial >= 0 && full(octets[static_cast<size_t>(last_partial)])) --last_partial;
  if (last_partial < 0) {
    out.push_back({IpAddress::v4(0), IpAddress::v4(0xFFFFFFFFu)});
    return;
  }
  std::array<std::vector<uint32_t>, 4> values;
  for (int i = 0; i < last_partial; ++i)
    for (uint32_t v = 0; v < 256; ++v)
      if (octets[static_cast<size_t>(i)][v]) values[static_cast<size_t>(i)].push_back(v);
  std::vector<std::pair<uint32_t, uint32_t>> runs;
  const OctetSet& partial = octets[static_cast<size_t>(last_partial)];
  for (uint32_t v = 0; v < 256; ++v) {
    if (!partial[v]) continue;
    if (!runs.empty() && runs.back().second + 1 == v)
      runs.back().second = v;
    else
      runs.emplace_back(v, v);
  }
  uint64_t count = runs.size();
  for (int i = 0; i < last_partial; ++i) count *= values[static_cast<size_t>(i)].size();
  if (count > kMaxOctetRanges)
    fail(spec, "octet ranges too fragmented (" + std::to_string(count) +
                   " disjoint ranges, limit " + std::to_string(kMaxOctetRanges) + ")");

  const int shift = 8 * (3 - last_partial);
  const uint32_t low_mask = (uint32_t{1} << shift) - 1;  // shift <= 24
  out.reserve(out.size() + count);
  // Odometer over the values of the octets before the partial one.
  std::array<size_t, 4> idx{};
  while (true) {
    uint32_t base = 0;
    for (int i = 0; i < last_partial; ++i)
      base |= values[static_cast<size_t>(i)][idx[static_cast<size_t>(i)]] << (24 - 8 * i);
    for (auto [lo, hi] : runs)
      out.push_back(
          {IpAddress::v4(base | (lo << shift)), IpAddress::v4(base | (hi << shift) | low_mask)});
    int i = last_partial - 1;
    for (; i >= 0; --i) {
      auto k = static_cast<size_t>(i);
      if (++idx[k] < values[k].size()) break;
      idx[k] = 0;
    }
    if (i < 0) break;
  }
}

// Only digits, '.', ',', '*', '-': a dotted quad, an octet spec or a dash range of two quads.
void parse_v4_form(std::string_view spec, std::string_view base, std::optional<int> prefix,
                   std::vector<AddressRange>& out) {
  if (auto a = IpAddress::parse(base); a && a->is_v4()) {
    add_cidr(spec, *a, prefix, out);
    return;
  }
  auto dots = std::count(base.begin(), base.end(), '.');
  auto dashes = std::count(base.begin(), base.end(), '-');
  if (dashes == 1 && dots > 3) {
    if (prefix) fail(spec, "an address range cannot have a prefix length");
    size_t dash = base.find('-');
    IpAddress a = parse_range_end(spec, base.substr(0, dash), "start");
    IpAddress b = parse_range_end(spec, base.substr(dash + 1), "end");
    add_dash_range(spec, a, b, out);
    return;
  }
  if (dots != 3) fail(spec, "expected 4 dot-separated octets, got " + std::to_string(dots + 1));
  std::array<OctetSet, 4> octets;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = i < 3 ? base.find('.', start) : base.size();
    octets[static_cast<size_t>(i)] = parse_octet(spec, base.substr(start, dot - start), i + 1);
    start = dot + 1;
  }
  // A single address with a prefix parsed above; anything reaching here is a real octet range.
  if (prefix) fail(spec, "a prefix length cannot follow an octet range");
  expand_octets(spec, octets, out);
}

// Letters, digits, hyphens and dots: labels of 1-63 characters not starting or ending with '-',
// at most 253 characters, an optional trailing dot, and a last label that is not all digits.
bool valid_host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::string_view label;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !all_digits(label);
}

void parse_host_name(std::string_view spec, std::string_view base, std::optional<int> prefix,
                     Resolver resolver, NameCache* cache, std::vector<AddressRange>& out) {
  std::string name(base);
  if (!valid_host_name(name)) fail(spec, "not a valid host name");
  if (resolver == nullptr) fail(spec, "cannot resolve host " + name + " (name lookups are off)");
  std::vector<IpAddress> found;
  if (cache != nullptr) {
    auto it = cache->find(name);
    if (it == cache->end()) it = cache->emplace(name, resolver(name)).first;
    found = it->second;
  } else {
    found = resolver(name);
  }
  // nmap scans one address per name: the first IPv4 one, else the first IPv6 one.
  const IpAddress* pick = nullptr;
  for (const auto& a : found) {
    if (!valid_address(a)) continue;
    if (a.is_v4()) {
      pick = &a;
      break;
    }
    if (pick == nullptr) pick = &a;
  }
  if (pick == nullptr) fail(spec, "cannot resolve host " + name);
  add_cidr(spec, *pick, prefix, out);
}

void parse_spec(std::string_view spec, Resolver resolver, NameCache* cache,
                std::vector<AddressRange>& out) {
  if (spec.empty()) fail(spec, "empty target");
  for (char c : spec) {
    auto u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
      fail(spec, "contains whitespace");
    if (u < 0x20 || u == 0x7f) fail(spec, "contains a control character");
  }
  std::string_view base = spec;
  std::optional<int> prefix;
  if (size_t slash = spec.find('/'); slash != std::string_view::npos) {
    base = spec.substr(0, slash);
    std::string_view p = spec.substr(slash + 1);
    if (base.empty()) fail(spec, "missing address before '/'");
    if (p.empty()) fail(spec, "missing prefix length after '/'");
    if (p.find('/') != std::string_view::npos) fail(spec, "more than one '/'");
    if (!all_digits(p)) fail(spec, "bad prefix length " + clip(p));
    if (p.size() > 3)
      fail(spec, "prefix length /" + std::string(p.substr(0, 20)) + " out of range");
    int v = 0;
    for (char c : p) v = v * 10 + (c - '0');
    if (v > 128) fail(spec, "prefix length /" + std::to_string(v) + " out of range 0-128");
    prefix = v;
  }
  if (base.find_first_of(":[]") != std::string_view::npos) {
    parse_v6_form(spec, base, prefix, out);
  } else if (base.find_first_not_of("0123456789.,*-") == std::string_view::npos) {
    parse_v4_form(spec, base, prefix, out);
  } else if (base.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789-.") == std::string_view::npos) {
    parse_host_name(spec, base, prefix, resolver, cache, out);
  } else {
    fail(spec, "not an address, address range, CIDR block or host name");
  }
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// TargetSet

TargetSet::TargetSet(const TargetSet& other) {
  other.flush();
  ranges_ = other.ranges_;
  cumulative_ = other.cumulative_;
}

TargetSet::TargetSet(TargetSet&& other) noexcept
    : pending_(std::move(other.pending_)),
      ranges_(std::move(other.ranges_)),
      cumulative_(std::move(other.cumulative_)) {
  dirty_.store(other.dirty_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  other.pending_.clear();
  other.ranges_.clear();
  other.cumulative_.clear();
  other.dirty_.store(false, std::memory_order_relaxed);
}

TargetSet& TargetSet::operator=(const TargetSet& other) {
  if (this != &other) {
    other.flush();
    ranges_ = other.ranges_;
    cumulative_ = other.cumulative_;
    pending_.clear();
    dirty_.store(false, std::memory_order_relaxed);
  }
  return *this;
}

TargetSet& TargetSet::operator=(TargetSet&& other) noexcept {
  if (this != &other) {
    pending_ = std::move(other.pending_);
    ranges_ = std::move(other.ranges_);
    cumulative_ = std::move(other.cumulative_);
    dirty_.store(other.dirty_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    other.pending_.clear();
    other.ranges_.clear();
    other.cumulative_.clear();
    other.dirty_.store(false, std::memory_order_relaxed);
  }
  return *this;
}

void TargetSet::add_spec(std::string_view spec, Resolver resolver) {
  std::vector<AddressRange> found;
  parse_spec(spec, resolver, nullptr, found);  // throws before anything is added
  if (pending_.empty())
    pending_ = std::move(found);
  else
    pending_.insert(pending_.end(), found.begin(), found.end());
  dirty_.store(true, std::memory_order_relaxed);
}

void TargetSet::add_stream(std::istream& in, std::string_view source, Resolver resolver) {
  // Everything is parsed first; on an error the set is left unchanged.
  std::vector<AddressRange> found;
  NameCache cache;
  std::string line;
  uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view rest(line);
    if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
    size_t i = 0;
    while (i < rest.size()) {
      while (i < rest.size() && is_space(rest[i])) ++i;
      size_t start = i;
      while (i < rest.size() && !is_space(rest[i])) ++i;
      if (i == start) continue;
      try {
        parse_spec(rest.substr(start, i - start), resolver, &cache, found);
      } catch (const UsageError& e) {
        throw UsageError(std::string(source) + ":" + std::to_string(line_no) + ": " + e.what());
      }
    }
  }
  if (in.bad()) throw UsageError(std::string(source) + ": read error");
  if (found.empty()) return;
  if (pending_.empty())
    pending_ = std::move(found);
  else
    pending_.insert(pending_.end(), found.begin(), found.end());
  dirty_.store(true, std::memory_order_relaxed);
}

void TargetSet::add_range(AddressRange r) {
  if (!valid_address(r.first) || !valid_address(r.last) || r.first.family != r.last.family ||
      r.last < r.first)
    throw UsageError("invalid address range " + r.first.to_string() + "-" + r.last.to_string());
  pending_.push_back(r);
  dirty_.store(true, std::memory_order_relaxed);
}

// Merges pending_ into ranges_: one sort of the pending ranges, then a linear merge from the
// first place they land. Readers call this through flush(); mu_ makes concurrent readers safe.
void TargetSet::normalize() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!dirty_.load(std::memory_order_relaxed)) return;  // another reader got here first
  if (!pending_.empty()) {
    if (!std::is_sorted(pending_.begin(), pending_.end(), by_first))
      std::sort(pending_.begin(), pending_.end(), by_first);
    // Every range before `landing` sorts before pending_.front() and stays put; the range just
    // before it may grow, so merging starts there.
    const size_t landing = static_cast<size_t>(
        std::upper_bound(ranges_.begin(), ranges_.end(), pending_.front(), by_first) -
        ranges_.begin());
    const size_t from = landing > 0 ? landing - 1 : 0;
    if (ranges_.empty()) {
      ranges_.swap(pending_);
    } else {
      const auto old_size = static_cast<std::ptrdiff_t>(ranges_.size());
      ranges_.insert(ranges_.end(), pending_.begin(), pending_.end());
      std::inplace_merge(ranges_.begin() + static_cast<std::ptrdiff_t>(from),
                         ranges_.begin() + old_size, ranges_.end(), by_first);
    }
    pending_.clear();
    pending_.shrink_to_fit();

    // Coalesce [from, end).
    size_t w = from;
    for (size_t i = from + 1; i < ranges_.size(); ++i) {
      if (touches(ranges_[w], ranges_[i])) {
        if (ranges_[w].last < ranges_[i].last) ranges_[w].last = ranges_[i].last;
      } else if (++w != i) {
        ranges_[w] = ranges_[i];
      }
    }
    ranges_.resize(w + 1);  // ranges_ is not empty here

    // Rebuild cumulative_ from `from`; the entries before it are unchanged.
    cumulative_.resize(ranges_.size() + 1);
    cumulative_[0] = 0;
    for (size_t k = from; k < ranges_.size(); ++k)
      cumulative_[k + 1] = saturating_add(cumulative_[k], saturating_size(ranges_[k]));
  }
  dirty_.store(false, std::memory_order_release);
}

// Both subtract and intersect walk the two sorted range lists once; the result is sorted and
// disjoint and goes through normalize() like any other addition.
void TargetSet::subtract(const TargetSet& other) {
  flush();
  other.flush();
  const auto& cut = other.ranges_;
  std::vector<AddressRange> out;
  out.reserve(ranges_.size());
  size_t j = 0;
  for (const AddressRange& r : ranges_) {
    while (j < cut.size() && cut[j].last < r.first) ++j;
    IpAddress cur = r.first;
    bool consumed = false;
    size_t k = j;
    for (; k < cut.size() && cut[k].first <= r.last; ++k) {
      // cut[k] overlaps [cur, r.last] and lies in r's family.
      if (cur < cut[k].first) out.push_back({cur, IpAddress{cur.family, cut[k].first.value - 1}});
      if (r.last <= cut[k].last) {
        consumed = true;
        break;
      }
      cur = IpAddress{cur.family, cut[k].last.value + 1};  // cut[k].last < r.last: no overflow
    }
    if (!consumed) out.push_back({cur, r.last});
    j = k;  // cut[k] may still overlap the next range
  }
  replace_with(std::move(out));
}

void TargetSet::intersect(const TargetSet& other) {
  flush();
  other.flush();
  const auto& a = ranges_;
  const auto& b = other.ranges_;
  std::vector<AddressRange> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    IpAddress lo = std::max(a[i].first, b[j].first);
    IpAddress hi = std::min(a[i].last, b[j].last);
    if (lo <= hi) out.push_back({lo, hi});  // lo <= hi implies one family
    if (a[i].last < b[j].last)
      ++i;
    else
      ++j;
  }
  replace_with(std::move(out));
}

void TargetSet::replace_with(std::vector<AddressRange> sorted) {
  ranges_.clear();
  cumulative_.clear();
  pending_ = std::move(sorted);
  dirty_.store(true, std::memory_order_relaxed);
}

uint64_t TargetSet::size() const {
  flush();
  return cumulative_.empty() ? 0 : cumulative_.back();
}

IpAddress TargetSet::at(uint64_t index) const {
  if (index >= size()) throw std::out_of_range("TargetSet::at: index out of range");
  // cumulative_[0] = 0 <= index < cumulative_.back(), so k is a valid range index.
  auto k = static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), index) -
                               cumulative_.begin() - 1);
  const AddressRange& r = ranges_[k];
  return IpAddress{r.first.family, r.first.value + (index - cumulative_[k])};
}

namespace {
// The range holding a, or nullptr.
const AddressRange* find_range(const std::vector<AddressRange>& ranges, const IpAddress& a) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), a,
                             [](const IpAddress& x, const AddressRange& r) { return x < r.first; });
  if (it == ranges.begin()) return nullptr;
  --it;
  return a <= it->last ? &*it : nullptr;
}
}  // namespace

bool TargetSet::contains(const IpAddress& a) const {
  flush();
  return find_range(ranges_, a) != nullptr;
}

uint64_t TargetSet::index_of(const IpAddress& a) const {
  flush();
  const AddressRange* r = find_range(ranges_, a);
  if (r == nullptr) return kU64Max;
  uint64_t before = cumulative_[static_cast<size_t>(r - ranges_.data())];
  u128 offset = a.value - r->first.value;
  // Addresses past index UINT64_MAX - 1 cannot be reached by at() either.
  if (offset >= u128{kU64Max - before}) return kU64Max;
  return before + static_cast<uint64_t>(offset);
}

bool TargetSet::has_v4() const {
  flush();
  return !ranges_.empty() && ranges_.front().first.is_v4();
}
bool TargetSet::has_v6() const {
  flush();
  return !ranges_.empty() && ranges_.back().first.is_v6();
}

// -------------------------------------------------------------------------------------------------

std::vector<IpAddress> resolve_with_getaddrinfo(const std::string& name) {
  std::vector<IpAddress> out;
  if (name.empty()) return out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &raw) != 0 || raw == nullptr) return out;
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(raw, freeaddrinfo);
  for (const addrinfo* p = list.get(); p != nullptr; p = p->ai_next) {
    IpAddress a;
    if (p->ai_family == AF_INET && p->ai_addr != nullptr && p->ai_addrlen >= sizeof(sockaddr_in)) {
      sockaddr_in sin;
      std::memcpy(&sin, p->ai_addr, sizeof sin);
      a = IpAddress::v4(ntohl(sin.sin_addr.s_addr));
    } else if (p->ai_family == AF_INET6 && p->ai_addr != nullptr &&
               p->ai_addrlen >= sizeof(sockaddr_in6)) {
      sockaddr_in6 sin6;
      std::memcpy(&sin6, p->ai_addr, sizeof sin6);
      a = IpAddress::from_v6_bytes(sin6.sin6_addr.s6_addr);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  return out;
}

}  // namespace gh
