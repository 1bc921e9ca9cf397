#include "service/services.h"

#include "core/build_paths.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <utility>

#include <iterator>

#include <fmt/format.h>

#include "core/error.h"
#include "core/mapped_file.h"

namespace gh {
namespace {

// Port-major, so that nmap-services (ordered by port, a port's TCP line before its UDP line) is
// already in key order and finish() need not sort it.
constexpr uint32_t key_of(Protocol proto, uint16_t port) {
  return (static_cast<uint32_t>(port) << 8) | static_cast<uint32_t>(proto);
}
constexpr uint16_t port_of(uint32_t key) {
  return static_cast<uint16_t>(key >> 8);
}

constexpr char kNmapSystemPath[] = "/usr/share/nmap/nmap-services";
constexpr char kNmapLocalPath[] = "/usr/local/share/nmap/nmap-services";

// One parsed line of a services file, before it goes into a table.
struct Record {
  std::string_view name;  // a slice of the text being parsed
  uint16_t port = 0;
  Protocol proto = Protocol::Tcp;
  uint32_t weight = 0;  // Entry::weight
};

constexpr uint32_t kMaxNameText = (1u << 24) - 1;  // Entry::name_ref's offset bits

// Character classes of the two formats: blanks separate fields, '#' starts a comment, and the
// characters of service names as IANA's registry and nmap-services write them (letters,
// digits, a few punctuation marks; nmap has "X11:1"). Tables, not std::isalnum: no locale
// lookup for each of nmap-services' million characters.
enum : uint8_t { kText = 0, kBlank = 1, kStop = 2, kNameChar = 4 };
constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> c{};
  for (char b : {' ', '\t', '\r', '\v', '\f'}) c[static_cast<uint8_t>(b)] = kBlank;
  c['#'] = c['\n'] = kStop;
  for (int b = 0; b < 256; ++b)
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' ||
        b == '_' || b == '.' || b == '+' || b == ':')
      c[b] = kNameChar;
  return c;
}();
uint8_t class_of(char c) {
  return kClass[static_cast<uint8_t>(c)];
}
bool in_field(char c) {
  return (class_of(c) & (kBlank | kStop)) == 0;
}

// Anything else in a name means the line is not what we think it is.
bool valid_service_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return class_of(c) == kNameChar; });
}

std::optional<uint64_t> parse_unsigned(std::string_view s, uint64_t max) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

// "80/tcp" -> (80, Tcp). nullopt for malformed text or a protocol we do not scan (sctp, ddp).
std::optional<std::pair<uint16_t, Protocol>> parse_port_proto(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto port = parse_unsigned(s.substr(0, slash), 65535);
  auto proto = parse_protocol(s.substr(slash + 1));
  if (!port || !proto) return std::nullopt;
  return std::pair{static_cast<uint16_t>(*port), *proto};
}

// nmap's open frequency (0 to 1, "0.484143") as a weight: billionths, exact for up to nine
// decimals (nmap-services has six), so that the ranking is the one the decimals give.
std::optional<uint32_t> parse_frequency(std::string_view s) {
  if (s.empty() || s.front() == '-' || s.front() == '+') return std::nullopt;
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  auto w = parse_unsigned(whole, 4);
  if (w && frac.size() <= 9 && (!frac.empty() || dot == std::string_view::npos) &&
      (frac.empty() || parse_unsigned(frac, 999'999'999))) {
    uint64_t v = *w * 1'000'000'000;
    uint64_t scale = 100'000'000;
    for (char c : frac) {
      v += static_cast<uint64_t>(c - '0') * scale;
      scale /= 10;
    }
    return static_cast<uint32_t>(v);
  }
  // Anything else a float parser reads (an exponent, more digits): rounded to billionths.
  double f = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), f);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(f) || f < 0)
    return std::nullopt;
  return static_cast<uint32_t>(std::min(std::round(f * 1e9), 4294967295.0));
}

// Our ranks (1 = most common, 0 = unranked) as weights: rank 1 weighs most.
constexpr uint32_t weight_of_rank(uint64_t rank) {
  return rank == 0 ? 0 : static_cast<uint32_t>(UINT32_MAX - rank);
}

// Feeds every well-formed line of `text` to `sink`; malformed lines are skipped. nmap_format
// picks the column layout: nmap's "name port/proto [frequency [comment...]]" or our "name
// port/proto rank". One pass over the text, no allocation per line: nmap-services has 27,000
// lines and is read before every scan that uses the default ports.
// Lines of other protocols than `proto` go to `other` (port and protocol read, nothing else):
// most of nmap-services is UDP, and a TCP scan reads only the TCP lines.
template <typename Sink>
void parse_text(std::string_view text, bool nmap_format, Protocol proto, Sink&& sink,
                size_t& other) {
  const char* p = text.data();
  const char* const end = p + text.size();
  // The fields that matter: three of nmap's (the rest is comment), four of ours (a fourth
  // flags "too many").
  const size_t want = nmap_format ? 3 : 4;
  while (p < end) {
    std::string_view fields[4];
    size_t count = 0;
    std::optional<std::pair<uint16_t, Protocol>> pp;
    bool skip = false;
    // Fields split on runs of blanks, up to the end of the line or a '#'. A line of another
    // protocol is left once its port/protocol field is read.
    while (count < want) {
      while (p < end && class_of(*p) == kBlank) ++p;
      if (p == end || class_of(*p) == kStop) break;
      const char* start = p;
      while (p < end && in_field(*p)) ++p;
      fields[count++] = std::string_view(start, static_cast<size_t>(p - start));
      if (count == 2) {
        pp = parse_port_proto(fields[1]);
        if (!pp || pp->second != proto) {
          skip = true;
          break;
        }
      }
    }
    const void* eol = std::memchr(p, '\n', static_cast<size_t>(end - p));
    p = eol != nullptr ? static_cast<const char*>(eol) + 1 : end;
    if (skip) {
      // Another protocol's line is counted as nmap's or ours would be (well-formed so far).
      if (pp && (nmap_format || count == 2)) ++other;
      continue;
    }
    if (count == 0) continue;
    if (nmap_format ? count < 2 : count != 3) continue;
    if (!valid_service_name(fields[0])) continue;
    Record rec;
    rec.name = fields[0];
    rec.port = pp->first;
    rec.proto = pp->second;
    if (nmap_format) {
      if (count >= 3) {
        auto f = parse_frequency(fields[2]);
        if (!f) continue;
        rec.weight = *f;
      }
    } else {
      auto rank = parse_unsigned(fields[2], 1'000'000);
      if (!rank) continue;
      rec.weight = weight_of_rank(*rank);
    }
    sink(rec);
  }
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// nmap-style glob: '*' matches any run (also empty), '?' one character; case-insensitive.
bool wildcard_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// The last resort when no services file can be read: the glossary's "worms" ports plus the
// everyday services, ranked like data/services.tsv ranks them.
struct BuiltinService {
  const char* name;
  uint16_t port;
  Protocol proto;
  uint16_t rank;
};
constexpr BuiltinService kBuiltin[] = {
    {"http", 80, Protocol::Tcp, 1},
    {"https", 443, Protocol::Tcp, 2},
    {"ssh", 22, Protocol::Tcp, 3},
    {"ftp", 21, Protocol::Tcp, 4},
    {"smtp", 25, Protocol::Tcp, 5},
    {"telnet", 23, Protocol::Tcp, 6},
    {"ms-wbt-server", 3389, Protocol::Tcp, 7},
    {"microsoft-ds", 445, Protocol::Tcp, 8},
    {"http-alt", 8080, Protocol::Tcp, 9},
    {"domain", 53, Protocol::Tcp, 10},
    {"pop3", 110, Protocol::Tcp, 11},
    {"netbios-ssn", 139, Protocol::Tcp, 12},
    {"imap", 143, Protocol::Tcp, 13},
    {"epmap", 135, Protocol::Tcp, 14},
    {"imaps", 993, Protocol::Tcp, 15},
    {"pop3s", 995, Protocol::Tcp, 16},
    {"submission", 587, Protocol::Tcp, 17},
    {"https-alt", 8443, Protocol::Tcp, 18},
    {"mysql", 3306, Protocol::Tcp, 19},
    {"sunrpc", 111, Protocol::Tcp, 21},
    {"vnc", 5900, Protocol::Tcp, 22},
    {"postgresql", 5432, Protocol::Tcp, 25},
    {"ms-sql-s", 1433, Protocol::Tcp, 26},
    {"socks", 1080, Protocol::Tcp, 38},
    {"http-proxy", 3128, Protocol::Tcp, 39},
    {"printer", 515, Protocol::Tcp, 41},
    {"auth", 113, Protocol::Tcp, 63},
    {"nntp", 119, Protocol::Tcp, 64},
    {"bootps", 67, Protocol::Tcp, 0},
    {"netbios-ns", 137, Protocol::Tcp, 0},
    {"kazaa", 1214, Protocol::Tcp, 0},
    {"serialgateway", 1243, Protocol::Tcp, 0},
    {"italk", 12345, Protocol::Tcp, 0},
    {"asp", 27374, Protocol::Tcp, 0},
    {"back-orifice", 31337, Protocol::Tcp, 0},
    {"domain", 53, Protocol::Udp, 1},
    {"ntp", 123, Protocol::Udp, 2},
    {"snmp", 161, Protocol::Udp, 3},
    {"netbios-ns", 137, Protocol::Udp, 4},
    {"bootps", 67, Protocol::Udp, 5},
    {"bootpc", 68, Protocol::Udp, 6},
    {"isakmp", 500, Protocol::Udp, 7},
    {"ssdp", 1900, Protocol::Udp, 8},
    {"mdns", 5353, Protocol::Udp, 9},
    {"tftp", 69, Protocol::Udp, 10},
    {"netbios-dgm", 138, Protocol::Udp, 11},
    {"syslog", 514, Protocol::Udp, 12},
    {"back-orifice", 31337, Protocol::Udp, 0},
};

}  // namespace

void ServiceTable::Part::finish() {
  auto before = [](const Entry& a, const Entry& b) { return a.key < b.key; };
  // nmap-services is in key order already; a stable sort keeps a port's entries in file order.
  if (!std::is_sorted(by_key.begin(), by_key.end(), before))
    std::stable_sort(by_key.begin(), by_key.end(), before);
  size_t out = 0;
  for (size_t i = 0; i < by_key.size(); ++i) {
    if (out > 0 && by_key[out - 1].key == by_key[i].key) {
      if (by_key[i].weight > by_key[out - 1].weight) by_key[out - 1] = by_key[i];
      continue;
    }
    if (out != i) by_key[out] = by_key[i];
    ++out;
  }
  by_key.resize(out);
}

const ServiceTable::Entry* ServiceTable::Part::find(uint32_t key) const {
  auto it = std::lower_bound(by_key.begin(), by_key.end(), key,
                             [](const Entry& e, uint32_t k) { return e.key < k; });
  return it != by_key.end() && it->key == key ? &*it : nullptr;
}

size_t ServiceTable::parse(std::string_view text, bool nmap_format, Protocol proto, Part& into) {
  const char* base = text.data();
  size_t lines = 0;
  parse_text(
      text, nmap_format, proto,
      [&](const Record& r) {
        ++lines;
        const auto offset = static_cast<uint64_t>(r.name.data() - base);
        if (offset > kMaxNameText) return;  // a text over 16 MiB: no real services file
        into.by_key.push_back(Entry{key_of(r.proto, r.port), r.weight,
                                    static_cast<uint32_t>(offset << 8 | r.name.size())});
      },
      lines);
  into.finish();
  size_t total = 0;
  for (const Entry& e : into.by_key) total += e.name_ref & 0xFF;
  into.names.reserve(total);
  for (Entry& e : into.by_key) {
    const auto offset = static_cast<uint32_t>(into.names.size());
    into.names.append(text.substr(e.name_ref >> 8, e.name_ref & 0xFF));
    e.name_ref = offset << 8 | (e.name_ref & 0xFF);
  }
  return lines;
}

const ServiceTable::Part& ServiceTable::part(Protocol proto) const {
  const int i = proto == Protocol::Tcp ? 0 : 1;
  std::call_once(lazy_->once[i], [&] {
    Part& into = lazy_->parts[i];
    if (!path_.empty()) {
      if (auto file = map_whole_file(path_)) parse(file->text, nmap_format_, proto, into);
    } else if (text_) {
      parse(*text_, nmap_format_, proto, into);
    }
  });
  return lazy_->parts[i];
}

ServiceTable ServiceTable::from_text(std::string text, bool nmap_format) {
  ServiceTable t;
  t.text_ = std::make_shared<const std::string>(std::move(text));
  t.nmap_format_ = nmap_format;
  return t;
}

ServiceTable ServiceTable::from_nmap_services(std::string text) {
  return from_text(std::move(text), /*nmap_format=*/true);
}

ServiceTable ServiceTable::from_nmap_services(std::istream& in) {
  return from_nmap_services(
      std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

ServiceTable ServiceTable::from_glasshouse_tsv(std::string text) {
  return from_text(std::move(text), /*nmap_format=*/false);
}

ServiceTable ServiceTable::from_glasshouse_tsv(std::istream& in) {
  return from_glasshouse_tsv(
      std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

const ServiceTable& ServiceTable::instance() {
  // A function-local static is initialised once, thread-safely. If loading throws (a file named
  // by an environment variable is unusable) the next call tries again. It is never destroyed:
  // freeing nmap-services' 27,000 entries at exit cost a top-1000 scan more than its probes.
  static const ServiceTable& table = *new ServiceTable([] {
    // A file with no well-formed line is passed over. Its TCP part is read now (every scan
    // with default ports needs it), the UDP part when first used.
    auto load = [](const std::string& path, bool nmap_format) -> std::optional<ServiceTable> {
      auto file = map_whole_file(path);
      if (!file) return std::nullopt;
      ServiceTable t;
      t.path_ = path;
      t.nmap_format_ = nmap_format;
      bool any = false;
      std::call_once(t.lazy_->once[0], [&] {
        any = parse(file->text, nmap_format, Protocol::Tcp, t.lazy_->parts[0]) > 0;
      });
      if (!any) return std::nullopt;
      t.source_ = path;
      return t;
    };
    // Files the user pointed us at must work; the default locations are best effort.
    auto forced = [&load](const char* var, bool nmap_format) -> std::optional<ServiceTable> {
      const char* path = std::getenv(var);
      if (path == nullptr || *path == '\0') return std::nullopt;
      if (auto t = load(path, nmap_format)) return t;
      throw UsageError(std::string(var) + "=" + path +
                       ": cannot read a services table from this file");
    };
    if (auto t = forced("GLASSHOUSE_SERVICES_TSV", false)) return std::move(*t);
    if (auto t = forced("GLASSHOUSE_NMAP_SERVICES", true)) return std::move(*t);
    for (const char* path : {kNmapSystemPath, kNmapLocalPath})
      if (auto t = load(path, true)) return std::move(*t);
    for (const std::string dir : {GLASSHOUSE_DATADIR, GLASSHOUSE_SOURCE_DATADIR})
      if (auto t = load(dir + "/services.tsv", false)) return std::move(*t);

    std::string text;
    for (const auto& b : kBuiltin)
      text += fmt::format("{} {}/{} {}\n", b.name, b.port, to_string(b.proto), b.rank);
    ServiceTable t = from_text(std::move(text), /*nmap_format=*/false);
    t.source_ = "built-in";
    return t;
  }());
  return table;
}

std::string_view ServiceTable::name(Protocol proto, uint16_t port) const {
  const Part& p = part(proto);
  const Entry* e = p.find(key_of(proto, port));
  return e == nullptr ? std::string_view("unknown") : p.name(*e);
}

std::vector<uint16_t> ServiceTable::ports_for_name(Protocol proto, std::string_view name) const {
  std::vector<uint16_t> ports;
  if (name.empty()) return ports;
  const Part& p = part(proto);
  for (const Entry& entry : p.by_key)
    if (wildcard_match(name, p.name(entry))) ports.push_back(port_of(entry.key));
  std::sort(ports.begin(), ports.end());
  return ports;
}

std::vector<uint16_t> ServiceTable::top_ports(Protocol proto, size_t n) const {
  n = std::min<size_t>(n, 65535);
  // One 64-bit key per ranked port: its weight above, the port's complement below, so that
  // ordering the keys downwards orders by weight, then by port upwards. 8 bytes each for the
  // 8,000 TCP ports nmap-services ranks (a page per 512: see Entry on why that counts).
  std::vector<uint64_t> ranked;
  std::vector<uint16_t> unranked;
  for (const Entry& entry : part(proto).by_key) {
    const uint32_t key = entry.key;
    if (port_of(key) == 0) continue;  // port 0 only when asked for
    if (entry.weight > 0)
      ranked.push_back(uint64_t{entry.weight} << 16 | (0xFFFFu - port_of(key)));
    else
      unranked.push_back(port_of(key));
  }
  // Only the first n are taken (the order is total, ports are unique per protocol, so it is the
  // full sort's prefix).
  const size_t take = std::min(n, ranked.size());
  const auto mid = ranked.begin() + static_cast<std::ptrdiff_t>(take);
  std::nth_element(ranked.begin(), mid, ranked.end(), std::greater<>());
  std::sort(ranked.begin(), mid, std::greater<>());
  ranked.resize(take);

  std::vector<uint16_t> out;
  out.reserve(n);
  std::vector<bool> listed(65536, false);
  auto add = [&](uint16_t port) {
    if (out.size() < n && !listed[port]) {
      listed[port] = true;
      out.push_back(port);
    }
  };
  for (uint64_t r : ranked) add(static_cast<uint16_t>(0xFFFFu - (r & 0xFFFF)));
  // Past the ranking: ports the table names, then every other port, each in ascending order.
  if (out.size() < n) {
    std::sort(unranked.begin(), unranked.end());
    for (uint16_t port : unranked) add(port);
  }
  for (uint32_t port = 1; port <= 65535 && out.size() < n; ++port) add(static_cast<uint16_t>(port));
  return out;
}

}  // namespace gh
