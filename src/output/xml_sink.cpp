#include "output/xml_sink.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "core/error.h"
#include "output/port_listing.h"

namespace gh {
namespace {

// Length of the well-formed UTF-8 sequence at s[i] (1..4), or 0 when it is not one.
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;                                 // overlong
  if (n == 3 && c == 0xE0 && b(i + 1) < 0xA0) return 0;             // overlong
  if (n == 3 && c == 0xED && b(i + 1) >= 0xA0) return 0;            // surrogate
  if (n == 3 && c == 0xEF && b(i + 1) == 0xBF && b(i + 2) >= 0xBE)  // U+FFFE, U+FFFF
    return 0;
  if (n == 4 && (c > 0xF4 || (c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90)))
    return 0;
  return n;
}

std::string attr(std::string_view name, std::string_view value) {
  return fmt::format(" {}=\"{}\"", name, xml_escape(value));
}

std::string addr_type(const IpAddress& a) {
  return a.is_v4() ? "ipv4" : "ipv6";
}

int64_t unix_seconds(WallClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// nmap.dtd's scaninfo types that Glasshouse's scan types are named after (probe_registry.cpp).
std::string scan_type_attr(const std::string& t) {
  for (const char* known : {"syn", "connect", "fin", "null", "xmas", "ack", "window", "maimon"})
    if (t == known) return t;
  return "connect";
}

std::string tls_script(const TlsInfo& tls) {
  // nmap's ssl-cert script output, the place its consumers look for a certificate.
  std::string text;
  if (!tls.subject.empty()) text += "Subject: " + tls.subject + "\n";
  if (!tls.sans.empty()) {
    text += "Subject Alternative Name: ";
    for (size_t i = 0; i < tls.sans.size(); ++i) text += (i ? ", " : "") + tls.sans[i];
    text += "\n";
  }
  if (!tls.issuer.empty()) text += "Issuer: " + tls.issuer + "\n";
  if (!tls.not_before.empty()) text += "Not valid before: " + tls.not_before + "\n";
  if (!tls.not_after.empty()) text += "Not valid after:  " + tls.not_after + "\n";
  if (!tls.version.empty()) text += "Protocol: " + tls.version + "\n";
  if (!tls.cipher.empty()) text += "Cipher: " + tls.cipher + "\n";
  if (tls.self_signed) text += "Self-signed: yes\n";
  if (!text.empty()) text.pop_back();
  std::string x = "<script" + attr("id", "ssl-cert") + attr("output", text) + ">";
  auto elem = [&](std::string_view key, std::string_view v) {
    if (!v.empty()) x += "<elem" + attr("key", key) + ">" + xml_escape(v) + "</elem>";
  };
  elem("subject", tls.subject);
  elem("issuer", tls.issuer);
  if (!tls.sans.empty()) {
    x += "<table" + attr("key", "extensions") + "><table>";
    x += "<elem key=\"name\">X509v3 Subject Alternative Name</elem>";
    std::string v;
    for (size_t i = 0; i < tls.sans.size(); ++i) v += (i ? ", " : "") + tls.sans[i];
    x += "<elem key=\"value\">" + xml_escape(v) + "</elem></table></table>";
  }
  if (!tls.not_before.empty() || !tls.not_after.empty()) {
    x += "<table" + attr("key", "validity") + ">";
    elem("notBefore", tls.not_before);
    elem("notAfter", tls.not_after);
    x += "</table>";
  }
  elem("protocol", tls.version);
  elem("cipher", tls.cipher);
  if (tls.self_signed) elem("self_signed", "true");
  return x + "</script>";
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    switch (c) {
      case '&':
        out += "&amp;";
        ++i;
        continue;
      case '<':
        out += "&lt;";
        ++i;
        continue;
      case '>':
        out += "&gt;";
        ++i;
        continue;
      case '"':
        out += "&quot;";
        ++i;
        continue;
      case '\'':
        out += "&apos;";
        ++i;
        continue;
      case '\t':
        out += "&#9;";
        ++i;
        continue;
      case '\n':
        out += "&#10;";
        ++i;
        continue;
      case '\r':
        out += "&#13;";
        ++i;
        continue;
      default:
        break;
    }
    auto u = static_cast<uint8_t>(c);
    if (u < 0x20 || u == 0x7F) {
      out += "\xEF\xBF\xBD";  // XML 1.0 has no way to write these
      ++i;
      continue;
    }
    size_t n = utf8_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string nmap_time(WallClock::time_point t) {
  std::time_t tt = WallClock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

std::string port_ranges(std::vector<uint16_t> ports) {
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  std::string out;
  for (size_t i = 0; i < ports.size();) {
    size_t j = i;
    while (j + 1 < ports.size() && ports[j + 1] == ports[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", ports[i]) : fmt::format("{}-{}", ports[i], ports[j]);
    i = j + 1;
  }
  return out;
}

XmlSink::XmlSink(std::unique_ptr<std::ostream> out, XmlOptions opts)
    : out_(std::move(out)), opts_(std::move(opts)) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
}

void XmlSink::write(std::string_view text) {
  out_->write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!*out_) throw RuntimeError(fmt::format("cannot write {}", opts_.name));
}

void XmlSink::flush() {
  out_->flush();
  if (!*out_) throw RuntimeError(fmt::format("cannot write {}", opts_.name));
}

void XmlSink::begin(const ScanInfo& info) {
  info_ = info;
  std::string args = info.command_line;
  std::string comment = xml_escape(args);  // "--" may not be in a comment: nmap writes "-&#45;"
  for (size_t p = comment.find("--"); p != std::string::npos; p = comment.find("--", p))
    comment.replace(p + 1, 1, "&#45;");
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n";
  x += fmt::format("<!-- Glasshouse {} scan initiated {} as: {} -->\n", GLASSHOUSE_VERSION,
                   nmap_time(info.start), comment);
  x += "<nmaprun" + attr("scanner", "nmap") + attr("args", args) +
       attr("start", std::to_string(unix_seconds(info.start))) +
       attr("startstr", nmap_time(info.start)) + attr("version", GLASSHOUSE_VERSION) +
       attr("profile_name", fmt::format("Glasshouse {}", GLASSHOUSE_VERSION)) +
       attr("xmloutputversion", "1.05") + ">\n";
  auto scaninfo = [&](const char* proto, const std::string& services, bool udp) {
    if (services.empty()) return;
    uint64_t n = 0;
    for (size_t i = 0; i < services.size();) {
      size_t comma = services.find(',', i);
      std::string item =
          services.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
      size_t dash = item.find('-');
      n += dash == std::string::npos ? 1 : std::stoul(item.substr(dash + 1)) - std::stoul(item) + 1;
      if (comma == std::string::npos) break;
      i = comma + 1;
    }
    x += "<scaninfo" + attr("type", udp ? "udp" : scan_type_attr(info.scan_type)) +
         attr("protocol", proto) + attr("numservices", std::to_string(n)) +
         attr("services", services) + "/>\n";
  };
  scaninfo("tcp", info.tcp_ports, false);
  scaninfo("udp", info.udp_ports, true);
  x += fmt::format("<verbose level=\"{}\"/>\n<debugging level=\"0\"/>\n", info.verbosity);
  write(x);
  flush();
}

void XmlSink::port(const PortResult&) {}

std::string XmlSink::host_element(const IpAddress& addr, const ResultTable::Host& host,
                                  const ResultTable& table, const ScanSummary& summary) const {
  const HostResult* rec = host.record.get();
  bool up = host.answered || (rec != nullptr && rec->state == HostState::Up);
  std::string x = "<host" + attr("starttime", std::to_string(unix_seconds(info_.start))) +
                  attr("endtime", std::to_string(unix_seconds(summary.end))) + ">";
  std::string reason = rec != nullptr ? std::string(to_string(rec->reason))
                       : up           ? "user-set"
                                      : "no-response";
  x += "<status" + attr("state", up ? "up" : "down") + attr("reason", reason) +
       attr("reason_ttl", std::to_string(rec != nullptr ? rec->reason_ttl : 0)) + "/>\n";
  x += "<address" + attr("addr", addr.to_string()) + attr("addrtype", addr_type(addr)) + "/>\n";
  if (rec != nullptr && rec->mac) {
    x += "<address" + attr("addr", format_mac(*rec->mac)) + attr("addrtype", "mac");
    if (!rec->vendor.empty()) x += attr("vendor", rec->vendor);
    x += "/>\n";
  }
  std::vector<Hostname> names;
  if (rec != nullptr) names = rec->hostnames;
  if (opts_.host_name) {
    std::string ptr = opts_.host_name(addr);
    Hostname h{ptr, "PTR"};
    if (!ptr.empty() && std::find(names.begin(), names.end(), h) == names.end()) names.push_back(h);
  }
  x += "<hostnames>\n";
  for (const Hostname& h : names)
    x += "<hostname" + attr("name", h.name) + attr("type", h.type == "user" ? "user" : "PTR") +
         "/>\n";
  x += "</hostnames>\n";
  if (up) {
    PortListing ports = list_ports(table, host, opts_.verbosity, opts_.open_only);
    x += "<ports>";
    for (const ExtraPorts& e : ports.extra) {
      x += "<extraports" + attr("state", to_string(e.state)) +
           attr("count", std::to_string(e.count)) + ">\n";
      for (const auto& w : e.reasons)
        x += "<extrareasons" + attr("reason", to_string(w.reason)) +
             attr("count", std::to_string(w.count)) + attr("proto", to_string(w.proto)) + "/>\n";
      x += "</extraports>\n";
    }
    for (const ListedPort& p : ports.listed) {
      x += "<port" + attr("protocol", to_string(p.proto)) + attr("portid", std::to_string(p.port)) +
           ">";
      x += "<state" + attr("state", to_string(p.state)) + attr("reason", to_string(p.reason)) +
           attr("reason_ttl", std::to_string(p.ttl)) + "/>";
      if (const ServiceInfo* s = host.service(p.proto, p.port)) {
        x += "<service" + attr("name", s->name.empty() ? "unknown" : s->name);
        if (!s->product.empty()) x += attr("product", s->product);
        if (!s->version.empty()) x += attr("version", s->version);
        if (!s->extra_info.empty()) x += attr("extrainfo", s->extra_info);
        if (s->tls_tunnel) x += attr("tunnel", "ssl");
        if (!s->hostname.empty()) x += attr("hostname", s->hostname);
        if (!s->ostype.empty()) x += attr("ostype", s->ostype);
        if (!s->devicetype.empty()) x += attr("devicetype", s->devicetype);
        x += attr("method", s->method == "probed" ? "probed" : "table") +
             attr("conf", std::to_string(std::clamp(s->confidence, 0, 10))) + ">";
        for (const std::string& c : s->cpe) x += "<cpe>" + xml_escape(c) + "</cpe>";
        x += "</service>";
        if (s->tls) x += tls_script(*s->tls);
      } else {
        std::string_view name = opts_.service_name(p.proto, p.port);
        if (name.empty()) name = "unknown";
        if (name != "unknown" || p.state == PortState::Open)
          x += "<service" + attr("name", name) + attr("method", "table") + attr("conf", "3") + "/>";
      }
      x += "</port>\n";
    }
    x += "</ports>\n";
  }
  if (rec != nullptr && rec->os_hint) {
    // -O/-A: a hint, not nmap's OS detection, so not an <os><osmatch> (which readers take for a
    // fingerprint match): a host script, as nmap writes facts a script found.
    x += "<hostscript><script" + attr("id", "os-hint") +
         attr("output", os_hint_text(*rec->os_hint)) + "/></hostscript>\n";
  }
  auto us = [](std::chrono::microseconds v) { return std::to_string(v.count()); };
  if (rec != nullptr && rec->srtt) {
    x += "<times" + attr("srtt", us(*rec->srtt)) +
         attr("rttvar", us(rec->rttvar.value_or(std::chrono::microseconds(0)))) +
         attr("to", us(rec->timeout.value_or(*rec->srtt * 4))) + "/>\n";
  } else if (host.port_rtt) {
    // No discovery (-Pn, unprivileged, loopback): the port scan's round trip, as the text
    // report's latency; one sample, so no variance, and nmap's floor of 100 ms for the timeout.
    x += "<times" + attr("srtt", us(*host.port_rtt)) + attr("rttvar", us(*host.port_rtt)) +
         attr("to", us(std::max(*host.port_rtt * 4, std::chrono::microseconds(100000)))) + "/>\n";
  }
  x += "</host>\n";
  return x;
}

void XmlSink::end(const ResultTable& table, const ScanSummary& summary) {
  for (const auto& [addr, host] : table.hosts()) {
    bool up = host.answered || (host.record && host.record->state == HostState::Up);
    if (!up && opts_.verbosity == 0) continue;
    write(host_element(addr, host, table, summary));
  }
  double secs = std::chrono::duration<double>(summary.end - info_.start).count();
  if (secs < 0) secs = 0;
  uint64_t up = summary.hosts_up;
  uint64_t total = std::max<uint64_t>(info_.targets, up);
  bool ok = !summary.interrupted && (summary.exit_reason.empty() || summary.exit_reason == "done");
  std::string text = fmt::format(
      "Glasshouse done at {}; {} IP address{} ({} host{} up) scanned in {:.2f} seconds",
      nmap_time(summary.end), total, total == 1 ? "" : "es", up, up == 1 ? "" : "s", secs);
  std::string x = "<runstats><finished" + attr("time", std::to_string(unix_seconds(summary.end))) +
                  attr("timestr", nmap_time(summary.end)) + attr("summary", text) +
                  attr("elapsed", fmt::format("{:.2f}", secs)) +
                  attr("exit", ok ? "success" : "error");
  if (!ok)
    x += attr("errormsg",
              summary.interrupted ? "interrupted: results are incomplete" : summary.exit_reason);
  x += "/>";
  x += fmt::format("<hosts up=\"{}\" down=\"{}\" total=\"{}\"/>\n</runstats>\n</nmaprun>\n", up,
                   total - up, total);
  write(x);
  flush();
}

}  // namespace gh
