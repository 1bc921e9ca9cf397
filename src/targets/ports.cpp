#include "targets/ports.h"

#include <algorithm>
#include <bitset>
#include <cctype>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "service/services.h"

namespace gh {
namespace {

constexpr size_t kMaxQuoted = 64;

// The item quoted for an error message: always one line, printable, and not too long.
std::string quote(std::string_view s) {
  std::string out = "\"";
  size_t shown = std::min(s.size(), kMaxQuoted);
  for (size_t i = 0; i < shown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7F) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxQuoted) out += "...";
  out += '"';
  return out;
}

[[noreturn]] void fail(const std::string& message) {
  throw UsageError(message);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool numeric_form(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c) || c == '-'; });
}

// Characters a service name (or a wildcard over names) may contain.
bool name_form(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '+' || c == '*' || c == '?';
  });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Decimal digits -> value, saturating at 65536 so that huge numbers stay "out of range".
uint32_t to_number(std::string_view digits) {
  uint32_t v = 0;
  for (char c : digits) v = std::min<uint32_t>(v * 10 + static_cast<uint32_t>(c - '0'), 65536);
  return v;
}

struct Range {
  uint32_t lo, hi;
};

// Parses the numeric forms: "22", "1-1024", "1024-", "-100", "-". `body` holds only digits and
// '-'; `item` is what the user wrote, for messages.
Range parse_range(std::string_view body, std::string_view item) {
  size_t dash = body.find('-');
  if (dash == std::string_view::npos) {
    uint32_t port = to_number(body);
    if (port > 65535) fail("invalid port " + quote(item) + " in -p: port out of range 1-65535");
    return {port, port};
  }
  if (body.find('-', dash + 1) != std::string_view::npos)
    fail("invalid port range " + quote(item) + " in -p: expected START-END");
  std::string_view lo_text = body.substr(0, dash), hi_text = body.substr(dash + 1);
  // An omitted start is 1 (port 0 only when written), an omitted end is 65535.
  uint32_t lo = lo_text.empty() ? 1 : to_number(lo_text);
  uint32_t hi = hi_text.empty() ? 65535 : to_number(hi_text);
  for (auto [text, value] : {std::pair{lo_text, lo}, std::pair{hi_text, hi}})
    if (value > 65535)
      fail("invalid port range " + quote(item) + " in -p: port " + std::string(text.substr(0, 10)) +
           (text.size() > 10 ? "..." : "") + " out of range 1-65535");
  if (lo > hi)
    fail("invalid port range " + quote(item) + " in -p: start " + std::to_string(lo) +
         " is greater than end " + std::to_string(hi));
  return {lo, hi};
}

using PortSet = std::bitset<65536>;

std::vector<uint16_t> to_vector(const PortSet& set) {
  std::vector<uint16_t> out;
  out.reserve(set.count());
  for (uint32_t p = 0; p < 65536; ++p)
    if (set[p]) out.push_back(static_cast<uint16_t>(p));
  return out;
}

}  // namespace

PortList parse_port_spec(std::string_view spec, const ServiceTable& services,
                         PortProtocols unprefixed) {
  if (spec.empty()) fail("empty port list in -p");
  // Bitsets keep memory bounded however many overlapping ranges the spec repeats.
  auto tcp = std::make_unique<PortSet>();
  auto udp = std::make_unique<PortSet>();
  std::optional<std::vector<uint16_t>> known[2];  // ports the table names, per protocol, lazily
  Protocol proto = unprefixed == PortProtocols::Udp ? Protocol::Udp : Protocol::Tcp;
  bool prefixed = false;  // a T:/U: was seen: unprefixed items follow it from then on

  size_t item_no = 0;
  size_t start = 0;
  while (true) {
    size_t comma = spec.find(',', start);
    std::string_view item = spec.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    ++item_no;
    if (item.empty())
      fail("empty item (number " + std::to_string(item_no) + ") in -p " + quote(spec));

    std::string_view body = item;
    if (size_t colon = item.find(':'); colon != std::string_view::npos) {
      std::string_view prefix = item.substr(0, colon);
      if (iequals(prefix, "T")) {
        proto = Protocol::Tcp;
      } else if (iequals(prefix, "U")) {
        proto = Protocol::Udp;
      } else if (iequals(prefix, "S")) {
        fail("SCTP is not supported: " + quote(item) + " in -p (use T: or U:)");
      } else if (iequals(prefix, "P")) {
        fail("IP protocol scans are not supported: " + quote(item) + " in -p (use T: or U:)");
      } else {
        fail("unknown protocol prefix in " + quote(item) + " in -p (use T: or U:)");
      }
      prefixed = true;
      body = item.substr(colon + 1);
      if (body.empty()) fail("no ports after " + quote(item) + " in -p");
      if (body.find(':') != std::string_view::npos)
        fail("more than one protocol prefix in " + quote(item) + " in -p");
    }
    PortSet& set = proto == Protocol::Tcp ? *tcp : *udp;
    // -sS -sU: an item before any prefix goes to both lists (see the end of the loop).
    const bool both = !prefixed && unprefixed == PortProtocols::Both;

    if (body.front() == '[') {
      // nmap's "[1-1024]": the ports in that range that the service table names.
      std::string_view inner = body.substr(1);
      if (inner.empty() || inner.back() != ']')
        fail("invalid port range " + quote(item) + " in -p: missing ']'");
      inner.remove_suffix(1);
      if (inner.empty() || !numeric_form(inner))
        fail("invalid port range " + quote(item) + " in -p: expected [START-END]");
      Range r = parse_range(inner, item);
      auto& names = known[proto == Protocol::Tcp ? 0 : 1];
      if (!names) names = services.ports_for_name(proto, "*");
      bool any = false;
      for (uint16_t p : *names) {
        if (p < r.lo || p > r.hi) continue;
        set.set(p);
        any = true;
      }
      if (!any)
        fail("no port in " + quote(item) + " in -p has a known " + std::string(to_string(proto)) +
             " service");
    } else if (numeric_form(body)) {
      Range r = parse_range(body, item);
      for (uint32_t p = r.lo; p <= r.hi; ++p) set.set(p);
    } else if (iequals(body, "worms")) {
      for (uint16_t p : worm_ports()) set.set(p);
    } else if (name_form(body)) {
      auto ports = services.ports_for_name(proto, body);
      if (ports.empty()) {
        Protocol other = proto == Protocol::Tcp ? Protocol::Udp : Protocol::Tcp;
        if (body.size() <= kMaxQuoted && !services.ports_for_name(other, body).empty())
          fail("unknown service " + quote(body) + " for " + std::string(to_string(proto)) +
               " in -p (it is a " + std::string(to_string(other)) + " service: try " +
               (other == Protocol::Udp ? "U:" : "T:") + std::string(body) + ")");
        fail("unknown service " + quote(body) + " in -p");
      }
      for (uint16_t p : ports) set.set(p);
    } else {
      fail("invalid port " + quote(item) +
           " in -p: expected a port, a range, a service name or a T:/U: prefix");
    }

    if (both) *udp |= *tcp;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return PortList{to_vector(*tcp), to_vector(*udp)};
}

PortList top_ports(size_t n, const ServiceTable& services, PortProtocols protocols) {
  if (n == 0) fail("--top-ports needs at least 1 port (got 0)");
  PortList list;
  auto ranked = [&](Protocol proto) {
    std::vector<uint16_t> v = services.top_ports(proto, n);
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  if (protocols != PortProtocols::Udp) list.tcp = ranked(Protocol::Tcp);
  if (protocols != PortProtocols::Tcp) list.udp = ranked(Protocol::Udp);
  return list;
}

const std::vector<uint16_t>& worm_ports() {
  // "List of ports people and worms like to scan for" (the project glossary, shared/seeds).
  static const std::vector<uint16_t> ports = {21,   23,   25,   67,    80,    111,  113,
                                              119,  137,  445,  515,   1080,  1214, 1243,
                                              1433, 3128, 8080, 12345, 27374, 31337};
  return ports;
}

}  // namespace gh
