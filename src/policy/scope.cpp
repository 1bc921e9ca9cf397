#include "policy/scope.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "audit/sha256.h"
#include "service/services.h"

namespace gh {
namespace {

constexpr u128 kU128Max = ~u128{0};

class ScopeParser {
 public:
  ScopeParser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Scope parse() {
    toml::table root;
    try {
      root = toml::parse(text_, source_);
    } catch (const toml::parse_error& e) {
      const auto& at = e.source().begin;
      throw ScopeRefused(fmt::format("malformed scope file {}:{}:{}: {}", source_, at.line,
                                     at.column, e.description()));
    }
    Scope s;
    s.source = std::string(source_);
    only_keys(root, "", {"engagement", "targets", "limits", "announce"});
    const toml::table& eng = required_table(root, "engagement");
    const toml::table& tgt = required_table(root, "targets");
    engagement(eng, s.engagement);
    targets(tgt, s);
    if (const toml::node* lim = root.get("limits")) limits(table_of(*lim, "limits"), s.limits);
    if (const toml::node* an = root.get("announce")) announce(table_of(*an, "announce"), s);
    return s;
  }

 private:
  [[noreturn]] void fail(const toml::node& at, const std::string& what) const {
    throw ScopeRefused(
        fmt::format("malformed scope file {}:{}: {}", source_, at.source().begin.line, what));
  }
  [[noreturn]] void fail_file(const std::string& what) const {
    throw ScopeRefused(fmt::format("malformed scope file {}: {}", source_, what));
  }

  const toml::table& table_of(const toml::node& n, std::string_view name) const {
    const toml::table* t = n.as_table();
    if (t == nullptr) fail(n, fmt::format("\"{}\" must be a table ([{}])", name, name));
    return *t;
  }

  const toml::table& required_table(const toml::table& root, std::string_view name) const {
    const toml::node* n = root.get(name);
    if (n == nullptr) fail_file(fmt::format("no [{}] table", name));
    return table_of(*n, name);
  }

  // Unknown keys are refused: a typo ("exlude") in an authorization must not pass unnoticed.
  void only_keys(const toml::table& t, std::string_view table,
                 std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, node] : t) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      std::string known;
      for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
      if (table.empty())
        fail(node, fmt::format("unknown table [{}] (expected {})", key.str(), known));
      fail(node, fmt::format("unknown key \"{}\" in [{}] (expected {})", key.str(), table, known));
    }
  }

  std::string string_of(const toml::node& n, std::string_view name) const {
    const auto* v = n.as_string();
    if (v == nullptr) fail(n, fmt::format("{} must be a string", name));
    std::string s = v->get();
    if (s.find_first_not_of(" \t") == std::string::npos) fail(n, fmt::format("{} is empty", name));
    return s;
  }

  WallClock::time_point time_of(const toml::node& n, std::string_view name, bool end_of_day) const {
    using namespace std::chrono;
    auto from_date = [&](const toml::date& d) {
      year_month_day ymd{year{d.year}, month{d.month}, day{d.day}};
      if (!ymd.ok()) fail(n, fmt::format("{}: no such date", name));
      if (d.year < 1970 || d.year > 2200) fail(n, fmt::format("{}: year out of range", name));
      return time_point_cast<WallClock::duration>(sys_days{ymd});
    };
    if (const auto* v = n.as_date()) {
      // A bare date covers the whole day, in UTC.
      auto t = from_date(v->get());
      return end_of_day ? t + days{1} - WallClock::duration{1} : t;
    }
    const auto* v = n.as_date_time();
    if (v == nullptr)
      fail(n, fmt::format("{} must be a date-time such as 2026-11-01T00:00:00Z", name));
    const toml::date_time& dt = v->get();
    if (!dt.offset)
      fail(n, fmt::format("{} has no time zone: write it in UTC (2026-11-01T00:00:00Z) or with an "
                          "offset (2026-11-01T00:00:00+01:00)",
                          name));
    auto t = from_date(dt.date) + hours{dt.time.hour} + minutes{dt.time.minute} +
             seconds{dt.time.second} +
             duration_cast<WallClock::duration>(nanoseconds{dt.time.nanosecond});
    return t - minutes{dt.offset->minutes};
  }

  void engagement(const toml::table& t, Engagement& e) const {
    only_keys(t, "engagement", {"id", "authorized_by", "contact", "not_before", "not_after"});
    const toml::node* id = t.get("id");
    if (id == nullptr) fail(t, "[engagement] has no id");
    e.id = string_of(*id, "engagement.id");
    const toml::node* by = t.get("authorized_by");
    if (by == nullptr) fail(t, "[engagement] has no authorized_by (who authorized this scan)");
    e.authorized_by = string_of(*by, "engagement.authorized_by");
    if (const toml::node* c = t.get("contact")) e.contact = string_of(*c, "engagement.contact");
    if (const toml::node* nb = t.get("not_before"))
      e.not_before = time_of(*nb, "engagement.not_before", false);
    if (const toml::node* na = t.get("not_after"))
      e.not_after = time_of(*na, "engagement.not_after", true);
    if (e.not_before && e.not_after && *e.not_before > *e.not_after)
      fail(*t.get("not_after"), "engagement.not_after is before engagement.not_before");
  }

  // A list of address specs; host names are refused (nullptr resolver).
  TargetSet address_list(const toml::node& n, std::string_view name, bool required) const {
    const toml::array* a = n.as_array();
    if (a == nullptr)
      fail(n, fmt::format("{} must be a list of addresses, such as [\"198.18.0.0/24\"]", name));
    if (a->empty() && required) fail(n, fmt::format("{} is empty", name));
    TargetSet set;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& item = *a->get(i);
      std::string spec = string_of(item, fmt::format("{}[{}]", name, i));
      try {
        set.add_spec(spec, nullptr);
      } catch (const UsageError& err) {
        fail(item, fmt::format("{}[{}]: {}", name, i, err.what()));
      }
    }
    return set;
  }

  void targets(const toml::table& t, Scope& s) const {
    only_keys(t, "targets", {"include", "exclude", "ports"});
    const toml::node* inc = t.get("include");
    if (inc == nullptr) fail(t, "[targets] has no include list");
    s.authorized = address_list(*inc, "targets.include", true);
    if (const toml::node* exc = t.get("exclude")) {
      TargetSet excluded = address_list(*exc, "targets.exclude", false);
      s.authorized.subtract(excluded);
    }
    if (s.authorized.empty())
      fail(*inc, "targets.exclude removes every address of targets.include");
    if (const toml::node* p = t.get("ports")) {
      const auto* v = p->as_string();
      if (v == nullptr) fail(*p, "targets.ports must be a string such as \"1-1024,8080\"");
      s.ports_text = v->get();
      try {
        s.ports = parse_port_spec(s.ports_text, ServiceTable::instance());
      } catch (const UsageError& err) {
        fail(*p, fmt::format("targets.ports: {}", err.what()));
      }
      if (s.ports->empty()) fail(*p, "targets.ports is empty");
    }
  }

  void limits(const toml::table& t, ScopeLimits& l) const {
    only_keys(t, "limits", {"max_rate", "max_host_rate"});
    auto rate = [&](const char* key) -> double {
      const toml::node* n = t.get(key);
      if (n == nullptr) return 0;
      std::optional<double> v = n->value<double>();  // integers convert
      if (!v || !(*v > 0) || *v > 1e9)
        fail(*n, fmt::format("limits.{} must be a positive number of packets per second", key));
      return *v;
    };
    l.max_rate = rate("max_rate");
    l.max_host_rate = rate("max_host_rate");
  }

  void announce(const toml::table& t, Scope& s) const {
    only_keys(t, "announce", {"secret", "uri"});
    ScopeAnnounce a;
    const toml::node* sec = t.get("secret");
    if (sec == nullptr) fail(t, "[announce] has no secret (glasshouse scope sign adds one)");
    std::string hex = string_of(*sec, "announce.secret");
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      fail(*sec, "announce.secret must be 64 hex digits (32 random bytes)");
    for (size_t i = 0; i < 64; i += 2)
      a.secret.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    if (const toml::node* u = t.get("uri")) {
      a.uri = string_of(*u, "announce.uri");
      if (a.uri.rfind("https://", 0) != 0 && a.uri.rfind("http://", 0) != 0 &&
          a.uri.rfind("mailto:", 0) != 0)
        fail(*u, "announce.uri must be an http(s):// or mailto: URI (RFC 9511)");
      if (a.uri.size() > 200) fail(*u, "announce.uri is longer than 200 characters");
    }
    s.announce = std::move(a);
  }

  std::string_view text_;
  std::string_view source_;
};

std::vector<uint16_t> difference(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  std::vector<uint16_t> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<uint16_t> intersection(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  std::vector<uint16_t> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string range_text(const AddressRange& r) {
  if (r.first == r.last) return r.first.to_string();
  u128 span = r.last.value - r.first.value;
  // A CIDR block: size a power of two, first address aligned to it.
  if ((span & (span + 1)) == 0 && (r.first.value & span) == 0) {
    int host_bits = 0;
    while (host_bits < 128 && ((span >> host_bits) & 1) != 0) ++host_bits;
    return fmt::format("{}/{}", r.first.to_string(), r.first.bits() - host_bits);
  }
  return r.first.to_string() + "-" + r.last.to_string();
}

// [first, last] as aligned blocks, or nothing when it takes more than `limit` of them.
std::vector<AddressRange> cidr_blocks(const AddressRange& r, size_t limit) {
  std::vector<AddressRange> out;
  u128 first = r.first.value;
  const u128 last = r.last.value;
  const int bits = r.first.bits();
  for (;;) {
    // The largest block aligned at `first` that ends at or before `last`.
    int k = 0;
    while (k < bits) {
      if (k + 1 == 128) {
        if (first == 0 && last == kU128Max) k = 128;
        break;
      }
      u128 size = u128{1} << (k + 1);
      if ((first & (size - 1)) != 0 || last - first < size - 1) break;
      ++k;
    }
    u128 span = k == 128 ? kU128Max : (u128{1} << k) - 1;
    out.push_back({IpAddress{r.first.family, first}, IpAddress{r.first.family, first + span}});
    if (out.size() > limit) return {};
    if (last - first == span) return out;
    first += span + 1;
  }
}

std::string run_text(const std::vector<uint16_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(v[i]) : fmt::format("{}-{}", v[i], v[j]);
    i = j + 1;
  }
  return out;
}

std::string plural(u128 n, std::string_view one, std::string_view many) {
  return count_text(n) + " " + std::string(n == 1 ? one : many);
}

}  // namespace

Scope parse_scope(std::string_view text, std::string_view source) {
  return ScopeParser(text, source).parse();
}

Scope load_scope(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScopeRefused("cannot read scope file \"" + path + "\"");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw ScopeRefused("cannot read scope file \"" + path + "\"");
  std::string text = buf.str();
  Scope s = parse_scope(text, path);
  s.sha256 = sha256_hex(text);
  s.text = std::move(text);
  return s;
}

std::string format_utc(WallClock::time_point t) {
  std::time_t secs = WallClock::to_time_t(std::chrono::floor<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_window(const Engagement& e) {
  if (!e.not_before && !e.not_after) return "any time";
  if (!e.not_before) return "until " + format_utc(*e.not_after);
  if (!e.not_after) return "from " + format_utc(*e.not_before);
  return format_utc(*e.not_before) + " to " + format_utc(*e.not_after);
}

void check_window(const Scope& scope, WallClock::time_point now) {
  const Engagement& e = scope.engagement;
  bool early = e.not_before && now < *e.not_before;
  bool late = e.not_after && now > *e.not_after;
  if (!early && !late) return;
  throw ScopeRefused(
      fmt::format("refused: engagement {} ({}) is authorized {}, and it is now {}: the window {}",
                  e.id, scope.source, format_window(e), format_utc(now),
                  early ? "has not opened yet" : "has closed"));
}

u128 exact_size(const TargetSet& set) {
  u128 total = 0;
  for (const AddressRange& r : set.ranges()) {
    u128 span = r.last.value - r.first.value;  // size - 1
    if (span == kU128Max || total > kU128Max - span - 1) return kU128Max;
    total += span + 1;
  }
  return total;
}

std::string count_text(u128 n) {
  std::string digits;
  do {
    digits += static_cast<char>('0' + static_cast<int>(n % 10));
    n /= 10;
  } while (n != 0);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && i % 3 == 0) out += ',';
    out += digits[i];
  }
  return {out.rbegin(), out.rend()};
}

std::string first_ranges_text(const TargetSet& set, size_t max_items) {
  // Each range as its CIDR blocks when it splits into a few, else as first-last.
  std::vector<std::string> items;
  for (const AddressRange& r : set.ranges()) {
    if (items.size() > max_items) break;
    std::vector<AddressRange> blocks = cidr_blocks(r, 4);
    if (blocks.empty()) blocks.push_back(r);
    for (const auto& b : blocks) items.push_back(range_text(b));
  }
  bool more = items.size() > max_items || set.ranges().size() > max_items;
  if (items.size() > max_items) items.resize(max_items);
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  if (more) out += ", ...";
  return out;
}

std::string ports_text(const PortList& ports) {
  std::string out = run_text(ports.tcp);
  if (!ports.udp.empty()) out += (out.empty() ? "U:" : ",U:") + run_text(ports.udp);
  return out;
}

ScopeFit fit_to_scope(const TargetSet& targets, const PortList& ports, const Scope& scope) {
  ScopeFit fit;
  fit.targets_out = targets;
  fit.targets_out.subtract(scope.authorized);
  fit.targets_out_count = exact_size(fit.targets_out);
  if (scope.ports) {
    fit.ports_out.tcp = difference(ports.tcp, scope.ports->tcp);
    fit.ports_out.udp = difference(ports.udp, scope.ports->udp);
  }
  return fit;
}

void apply_scope(const Scope& scope, TargetSet& targets, PortList& ports, bool ports_given,
                 bool clip, std::vector<std::string>& notes) {
  const std::string where = fmt::format("engagement {} ({})", scope.engagement.id, scope.source);
  if (!ports_given && scope.ports) {
    // The default port list was not asked for by name: fit it to the scope without refusing.
    PortList fitted{intersection(ports.tcp, scope.ports->tcp),
                    intersection(ports.udp, scope.ports->udp)};
    if (fitted.tcp.size() + fitted.udp.size() != ports.size()) {
      if (fitted.empty()) fitted = *scope.ports;  // none of the defaults is authorized
      notes.push_back(
          fmt::format("the default ports were limited to the scope's ports ({}): {} "
                      "port{}",
                      scope.ports_text, fitted.size(), fitted.size() == 1 ? "" : "s"));
      ports = std::move(fitted);
    }
  }
  ScopeFit fit = fit_to_scope(targets, ports, scope);
  if (fit.inside()) return;

  u128 total = exact_size(targets);
  if (!clip) {
    std::string what;
    if (fit.targets_out_count != 0)
      what = fmt::format("{} of {} {} outside the scope of {}, the first: {}",
                         count_text(fit.targets_out_count), plural(total, "target", "targets"),
                         fit.targets_out_count == 1 ? "is" : "are", where,
                         first_ranges_text(fit.targets_out));
    if (!fit.ports_out.empty())
      what += fmt::format("{}port{} {} {} outside the scope's ports ({})", what.empty() ? "" : "; ",
                          fit.ports_out.size() == 1 ? "" : "s", ports_text(fit.ports_out),
                          fit.ports_out.size() == 1 ? "is" : "are", scope.ports_text);
    if (fit.targets_out_count == 0) what += " of " + where;
    throw ScopeRefused("refused: " + what +
                       "; nothing was sent (--clip-to-scope scans only what is inside)");
  }

  if (fit.targets_out_count != 0) {
    targets.intersect(scope.authorized);
    notes.push_back(fmt::format("--clip-to-scope: left out {} outside the scope, the first: {}",
                                plural(fit.targets_out_count, "target", "targets"),
                                first_ranges_text(fit.targets_out)));
  }
  if (!fit.ports_out.empty()) {
    ports.tcp = intersection(ports.tcp, scope.ports->tcp);
    ports.udp = intersection(ports.udp, scope.ports->udp);
    notes.push_back(fmt::format(
        "--clip-to-scope: left out port{} {} outside the scope's ports ({})",
        fit.ports_out.size() == 1 ? "" : "s", ports_text(fit.ports_out), scope.ports_text));
  }
  if (targets.empty() || ports.empty())
    throw ScopeRefused(
        fmt::format("refused: nothing of this scan is inside the scope of {}: "
                    "no {} left after --clip-to-scope",
                    where, targets.empty() ? "target" : "port"));
}

}  // namespace gh
