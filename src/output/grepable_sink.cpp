#include "output/grepable_sink.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/error.h"
#include "output/port_listing.h"
#include "output/xml_sink.h"

namespace gh {
namespace {

// A field value nmap's grepable format can hold: no separators, no control characters.
std::string field(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<uint8_t>(c);
    if (c == '/')
      out += '|';
    else if (c == ',')
      out += ' ';
    else if (u < 0x20 || u == 0x7F)
      out += ' ';
    else
      out += c;
  }
  return out;
}

}  // namespace

GrepableSink::GrepableSink(std::unique_ptr<std::ostream> out, GrepableOptions opts)
    : out_(std::move(out)), opts_(std::move(opts)) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
}

void GrepableSink::write(std::string_view text) {
  out_->write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!*out_) throw RuntimeError(fmt::format("cannot write {}", opts_.name));
}

void GrepableSink::flush() {
  out_->flush();
  if (!*out_) throw RuntimeError(fmt::format("cannot write {}", opts_.name));
}

namespace {

// How many ports "22,80,1000-2000" names.
uint64_t ports_in(std::string_view ranges) {
  uint64_t n = 0;
  while (!ranges.empty()) {
    size_t comma = ranges.find(',');
    std::string_view r = ranges.substr(0, comma);
    ranges = comma == std::string_view::npos ? std::string_view() : ranges.substr(comma + 1);
    size_t dash = r.find('-');
    unsigned lo = 0, hi = 0;
    std::from_chars(r.data(), r.data() + (dash == std::string_view::npos ? r.size() : dash), lo);
    hi = lo;
    if (dash != std::string_view::npos)
      std::from_chars(r.data() + dash + 1, r.data() + r.size(), hi);
    if (hi >= lo) n += hi - lo + 1;
  }
  return n;
}

}  // namespace

void GrepableSink::begin(const ScanInfo& info) {
  info_ = info;
  std::string cmd = info.command_line;
  std::replace(cmd.begin(), cmd.end(), '\n', ' ');
  std::string x = fmt::format("# Glasshouse {} scan initiated {} as: {}\n", GLASSHOUSE_VERSION,
                              nmap_time(info.start), cmd);
  // nmap writes the scanned ports with -v: "# Ports scanned: TCP(3;22,80,443) UDP(0;) ...".
  if (opts_.verbosity > 0)
    x += fmt::format("# Ports scanned: TCP({};{}) UDP({};{}) SCTP(0;) PROTOCOLS(0;)\n",
                     ports_in(info.tcp_ports), info.tcp_ports, ports_in(info.udp_ports),
                     info.udp_ports);
  write(x);
  flush();
}

void GrepableSink::port(const PortResult&) {}

void GrepableSink::end(const ResultTable& table, const ScanSummary& summary) {
  for (const auto& [addr, host] : table.hosts()) {
    const HostResult* rec = host.record.get();
    bool up = host.answered || (rec != nullptr && rec->state == HostState::Up);
    if (!up && opts_.verbosity == 0) continue;
    std::string name;
    if (rec != nullptr && !rec->hostnames.empty()) name = rec->hostnames.front().name;
    if (name.empty() && opts_.host_name) name = opts_.host_name(addr);
    std::string head = fmt::format("Host: {} ({})", addr.to_string(), field(name));
    write(fmt::format("{}\tStatus: {}\n", head, up ? "Up" : "Down"));
    if (!up) continue;
    PortListing ports = list_ports(table, host, opts_.verbosity, opts_.open_only);
    std::string line = head + "\tPorts: ";
    bool first = true;
    for (const ListedPort& p : ports.listed) {
      std::string service, version;
      if (const ServiceInfo* s = host.service(p.proto, p.port)) {
        service = s->name.empty() ? "unknown" : s->name;
        if (s->tls_tunnel) service = "ssl|" + service;
        // nmap's "product version (extra info)"
        for (const std::string* part : {&s->product, &s->version})
          if (!part->empty()) version += (version.empty() ? "" : " ") + *part;
        if (!s->extra_info.empty()) version += (version.empty() ? "(" : " (") + s->extra_info + ")";
      } else {
        std::string_view n = opts_.service_name(p.proto, p.port);
        if (!n.empty() && (n != "unknown" || p.state == PortState::Open)) service = n;
      }
      line += fmt::format("{}{}/{}/{}//{}//{}/", first ? "" : ", ", p.port, to_string(p.state),
                          to_string(p.proto), field(service), field(version));
      first = false;
    }
    if (!ports.extra.empty()) {
      const ExtraPorts& e = ports.extra.front();
      line += fmt::format("\tIgnored State: {} ({})", to_string(e.state), e.count);
    }
    if (!ports.listed.empty() || !ports.extra.empty()) write(line + "\n");
  }
  double secs = std::chrono::duration<double>(summary.end - info_.start).count();
  if (secs < 0) secs = 0;
  uint64_t up = summary.hosts_up;
  uint64_t total = std::max<uint64_t>(info_.targets, up);
  if (summary.interrupted) write("# Scan interrupted: results are incomplete.\n");
  write(fmt::format(
      "# Glasshouse done at {} -- {} IP address{} ({} host{} up) scanned in {:.2f} "
      "seconds\n",
      nmap_time(summary.end), total, total == 1 ? "" : "es", up, up == 1 ? "" : "s", secs));
  flush();
}

}  // namespace gh
