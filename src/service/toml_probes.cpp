#include "service/toml_probes.h"

#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/error.h"
#include "service/nmap_probes.h"

namespace gh {
namespace {

void check_keys(const toml::table& t, const std::set<std::string>& allowed,
                const std::string& where) {
  for (const auto& [k, v] : t)
    if (!allowed.count(std::string(k.str())))
      throw UsageError(fmt::format("{}: unknown key \"{}\"", where, k.str()));
}

std::string str(const toml::table& t, const char* key, const std::string& where,
                bool required = false) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    if (required) throw UsageError(fmt::format("{}: \"{}\" is missing", where, key));
    return {};
  }
  auto v = n->value<std::string>();
  if (!v) throw UsageError(fmt::format("{}: \"{}\" must be a string", where, key));
  return *v;
}

int64_t integer(const toml::table& t, const char* key, const std::string& where, int64_t def,
                int64_t lo, int64_t hi) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return def;
  auto v = n->value<int64_t>();
  if (!v || *v < lo || *v > hi)
    throw UsageError(
        fmt::format("{}: \"{}\" must be an integer from {} to {}", where, key, lo, hi));
  return *v;
}

std::vector<std::string> strings(const toml::table& t, const char* key, const std::string& where) {
  std::vector<std::string> out;
  const toml::node* n = t.get(key);
  if (n == nullptr) return out;
  const toml::array* a = n->as_array();
  if (a == nullptr) throw UsageError(fmt::format("{}: \"{}\" must be an array", where, key));
  for (const auto& e : *a) {
    auto v = e.value<std::string>();
    if (!v) throw UsageError(fmt::format("{}: \"{}\" must hold strings", where, key));
    out.push_back(*v);
  }
  return out;
}

MatchRule read_rule(const toml::table& t, const std::string& where) {
  check_keys(t,
             {"service", "pattern", "flags", "soft", "product", "version", "info", "hostname",
              "ostype", "devicetype", "cpe"},
             where);
  MatchRule r;
  r.source = DbSource::Ours;
  r.where = where;
  r.service = str(t, "service", where, true);
  r.pattern = str(t, "pattern", where, true);
  for (char f : str(t, "flags", where)) {
    if (f == 'i')
      r.caseless = true;
    else if (f == 's')
      r.dotall = true;
    else
      throw UsageError(fmt::format("{}: unknown flag '{}' (use i and s)", where, f));
  }
  if (const toml::node* n = t.get("soft")) {
    auto b = n->value<bool>();
    if (!b) throw UsageError(where + ": \"soft\" must be true or false");
    r.soft = *b;
  }
  r.product = str(t, "product", where);
  r.version = str(t, "version", where);
  r.info = str(t, "info", where);
  r.hostname = str(t, "hostname", where);
  r.ostype = str(t, "ostype", where);
  r.devicetype = str(t, "devicetype", where);
  r.cpe = strings(t, "cpe", where);
  return r;
}

}  // namespace

ProbeDb parse_toml_probes(const std::string& text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw UsageError(fmt::format("{}:{}: {}", name, e.source().begin.line, e.description()));
  }
  check_keys(root, {"probe"}, name);
  ProbeDb db;
  const toml::array* probes = root["probe"].as_array();
  if (probes == nullptr) throw UsageError(name + ": no [[probe]] tables");
  for (const auto& node : *probes) {
    const toml::table* t = node.as_table();
    if (t == nullptr) throw UsageError(name + ": probe must be a table");
    std::string pname = str(*t, "name", name + ": a probe", true);
    std::string where = fmt::format("{}: probe {}", name, pname);
    check_keys(*t,
               {"name", "proto", "payload", "ports", "sslports", "rarity", "wait_ms",
                "tcpwrapped_ms", "fallback", "match"},
               where);
    ServiceProbe p;
    p.source = DbSource::Ours;
    p.name = pname;
    std::string proto = str(*t, "proto", where);
    if (proto.empty() || proto == "tcp")
      p.proto = Protocol::Tcp;
    else if (proto == "udp")
      p.proto = Protocol::Udp;
    else
      throw UsageError(fmt::format("{}: proto must be tcp or udp", where));
    p.payload = decode_escapes(str(*t, "payload", where));
    p.ports = parse_port_ranges(str(*t, "ports", where), where);
    p.sslports = parse_port_ranges(str(*t, "sslports", where), where);
    p.rarity = static_cast<int>(integer(*t, "rarity", where, pname == "NULL" ? 1 : 5, 1, 9));
    p.totalwait_ms = static_cast<uint32_t>(integer(*t, "wait_ms", where, 5000, 1, 600000));
    p.tcpwrapped_ms = static_cast<uint32_t>(integer(*t, "tcpwrapped_ms", where, 3000, 1, 600000));
    p.fallback = strings(*t, "fallback", where);
    if (const toml::node* m = t->get("match")) {
      const toml::array* rules = m->as_array();
      if (rules == nullptr) throw UsageError(where + ": match must be [[probe.match]] tables");
      size_t i = 0;
      for (const auto& rn : *rules) {
        const toml::table* rt = rn.as_table();
        std::string rwhere = fmt::format("{} match {}", where, ++i);
        if (rt == nullptr) throw UsageError(rwhere + ": must be a table");
        p.matches.push_back(read_rule(*rt, rwhere));
      }
    }
    if (db.find(p.name, p.proto) != nullptr)
      throw UsageError(fmt::format("{}: defined twice", where));
    db.probes().push_back(std::move(p));
  }
  return db;
}

ProbeDb load_toml_probes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("cannot read the probe database \"{}\"", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_toml_probes(ss.str(), path);
}

}  // namespace gh
