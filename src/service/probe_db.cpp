#include "service/probe_db.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "core/dynlib.h"
#include "core/error.h"

namespace gh {
namespace {

// libpcre2-8 is loaded by the first regex compiled (-sV, `glasshouse scan --service-probes`),
// not at every start (core/dynlib.h: ~1.4 ms of each scan's start on the project's machine).
// PCRE2's names are macros for the 8-bit functions (pcre2_compile -> pcre2_compile_8): the
// symbol looked up is the expanded one (GH_DYNLIB_FN).
struct Pcre2 {
  DynLib lib{"libpcre2-8.so.0", "libpcre2-8-0", "-sV (the service probes' regexes)"};
#define GH_PCRE2(name) GH_DYNLIB_FN(name)
  GH_PCRE2(pcre2_compile);
  GH_PCRE2(pcre2_get_error_message);
  GH_PCRE2(pcre2_jit_compile);
  GH_PCRE2(pcre2_code_free);
  GH_PCRE2(pcre2_match_data_create_from_pattern);
  GH_PCRE2(pcre2_match_data_free);
  GH_PCRE2(pcre2_match_context_create);
  GH_PCRE2(pcre2_match_context_free);
  GH_PCRE2(pcre2_set_match_limit);
  GH_PCRE2(pcre2_set_depth_limit);
  GH_PCRE2(pcre2_match);
  GH_PCRE2(pcre2_get_ovector_pointer);
#undef GH_PCRE2
};

const Pcre2& pcre2() {
  static const Pcre2* api = new Pcre2();
  return *api;
}

}  // namespace

class Regex {
 public:
  Regex(pcre2_code* code)
      : code_(code), data_(pcre2().pcre2_match_data_create_from_pattern(code, nullptr)) {
    ctx_ = pcre2().pcre2_match_context_create(nullptr);
    // No reply may make matching run away (catastrophic backtracking on hostile bytes).
    pcre2().pcre2_set_match_limit(ctx_, 200000);
    pcre2().pcre2_set_depth_limit(ctx_, 5000);
  }
  ~Regex() {
    pcre2().pcre2_match_context_free(ctx_);
    pcre2().pcre2_match_data_free(data_);
    pcre2().pcre2_code_free(code_);
  }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Groups of the first match (groups[0] the whole match), or false.
  bool match(std::string_view s, std::vector<std::string_view>& groups) const {
    int rc = pcre2().pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0,
                                 data_, ctx_);
    if (rc <= 0) return false;
    PCRE2_SIZE* ov = pcre2().pcre2_get_ovector_pointer(data_);
    groups.clear();
    for (int i = 0; i < rc; ++i) {
      if (ov[2 * i] == PCRE2_UNSET || ov[2 * i + 1] < ov[2 * i])
        groups.emplace_back();
      else
        groups.emplace_back(s.data() + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
    }
    return true;
  }

 private:
  pcre2_code* code_;
  pcre2_match_data* data_;
  pcre2_match_context* ctx_;
};

bool MatchRule::compile(std::string* error) const {
  if (re) return true;
  if (broken) {
    if (error != nullptr) *error = this->error;
    return false;
  }
  int errcode = 0;
  PCRE2_SIZE erroff = 0;
  uint32_t opts = (caseless ? PCRE2_CASELESS : 0) | (dotall ? PCRE2_DOTALL : 0);
  pcre2_code* code = pcre2().pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                                           pattern.size(), opts, &errcode, &erroff, nullptr);
  if (code == nullptr) {
    broken = true;
    PCRE2_UCHAR msg[256];
    pcre2().pcre2_get_error_message(errcode, msg, sizeof msg);
    this->error = fmt::format("{}: bad regex at offset {}: {}", where, erroff,
                              reinterpret_cast<const char*>(msg));
    if (error != nullptr) *error = this->error;
    return false;
  }
  pcre2().pcre2_jit_compile(code,
                            PCRE2_JIT_COMPLETE);  // best effort: falls back to the interpreter
  re = std::make_shared<Regex>(code);
  return true;
}

PortRanges parse_port_ranges(std::string_view text, const std::string& where) {
  PortRanges out;
  size_t pos = 0;
  auto num = [&](std::string_view s) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v > 65535)
      throw UsageError(fmt::format("{}: bad port \"{}\"", where, s));
    return static_cast<uint16_t>(v);
  };
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\r')) item.remove_suffix(1);
    if (!item.empty()) {
      size_t dash = item.find('-');
      uint16_t lo = num(item.substr(0, dash));
      uint16_t hi = dash == std::string_view::npos ? lo : num(item.substr(dash + 1));
      if (hi < lo) throw UsageError(fmt::format("{}: bad port range \"{}\"", where, item));
      out.emplace_back(lo, hi);
    }
    pos = comma + 1;
  }
  return out;
}

bool in_ranges(const PortRanges& r, uint16_t port) {
  for (auto [lo, hi] : r)
    if (port >= lo && port <= hi) return true;
  return false;
}

std::string printable(std::string_view bytes, size_t max) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

namespace {

// Reads `$NAME(` arguments: a group number, then optional quoted strings. Returns the position
// after ')' or npos when malformed.
size_t parse_args(std::string_view t, size_t pos, int& group, std::vector<std::string>& strs) {
  if (pos >= t.size() || t[pos] < '0' || t[pos] > '9') return std::string_view::npos;
  group = t[pos] - '0';
  ++pos;
  while (pos < t.size() && t[pos] == ',') {
    ++pos;
    if (pos >= t.size() || t[pos] != '"') return std::string_view::npos;
    size_t end = t.find('"', pos + 1);
    if (end == std::string_view::npos) return std::string_view::npos;
    strs.emplace_back(t.substr(pos + 1, end - pos - 1));
    pos = end + 1;
  }
  if (pos >= t.size() || t[pos] != ')') return std::string_view::npos;
  return pos + 1;
}

}  // namespace

std::string expand_template(std::string_view t, const std::vector<std::string_view>& groups) {
  std::string out;
  auto group = [&](int n) -> std::string_view {
    return n >= 0 && static_cast<size_t>(n) < groups.size() ? groups[n] : std::string_view{};
  };
  for (size_t i = 0; i < t.size();) {
    if (t[i] != '$') {
      out += t[i++];
      continue;
    }
    std::string_view rest = t.substr(i + 1);
    if (!rest.empty() && rest[0] >= '1' && rest[0] <= '9') {
      out += group(rest[0] - '0');
      i += 2;
      continue;
    }
    int g = 0;
    std::vector<std::string> strs;
    size_t after = std::string_view::npos;
    if (rest.substr(0, 2) == "P(" &&
        (after = parse_args(t, i + 3, g, strs)) != std::string_view::npos && strs.empty()) {
      for (char c : group(g))
        if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f) out += c;
      i = after;
      continue;
    }
    if (rest.substr(0, 6) == "SUBST(" &&
        (after = parse_args(t, i + 7, g, strs)) != std::string_view::npos && strs.size() == 2) {
      std::string_view s = group(g);
      for (size_t k = 0; k < s.size();) {
        if (!strs[0].empty() && s.substr(k, strs[0].size()) == strs[0]) {
          out += strs[1];
          k += strs[0].size();
        } else {
          out += s[k++];
        }
      }
      i = after;
      continue;
    }
    if (rest.substr(0, 2) == "I(" &&
        (after = parse_args(t, i + 3, g, strs)) != std::string_view::npos && strs.size() == 1 &&
        (strs[0] == ">" || strs[0] == "<")) {
      std::string_view s = group(g);
      if (s.size() <= 8) {
        uint64_t v = 0;
        for (size_t k = 0; k < s.size(); ++k) {
          size_t idx = strs[0] == ">" ? k : s.size() - 1 - k;
          v = (v << 8) | static_cast<unsigned char>(s[idx]);
        }
        out += std::to_string(v);
      }
      i = after;
      continue;
    }
    out += t[i++];
  }
  return out;
}

const ServiceProbe* ProbeDb::find(std::string_view name, Protocol proto) const {
  for (const auto& p : probes_)
    if (p.proto == proto && p.name == name) return &p;
  return nullptr;
}

size_t ProbeDb::rule_count() const {
  size_t n = 0;
  for (const auto& p : probes_) n += p.matches.size();
  return n;
}

void ProbeDb::merge(ProbeDb other) {
  for (auto& theirs : other.probes_) {
    auto it = std::find_if(probes_.begin(), probes_.end(), [&](const ServiceProbe& p) {
      return p.proto == theirs.proto && p.name == theirs.name;
    });
    if (it == probes_.end()) {
      probes_.push_back(std::move(theirs));
      continue;
    }
    for (auto& m : theirs.matches) it->matches.push_back(std::move(m));
    for (auto& f : theirs.fallback)
      if (std::find(it->fallback.begin(), it->fallback.end(), f) == it->fallback.end())
        it->fallback.push_back(f);
    if (it->ports.empty()) it->ports = theirs.ports;
    if (it->sslports.empty()) it->sslports = theirs.sslports;
  }
}

namespace {

std::optional<ServiceMatch> try_rules(const ServiceProbe& p, std::string_view reply,
                                      std::string_view soft_service,
                                      std::optional<ServiceMatch>& soft) {
  std::vector<std::string_view> groups;
  for (const MatchRule& r : p.matches) {
    if (!soft_service.empty() && r.service != soft_service) continue;
    if (r.soft && soft) continue;
    if (!r.compile(nullptr)) continue;
    if (!r.re->match(reply, groups)) continue;
    ServiceMatch m;
    m.service = r.service;
    m.soft = r.soft;
    m.source = r.source;
    m.probe = p.name;
    if (!r.soft) {
      auto fill = [&](const std::string& tmpl) {
        return tmpl.empty() ? std::string() : printable(expand_template(tmpl, groups), 200);
      };
      m.product = fill(r.product);
      m.version = fill(r.version);
      m.info = fill(r.info);
      m.hostname = fill(r.hostname);
      m.ostype = fill(r.ostype);
      m.devicetype = fill(r.devicetype);
      for (const auto& c : r.cpe) m.cpe.push_back(fill(c));
      return m;
    }
    soft = std::move(m);
  }
  return std::nullopt;
}

}  // namespace

std::optional<ServiceMatch> ProbeDb::match(const ServiceProbe& probe, std::string_view reply,
                                           std::string_view soft_service) const {
  if (reply.empty()) return std::nullopt;
  std::optional<ServiceMatch> soft;
  if (auto m = try_rules(probe, reply, soft_service, soft)) return m;
  for (const auto& name : probe.fallback) {
    const ServiceProbe* f = find(name, probe.proto);
    if (f == nullptr || f == &probe) continue;
    if (auto m = try_rules(*f, reply, soft_service, soft)) {
      m->probe = probe.name;
      return m;
    }
  }
  if (probe.proto == Protocol::Tcp && !probe.is_null()) {
    if (const ServiceProbe* null = find("NULL", Protocol::Tcp)) {
      if (auto m = try_rules(*null, reply, soft_service, soft)) {
        m->probe = probe.name;
        return m;
      }
    }
  }
  if (soft) soft->probe = probe.name;
  return soft;
}

bool ProbeDb::can_identify(const ServiceProbe& probe, std::string_view service) const {
  auto has = [&](const ServiceProbe& p) {
    return std::any_of(p.matches.begin(), p.matches.end(),
                       [&](const MatchRule& r) { return r.service == service; });
  };
  if (has(probe)) return true;
  for (const auto& name : probe.fallback)
    if (const ServiceProbe* f = find(name, probe.proto); f != nullptr && has(*f)) return true;
  return false;
}

}  // namespace gh
