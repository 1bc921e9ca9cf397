#include "output/text_sink.h"

#include <cmath>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iterator>
#include <map>
#include <tuple>

#include "core/error.h"
#include "output/service_format.h"

namespace gh {

namespace {

constexpr uint64_t kListAllHostsMaxTargets = 256;
constexpr size_t kStates = 6;

uint32_t port_key(Protocol proto, uint16_t port) {
  return (proto == Protocol::Udp ? 0x10000u : 0u) | port;
}

std::string plural(uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The command line as typed, with control characters shown as \xNN so that it cannot break the
// "# ..." line or drive the terminal.
std::string printable(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  return out;
}

struct Row {
  uint16_t port;
  Protocol proto;
  PortState state;
  Reason reason;
  uint8_t ttl;
};

// nmap's REASON cell: "syn-ack ttl 64", or just the reason when there was no reply.
std::string reason_cell(Reason reason, uint8_t ttl) {
  if (ttl == 0) return std::string(to_string(reason));
  return fmt::format("{} ttl {}", to_string(reason), ttl);
}

}  // namespace

TextSink::TextSink(std::ostream& out, TextOptions opts) : out_(out), opts_(std::move(opts)) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
}

TextSink::TextSink(std::unique_ptr<std::ostream> out, TextOptions opts)
    : owned_(std::move(out)), out_(*owned_), opts_(std::move(opts)) {
  if (!opts_.service_name) opts_.service_name = default_service_names();
}

int TextSink::max_per_state() const {
  return 25 * (opts_.verbosity > 0 ? opts_.verbosity + 1 : 1);
}

bool TextSink::list_all_hosts() const {
  return info_.targets <= kListAllHostsMaxTargets;
}

std::string TextSink::format_time(WallClock::time_point t, const char* fmt) const {
  std::time_t tt = WallClock::to_time_t(t);
  std::tm tm{};
  if (opts_.utc) {
    gmtime_r(&tt, &tm);
  } else {
    localtime_r(&tt, &tm);
  }
  char buf[128];
  size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  std::string out(buf, n);
  // %Z of gmtime is "GMT" on glibc; say UTC as nmap does on a UTC machine.
  if (opts_.utc) {
    size_t gmt = out.rfind("GMT");
    if (gmt != std::string::npos && gmt + 3 == out.size()) out.replace(gmt, 3, "UTC");
  }
  return out;
}

void TextSink::throw_write_error() const {
  int err = errno;
  throw RuntimeError("writing " + opts_.name + " failed" +
                     (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
}

void TextSink::write(std::string_view text) {
  out_.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out_) throw_write_error();
}

void TextSink::flush() {
  out_.flush();
  if (!out_) throw_write_error();
}

void TextSink::begin(const ScanInfo& info) {
  info_ = info;
  if (opts_.file) {
    write(fmt::format("# Glasshouse {} scan initiated {} as: {}\n", GLASSHOUSE_VERSION,
                      format_time(info.start, "%a %b %e %H:%M:%S %Y"),
                      printable(info.command_line)));
  } else {
    write(fmt::format("Starting Glasshouse {} at {}\n", GLASSHOUSE_VERSION,
                      format_time(info.start, "%Y-%m-%d %H:%M %Z")));
  }
  if (!info.engagement_id.empty())
    write(fmt::format("{}Engagement: {}\n", opts_.file ? "# " : "", printable(info.engagement_id)));
  flush();
}

void TextSink::port(const PortResult& r) {
  if (r.reason == Reason::NoResponse && r.state == PortState::Filtered) {
    // Remember which ports they were while few enough to be listed; --open never lists them.
    if (opts_.open_only) return;
    if (!list_all_hosts() && !answered_.contains(r.addr)) return;
    NoResponse& nr = no_response_[r.addr];
    if (nr.overflow) return;
    if (nr.keys.size() >= static_cast<size_t>(max_per_state())) {
      nr.overflow = true;
      std::vector<uint32_t>().swap(nr.keys);
      return;
    }
    nr.keys.push_back(port_key(r.proto, r.port));
    return;
  }
  if (!list_all_hosts() && ResultTable::is_host_reply(r.reason)) answered_.insert(r.addr);
  if (!opts_.file && opts_.verbosity > 0 && r.state == PortState::Open) {
    std::string line = fmt::format("Discovered open port {}/{} on {}", r.port, to_string(r.proto),
                                   r.addr.to_string());
    if (opts_.live_line) {
      opts_.live_line(line);
    } else {
      line += '\n';
      write(line);
      flush();
    }
  }
}

void TextSink::service(const ServiceInfo& s) {
  services_[{s.addr, port_key(s.proto, s.port)}] = s;
}

std::string TextSink::host_report(const IpAddress& addr, const ResultTable::Host& host,
                                  const ResultTable& table) const {
  // Count ports per state, and per (state, protocol, reason) for the Not shown line.
  std::array<uint64_t, kStates> per_state{};
  std::map<std::tuple<PortState, Protocol, Reason>, uint64_t> groups;
  for (const auto& e : host.entries) {
    ++per_state[static_cast<size_t>(e.state)];
    ++groups[{e.state, e.proto, e.reason}];
  }
  const NoResponse* recorded = nullptr;
  if (auto it = no_response_.find(addr); it != no_response_.end()) recorded = &it->second;
  uint64_t silent =
      table.ports_per_host() > 0 ? table.unanswered(host) : (recorded ? recorded->keys.size() : 0);
  if (silent > 0) {
    per_state[static_cast<size_t>(PortState::Filtered)] += silent;
    groups[{PortState::Filtered, Protocol::Tcp, Reason::NoResponse}] += silent;
  }

  auto ignored = [&](PortState s) {
    uint64_t n = per_state[static_cast<size_t>(s)];
    if (n == 0 || s == PortState::Open) return false;
    if (s == PortState::OpenFiltered && opts_.verbosity > 2) return false;
    if (opts_.open_only && s != PortState::OpenFiltered && s != PortState::Unfiltered) return true;
    return n > static_cast<uint64_t>(max_per_state());
  };
  uint64_t total = 0, hidden = 0;
  for (size_t s = 0; s < kStates; ++s) {
    total += per_state[s];
    if (ignored(static_cast<PortState>(s))) hidden += per_state[s];
  }
  if (opts_.open_only && hidden == total) return {};

  std::string out;
  auto line = [&](std::string_view text) {
    out += text;
    out += '\n';
  };
  const std::string ip = addr.to_string();
  std::string host_name = opts_.host_name ? opts_.host_name(addr) : std::string{};
  // nmap names the host the same way in its header and its "ignored states" line.
  const std::string shown = host_name.empty() ? ip : fmt::format("{} ({})", host_name, ip);
  line(fmt::format("Glasshouse scan report for {}", shown));
  if (host.answered) line(up_line(addr, host.port_rtt));

  // Not shown: N <state> <proto> port(s) (<reason>), ... ; largest state first.
  struct Segment {
    uint64_t state_total;
    PortState state;
    Protocol proto;
    uint64_t count;
    Reason reason;
  };
  std::vector<Segment> segments;
  for (const auto& [k, n] : groups) {
    auto [state, proto, reason] = k;
    if (ignored(state)) {
      segments.push_back({per_state[static_cast<size_t>(state)], state, proto, n, reason});
    }
  }
  std::sort(segments.begin(), segments.end(), [](const Segment& a, const Segment& b) {
    if (a.state_total != b.state_total) return a.state_total > b.state_total;
    if (a.state != b.state) return a.state < b.state;
    if (a.proto != b.proto) return a.proto == Protocol::Tcp;
    if (a.count != b.count) return a.count > b.count;
    return a.reason < b.reason;
  });
  std::string not_shown;
  for (const Segment& s : segments) {
    not_shown += not_shown.empty() ? "Not shown: " : ", ";
    not_shown += fmt::format("{} {} {} {} ({})", s.count, to_string(s.state), to_string(s.proto),
                             s.count == 1 ? "port" : "ports", to_string(s.reason));
  }

  if (total == 0) {
    line(fmt::format("0 ports scanned on {}", shown));
    line("");
    return out;
  }
  if (hidden == total) {
    if (total == 1) {
      line(fmt::format("The 1 scanned port on {} is in ignored states.", shown));
    } else {
      line(fmt::format("All {} scanned ports on {} are in ignored states.", total, shown));
    }
    line(not_shown);
    line("");
    return out;
  }
  line(not_shown);  // an empty line when nothing is hidden, as nmap

  std::vector<Row> rows;
  for (const auto& e : host.entries) {
    if (!ignored(e.state)) rows.push_back({e.port, e.proto, e.state, e.reason, e.reply_ttl});
  }
  if (recorded && !ignored(PortState::Filtered)) {
    for (uint32_t k : recorded->keys) {
      Protocol proto = (k & 0x10000u) ? Protocol::Udp : Protocol::Tcp;
      auto port = static_cast<uint16_t>(k & 0xFFFFu);
      if (host.index.contains(host.entries, proto, port)) continue;  // a verdict came after all
      rows.push_back({port, proto, PortState::Filtered, Reason::NoResponse, 0});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.proto != b.proto) return a.proto == Protocol::Tcp;
    return a.port < b.port;
  });
  rows.erase(std::unique(
                 rows.begin(), rows.end(),
                 [](const Row& a, const Row& b) { return a.port == b.port && a.proto == b.proto; }),
             rows.end());

  const bool with_reason = opts_.reason || opts_.verbosity >= 2;
  const bool with_version = !services_.empty();
  auto service_of = [&](const Row& r) -> const ServiceInfo* {
    auto it = services_.find({addr, port_key(r.proto, r.port)});
    return it == services_.end() ? nullptr : &it->second;
  };
  std::vector<std::array<std::string, 5>> cells;
  std::vector<const ServiceInfo*> row_service{nullptr};
  cells.push_back({"PORT", "STATE", "SERVICE", "REASON", "VERSION"});
  for (const Row& r : rows) {
    const ServiceInfo* si = service_of(r);
    row_service.push_back(si);
    cells.push_back(
        {fmt::format("{}/{}", r.port, to_string(r.proto)), std::string(to_string(r.state)),
         si != nullptr ? service_cell(*si) : std::string(opts_.service_name(r.proto, r.port)),
         reason_cell(r.reason, r.ttl), si != nullptr ? version_cell(*si) : ""});
  }
  std::vector<size_t> columns{0, 1, 2};
  if (with_reason) columns.push_back(3);
  if (with_version) columns.push_back(4);
  std::array<size_t, 5> width{};
  for (const auto& c : cells) {
    for (size_t i : columns) width[i] = std::max(width[i], c[i].size());
  }
  for (size_t k = 0; k < cells.size(); ++k) {
    const auto& c = cells[k];
    std::string text;
    for (size_t j = 0; j < columns.size(); ++j) {
      size_t i = columns[j];
      text += c[i];
      if (j + 1 < columns.size()) text.append(width[i] - c[i].size() + 1, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    line(text);
    if (row_service[k] != nullptr)
      for (const auto& d : service_details(*row_service[k])) line(d);
  }
  if (host.record && host.record->os_hint) line(os_hint_text(*host.record->os_hint));
  line("");
  return out;
}

void TextSink::host(const HostResult& h) {
  if (h.state == HostState::Up) {
    discovered_[h.addr] = h;
    answered_.insert(h.addr);
    return;
  }
  std::string name = opts_.host_name ? opts_.host_name(h.addr) : std::string{};
  write(fmt::format("Glasshouse scan report for {} [host down{}]\n",
                    name.empty() ? h.addr.to_string() : name + " (" + h.addr.to_string() + ")",
                    opts_.reason ? ", received " + std::string(to_string(h.reason)) : ""));
}

std::string TextSink::up_line(const IpAddress& addr,
                              std::optional<std::chrono::microseconds> port_rtt) const {
  auto it = discovered_.find(addr);
  std::string received;
  std::optional<std::chrono::microseconds> latency = port_rtt;
  if (it != discovered_.end()) {
    const HostResult& h = it->second;
    if (opts_.reason || opts_.verbosity > 1) {
      received = ", received " + std::string(to_string(h.reason));
      if (h.reason_ttl != 0) received += fmt::format(" ttl {}", h.reason_ttl);
    }
    if (h.latency) latency = h.latency;
  }
  if (!latency) return fmt::format("Host is up{}.", received);
  // Two significant digits, never in exponent form: "0.00042s", "0.012s", "1.3s" (nmap's way).
  const double l = std::max(std::chrono::duration<double>(*latency).count(), 1e-6);
  const int decimals = std::max(0, 1 - static_cast<int>(std::floor(std::log10(l))));
  return fmt::format("Host is up{} ({:.{}f}s latency).", received, l, decimals);
}

std::string TextSink::mac_line(const IpAddress& addr) const {
  auto it = discovered_.find(addr);
  if (it == discovered_.end() || !it->second.mac) return {};
  const auto& m = *it->second.mac;
  return fmt::format("MAC Address: {:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X} ({})\n", m[0], m[1],
                     m[2], m[3], m[4], m[5],
                     it->second.vendor.empty() ? "Unknown" : it->second.vendor);
}

void TextSink::end(const ResultTable& table, const ScanSummary& summary) {
  for (const auto& [addr, host] : table.hosts()) {
    if (!host.answered && !list_all_hosts()) continue;
    if (table.ports_per_host() == 0 && !discovered_.empty()) {
      // -sn: the host lines only, no port table (nmap's ping scan output).
      std::string name = opts_.host_name ? opts_.host_name(addr) : std::string{};
      write(fmt::format("Glasshouse scan report for {}\n{}\n{}",
                        name.empty() ? addr.to_string() : name + " (" + addr.to_string() + ")",
                        up_line(addr), mac_line(addr)));
      continue;
    }
    std::string block = host_report(addr, host, table);
    if (block.empty()) continue;
    std::string mac = mac_line(addr);
    if (!mac.empty() && block.size() >= 2) block.insert(block.size() - 1, mac);
    write(block);
  }

  const std::string prefix = opts_.file ? "# " : "";
  if (summary.interrupted || (!summary.exit_reason.empty() && summary.exit_reason != "done")) {
    std::string why = summary.exit_reason;
    if (why.empty() || why == "interrupted") {
      write(fmt::format("{}Scan interrupted: results are incomplete.\n", prefix));
    } else {
      write(fmt::format("{}Scan {}: {}; results are incomplete.\n", prefix,
                        summary.interrupted ? "interrupted" : "stopped", printable(why)));
    }
  }

  std::chrono::duration<double> elapsed = summary.end - info_.start;
  double seconds = elapsed.count() < 0 ? 0.0 : elapsed.count();
  std::string counts = fmt::format("{} ({}) scanned in {:.2f} seconds",
                                   plural(info_.targets, "IP address", "IP addresses"),
                                   plural(summary.hosts_up, "host up", "hosts up"), seconds);
  if (summary.loss && summary.completeness) {
    // Whether a negative can be trusted: the loss the retries measured, and what it implies.
    write(
        fmt::format("{}Measured loss {:.2f}% over {} pass{} ({} retr{}): an estimated {:.3f}% "
                    "of responsive ports found.\n",
                    prefix, 100 * *summary.loss, summary.passes, summary.passes == 1 ? "" : "es",
                    summary.retries, summary.retries == 1 ? "y" : "ies",
                    std::min(100.0, 100 * *summary.completeness)));
  }
  if (opts_.file) {
    write(fmt::format("# Glasshouse done at {} -- {}\n",
                      format_time(summary.end, "%a %b %e %H:%M:%S %Y"), counts));
  } else {
    write(fmt::format("Glasshouse done: {}\n", counts));
  }
  flush();
}

}  // namespace gh
