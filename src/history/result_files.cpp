#include "history/result_files.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "audit/json_read.h"
#include "core/dynlib.h"
#include "core/error.h"

namespace gh {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("cannot read result file \"{}\"", path));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw UsageError(fmt::format("cannot read result file \"{}\"", path));
  return s.str();
}

std::string str_of(const JsonValue& obj, std::string_view key) {
  const JsonValue* v = obj.get(key);
  return v != nullptr && v->is_string() ? v->text : std::string();
}

std::optional<int64_t> int_of(const JsonValue& obj, std::string_view key) {
  const JsonValue* v = obj.get(key);
  if (v == nullptr || v->type != JsonValue::Type::Number) return std::nullopt;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v->text.data(), v->text.data() + v->text.size(), n);
  if (ec != std::errc() || p != v->text.data() + v->text.size()) return std::nullopt;
  return n;
}

// Adds or replaces a port (a resumed file redoes nothing twice, but a later record wins).
void put_port(std::map<std::tuple<std::string, std::string, uint16_t>, PortRecord>& ports,
              PortRecord p) {
  auto key = std::make_tuple(p.addr, p.proto, p.port);
  ports[key] = std::move(p);
}

}  // namespace

RunData read_jsonl_results(const std::string& text, const std::string& name) {
  RunData run;
  run.meta.source = name;
  run.meta.scanner = "glasshouse";
  std::map<std::tuple<std::string, std::string, uint16_t>, PortRecord> ports;
  std::map<std::string, HostRecord> hosts;
  size_t line_no = 0;
  bool header = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string err;
    auto v = parse_json(line, &err);
    if (!v || v->type != JsonValue::Type::Object)
      throw UsageError(fmt::format("{}:{}: not a JSON Lines result record ({})", name, line_no,
                                   v ? "not an object" : err));
    std::string type = str_of(*v, "type");
    if (type == "scan" || type == "resume") {
      header = true;
      if (type == "scan" || run.meta.start.empty()) {
        run.meta.start = str_of(*v, "start");
        run.meta.command = str_of(*v, "command");
        // "scan_types" (every type: -sS -sU) since it was added; "scan_type" before.
        std::vector<std::string> types;
        if (const JsonValue* ts = v->get("scan_types");
            ts != nullptr && ts->type == JsonValue::Type::Array)
          for (const JsonValue& t : ts->items)
            if (t.is_string()) types.push_back(t.text);
        if (types.empty()) types.push_back(str_of(*v, "scan_type"));
        set_scan_types(run.meta, std::move(types));
        run.meta.targets = int_of(*v, "targets").value_or(0);
        run.meta.ports = int_of(*v, "ports").value_or(0);
        run.meta.engagement = str_of(*v, "engagement");
        if (auto s = int_of(*v, "shard")) run.meta.shard = static_cast<uint32_t>(*s);
        if (auto s = int_of(*v, "shards")) run.meta.shards = static_cast<uint32_t>(*s);
      }
    } else if (type == "port") {
      PortRecord p;
      p.addr = str_of(*v, "ip");
      auto port = int_of(*v, "port");
      p.state = str_of(*v, "state");
      if (p.addr.empty() || !port || *port < 0 || *port > 65535 || p.state.empty())
        throw UsageError(fmt::format("{}:{}: a port record needs \"ip\", \"port\" and \"state\"",
                                     name, line_no));
      p.port = static_cast<uint16_t>(*port);
      p.proto = str_of(*v, "proto");
      if (p.proto.empty()) p.proto = "tcp";
      p.reason = str_of(*v, "reason");
      p.ttl = static_cast<int>(int_of(*v, "ttl").value_or(-1));
      p.seen = str_of(*v, "time");
      p.service.name = str_of(*v, "service");
      if (p.service.name == "unknown") p.service.name.clear();
      // Service details, when a writer adds them (-sV): "product", "version", "extra_info", "cpe".
      p.service.product = str_of(*v, "product");
      p.service.version = str_of(*v, "version");
      p.service.extra_info = str_of(*v, "extra_info");
      if (const JsonValue* cpe = v->get("cpe"); cpe != nullptr) {
        if (cpe->is_string()) p.service.cpe.push_back(cpe->text);
        for (const auto& c : cpe->items)
          if (c.is_string()) p.service.cpe.push_back(c.text);
      }
      if (const JsonValue* svc = v->get("service"); svc && svc->type == JsonValue::Type::Object) {
        p.service.name = str_of(*svc, "name");
        p.service.product = str_of(*svc, "product");
        p.service.version = str_of(*svc, "version");
        p.service.extra_info = str_of(*svc, "extra_info");
        p.service.method = str_of(*svc, "method");
        p.service.tls = str_of(*svc, "tls");
      }
      if (p.state == "open" || p.state == "closed" || p.reason == "reset" ||
          p.reason == "syn-ack" || p.reason == "conn-refused") {
        auto& h = hosts[p.addr];
        if (h.addr.empty()) h = HostRecord{p.addr, "up", p.reason, "", "", std::nullopt, ""};
      }
      put_port(ports, std::move(p));
    } else if (type == "host") {
      HostRecord h;
      h.addr = str_of(*v, "ip");
      if (h.addr.empty())
        throw UsageError(fmt::format("{}:{}: a host record needs \"ip\"", name, line_no));
      h.state = str_of(*v, "state");
      if (h.state.empty()) h.state = "up";
      h.reason = str_of(*v, "reason");
      h.mac = str_of(*v, "mac");
      h.vendor = str_of(*v, "vendor");
      h.hostname = str_of(*v, "hostname");
      hosts[h.addr] = h;
    } else if (type == "summary") {
      run.meta.end = str_of(*v, "end");
      run.meta.exit_reason = str_of(*v, "exit_reason");
      run.meta.probes_sent += int_of(*v, "probes_sent").value_or(0);
    }
  }
  if (!header)
    throw UsageError(
        fmt::format("{}: not a Glasshouse JSON Lines result file (no \"scan\" header "
                    "record)",
                    name));
  for (auto& [k, p] : ports) {
    if (p.state == "open") ++run.meta.open_ports;
    run.ports.push_back(std::move(p));
  }
  for (auto& [a, h] : hosts) {
    if (h.state == "up") ++run.meta.hosts_up;
    run.hosts.push_back(std::move(h));
  }
  sort_run(run);
  return run;
}

namespace {

// libxml2 is loaded when the first nmap XML file is read (core/dynlib.h), not at start: it and
// the ICU it links are needed by no scan.
struct Xml {
  DynLib lib{"libxml2.so.2", "libxml2", "reading nmap XML results"};
#define GH_XML(name) decltype(&::name) name = lib.fn<decltype(::name)>(#name)
  GH_XML(xmlReadMemory);
  GH_XML(xmlGetLastError);
  GH_XML(xmlResetLastError);
  GH_XML(xmlFreeDoc);
  GH_XML(xmlDocGetRootElement);
  GH_XML(xmlGetProp);
  GH_XML(xmlNodeGetContent);
  GH_XML(xmlStrcmp);
#undef GH_XML
  // The header makes xmlFree a macro (per-thread hooks); the library exports the process-wide
  // variable, which is what xmlGetProp's and xmlNodeGetContent's strings are freed with here.
  xmlFreeFunc* free_fn = lib.fn<xmlFreeFunc>("xmlFree");
  void free(void* p) const {
    (*free_fn)(p);
  }
};

const Xml& xml() {
  static const Xml* api = new Xml();
  return *api;
}

std::string attr(xmlNode* n, const char* name) {
  xmlChar* v = xml().xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  if (v == nullptr) return {};
  std::string s(reinterpret_cast<const char*>(v));
  xml().free(v);
  return s;
}

bool is(xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE &&
         xml().xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

std::string content(xmlNode* n) {
  xmlChar* v = xml().xmlNodeGetContent(n);
  if (v == nullptr) return {};
  std::string s(reinterpret_cast<const char*>(v));
  xml().free(v);
  return s;
}

// "1700000000" (nmap's start/time attributes, seconds since 1970) to RFC 3339 UTC.
std::string epoch_to_utc(const std::string& secs) {
  int64_t t = 0;
  auto [p, ec] = std::from_chars(secs.data(), secs.data() + secs.size(), t);
  if (secs.empty() || ec != std::errc()) return {};
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void read_host(xmlNode* host, RunData& run,
               std::map<std::tuple<std::string, std::string, uint16_t>, PortRecord>& ports) {
  HostRecord h;
  for (xmlNode* c = host->children; c != nullptr; c = c->next) {
    if (is(c, "status")) {
      h.state = attr(c, "state");
      h.reason = attr(c, "reason");
    } else if (is(c, "address")) {
      std::string type = attr(c, "addrtype");
      if (type == "mac") {
        h.mac = attr(c, "addr");
        h.vendor = attr(c, "vendor");
      } else {
        h.addr = attr(c, "addr");
      }
    } else if (is(c, "hostnames")) {
      for (xmlNode* n = c->children; n != nullptr; n = n->next)
        if (is(n, "hostname") && h.hostname.empty()) h.hostname = attr(n, "name");
    } else if (is(c, "times")) {
      std::string srtt = attr(c, "srtt");  // microseconds
      if (!srtt.empty()) h.latency = std::strtod(srtt.c_str(), nullptr) / 1e6;
    }
  }
  if (h.addr.empty()) return;  // a host without an IP address says nothing we can key on
  if (h.state.empty()) h.state = "up";
  for (xmlNode* c = host->children; c != nullptr; c = c->next) {
    if (!is(c, "ports")) continue;
    for (xmlNode* pn = c->children; pn != nullptr; pn = pn->next) {
      if (!is(pn, "port")) continue;
      PortRecord p;
      p.addr = h.addr;
      p.proto = attr(pn, "protocol");
      // The DTD requires it; without one the port is TCP, as in our JSON Lines (a port keyed
      // by an empty protocol would be another port there: found by fuzz_diff_xml).
      if (p.proto.empty()) p.proto = "tcp";
      std::string id = attr(pn, "portid");
      int port = -1;
      std::from_chars(id.data(), id.data() + id.size(), port);
      if (port < 0 || port > 65535) continue;
      p.port = static_cast<uint16_t>(port);
      for (xmlNode* d = pn->children; d != nullptr; d = d->next) {
        if (is(d, "state")) {
          p.state = attr(d, "state");
          p.reason = attr(d, "reason");
          std::string ttl = attr(d, "reason_ttl");
          if (!ttl.empty() && p.reason != "no-response") p.ttl = std::atoi(ttl.c_str());
        } else if (is(d, "service")) {
          ServiceRecord& s = p.service;
          s.name = attr(d, "name");
          if (s.name == "unknown") s.name.clear();
          s.product = attr(d, "product");
          s.version = attr(d, "version");
          s.extra_info = attr(d, "extrainfo");
          s.method = attr(d, "method");
          s.confidence = std::atoi(attr(d, "conf").c_str());
          std::string tunnel = attr(d, "tunnel");
          if (tunnel == "ssl") s.tls = "ssl";
          for (xmlNode* e = d->children; e != nullptr; e = e->next)
            if (is(e, "cpe")) s.cpe.push_back(content(e));
        }
      }
      if (p.state.empty()) continue;
      put_port(ports, std::move(p));
    }
  }
  if (h.state == "up") ++run.meta.hosts_up;
  run.hosts.push_back(std::move(h));
}

}  // namespace

RunData read_nmap_xml(const std::string& text, const std::string& name) {
  // No network, no DTD loading, no entity substitution: a result file is data, not a program.
  int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
  xml().xmlResetLastError();
  xmlDocPtr doc = xml().xmlReadMemory(text.data(), static_cast<int>(text.size()), name.c_str(),
                                      nullptr, options);
  if (doc == nullptr) {
    const xmlError* e = xml().xmlGetLastError();
    std::string msg = e != nullptr && e->message != nullptr ? e->message : "malformed";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw UsageError(fmt::format("{}:{}: not a complete XML document ({}); truncated?", name,
                                 e != nullptr ? e->line : 0, msg));
  }
  struct Free {
    xmlDocPtr d;
    ~Free() { xml().xmlFreeDoc(d); }
  } guard{doc};
  xmlNode* root = xml().xmlDocGetRootElement(doc);
  if (root == nullptr || !is(root, "nmaprun"))
    throw UsageError(fmt::format("{}: not an nmap XML result file (no <nmaprun>)", name));
  RunData run;
  run.meta.source = name;
  run.meta.scanner = attr(root, "scanner");
  run.meta.command = attr(root, "args");
  run.meta.start = epoch_to_utc(attr(root, "start"));
  std::map<std::tuple<std::string, std::string, uint16_t>, PortRecord> ports;
  std::set<std::string> seen_hosts;
  std::vector<std::string> types;  // one <scaninfo> per scan type (-sS -sU: syn, then udp)
  for (xmlNode* c = root->children; c != nullptr; c = c->next) {
    if (is(c, "scaninfo")) {
      if (std::string t = attr(c, "type"); std::find(types.begin(), types.end(), t) == types.end())
        types.push_back(std::move(t));
      run.meta.ports += std::strtoull(attr(c, "numservices").c_str(), nullptr, 10);
    } else if (is(c, "host")) {
      read_host(c, run, ports);
    } else if (is(c, "runstats")) {
      for (xmlNode* r = c->children; r != nullptr; r = r->next) {
        if (is(r, "finished")) {
          run.meta.end = epoch_to_utc(attr(r, "time"));
          run.meta.exit_reason = attr(r, "exit") == "success" ? "done" : attr(r, "exit");
        } else if (is(r, "hosts")) {
          run.meta.targets = std::strtoull(attr(r, "total").c_str(), nullptr, 10);
        }
      }
    }
  }
  set_scan_types(run.meta, std::move(types));
  // Hosts listed twice (nmap does not, masscan does): keep one, counted once.
  std::map<std::string, HostRecord> hosts;
  for (auto& h : run.hosts) {
    auto [it, fresh] = hosts.emplace(h.addr, h);
    if (!fresh && h.state == "up") it->second.state = "up";
  }
  run.hosts.clear();
  run.meta.hosts_up = 0;
  for (auto& [a, h] : hosts) {
    if (h.state == "up") ++run.meta.hosts_up;
    run.hosts.push_back(std::move(h));
  }
  for (auto& [k, p] : ports) {
    if (p.state == "open") ++run.meta.open_ports;
    run.ports.push_back(std::move(p));
  }
  sort_run(run);
  return run;
}

RunData read_result_file(const std::string& path) {
  std::string text = slurp(path);
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw UsageError(fmt::format("{}: empty result file", path));
  if (text[first] == '<') return read_nmap_xml(text, path);
  if (text[first] == '{') return read_jsonl_results(text, path);
  throw UsageError(fmt::format("{}: neither nmap XML nor Glasshouse JSON Lines", path));
}

}  // namespace gh
