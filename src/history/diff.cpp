#include "history/diff.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "output/json.h"

namespace gh {

const char* to_string(PortChange::Kind k) {
  switch (k) {
    case PortChange::Kind::Appeared:
      return "appeared";
    case PortChange::Kind::Disappeared:
      return "disappeared";
    case PortChange::Kind::State:
      return "state";
    case PortChange::Kind::Service:
      return "service";
  }
  return "?";
}

const char* to_string(HostChange::Kind k) {
  return k == HostChange::Kind::Appeared ? "appeared" : "disappeared";
}

// What a person calls the service: how it was found (method, confidence) is not a change.
bool same_service(const ServiceRecord& x, const ServiceRecord& y) {
  return x.name == y.name && x.product == y.product && x.version == y.version &&
         x.extra_info == y.extra_info && x.cpe == y.cpe && x.tls == y.tls;
}

RunDiff diff_runs(const RunData& a, const RunData& b) {
  RunDiff d;
  d.a = a.meta;
  d.b = b.meta;
  // Hosts: up in one run and not in the other. A host with a port record counts as present.
  auto present = [](const RunData& r) {
    std::map<std::string, HostRecord, decltype(&address_less)> m(&address_less);
    for (const auto& h : r.hosts)
      if (h.state == "up") m.emplace(h.addr, h);
    for (const auto& p : r.ports)
      if (!m.contains(p.addr) && (p.state == "open" || p.state == "closed"))
        m.emplace(p.addr, HostRecord{p.addr, "up", p.reason, "", "", std::nullopt, ""});
    return m;
  };
  auto ha = present(a), hb = present(b);
  for (const auto& [addr, h] : hb)
    if (!ha.contains(addr)) d.hosts.push_back({HostChange::Kind::Appeared, h});
  for (const auto& [addr, h] : ha)
    if (!hb.contains(addr)) d.hosts.push_back({HostChange::Kind::Disappeared, h});
  std::stable_sort(d.hosts.begin(), d.hosts.end(), [](const HostChange& x, const HostChange& y) {
    return address_less(x.host.addr, y.host.addr);
  });

  // Ports: both lists are sorted (sort_run); walk them together.
  auto less = [](const PortRecord& x, const PortRecord& y) {
    if (x.addr != y.addr) return address_less(x.addr, y.addr);
    if (x.proto != y.proto) return x.proto < y.proto;
    return x.port < y.port;
  };
  size_t i = 0, j = 0;
  while (i < a.ports.size() || j < b.ports.size()) {
    if (j == b.ports.size() || (i < a.ports.size() && less(a.ports[i], b.ports[j]))) {
      d.ports.push_back({PortChange::Kind::Disappeared, a.ports[i], std::nullopt});
      ++i;
    } else if (i == a.ports.size() || less(b.ports[j], a.ports[i])) {
      d.ports.push_back({PortChange::Kind::Appeared, std::nullopt, b.ports[j]});
      ++j;
    } else {
      const PortRecord& x = a.ports[i];
      const PortRecord& y = b.ports[j];
      if (x.state != y.state)
        d.ports.push_back({PortChange::Kind::State, x, y});
      else if (!same_service(x.service, y.service))
        d.ports.push_back({PortChange::Kind::Service, x, y});
      ++i;
      ++j;
    }
  }
  return d;
}

std::string run_label(const RunMeta& m) {
  if (m.id != 0) return fmt::format("run {}", m.id);
  return fmt::format("file {}", m.source);
}

std::string service_text(const ServiceRecord& s) {
  std::string out = s.name;
  for (const std::string* part : {&s.product, &s.version})
    if (!part->empty()) out += (out.empty() ? "" : " ") + *part;
  if (!s.extra_info.empty()) out += (out.empty() ? "(" : " (") + s.extra_info + ")";
  if (!s.tls.empty()) out += (out.empty() ? "[" : " [") + s.tls + "]";
  return out;
}

namespace {

std::string port_name(const PortRecord& p) {
  return p.addr.find(':') != std::string::npos ? fmt::format("[{}]:{}/{}", p.addr, p.port, p.proto)
                                               : fmt::format("{}:{}/{}", p.addr, p.port, p.proto);
}

std::string state_and_service(const PortRecord& p) {
  std::string svc = service_text(p.service);
  return svc.empty() ? p.state : p.state + " " + svc;
}

std::string side_header(const RunMeta& m) {
  std::string when = m.start.empty() ? "" : " (" + m.start + ")";
  return run_label(m) + when;
}

std::string port_json(const PortRecord& p) {
  JsonObject o;
  o.str("state", p.state).str("reason", p.reason);
  if (p.ttl >= 0)
    o.num("ttl", p.ttl);
  else
    o.null("ttl");
  std::string cpe = "[";
  for (size_t k = 0; k < p.service.cpe.size(); ++k)
    cpe += (k != 0 ? "," : "") + json_quote(p.service.cpe[k]);
  cpe += "]";
  std::string svc = JsonObject()
                        .str("name", p.service.name)
                        .str("product", p.service.product)
                        .str("version", p.service.version)
                        .str("extra_info", p.service.extra_info)
                        .raw("cpe", cpe)
                        .str("tls", p.service.tls)
                        .done();
  return o.raw("service", svc).done();
}

std::string meta_json(const RunMeta& m) {
  JsonObject o;
  if (m.id != 0)
    o.num("run", m.id);
  else
    o.str("file", m.source);
  return o.str("start", m.start)
      .str("command", m.command)
      .str("engagement", m.engagement)
      .num("hosts_up", m.hosts_up)
      .num("open_ports", m.open_ports)
      .done();
}

}  // namespace

std::string format_diff_text(const RunDiff& d) {
  std::string out = fmt::format("--- {}\n+++ {}\n", side_header(d.a), side_header(d.b));
  if (d.empty()) return out + "no changes\n";
  for (const auto& h : d.hosts)
    out += fmt::format("{} host {} {}\n", h.kind == HostChange::Kind::Appeared ? '+' : '-',
                       h.host.addr, h.kind == HostChange::Kind::Appeared ? "is up" : "is gone");
  for (const auto& c : d.ports) {
    switch (c.kind) {
      case PortChange::Kind::Appeared:
        out += fmt::format("+ {} {}\n", port_name(*c.after), state_and_service(*c.after));
        break;
      case PortChange::Kind::Disappeared:
        out += fmt::format("- {} {}\n", port_name(*c.before), state_and_service(*c.before));
        break;
      case PortChange::Kind::State:
      case PortChange::Kind::Service:
        out += fmt::format("~ {} {} -> {}\n", port_name(*c.after), state_and_service(*c.before),
                           state_and_service(*c.after));
        break;
    }
  }
  size_t counts[4] = {};
  for (const auto& c : d.ports) ++counts[static_cast<int>(c.kind)];
  size_t up = 0;
  for (const auto& h : d.hosts) up += h.kind == HostChange::Kind::Appeared;
  out += fmt::format(
      "{} host{} appeared, {} disappeared; {} port{} appeared, {} disappeared, {} changed state, "
      "{} changed service\n",
      up, up == 1 ? "" : "s", d.hosts.size() - up, counts[0], counts[0] == 1 ? "" : "s", counts[1],
      counts[2], counts[3]);
  return out;
}

std::string format_diff_json(const RunDiff& d) {
  std::string hosts = "[";
  size_t up = 0;
  for (size_t k = 0; k < d.hosts.size(); ++k) {
    const auto& h = d.hosts[k];
    up += h.kind == HostChange::Kind::Appeared;
    hosts += (k != 0 ? "," : "") + JsonObject()
                                       .str("change", to_string(h.kind))
                                       .str("ip", h.host.addr)
                                       .str("reason", h.host.reason)
                                       .done();
  }
  hosts += "]";
  std::string ports = "[";
  size_t counts[4] = {};
  for (size_t k = 0; k < d.ports.size(); ++k) {
    const auto& c = d.ports[k];
    ++counts[static_cast<int>(c.kind)];
    const PortRecord& any = c.after ? *c.after : *c.before;
    JsonObject o;
    o.str("change", to_string(c.kind))
        .str("ip", any.addr)
        .str("proto", any.proto)
        .num("port", any.port);
    if (c.before)
      o.raw("before", port_json(*c.before));
    else
      o.null("before");
    if (c.after)
      o.raw("after", port_json(*c.after));
    else
      o.null("after");
    ports += (k != 0 ? "," : "") + o.done();
  }
  ports += "]";
  std::string summary = JsonObject()
                            .num("hosts_appeared", static_cast<uint64_t>(up))
                            .num("hosts_disappeared", static_cast<uint64_t>(d.hosts.size() - up))
                            .num("ports_appeared", static_cast<uint64_t>(counts[0]))
                            .num("ports_disappeared", static_cast<uint64_t>(counts[1]))
                            .num("state_changed", static_cast<uint64_t>(counts[2]))
                            .num("service_changed", static_cast<uint64_t>(counts[3]))
                            .done();
  return JsonObject()
             .raw("a", meta_json(d.a))
             .raw("b", meta_json(d.b))
             .raw("hosts", hosts)
             .raw("ports", ports)
             .raw("summary", summary)
             .done() +
         "\n";
}

}  // namespace gh
