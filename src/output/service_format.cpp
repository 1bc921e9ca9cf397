#include "output/service_format.h"

#include <fmt/format.h>

#include "output/json.h"

namespace gh {

std::string service_cell(const ServiceInfo& s) {
  return s.tls_tunnel ? "ssl/" + s.name : s.name;
}

std::string version_cell(const ServiceInfo& s) {
  std::string out = s.product;
  if (!s.version.empty()) out += (out.empty() ? "" : " ") + s.version;
  if (!s.extra_info.empty()) out += (out.empty() ? "(" : " (") + s.extra_info + ")";
  return out;
}

std::vector<std::string> service_details(const ServiceInfo& s) {
  std::vector<std::string> lines;
  if (s.tls) {
    const TlsInfo& t = *s.tls;
    lines.push_back(fmt::format("| tls: {} {}{}", t.version, t.cipher,
                                s.starttls.empty() ? "" : " (STARTTLS " + s.starttls + ")"));
    std::string cert = fmt::format("| cert: subject {}; issuer {}", t.subject, t.issuer);
    if (t.self_signed) cert += " (self-signed)";
    lines.push_back(cert);
    std::string validity =
        fmt::format("| cert: valid {} to {}; key {}", t.not_before, t.not_after, t.key);
    lines.push_back(validity);
    if (!t.sans.empty()) {
      std::string sans = "| cert: SAN";
      for (const auto& n : t.sans) sans += " " + n;
      lines.push_back(sans);
    }
  }
  if (s.http) {
    const HttpInfo& h = *s.http;
    std::string l = fmt::format("| http: {}", h.status);
    if (!h.server.empty()) l += "; Server " + h.server;
    if (!h.title.empty()) l += "; title \"" + h.title + "\"";
    if (!h.location.empty()) l += "; redirect " + h.location;
    lines.push_back(l);
  }
  if (s.ssh && !s.ssh->key_type.empty())
    lines.push_back(fmt::format("| ssh-hostkey: {} {}", s.ssh->key_type, s.ssh->fingerprint));
  if (!s.note.empty()) lines.push_back("| note: " + s.note);
  if (!lines.empty()) lines.back().replace(0, 2, "|_");
  return lines;
}

namespace {

std::string str_array(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    out += json_quote(v[i]);
  }
  return out + "]";
}

}  // namespace

std::string service_json(const ServiceInfo& s, const std::string& engagement) {
  JsonObject o;
  o.str("type", "service")
      .str("ip", s.addr.to_string())
      .num("port", s.port)
      .str("proto", to_string(s.proto))
      .str("name", s.name)
      .str("product", s.product)
      .str("version", s.version)
      .str("extra_info", s.extra_info)
      .raw("cpe", str_array(s.cpe))
      .str("method", s.method)
      .num("confidence", s.confidence)
      .boolean("tunnel_tls", s.tls_tunnel);
  if (!s.hostname.empty()) o.str("hostname", s.hostname);
  if (!s.ostype.empty()) o.str("ostype", s.ostype);
  if (!s.devicetype.empty()) o.str("devicetype", s.devicetype);
  if (s.tls) {
    const TlsInfo& t = *s.tls;
    JsonObject j;
    j.str("version", t.version)
        .str("cipher", t.cipher)
        .str("subject", t.subject)
        .str("issuer", t.issuer)
        .raw("sans", str_array(t.sans))
        .str("not_before", t.not_before)
        .str("not_after", t.not_after)
        .boolean("self_signed", t.self_signed)
        .str("key", t.key)
        .str("sha256", t.sha256);
    if (!s.starttls.empty()) j.str("starttls", s.starttls);
    o.raw("tls", j.done());
  } else {
    o.null("tls");
  }
  if (s.http) {
    JsonObject j;
    j.num("status", s.http->status)
        .str("server", s.http->server)
        .str("title", s.http->title)
        .str("location", s.http->location);
    o.raw("http", j.done());
  }
  if (s.ssh) {
    JsonObject j;
    j.str("protocol", s.ssh->protocol)
        .str("software", s.ssh->software)
        .str("key_type", s.ssh->key_type)
        .str("fingerprint", s.ssh->fingerprint);
    o.raw("ssh", j.done());
  }
  if (!s.probe.empty()) o.str("probe", s.probe);
  if (!s.note.empty()) o.str("note", s.note);
  if (!engagement.empty()) o.str("engagement", engagement);
  return o.done();
}

}  // namespace gh
